//! The cluster's PKI, made with rcgen: one CA, the API server's serving
//! certificate, the service-account key pair, and a client certificate for
//! each identity (admin, controller-manager, scheduler, the API server's
//! client to the kubelets, and one per node).
//!
//! Identities follow the Kubernetes conventions the authorizers rely on: the
//! certificate's CN is the user name and each O a group, so `system:node:<name>`
//! in `system:nodes` is what the Node authorizer and `NodeRestriction` admit.

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// A certificate and its key, as PEM files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

impl CertFiles {
    fn under(dir: &Path, name: &str) -> Self {
        Self {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        }
    }

    fn exist(&self) -> bool {
        self.cert.is_file() && self.key.is_file()
    }
}

/// Who a client certificate speaks for.
#[derive(Debug, Clone)]
pub struct Identity<'a> {
    /// The file name stem.
    pub file: &'a str,
    /// The user name (CN).
    pub user: String,
    /// The groups (O).
    pub groups: Vec<&'a str>,
}

/// The PKI directory.
#[derive(Debug, Clone)]
pub struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// The PKI under `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The CA.
    pub fn ca(&self) -> CertFiles {
        CertFiles::under(&self.dir, "ca")
    }

    /// The API server's serving certificate.
    pub fn apiserver(&self) -> CertFiles {
        CertFiles::under(&self.dir, "apiserver")
    }

    /// The service-account signing key.
    pub fn service_account_key(&self) -> PathBuf {
        self.dir.join("sa.key")
    }

    /// The service-account public key the API server verifies tokens with.
    pub fn service_account_pub(&self) -> PathBuf {
        self.dir.join("sa.pub")
    }

    /// A client certificate of `identity` (file stem).
    pub fn client(&self, file: &str) -> CertFiles {
        CertFiles::under(&self.dir, file)
    }

    /// Makes the CA, the serving certificate, the service-account keys and the
    /// client certificates of `identities`.
    pub fn create(&self, identities: &[Identity<'_>]) -> Result<()> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name = name("nodelet-cluster-ca", &[]);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        write_pair(&self.ca(), &ca_cert.pem(), &ca_key.serialize_pem())?;
        let issuer = Issuer::new(ca_params, ca_key);

        let serving_key = KeyPair::generate()?;
        let mut serving = CertificateParams::new(vec![
            "localhost".to_owned(),
            "kubernetes".to_owned(),
            "kubernetes.default".to_owned(),
            "kubernetes.default.svc".to_owned(),
            "kubernetes.default.svc.cluster.local".to_owned(),
        ])?;
        serving.subject_alt_names.extend([
            rcgen::SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            rcgen::SanType::IpAddress(IpAddr::V4(super::SERVICE_IP)),
        ]);
        serving.distinguished_name = name("kube-apiserver", &[]);
        serving.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = serving.signed_by(&serving_key, &issuer)?;
        write_pair(&self.apiserver(), &cert.pem(), &serving_key.serialize_pem())?;

        let sa = KeyPair::generate()?;
        write_file(&self.service_account_key(), &sa.serialize_pem())?;
        write_file(&self.service_account_pub(), &sa.public_key_pem())?;

        for identity in identities {
            self.issue_client(&issuer, identity)?;
        }
        Ok(())
    }

    /// A client certificate for `identity`, signed by the CA on disk; kept
    /// when it already exists.
    pub fn ensure_client(&self, identity: &Identity<'_>) -> Result<CertFiles> {
        let files = self.client(identity.file);
        if files.exist() {
            return Ok(files);
        }
        let ca = self.ca();
        let ca_key = KeyPair::from_pem(&read(&ca.key)?)?;
        let issuer = Issuer::from_ca_cert_pem(&read(&ca.cert)?, ca_key)?;
        self.issue_client(&issuer, identity)
    }

    fn issue_client(
        &self,
        issuer: &Issuer<'_, KeyPair>,
        identity: &Identity<'_>,
    ) -> Result<CertFiles> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(&identity.user, &identity.groups);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, issuer)?;
        let files = self.client(identity.file);
        write_pair(&files, &cert.pem(), &key.serialize_pem())?;
        Ok(files)
    }
}

fn name(common: &str, organizations: &[&str]) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    for organization in organizations {
        name.push(DnType::OrganizationName, *organization);
    }
    name.push(DnType::CommonName, common);
    name
}

fn write_pair(files: &CertFiles, cert: &str, key: &str) -> Result<()> {
    write_file(&files.cert, cert)?;
    write_file(&files.key, key)
}

/// Writes a PEM file; keys are readable by root alone.
fn write_file(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mode = if path.extension().is_some_and(|ext| ext == "key") {
        0o600
    } else {
        0o644
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_certificate_is_signed_by_the_ca_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::new(dir.path().join("pki"));
        let admin = Identity {
            file: "admin",
            user: "kubernetes-admin".to_owned(),
            groups: vec!["system:masters"],
        };
        pki.create(&[admin]).unwrap();
        for file in [pki.ca(), pki.apiserver(), pki.client("admin")] {
            assert!(file.exist(), "{file:?}");
        }
        let node = Identity {
            file: "node-a",
            user: "system:node:a".to_owned(),
            groups: vec!["system:nodes"],
        };
        let files = pki.ensure_client(&node).unwrap();
        let pem = fs::read_to_string(&files.cert).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let mode = fs::metadata(&files.key).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        // Asking again keeps the same certificate.
        pki.ensure_client(&node).unwrap();
        assert_eq!(fs::read_to_string(&files.cert).unwrap(), pem);
    }
}
