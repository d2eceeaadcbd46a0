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
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

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
        Verification::Chain(roots) => {
            let roots = load_roots(roots)?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly {
                    roots: Arc::new(roots),
                    provider,
                }))
        }
        Verification::Full(roots) => {
            let roots = load_roots(roots)?;
            let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("cannot set up certificate verification: {e}"))?;
            builder.with_webpki_verifier(verifier)
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

fn load_roots(roots: &RootCerts) -> Result<RootCertStore, String> {
    match roots {
        RootCerts::System => Ok(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }),
        RootCerts::File(path) => {
            let mut store = RootCertStore::empty();
            for cert in read_certs(path)? {
                store
                    .add(cert)
                    .map_err(|e| format!("invalid root certificate in {}: {e}", path.display()))?;
            }
            Ok(store)
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

/// libpq's `verify-ca`: the chain must lead to a trusted root, whatever name
/// the certificate is for.
struct ChainOnly {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for ChainOnly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainOnly")
            .field("roots", &self.roots.len())
            .finish()
    }
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
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
