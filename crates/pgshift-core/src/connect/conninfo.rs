//! Parsing libpq connection strings, both forms (PostgreSQL docs, section
//! "libpq-connstring"):
//!
//! - URIs: `postgresql://[user[:password]@][host][:port][,...][/dbname][?param=value&...]`
//!   (`postgres://` too), percent-encoded;
//! - keyword/value strings: `host=localhost port=5432 dbname='my db'`.
//!
//! We parse ourselves rather than with `tokio_postgres::Config::from_str`
//! because that parser rejects keywords libpq accepts and we need
//! (`sslmode=verify-full`, `sslrootcert`, `passfile`, …), and because we need
//! to know which parameters the string left out so that the `PG*`
//! environment variables can fill them. No error message here ever quotes a
//! value: any of them may be a password.

/// A parsed connection string: `(keyword, value)` pairs in order of
/// appearance (a later pair for the same keyword overrides an earlier one).
pub(crate) type Params = Vec<(String, String)>;

/// Parses either form. Errors are short reasons that never quote a value.
pub(crate) fn parse(s: &str) -> Result<Params, String> {
    let trimmed = s.trim();
    if let Some(rest) = strip_uri_prefix(trimmed) {
        return parse_uri(rest);
    }
    if let Some(idx) = trimmed.find("://") {
        let scheme = &trimmed[..idx];
        if !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            return Err(format!(
                "unsupported URL scheme `{scheme}`; expected postgresql:// or postgres://"
            ));
        }
    }
    if trimmed.contains('=') {
        return parse_keyword_value(trimmed);
    }
    Err(
        "not a connection string: expected a postgresql:// URL or keyword=value pairs \
         such as `host=localhost dbname=app`"
            .to_owned(),
    )
}

fn strip_uri_prefix(s: &str) -> Option<&str> {
    s.strip_prefix("postgresql://")
        .or_else(|| s.strip_prefix("postgres://"))
}

/// libpq's `conninfo_uri_parse_options`.
fn parse_uri(rest: &str) -> Result<Params, String> {
    let mut params = Params::new();
    // Credentials: libpq looks ahead for an `@` before the first `/`.
    let (creds, rest) = {
        let stop = rest.find(['@', '/']).unwrap_or(rest.len());
        if rest[stop..].starts_with('@') {
            (Some(&rest[..stop]), &rest[stop + 1..])
        } else {
            (None, rest)
        }
    };
    if let Some(creds) = creds {
        let (user, password) = match creds.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (creds, None),
        };
        if !user.is_empty() {
            params.push(("user".into(), decode(user, "user name")?));
        }
        if let Some(p) = password {
            if !p.is_empty() {
                params.push(("password".into(), decode(p, "password")?));
            }
        }
    }

    // Host list, up to the path or the query.
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (hostspec, rest) = rest.split_at(host_end);
    if hostspec.contains('@') {
        // `user:p@ss@host`: libpq would take `ss` for a host name and show it
        // in its messages. Refuse, without showing anything.
        return Err("more than one `@` before the host; \
                    percent-encode `@` in the password as %40"
            .to_owned());
    }
    if !hostspec.is_empty() {
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        for chunk in hostspec.split(',') {
            let (host, port) = if let Some(inner) = chunk.strip_prefix('[') {
                let close = inner
                    .find(']')
                    .ok_or("unterminated IPv6 address in the URL (missing `]`)")?;
                let after = &inner[close + 1..];
                let port = match after.strip_prefix(':') {
                    Some(p) => Some(p),
                    None if after.is_empty() => None,
                    None => return Err("unexpected characters after an IPv6 address".into()),
                };
                let host = &inner[..close];
                if host.is_empty() {
                    return Err("empty IPv6 address in the URL".into());
                }
                (host.to_owned(), port)
            } else {
                let (h, p) = match chunk.split_once(':') {
                    Some((h, p)) => (h, Some(p)),
                    None => (chunk, None),
                };
                (decode(h, "host")?, p)
            };
            hosts.push(host);
            ports.push(match port {
                Some(p) => decode(p, "port")?,
                None => String::new(),
            });
        }
        if hosts.iter().any(|h| !h.is_empty()) {
            params.push(("host".into(), hosts.join(",")));
        }
        if ports.iter().any(|p| !p.is_empty()) {
            params.push(("port".into(), ports.join(",")));
        }
    }

    // Database name.
    let rest = match rest.strip_prefix('/') {
        Some(r) => {
            let end = r.find('?').unwrap_or(r.len());
            if end > 0 {
                params.push(("dbname".into(), decode(&r[..end], "database name")?));
            }
            &r[end..]
        }
        None => rest,
    };

    // Query parameters.
    if let Some(query) = rest.strip_prefix('?') {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                "a URL query parameter has no `=` (expected key=value)".to_owned()
            })?;
            let key = decode(k, "query parameter name")?;
            let value = decode(v, "query parameter value")?;
            // libpq (and JDBC) accept `ssl=true` as `sslmode=require`.
            if key == "ssl" {
                if value == "true" {
                    params.push(("sslmode".into(), "require".into()));
                    continue;
                }
                return Err(
                    "invalid value for URL parameter `ssl` (only `true` is accepted)".to_owned(),
                );
            }
            params.push((key, value));
        }
    }
    Ok(params)
}

/// Percent-decodes one URL component; `what` names it in errors.
fn decode(s: &str, what: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("invalid percent-encoding in the {what}"))?;
            // libpq refuses %00: it would cut the C string short.
            if hex == 0 {
                return Err(format!("forbidden %00 in the {what}"));
            }
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("the {what} is not valid UTF-8 once decoded"))
}

/// libpq's `conninfo_parse`: `keyword = value` pairs separated by
/// whitespace; values are either bare (backslash escapes any character) or
/// single-quoted (`\'` and `\\` inside).
fn parse_keyword_value(s: &str) -> Result<Params, String> {
    let mut params = Params::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            // Not quoting the word: a stray token may well be a password.
            return Err(format!(
                "missing `=` after keyword number {} in the connection string",
                params.len() + 1
            ));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => {
                        return Err(format!(
                            "unterminated quoted value for `{key}` in the connection string"
                        ))
                    }
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        params.push((key, value));
    }
    Ok(params)
}

/// Quotes a value for a keyword/value connection string.
pub(crate) fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Percent-encodes what would break a URL component, for display.
pub(crate) fn encode_component(s: &str) -> String {
    encode(s, false)
}

/// Like [`encode_component`] but keeps `/`, for socket paths in a query.
pub(crate) fn encode_path(s: &str) -> String {
    encode(s, true)
}

fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<(String, String)> {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn full_uri() {
        assert_eq!(
            p("postgresql://app:s%40cr%3At@db.example.com:6543/my%20db?sslmode=verify-full&application_name=x"),
            pairs(&[
                ("user", "app"),
                ("password", "s@cr:t"),
                ("host", "db.example.com"),
                ("port", "6543"),
                ("dbname", "my db"),
                ("sslmode", "verify-full"),
                ("application_name", "x"),
            ])
        );
    }

    #[test]
    fn both_schemes_and_minimal_forms() {
        assert_eq!(p("postgres://h"), pairs(&[("host", "h")]));
        assert_eq!(p("postgresql://"), pairs(&[]));
        assert_eq!(p("postgresql:///app"), pairs(&[("dbname", "app")]));
        assert_eq!(
            p("postgresql://u@/app"),
            pairs(&[("user", "u"), ("dbname", "app")])
        );
        assert_eq!(
            p("postgresql://u:@h"),
            pairs(&[("user", "u"), ("host", "h")])
        );
    }

    #[test]
    fn unix_socket_forms() {
        assert_eq!(
            p("postgresql://%2Fvar%2Frun%2Fpostgresql/app"),
            pairs(&[("host", "/var/run/postgresql"), ("dbname", "app")])
        );
        assert_eq!(
            p("postgresql:///app?host=/tmp/cx&port=55439"),
            pairs(&[("dbname", "app"), ("host", "/tmp/cx"), ("port", "55439")])
        );
    }

    #[test]
    fn multiple_hosts_and_ipv6() {
        assert_eq!(
            p("postgresql://a:1,[::1]:2,b/db"),
            pairs(&[("host", "a,::1,b"), ("port", "1,2,"), ("dbname", "db")])
        );
        assert_eq!(
            p("postgresql://[::1]/db"),
            pairs(&[("host", "::1"), ("dbname", "db")])
        );
        assert!(parse("postgresql://[::1/db").is_err());
    }

    #[test]
    fn ssl_true_is_require() {
        assert_eq!(
            p("postgres://h?ssl=true"),
            pairs(&[("host", "h"), ("sslmode", "require")])
        );
        assert!(parse("postgres://h?ssl=yes").is_err());
    }

    #[test]
    fn keyword_value() {
        assert_eq!(
            p("host=localhost  port = 5432 dbname='my db' password='it\\'s' user=a\\ b"),
            pairs(&[
                ("host", "localhost"),
                ("port", "5432"),
                ("dbname", "my db"),
                ("password", "it's"),
                ("user", "a b"),
            ])
        );
        assert_eq!(p("dbname=''"), pairs(&[("dbname", "")]));
    }

    #[test]
    fn errors_do_not_quote_values() {
        for (input, secret) in [
            ("postgres://u:pw%zzsecret@h/db", "secret"),
            ("postgres://u:pw%00secret@h/db", "secret"),
            ("host=h password='unterminated secret", "secret"),
            ("mysql://u:secret@h/db", "secret"),
            ("postgres://u:secret@h/db?novalue", "secret"),
            ("just-a-secret-word", "secret"),
            ("host=h secret", "secret"),
            ("postgres://u:p@secret@h/db", "secret"),
        ] {
            let err = parse(input).unwrap_err();
            assert!(!err.contains(secret), "{input}: {err}");
        }
        assert!(parse("mysql://h/db").unwrap_err().contains("`mysql`"));
    }

    #[test]
    fn quote_round_trips_through_the_parser() {
        for v in ["plain", "with space", "it's", "back\\slash", ""] {
            let s = format!("password={}", quote(v));
            assert_eq!(p(&s), pairs(&[("password", v)]), "{s}");
        }
    }

    #[test]
    fn encode_component_round_trips() {
        for v in ["app", "my db", "u@x:y", "100%", "a/b"] {
            let url = format!(
                "postgresql://{}@h/{}",
                encode_component(v),
                encode_component(v)
            );
            assert_eq!(p(&url), pairs(&[("user", v), ("host", "h"), ("dbname", v)]));
        }
    }
}
