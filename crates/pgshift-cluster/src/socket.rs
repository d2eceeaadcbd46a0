//! Where the server's unix socket goes, and the URL encoding that names it.
//!
//! A unix socket path must fit in `sockaddr_un.sun_path` (108 bytes on Linux,
//! including the terminating NUL). The server creates
//! `<socket dir>/.s.PGSQL.<port>`, so a cluster in a deeply nested project
//! directory can exceed the limit. Then the socket goes in a short directory
//! `/tmp/pgshift-<16 hex digits>` instead, named by a hash of the data
//! directory's path so the same cluster always picks the same one.

use std::path::{Path, PathBuf};

/// Longest usable unix socket path in bytes (108 minus the NUL).
pub(crate) const MAX_SOCKET_PATH: usize = 107;

/// `/.s.PGSQL.` plus the longest port number (5 digits).
const SOCKET_NAME_MAX: usize = "/.s.PGSQL.65535".len();

/// Whether a socket in `dir` fits the length limit whatever the port.
pub(crate) fn fits(dir: &Path) -> bool {
    dir.as_os_str().len() + SOCKET_NAME_MAX <= MAX_SOCKET_PATH
}

/// `preferred` if a socket there fits, else the short fallback directory for `data_dir`.
pub(crate) fn choose_dir(preferred: &Path, data_dir: &Path) -> PathBuf {
    if fits(preferred) {
        preferred.to_path_buf()
    } else {
        fallback_dir(data_dir)
    }
}

/// `/tmp/pgshift-<hash of data_dir>`. Deliberately `/tmp` and not `$TMPDIR`,
/// which can itself be long (macOS).
pub(crate) fn fallback_dir(data_dir: &Path) -> PathBuf {
    PathBuf::from(format!(
        "/tmp/pgshift-{:016x}",
        fnv1a64(data_dir.as_os_str().as_encoded_bytes())
    ))
}

/// FNV-1a, 64 bit: tiny and, unlike std's `DefaultHasher`, stable across Rust
/// releases, so the fallback name never changes under an existing cluster.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Percent-encodes everything except RFC 3986 unreserved characters, so the
/// result is safe as a URL host, path segment or query value.
pub(crate) fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_dirs_are_kept() {
        let dir = Path::new("/work/project/.pgshift/dev/socket");
        assert!(fits(dir));
        assert_eq!(choose_dir(dir, Path::new("/x")), dir);
    }

    #[test]
    fn limit_is_exact() {
        // 92 bytes of directory + 15 bytes of "/.s.PGSQL.65535" = 107: fits.
        let dir = format!("/{}", "d".repeat(91));
        assert_eq!(dir.len(), 92);
        assert!(fits(Path::new(&dir)));
        let longer = format!("{dir}e");
        assert!(!fits(Path::new(&longer)));
    }

    #[test]
    fn long_dirs_fall_back_to_a_stable_short_tmp_dir() {
        let long = PathBuf::from(format!("/home/{}/.pgshift/dev/socket", "x".repeat(100)));
        let data = PathBuf::from(format!("/home/{}/.pgshift/dev/data", "x".repeat(100)));
        let chosen = choose_dir(&long, &data);
        assert_ne!(chosen, long);
        assert!(chosen.starts_with("/tmp"), "{}", chosen.display());
        assert!(fits(&chosen));
        assert_eq!(
            chosen,
            choose_dir(&long, &data),
            "same data dir, same fallback"
        );
        assert_ne!(chosen, fallback_dir(Path::new("/other/data")));
        assert_eq!(chosen.file_name().unwrap().len(), "pgshift-".len() + 16);
    }

    #[test]
    fn fnv_matches_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn percent_encoding() {
        assert_eq!(percent_encode(b"/tmp/a b"), "%2Ftmp%2Fa%20b");
        assert_eq!(percent_encode(b"t_1-x.y~"), "t_1-x.y~");
        assert_eq!(percent_encode("é".as_bytes()), "%C3%A9");
    }
}
