//! HTTPS for the server: a certificate given as PEM, or a self-signed one generated at start
//! for the loopback names (some vendors' clients speak HTTPS only). rustls with the ring
//! provider; HTTP/2 and HTTP/1.1 are offered by ALPN.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

/// Where the server's certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// Generate a self-signed certificate for `localhost`, `127.0.0.1` and `::1` (plus
    /// `extra_names`) at start.
    SelfSigned { extra_names: Vec<String> },
    /// A certificate chain and its private key, PEM.
    Pem {
        cert_chain: String,
        private_key: String,
    },
}

/// A server's TLS set-up, with the certificate clients must trust.
#[derive(Clone)]
pub struct Tls {
    pub(crate) acceptor: TlsAcceptor,
    /// The server's certificate (the first of the chain), PEM: what a client adds to its
    /// trusted roots.
    pub certificate_pem: String,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

impl Tls {
    pub fn new(source: &TlsSource) -> Result<Self, String> {
        let (chain_pem, key_pem) = match source {
            TlsSource::SelfSigned { extra_names } => {
                let mut names = vec![
                    "localhost".to_owned(),
                    "127.0.0.1".to_owned(),
                    "::1".to_owned(),
                ];
                names.extend(extra_names.iter().cloned());
                let generated = rcgen::generate_simple_self_signed(names)
                    .map_err(|e| format!("cannot generate a certificate: {e}"))?;
                (generated.cert.pem(), generated.key_pair.serialize_pem())
            }
            TlsSource::Pem {
                cert_chain,
                private_key,
            } => (cert_chain.clone(), private_key.clone()),
        };
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(chain_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("the certificate PEM cannot be read: {e}"))?;
        if chain.is_empty() {
            return Err("the certificate PEM holds no certificate".into());
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| format!("the private key PEM cannot be read: {e}"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(chain.clone(), key)
            .map_err(|e| format!("the certificate and key do not go together: {e}"))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let certificate_pem = pem_of(&chain[0]);
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            certificate_pem,
        })
    }
}

fn pem_of(cert: &CertificateDer<'_>) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}
