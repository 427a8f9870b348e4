//! The serving certificate and the TLS configuration of the kubelet API.
//!
//! As in the kubelet: with `tlsCertFile` and `tlsPrivateKeyFile` set, those files serve;
//! without them, a self-signed pair is generated once under the certificate directory
//! (`<rootDir>/pki/kubelet.crt` and `kubelet.key`) and reused on later starts. A client
//! CA (`authentication.x509.clientCAFile`) makes the server ask for a client certificate
//! and verify it against that CA, without requiring one: a client without a certificate
//! goes on to bearer-token or anonymous authentication.
//!
//! ```
//! use kubelet_server::tls::{ServingCert, server_config};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let cert = ServingCert::self_signed_in(dir.path(), "node-a", &["10.0.0.5".parse()?])?;
//! assert!(dir.path().join("kubelet.crt").exists());
//! let config = server_config(&cert, None)?;
//! assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
//! # Ok(()) }
//! ```

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::{Error, Result};

/// The file name of a generated serving certificate (the kubelet's).
pub const SELF_SIGNED_CERT: &str = "kubelet.crt";
/// The file name of a generated serving key (the kubelet's).
pub const SELF_SIGNED_KEY: &str = "kubelet.key";

/// A serving certificate chain and its key.
#[derive(Debug)]
pub struct ServingCert {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// Where the chain was read from or written to.
    pub cert_file: PathBuf,
}

impl ServingCert {
    /// Reads a PEM chain (`tlsCertFile`) and a PEM key (`tlsPrivateKeyFile`).
    pub fn from_files(cert_file: &Path, key_file: &Path) -> Result<Self> {
        let chain = CertificateDer::pem_file_iter(cert_file)
            .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| tls_error(cert_file, format!("cannot read certificates: {e}")))?;
        if chain.is_empty() {
            return Err(tls_error(cert_file, "no certificate in the file"));
        }
        let key = PrivateKeyDer::from_pem_file(key_file)
            .map_err(|e| tls_error(key_file, format!("cannot read the private key: {e}")))?;
        Ok(ServingCert {
            chain,
            key,
            cert_file: cert_file.to_path_buf(),
        })
    }

    /// The kubelet's self-signed pair in `dir`: [`SELF_SIGNED_CERT`] and
    /// [`SELF_SIGNED_KEY`] when both can be read, otherwise a new pair written there (the
    /// key with mode 0600). The certificate names `host` (and `localhost`, `127.0.0.1`
    /// and `ips`) and is signed by a CA of its own, as the kubelet's is, and the
    /// certificate file holds the chain (leaf, then CA).
    pub fn self_signed_in(dir: &Path, host: &str, ips: &[IpAddr]) -> Result<Self> {
        let cert_file = dir.join(SELF_SIGNED_CERT);
        let key_file = dir.join(SELF_SIGNED_KEY);
        if cert_file.exists() && key_file.exists() {
            match Self::from_files(&cert_file, &key_file) {
                Ok(cert) => return Ok(cert),
                Err(err) => {
                    tracing::warn!(error = %err, "cannot reuse the self-signed serving certificate; generating a new one")
                }
            }
        }
        let (cert_pem, key_pem) = generate_self_signed(host, ips)
            .map_err(|e| tls_error(dir, format!("cannot generate a certificate: {e}")))?;
        std::fs::create_dir_all(dir)
            .map_err(|e| tls_error(dir, format!("cannot create the directory: {e}")))?;
        write_private(&key_file, key_pem.as_bytes())?;
        std::fs::write(&cert_file, cert_pem.as_bytes())
            .map_err(|e| tls_error(&cert_file, format!("cannot write: {e}")))?;
        tracing::info!(cert = %cert_file.display(), "generated a self-signed serving certificate");
        Self::from_files(&cert_file, &key_file)
    }

    /// The chain, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }
}

/// Reads a PEM CA bundle (`authentication.x509.clientCAFile`).
pub fn read_ca_bundle(path: &Path) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| tls_error(path, format!("cannot read the CA bundle: {e}")))?;
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| tls_error(path, format!("invalid CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(tls_error(path, "no CA certificate in the file"));
    }
    Ok(roots)
}

/// The TLS configuration of the main server: `cert` serves, HTTP/1.1 is offered (the
/// streaming endpoints upgrade HTTP/1.1 connections), and with `client_cas` a client
/// certificate is asked for, verified against them, and not required.
pub fn server_config(
    cert: &ServingCert,
    client_cas: Option<RootCertStore>,
) -> Result<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(&cert.cert_file, e.to_string()))?;
    let builder = match client_cas {
        Some(roots) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| tls_error(&cert.cert_file, e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(cert.chain.clone(), cert.key.clone_key())
        .map_err(|e| {
            tls_error(
                &cert.cert_file,
                format!("certificate and key do not match: {e}"),
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn generate_self_signed(
    host: &str,
    ips: &[IpAddr],
) -> std::result::Result<(String, String), rcgen::Error> {
    let now = jiff::Timestamp::now();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("{host}-ca@{}", now.as_second()),
    );
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = rcgen::KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let mut names = vec![host.to_string()];
    if host != "localhost" {
        names.push("localhost".to_string());
    }
    let mut params = rcgen::CertificateParams::new(names)?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("{host}@{}", now.as_second()),
    );
    let mut all_ips: Vec<IpAddr> = vec![IpAddr::from([127, 0, 0, 1])];
    all_ips.extend(ips.iter().copied().filter(|ip| !ip.is_loopback()));
    params
        .subject_alt_names
        .extend(all_ips.into_iter().map(rcgen::SanType::IpAddress));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    Ok((
        format!("{}{}", cert.pem(), ca_cert.pem()),
        key.serialize_pem(),
    ))
}

fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| tls_error(path, format!("cannot write: {e}")))?;
    file.write_all(contents)
        .map_err(|e| tls_error(path, format!("cannot write: {e}")))
}

fn tls_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Tls {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}
