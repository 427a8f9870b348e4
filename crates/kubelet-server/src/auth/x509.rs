//! Client certificate authentication: the apiserver's `x509.Authenticator` with
//! `CommonNameUserConversion`, as the kubelet builds it from `authentication.x509.clientCAFile`.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use ring::digest;
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::{CertificateDer, UnixTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::{OID_X509_COMMON_NAME, OID_X509_ORGANIZATION_NAME};

use super::user::{CREDENTIAL_ID_KEY, UserInfo};
use crate::{Error, Result};

/// The distinguished-name attribute that carries a user's UID (1.3.6.1.4.1.57683.2, from the
/// CNCF's enterprise number), read as the apiserver does with `AllowParsingUserUIDFromCertAuth`
/// (beta, on by default).
const UID_OID: &str = "1.3.6.1.4.1.57683.2";

/// Authenticates requests by the client certificate they were made with.
///
/// The certificate chain is verified against the client CA bundle (intermediates from the
/// chain the client sent, the leaf must allow client authentication when it lists extended
/// key usages, as Go's `x509.VerifyOptions{KeyUsages: ClientAuth}` requires); a verified
/// leaf maps to a user as the apiserver's `CommonNameUserConversion` maps it:
///
/// - the subject's CommonName is the user name (a certificate without one authenticates
///   nobody, and the next authenticator is asked),
/// - each Organization is a group,
/// - the UID attribute (1.3.6.1.4.1.57683.2), if present once, is the UID,
/// - `extra["authentication.kubernetes.io/credential-id"]` is `X509SHA256=<hex sha256 of the leaf>`.
///
/// The TLS server verifies the chain too (against the same CA, without requiring a
/// certificate); verifying again here keeps the authenticator correct when it is used
/// behind a TLS terminator that does not.
pub struct X509Authenticator {
    verifier: Arc<dyn ClientCertVerifier>,
}

impl fmt::Debug for X509Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("X509Authenticator").finish_non_exhaustive()
    }
}

impl X509Authenticator {
    /// Trusts the CAs in `roots`.
    pub fn new(roots: RootCertStore) -> Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| Error::AuthConfig(format!("client CA bundle: {e}")))?;
        Ok(X509Authenticator { verifier })
    }

    /// Trusts the CAs of the PEM bundle at `path` (`authentication.x509.clientCAFile`); an
    /// unreadable file, or one without a CA certificate, is an [`Error::Tls`] naming it.
    pub fn from_ca_file(path: &Path) -> Result<Self> {
        Self::new(crate::tls::read_ca_bundle(path)?)
    }

    /// The user `chain` (leaf first, as the TLS handshake delivered it) authenticates:
    /// `Ok(None)` when there is no certificate or its subject has no CommonName, an
    /// [`Error::Unauthenticated`] when the chain does not verify or the UID is malformed.
    pub fn authenticate(&self, chain: &[CertificateDer<'_>]) -> Result<Option<UserInfo>> {
        let Some((leaf, intermediates)) = chain.split_first() else {
            return Ok(None);
        };
        if let Err(e) = self
            .verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now())
        {
            return Err(Error::Unauthenticated(format!(
                "verifying certificate {} failed: {e}",
                certificate_identifier(leaf)
            )));
        }
        common_name_user(leaf)
    }
}

/// The apiserver's `CommonNameUserConversion` of a verified leaf certificate.
fn common_name_user(leaf: &CertificateDer<'_>) -> Result<Option<UserInfo>> {
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref())
        .map_err(|e| Error::Unauthenticated(format!("cannot parse the client certificate: {e}")))?;
    let mut common_name = None;
    let mut organizations = Vec::new();
    let mut uids = Vec::new();
    for attribute in cert.subject().iter_attributes() {
        let oid = attribute.attr_type();
        if *oid == OID_X509_COMMON_NAME {
            // Go keeps the last CommonName of the subject, and only string values.
            if let Ok(name) = attribute.as_str() {
                common_name = Some(name.to_owned());
            }
        } else if *oid == OID_X509_ORGANIZATION_NAME {
            if let Ok(organization) = attribute.as_str() {
                organizations.push(organization.to_owned());
            }
        } else if oid.to_id_string() == UID_OID {
            let uid = attribute.as_str().map_err(|_| {
                Error::Unauthenticated("unable to parse UID into a string".to_owned())
            })?;
            uids.push(uid.to_owned());
        }
    }
    let Some(name) = common_name.filter(|name| !name.is_empty()) else {
        return Ok(None);
    };
    let uid = match uids.as_slice() {
        [] => String::new(),
        [uid] if uid.is_empty() => {
            return Err(Error::Unauthenticated(
                "UID cannot be an empty string".to_owned(),
            ));
        }
        [uid] => uid.clone(),
        many => {
            return Err(Error::Unauthenticated(format!(
                "expected 1 UID, but found multiple: [{}]",
                many.join(" ")
            )));
        }
    };
    let fingerprint = digest::digest(&digest::SHA256, leaf.as_ref());
    let credential_id = format!("X509SHA256={}", hex(fingerprint.as_ref(), false));
    Ok(Some(UserInfo {
        name,
        uid,
        groups: organizations,
        extra: [(CREDENTIAL_ID_KEY.to_owned(), vec![credential_id])].into(),
    }))
}

/// How the apiserver names a certificate in a verification error:
/// `SN=<decimal serial>, SKID=<AA:BB..>, AKID=<AA:BB..>`.
fn certificate_identifier(leaf: &CertificateDer<'_>) -> String {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(leaf.as_ref()) else {
        return "<unparsable certificate>".to_owned();
    };
    let (skid, akid) = key_identifiers(&cert);
    format!(
        "SN={}, SKID={}, AKID={}",
        cert.tbs_certificate.serial,
        hex(skid, true),
        hex(akid, true)
    )
}

fn key_identifiers<'a>(cert: &'a X509Certificate<'_>) -> (&'a [u8], &'a [u8]) {
    let (mut skid, mut akid): (&[u8], &[u8]) = (&[], &[]);
    for extension in cert.extensions() {
        match extension.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => skid = id.0,
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                if let Some(id) = &aki.key_identifier {
                    akid = id.0;
                }
            }
            _ => {}
        }
    }
    (skid, akid)
}

/// Hex digits of `bytes`: lower case and plain, or upper case separated by colons (Go's
/// `columnSeparatedHex`).
fn hex(bytes: &[u8], colon_separated_upper: bool) -> String {
    let digits: Vec<String> = bytes
        .iter()
        .map(|byte| {
            if colon_separated_upper {
                format!("{byte:02X}")
            } else {
                format!("{byte:02x}")
            }
        })
        .collect();
    digits.join(if colon_separated_upper { ":" } else { "" })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
        ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };

    /// A CA that issues client certificates in tests.
    pub(crate) struct TestCa {
        pub(crate) cert: CertificateDer<'static>,
        pem: String,
        issuer: Issuer<'static, KeyPair>,
    }

    impl TestCa {
        pub(crate) fn new(name: &str) -> Self {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.distinguished_name.push(DnType::CommonName, name);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            let key = KeyPair::generate().unwrap();
            let cert = params.self_signed(&key).unwrap();
            TestCa {
                cert: cert.der().clone(),
                pem: cert.pem(),
                issuer: Issuer::new(params, key),
            }
        }

        pub(crate) fn roots(&self) -> RootCertStore {
            let mut roots = RootCertStore::empty();
            roots.add(self.cert.clone()).unwrap();
            roots
        }

        pub(crate) fn pem(&self) -> String {
            self.pem.clone()
        }

        /// A client certificate with these subject attributes, for client authentication.
        pub(crate) fn client(&self, subject: &[(DnType, &str)]) -> CertificateDer<'static> {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            // Not rcgen's default CommonName.
            params.distinguished_name = DistinguishedName::new();
            for (kind, value) in subject {
                params
                    .distinguished_name
                    .push(kind.clone(), DnValue::Utf8String(value.to_string()));
            }
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            let key = KeyPair::generate().unwrap();
            params.signed_by(&key, &self.issuer).unwrap().der().clone()
        }
    }

    fn uid_dn() -> DnType {
        DnType::CustomDnType(vec![1, 3, 6, 1, 4, 1, 57683, 2])
    }

    #[test]
    fn x509_maps_common_name_to_user_and_organizations_to_groups() {
        let ca = TestCa::new("client-ca");
        let authenticator = X509Authenticator::new(ca.roots()).unwrap();
        // rcgen keeps one value per attribute type; the Organization OID spelled as a
        // custom type is a second Organization.
        let second_organization = DnType::CustomDnType(vec![2, 5, 4, 10]);
        let leaf = ca.client(&[
            (DnType::OrganizationName, "system:masters"),
            (second_organization, "ops"),
            (DnType::CommonName, "kube-apiserver-kubelet-client"),
        ]);
        let user = authenticator
            .authenticate(std::slice::from_ref(&leaf))
            .unwrap()
            .unwrap();
        assert_eq!(user.name, "kube-apiserver-kubelet-client");
        assert_eq!(user.groups, ["system:masters", "ops"]);
        assert_eq!(user.uid, "");
        let fingerprint = hex(digest::digest(&digest::SHA256, &leaf).as_ref(), false);
        assert_eq!(
            user.extra[CREDENTIAL_ID_KEY],
            [format!("X509SHA256={fingerprint}")]
        );
    }

    #[test]
    fn x509_reads_the_uid_attribute() {
        let ca = TestCa::new("client-ca");
        let authenticator = X509Authenticator::new(ca.roots()).unwrap();
        let leaf = ca.client(&[(DnType::CommonName, "alice"), (uid_dn(), "1234-abcd")]);
        let user = authenticator.authenticate(&[leaf]).unwrap().unwrap();
        assert_eq!(user.uid, "1234-abcd");
    }

    #[test]
    fn x509_without_common_name_authenticates_nobody() {
        let ca = TestCa::new("client-ca");
        let authenticator = X509Authenticator::new(ca.roots()).unwrap();
        let leaf = ca.client(&[(DnType::OrganizationName, "ops")]);
        assert_eq!(authenticator.authenticate(&[leaf]).unwrap(), None);
        assert_eq!(authenticator.authenticate(&[]).unwrap(), None);
    }

    #[test]
    fn x509_refuses_a_certificate_from_another_ca() {
        let trusted = TestCa::new("client-ca");
        let other = TestCa::new("other-ca");
        let authenticator = X509Authenticator::new(trusted.roots()).unwrap();
        let leaf = other.client(&[(DnType::CommonName, "mallory")]);
        let err = authenticator.authenticate(&[leaf]).unwrap_err();
        assert!(matches!(err, Error::Unauthenticated(_)), "{err:?}");
        assert!(
            err.to_string().starts_with("verifying certificate SN="),
            "{err}"
        );
    }

    #[test]
    fn x509_reads_the_client_ca_file() {
        let ca = TestCa::new("client-ca");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.crt");
        std::fs::write(&path, ca.pem()).unwrap();
        let authenticator = X509Authenticator::from_ca_file(&path).unwrap();
        let leaf = ca.client(&[(DnType::CommonName, "bob")]);
        assert_eq!(
            authenticator.authenticate(&[leaf]).unwrap().unwrap().name,
            "bob"
        );

        let missing = X509Authenticator::from_ca_file(&dir.path().join("nope.crt")).unwrap_err();
        assert!(matches!(missing, Error::Tls { .. }), "{missing:?}");
        std::fs::write(dir.path().join("empty.crt"), "").unwrap();
        let empty = X509Authenticator::from_ca_file(&dir.path().join("empty.crt")).unwrap_err();
        assert!(matches!(empty, Error::Tls { .. }), "{empty:?}");
    }
}
