//! TLS through rustls, with libpq's `sslmode` semantics (PostgreSQL docs,
//! section "libpq-ssl", table "SSL Mode Descriptions").
//!
//! | sslmode | encryption | certificate checked | host name checked |
//! |---|---|---|---|
//! | `disable` | no | – | – |
//! | `allow`, `prefer` | if the server offers it | only if a root certificate file exists | no |
//! | `require` | yes | only if a root certificate file exists | no |
//! | `verify-ca` | yes | yes (root certificate file required) | no |
//! | `verify-full` | yes | yes (root certificate file or `sslrootcert=system`) | yes |
//!
//! "Only if a root certificate file exists" is libpq's backwards-compatible
//! behaviour: when `sslrootcert` (or `~/.postgresql/root.crt`) exists, libpq
//! loads it and verifies the chain even in the weak modes. We do the same.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// Where trusted root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RootCerts {
    /// A PEM file (`sslrootcert=/path`, `PGSSLROOTCERT`, or
    /// `~/.postgresql/root.crt`).
    File(PathBuf),
    /// `sslrootcert=system`: the Mozilla root set compiled into
    /// `webpki-roots` (we do not read the OS store).
    System,
}

/// How the server's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verification {
    /// Not at all (libpq `prefer`/`require` without a root certificate).
    None,
    /// The chain must lead to one of the roots; the host name is not checked.
    Chain(RootCerts),
    /// The chain and the host name.
    Full(RootCerts),
}

/// What a client certificate is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Which TLS versions may be negotiated (`ssl_min_protocol_version`,
/// `ssl_max_protocol_version`); rustls speaks only 1.2 and 1.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Versions {
    pub tls12: bool,
    pub tls13: bool,
}

impl Default for Versions {
    fn default() -> Self {
        Versions {
            tls12: true,
            tls13: true,
        }
    }
}

/// Builds the rustls configuration. Errors are reasons for
/// [`super::ConnectError::Tls`].
pub(crate) fn client_config(
    verification: &Verification,
    client_cert: Option<&ClientCert>,
    sni: bool,
    versions: Versions,
) -> Result<ClientConfig, String> {
    // Explicit provider: never depend on a process-wide default having been
    // installed (or on two providers being compiled in by other crates).
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut protocols = Vec::new();
    if versions.tls13 {
        protocols.push(&rustls::version::TLS13);
    }
    if versions.tls12 {
        protocols.push(&rustls::version::TLS12);
    }
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&protocols)
        .map_err(|e| format!("cannot set up TLS: {e}"))?;
    let builder = match verification {
        Verification::None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoCertificateCheck { provider })),
        Verification::Chain(roots) | Verification::Full(roots) => {
            let (store, listed) = load_roots(roots)?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(RootVerifier {
                    roots: Arc::new(store),
                    listed,
                    check_name: matches!(verification, Verification::Full(_)),
                    provider,
                }))
        }
    };
    let mut config = match client_cert {
        None => builder.with_no_client_auth(),
        Some(cc) => {
            let chain = read_certs(&cc.cert)?;
            let key = PrivateKeyDer::from_pem_file(&cc.key)
                .map_err(|e| format!("cannot read the client key {}: {e}", cc.key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("unusable client certificate or key: {e}"))?
        }
    };
    config.enable_sni = sni;
    Ok(config)
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read certificates from {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no PEM certificate in {}", path.display()));
    }
    Ok(certs)
}

/// The trust store plus the certificates themselves (to recognise a server
/// certificate that is listed in the root file directly).
fn load_roots(roots: &RootCerts) -> Result<(RootCertStore, Vec<CertificateDer<'static>>), String> {
    match roots {
        RootCerts::System => Ok((
            RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
            Vec::new(),
        )),
        RootCerts::File(path) => {
            let certs = read_certs(path)?;
            let mut store = RootCertStore::empty();
            for cert in &certs {
                store
                    .add(cert.clone())
                    .map_err(|e| format!("invalid root certificate in {}: {e}", path.display()))?;
            }
            Ok((store, certs))
        }
    }
}

/// Accepts any certificate, but still checks the handshake signatures
/// against it (so the session is at least bound to the certificate that SCRAM
/// channel binding then hashes).
struct NoCertificateCheck {
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for NoCertificateCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NoCertificateCheck")
    }
}

impl ServerCertVerifier for NoCertificateCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// libpq's `verify-ca` (`check_name: false`) and `verify-full`
/// (`check_name: true`), with two OpenSSL behaviours that webpki alone
/// lacks, because the PostgreSQL docs' own recipe ("ssl-certificate-creation":
/// a self-signed `server.crt` with only a Common Name, copied to the
/// client's `root.crt`) depends on them:
///
/// - a server certificate that is itself in the root file is trusted even
///   though it is marked as a CA (webpki refuses a CA as an end entity);
/// - without any dNSName subjectAltName, the host name is compared with the
///   Common Name (libpq's `pq_verify_peer_name_matches_certificate`).
struct RootVerifier {
    roots: Arc<RootCertStore>,
    listed: Vec<CertificateDer<'static>>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for RootVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootVerifier")
            .field("roots", &self.roots.len())
            .field("check_name", &self.check_name)
            .finish()
    }
}

impl ServerCertVerifier for RootVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
        match rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        ) {
            Ok(()) => {}
            // webpki checks the validity period before the CA flag, so an
            // expired certificate still fails here.
            Err(e)
                if is_ca_used_as_end_entity(&e)
                    && self
                        .listed
                        .iter()
                        .any(|c| c.as_ref() == end_entity.as_ref()) => {}
            Err(e) => return Err(e),
        }
        if self.check_name {
            if let Err(e) = rustls::client::verify_server_name(&cert, server_name) {
                if !common_name_matches(end_entity, server_name) {
                    return Err(e);
                }
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A plain-words explanation of a certificate error from rustls, if it is a
/// common one.
pub(crate) fn explain(error_text: &str) -> Option<&'static str> {
    const KNOWN: &[(&str, &str)] = &[
        ("UnknownIssuer", "the server certificate is not signed by a trusted root certificate"),
        (
            "CaUsedAsEndEntity",
            "the server presented a self-signed CA certificate that is not in the root certificate file",
        ),
        ("NotValidForName", "the server certificate is not issued for this host name"),
        ("Expired", "the server certificate has expired"),
        ("NotValidYet", "the server certificate is not valid yet (check the clocks)"),
        ("BadSignature", "the server certificate has a bad signature"),
    ];
    KNOWN
        .iter()
        .find(|(key, _)| error_text.contains(key))
        .map(|(_, text)| *text)
}

/// rustls wraps this webpki error in an opaque `OtherError`; its `Debug`
/// text is the only handle on it.
fn is_ca_used_as_end_entity(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(CertificateError::Other(other))
            if format!("{other:?}").contains("CaUsedAsEndEntity")
    )
}

/// The Common Name fallback of libpq: used only when the certificate has no
/// dNSName subjectAltName at all (RFC 6125 forbids it otherwise).
fn common_name_matches(cert_der: &[u8], server_name: &ServerName<'_>) -> bool {
    use x509_cert::der::Decode;
    use x509_cert::ext::pkix::{name::GeneralName, SubjectAltName};

    let host = match server_name {
        ServerName::DnsName(name) => name.as_ref().to_owned(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        _ => return false,
    };
    let Ok(cert) = x509_cert::Certificate::from_der(cert_der) else {
        return false;
    };
    let tbs = &cert.tbs_certificate;
    match tbs.get::<SubjectAltName>() {
        Ok(Some((_, SubjectAltName(names))))
            if names.iter().any(|n| matches!(n, GeneralName::DnsName(_))) =>
        {
            return false
        }
        Err(_) => return false,
        _ => {}
    }
    tbs.subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == COMMON_NAME)
        .filter_map(|atv| std::str::from_utf8(atv.value.value()).ok())
        .any(|cn| host_matches(cn, &host))
}

const COMMON_NAME: x509_cert::der::asn1::ObjectIdentifier =
    x509_cert::der::asn1::ObjectIdentifier::new_unwrap("2.5.4.3");

/// Case-insensitive equality, or libpq's wildcard rule: `*.example.com`
/// matches exactly one leading label (`db.example.com`, not
/// `a.b.example.com` nor `example.com`).
fn host_matches(pattern: &str, host: &str) -> bool {
    if pattern.eq_ignore_ascii_case(host) {
        return true;
    }
    match (pattern.strip_prefix("*."), host.split_once('.')) {
        (Some(suffix), Some((first, rest))) => {
            !first.is_empty() && rest.eq_ignore_ascii_case(suffix)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_build_for_every_verification_without_files() {
        client_config(&Verification::None, None, true, Versions::default()).unwrap();
        client_config(
            &Verification::Full(RootCerts::System),
            None,
            true,
            Versions::default(),
        )
        .unwrap();
        client_config(
            &Verification::Chain(RootCerts::System),
            None,
            false,
            Versions {
                tls12: false,
                tls13: true,
            },
        )
        .unwrap();
    }

    const CN_ONLY: &str = include_str!("testdata/cn_only.pem");
    const WITH_SAN: &str = include_str!("testdata/with_san.pem");

    fn der(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
    }

    fn verifier(root_pem: &str, check_name: bool) -> RootVerifier {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.crt");
        std::fs::write(&path, root_pem).unwrap();
        let (store, listed) = load_roots(&RootCerts::File(path)).unwrap();
        RootVerifier {
            roots: Arc::new(store),
            listed,
            check_name,
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        }
    }

    fn verify(v: &RootVerifier, cert: &str, host: &str) -> Result<(), rustls::Error> {
        let name = ServerName::try_from(host.to_owned()).unwrap();
        v.verify_server_cert(&der(cert), &[], &name, &[], UnixTime::now())
            .map(|_| ())
    }

    #[test]
    fn self_signed_server_certificate_listed_as_root_is_trusted() {
        // The PostgreSQL docs' recipe: a self-signed CA:TRUE certificate with
        // only a Common Name, copied to the client's root.crt.
        let ca_only = verifier(CN_ONLY, false);
        verify(&ca_only, CN_ONLY, "anything.invalid").unwrap();
        let full = verifier(CN_ONLY, true);
        verify(&full, CN_ONLY, "db.example.com").unwrap();
        verify(&full, CN_ONLY, "DB.Example.COM").unwrap();
        assert!(verify(&full, CN_ONLY, "other.example.com").is_err());
        // Not listed: unknown issuer.
        let other = verifier(WITH_SAN, false);
        assert!(verify(&other, CN_ONLY, "db.example.com").is_err());
    }

    #[test]
    fn common_name_is_ignored_when_a_dns_subject_alt_name_exists() {
        let full = verifier(WITH_SAN, true);
        verify(&full, WITH_SAN, "alt.example.com").unwrap();
        // CN is db.example.com, but the SAN takes precedence (RFC 6125).
        assert!(verify(&full, WITH_SAN, "db.example.com").is_err());
    }

    #[test]
    fn wildcard_rule() {
        assert!(host_matches("*.example.com", "db.example.com"));
        assert!(host_matches("*.Example.com", "DB.example.COM"));
        assert!(!host_matches("*.example.com", "a.b.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(!host_matches("db.example.com", "db2.example.com"));
    }

    #[test]
    fn missing_or_empty_root_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("root.crt");
        let err = client_config(
            &Verification::Full(RootCerts::File(missing.clone())),
            None,
            true,
            Versions::default(),
        )
        .unwrap_err();
        assert!(err.contains("root.crt"), "{err}");
        std::fs::write(&missing, "not a certificate\n").unwrap();
        let err = client_config(
            &Verification::Chain(RootCerts::File(missing)),
            None,
            true,
            Versions::default(),
        )
        .unwrap_err();
        assert!(err.contains("no PEM certificate"), "{err}");
    }
}
