//! Authentication and authorization of kubelet API requests.

use std::sync::Arc;

use rustls_pki_types::CertificateDer;

/// The certificate chain the client presented in the TLS handshake (leaf first), put in
/// each request's extensions by the TLS server. Absent on plain HTTP and when the client
/// sent no certificate.
#[derive(Clone, Debug, Default)]
pub struct PeerCertificates(pub Arc<Vec<CertificateDer<'static>>>);
