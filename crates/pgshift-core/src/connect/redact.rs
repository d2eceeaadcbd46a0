//! Removing passwords from arbitrary text: the second line of defence the
//! CLI runs every message through.

/// What a removed password is replaced with.
pub const REDACTED: &str = "***";

/// Replaces every password in `s` with `***`:
///
/// - the password of any `scheme://user:password@host…` URL (also
///   percent-encoded ones, and ones containing an unencoded `@`, `/` or `?`,
///   which libpq would mis-parse but which must not leak either);
/// - the value of any `…password=value` pair, case-insensitively: libpq's
///   `password=` (bare, `'quoted'`, or in a URL query up to `&`), and
///   environment assignments such as `PGPASSWORD=…`.
///
/// It errs on the side of hiding too much. Applying it twice changes
/// nothing more.
pub fn redact_url(s: &str) -> String {
    redact_key_values(&redact_userinfo(s))
}

fn redact_userinfo(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(idx) = rest.find("://") {
        let start = idx + 3;
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        // The URL runs to the next whitespace; nothing else reliably ends it
        // (quotes and brackets may be part of an unencoded password).
        let seg_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let seg = &rest[..seg_len];
        if let Some(at) = userinfo_end(seg) {
            let userinfo = &seg[..at];
            if let Some(colon) = userinfo.find(':') {
                if colon + 1 < at && &userinfo[colon + 1..] != REDACTED {
                    out.push_str(&seg[..colon + 1]);
                    out.push_str(REDACTED);
                    out.push_str(&seg[at..]);
                    rest = &rest[seg_len..];
                    continue;
                }
            }
        }
        out.push_str(seg);
        rest = &rest[seg_len..];
    }
    out.push_str(rest);
    out
}

/// Where the user-info part of the URL body `seg` ends (the index of its
/// `@`), if it has one.
fn userinfo_end(seg: &str) -> Option<usize> {
    // Normal case: the authority runs to the first `/`; its last `@` ends the
    // user info (taking the last one also covers an unencoded `@` in the
    // password).
    let authority = &seg[..seg.find('/').unwrap_or(seg.len())];
    if let Some(at) = authority.rfind('@') {
        return Some(at);
    }
    // A password with an unencoded `/` (`user:pa/ss@host`): accept an `@`
    // later on, as long as it comes before the query (where `@` is common,
    // as in `application_name=me@laptop`).
    let before_query = &seg[..seg.find('?').unwrap_or(seg.len())];
    before_query.rfind('@').filter(|_| authority.contains(':'))
}

fn redact_key_values(s: &str) -> String {
    const KEY: &str = "password";
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    while let Some(found) = lower[pos..].find(KEY) {
        let key_end = pos + found + KEY.len();
        out.push_str(&s[pos..key_end]);
        pos = key_end;
        let after_key = &s[key_end..];
        let ws1 = after_key.len() - after_key.trim_start().len();
        let Some(after_eq) = after_key[ws1..].strip_prefix('=') else {
            continue;
        };
        let ws2 = after_eq.len() - after_eq.trim_start().len();
        let value = &after_eq[ws2..];
        // Text up to and including `=` and the spaces after it.
        let prefix_len = ws1 + 1 + ws2;
        out.push_str(&after_key[..prefix_len]);
        pos += prefix_len;
        let (quote, body) = match value.chars().next() {
            Some(q @ ('\'' | '"')) => (Some(q), &value[1..]),
            _ => (None, value),
        };
        let body_len = match quote {
            Some(q) => quoted_len(body, q),
            None => body
                .find(|c: char| c.is_whitespace() || c == '&')
                .unwrap_or(body.len()),
        };
        if body_len == 0 || &body[..body_len] == REDACTED {
            continue;
        }
        if let Some(q) = quote {
            out.push(q);
            pos += q.len_utf8();
        }
        out.push_str(REDACTED);
        pos += body_len;
    }
    out.push_str(&s[pos..]);
    out
}

/// Length of a quoted value's body up to (not including) its closing quote,
/// honouring backslash escapes; the whole rest when unterminated.
fn quoted_len(body: &str, quote: char) -> usize {
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            return i;
        }
    }
    body.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: &str) {
        let got = redact_url(input);
        assert_eq!(got, expected, "input: {input}");
        assert_eq!(redact_url(&got), got, "not idempotent: {input}");
    }

    #[test]
    fn url_with_user_and_password() {
        check(
            "postgresql://app:s3cret@db:5432/x",
            "postgresql://app:***@db:5432/x",
        );
        check(
            "postgres://app:s3cret@db/x?sslmode=require",
            "postgres://app:***@db/x?sslmode=require",
        );
        check("postgres://app:%40s%3Ac%2F@db/x", "postgres://app:***@db/x");
    }

    #[test]
    fn url_without_password_or_user_is_unchanged() {
        for s in [
            "postgresql://app@db:5432/x",
            "postgresql://db:5432/x",
            "postgresql:///x?host=/tmp/cx",
            "postgresql://db/x?application_name=me@laptop",
            "postgresql://db:5432/x?application_name=me@laptop",
            "postgresql://app:@db/x",
            "see https://www.postgresql.org/docs/current/libpq-pgpass.html",
        ] {
            check(s, s);
        }
    }

    #[test]
    fn unencoded_special_characters_in_the_password() {
        check("postgres://u:p@ss@h/db", "postgres://u:***@h/db");
        check("postgres://u:pa/ss@h/db", "postgres://u:***@h/db");
        check("postgres://u:pa?ss@h/db", "postgres://u:***@h/db");
        check("postgres://u:it's\"x@h/db", "postgres://u:***@h/db");
    }

    #[test]
    fn urls_inside_messages() {
        check(
            "cannot parse \"postgres://a:one@h1/db\" nor 'postgresql://b:two@h2/db': bad",
            "cannot parse \"postgres://a:***@h1/db\" nor 'postgresql://b:***@h2/db': bad",
        );
        check(
            "DATABASE_URL=postgres://a:one@h/db\n",
            "DATABASE_URL=postgres://a:***@h/db\n",
        );
    }

    #[test]
    fn key_value_passwords() {
        check(
            "host=h password=s3cret dbname=x",
            "host=h password=*** dbname=x",
        );
        check(
            "host=h password = 's3 cr\\'et' dbname=x",
            "host=h password = '***' dbname=x",
        );
        check("PGPASSWORD=s3cret psql", "PGPASSWORD=*** psql");
        check(
            "postgres://h/db?password=s3cret&sslmode=require",
            "postgres://h/db?password=***&sslmode=require",
        );
        check("sslpassword=\"s3cret\"", "sslpassword=\"***\"");
    }

    #[test]
    fn prose_about_passwords_is_untouched() {
        for s in [
            "password authentication failed for user \"app\"",
            "check PGPASSWORD or ~/.pgpass",
            "password=",
            "the password is wrong",
        ] {
            check(s, s);
        }
    }
}
