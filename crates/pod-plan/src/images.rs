//! Image references, pull policies and the image manager's decisions (the kubelet's
//! `pkg/kubelet/images/image_manager.go`, `pkg/util/parsers` and the API server's
//! `imagePullPolicy` defaulting).
//!
//! The worker asks the runtime whether the image is present (`ImageStatus(image).image.id`
//! non-empty), then [`pull_decision`] says what to do; the texts of the events and the
//! waiting reasons are the kubelet's, word for word. Images are passed as written in the
//! container spec: the kubelet's messages and its pull back-off key use that form, while the
//! CRI calls use [`image_with_default_tag`].

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;

use crate::WaitingReason;
use crate::backoff::Backoff;
use crate::go_format::{format_go_duration, go_quote};

/// The tag given to an image reference with neither tag nor digest.
pub const DEFAULT_IMAGE_TAG: &str = "latest";

/// Longest repository name the reference grammar accepts (`NameTotalLengthMax`).
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// An image reference that does not parse: the kubelet's `InvalidImageName` (IM-08).
///
/// Displays as the kubelet's parse error, `couldn't parse image name "x": invalid reference
/// format`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("couldn't parse image name {}: {message}", go_quote(.image))]
pub struct InvalidImageName {
    /// The image as written in the spec.
    pub image: String,
    /// What is wrong, in the words of the Docker reference grammar
    /// (`invalid reference format`, `repository name must be lowercase`, ...).
    pub message: String,
}

impl InvalidImageName {
    /// The waiting reason `InvalidImageName`.
    pub const REASON: &'static str = "InvalidImageName";

    /// The container's waiting reason, as the kubelet sets it when the default tag cannot be
    /// applied: reason `InvalidImageName`, message `Failed to apply default image tag "x":
    /// couldn't parse image name "x": ...`. The same message goes with a Warning event
    /// `InspectFailed`.
    pub fn waiting_reason(&self) -> WaitingReason {
        WaitingReason::new(
            Self::REASON,
            format!(
                "Failed to apply default image tag {}: {self}",
                go_quote(&self.image)
            ),
        )
    }
}

/// A parsed image reference (the Docker reference grammar, as `ParseNormalizedNamed` reads it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    /// The registry host (and port), `docker.io` when the reference names none.
    pub domain: String,
    /// The repository path, `library/busybox` for the short name `busybox`.
    pub path: String,
    /// The tag, if the reference has one.
    pub tag: Option<String>,
    /// The digest (`sha256:...`), if the reference has one.
    pub digest: Option<String>,
}

impl ImageReference {
    /// Parse `image` the way the kubelet does (`parsers.ParseImageName`, which calls the
    /// Docker reference library's `ParseNormalizedNamed`): a missing registry is `docker.io`,
    /// a one-component name on Docker Hub gets `library/`, `localhost:5000/busybox` is the
    /// untagged repository `busybox` on `localhost:5000`.
    pub fn parse(image: &str) -> Result<ImageReference, InvalidImageName> {
        parse_normalized_named(image).map_err(|message| InvalidImageName {
            image: image.to_string(),
            message,
        })
    }

    /// The tag the kubelet considers this reference to have: its own, or `latest` when it has
    /// neither tag nor digest, or none when it has only a digest.
    pub fn effective_tag(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(tag), _) => Some(tag),
            (None, None) => Some(DEFAULT_IMAGE_TAG),
            (None, Some(_)) => None,
        }
    }
}

/// The image with the default tag applied (the kubelet's `applyDefaultImageTag`, IM-01):
/// `busybox` → `busybox:latest`, `localhost:5000/busybox` → `localhost:5000/busybox:latest`;
/// a tagged or digested reference is returned unchanged. The name is not otherwise
/// normalised (no `docker.io/library/` is added), which keeps the CRI agnostic of default
/// registries, as in the kubelet.
pub fn image_with_default_tag(image: &str) -> Result<String, InvalidImageName> {
    let reference = ImageReference::parse(image)?;
    match (&reference.tag, &reference.digest) {
        (None, None) => Ok(format!("{image}:{DEFAULT_IMAGE_TAG}")),
        _ => Ok(image.to_string()),
    }
}

/// A container's `imagePullPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImagePullPolicy {
    /// Pull at every container start, even when the image is present.
    Always,
    /// Pull only when the image is absent.
    IfNotPresent,
    /// Never pull; fail with `ErrImageNeverPull` when the image is absent.
    Never,
}

impl ImagePullPolicy {
    /// The policy as written in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ImagePullPolicy::Always => "Always",
            ImagePullPolicy::IfNotPresent => "IfNotPresent",
            ImagePullPolicy::Never => "Never",
        }
    }

    /// The API server's default for an unset `imagePullPolicy` (`SetDefaults_Container`):
    /// `Always` when the image's tag is `latest` or it has neither tag nor digest, else
    /// `IfNotPresent` (also for a digest-only or unparseable reference).
    pub fn default_for(image: &str) -> ImagePullPolicy {
        let latest = ImageReference::parse(image)
            .ok()
            .is_some_and(|r| r.effective_tag() == Some(DEFAULT_IMAGE_TAG));
        if latest {
            ImagePullPolicy::Always
        } else {
            ImagePullPolicy::IfNotPresent
        }
    }

    /// The policy a container runs with: its `imagePullPolicy`, or the API default when unset.
    /// A value the API does not know is treated as `Never`, as the kubelet's `shouldPullImage`
    /// never pulls for it (the API server rejects such pods anyway).
    pub fn effective(policy: Option<&str>, image: &str) -> ImagePullPolicy {
        match policy {
            None | Some("") => Self::default_for(image),
            Some("Always") => ImagePullPolicy::Always,
            Some("IfNotPresent") => ImagePullPolicy::IfNotPresent,
            Some(_) => ImagePullPolicy::Never,
        }
    }
}

impl fmt::Display for ImagePullPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the image manager does for a container about to start (`EnsureImageExists`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImagePullDecision {
    /// Use the image already present; record a Normal event `Pulled` with
    /// [`already_present_message`] (IM-02).
    UsePresent,
    /// Pull the image: a Normal event `Pulling` ([`pulling_message`]), then `PullImage`. On
    /// success a Normal event `Pulled` ([`pulled_message`]); on failure advance the pull
    /// back-off (`Backoff::next(key, now)`), a Warning event `Failed`
    /// ([`pull_failed_message`]) and the waiting reason [`pull_failed_reason`] (IM-04, IM-06).
    Pull,
    /// The image is absent and the policy is `Never`: the container waits with this reason
    /// (`ErrImageNeverPull`); a Warning event `ErrImageNeverPull` carries the same message
    /// (IM-03).
    NeverPull(WaitingReason),
    /// The last pull failed less than the back-off ago: the container waits with this reason
    /// (`ImagePullBackOff`, "Back-off pulling image \"x\": ErrImagePull: `<last error>`"); a
    /// Normal event `BackOff` carries [`back_off_pulling_message`], without the last error
    /// (IM-04).
    BackOff(WaitingReason),
}

impl ImagePullDecision {
    /// Why the container waits, when it cannot start.
    pub fn waiting_reason(&self) -> Option<&WaitingReason> {
        match self {
            ImagePullDecision::NeverPull(r) | ImagePullDecision::BackOff(r) => Some(r),
            ImagePullDecision::UsePresent | ImagePullDecision::Pull => None,
        }
    }
}

/// Decide what to do about a container's image (the kubelet's `shouldPullImage` and the
/// back-off check of `EnsureImageExists`).
///
/// - `policy`: the container's `imagePullPolicy` (`None` applies the API default, see
///   [`ImagePullPolicy::effective`]);
/// - `image`: the image as written in the spec (used in the messages);
/// - `present`: whether the runtime has it (`ImageStatus` returned an image with an id);
/// - `backoff`, `key`: the pod's image pull back-off and [`image_backoff_key`] for this image;
/// - `previous_error`: what the last failed pull of `key` left ([`previous_pull_error`]), which
///   the back-off message ends with, as the kubelet's `prevPullErrMsg`.
///
/// [`image_backoff_key`]: crate::image_backoff_key
pub fn pull_decision(
    policy: Option<&str>,
    image: &str,
    present: bool,
    backoff: &Backoff,
    key: &str,
    previous_error: Option<&str>,
    now: Timestamp,
) -> ImagePullDecision {
    let should_pull = match ImagePullPolicy::effective(policy, image) {
        ImagePullPolicy::Always => true,
        ImagePullPolicy::IfNotPresent => !present,
        ImagePullPolicy::Never => false,
    };
    if !should_pull {
        return if present {
            ImagePullDecision::UsePresent
        } else {
            ImagePullDecision::NeverPull(WaitingReason::new(
                "ErrImageNeverPull",
                format!(
                    "Container image {} is not present with pull policy of Never",
                    go_quote(image)
                ),
            ))
        };
    }
    if backoff.is_in_backoff_since_update(key, now) {
        let mut message = back_off_pulling_message(image);
        if let Some(previous) = previous_error {
            message = format!("{message}: {previous}");
        }
        return ImagePullDecision::BackOff(WaitingReason::new("ImagePullBackOff", message));
    }
    ImagePullDecision::Pull
}

/// Normal event `Pulled` when no pull is needed: `Container image "x" already present on
/// machine`.
pub fn already_present_message(image: &str) -> String {
    format!(
        "Container image {} already present on machine",
        go_quote(image)
    )
}

/// Normal event `BackOff` while the image pull is in back-off: `Back-off pulling image "x"`
/// (the waiting message adds the last pull error to it, the event does not).
pub fn back_off_pulling_message(image: &str) -> String {
    format!("Back-off pulling image {}", go_quote(image))
}

/// What a failed pull leaves for the back-off message that follows (the kubelet's
/// `prevPullErrMsg`): the waiting reason and its message, `ErrImagePull: <error>`.
pub fn previous_pull_error(reason: &WaitingReason) -> String {
    format!("{}: {}", reason.reason, reason.message)
}

/// Normal event `Pulling`: `Pulling image "x"`.
pub fn pulling_message(image: &str) -> String {
    format!("Pulling image {}", go_quote(image))
}

/// Normal event `Pulled` after a successful pull: `Successfully pulled image "x" in 1.2s
/// (1.5s including waiting). Image size: N bytes.` Both durations are truncated to
/// milliseconds and written as Go writes durations; `pull` is the `PullImage` call itself,
/// `total` includes the wait for the serialized puller.
pub fn pulled_message(image: &str, pull: Duration, total: Duration, size_bytes: u64) -> String {
    format!(
        "Successfully pulled image {} in {} ({} including waiting). Image size: {size_bytes} bytes.",
        go_quote(image),
        format_go_duration(truncate_to_millis(pull)),
        format_go_duration(truncate_to_millis(total)),
    )
}

/// Warning event `Failed` after a failed pull: `Failed to pull image "x": <error>`.
pub fn pull_failed_message(image: &str, error: &str) -> String {
    format!("Failed to pull image {}: {error}", go_quote(image))
}

/// The waiting reason after a failed pull (the kubelet's `evalCRIPullErr`): `ErrImagePull`
/// with the runtime's error text; or, when the error text starts with `RegistryUnavailable`
/// or `SignatureValidationFailed`, that reason with the message "image pull failed for x
/// because the registry is unavailable..." / "...because the signature validation
/// failed...".
pub fn pull_failed_reason(image: &str, error: &str) -> WaitingReason {
    const SPECIAL: [(&str, &str); 2] = [
        ("RegistryUnavailable", "the registry is unavailable"),
        (
            "SignatureValidationFailed",
            "the signature validation failed",
        ),
    ];
    for (reason, because) in SPECIAL {
        if let Some(rest) = error.strip_prefix(reason) {
            return WaitingReason::new(
                reason,
                format!("image pull failed for {image} because {because}{rest}"),
            );
        }
    }
    WaitingReason::new("ErrImagePull", error)
}

/// The waiting reason when `ImageStatus` fails: `ImageInspectError`, `Failed to inspect image
/// "x": <error>`; a Warning event `InspectFailed` carries the same message.
pub fn inspect_failed_reason(image: &str, error: &str) -> WaitingReason {
    WaitingReason::new(
        "ImageInspectError",
        format!("Failed to inspect image {}: {error}", go_quote(image)),
    )
}

fn truncate_to_millis(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis().min(u128::from(u64::MAX)) as u64)
}

// --- The Docker reference grammar (github.com/distribution/reference) ----------------------
//
//   reference        := name [ ":" tag ] [ "@" digest ]
//   name             := [domain '/'] path-component ['/' path-component]*
//   domain           := host [':' port-number]
//   host             := domain-name | IPv4address | '[' IPv6address ']'
//   domain-name      := domain-component ['.' domain-component]*
//   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//   path-component   := alpha-numeric [separator alpha-numeric]*
//   alpha-numeric    := /[a-z0-9]+/
//   separator        := /[_.]|__|[-]+/
//   tag              := /[\w][\w.-]{0,127}/
//   digest           := algorithm ":" hex, algorithm := /[A-Za-z][A-Za-z0-9]*([+.-_][A-Za-z][A-Za-z0-9]*)*/,
//                       hex := /[0-9a-fA-F]{32,}/

const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";

/// `ParseNormalizedNamed`: the error is the reference library's message.
fn parse_normalized_named(s: &str) -> Result<ImageReference, String> {
    if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!(
            "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        ));
    }
    let (domain, remainder) = split_docker_domain(s);
    let remote_name = remainder.split(':').next().unwrap_or("");
    if remote_name.to_lowercase() != remote_name {
        return Err(format!(
            "invalid reference format: repository name ({remote_name}) must be lowercase"
        ));
    }
    parse_reference(&format!("{domain}/{remainder}"))
}

/// `splitDockerDomain`: the first component is a registry when it has a `.` or `:`, is
/// `localhost`, or has an upper-case letter; Docker Hub one-component names get `library/`.
fn split_docker_domain(name: &str) -> (String, String) {
    let (mut domain, remainder) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    let remainder = if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        format!("{OFFICIAL_REPO_PREFIX}{remainder}")
    } else {
        remainder
    };
    (domain, remainder)
}

/// `reference.Parse` of a full reference.
fn parse_reference(s: &str) -> Result<ImageReference, String> {
    let Some(parts) = match_reference(s) else {
        if s.is_empty() {
            return Err("repository name must have at least one component".into());
        }
        if match_reference(&s.to_lowercase()).is_some() {
            return Err("repository name must be lowercase".into());
        }
        return Err("invalid reference format".into());
    };
    let name_len = parts.domain.len() + usize::from(!parts.domain.is_empty()) + parts.path.len();
    if name_len > NAME_TOTAL_LENGTH_MAX {
        return Err(format!(
            "repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
        ));
    }
    if let Some(digest) = &parts.digest {
        validate_digest(digest)?;
    }
    Ok(parts)
}

/// Whole-string match of `[domain '/'] path [':' tag] ['@' digest]`. The domain, when there
/// is one, is everything before the first `/` (no part of the grammar after it has a `/`
/// before the path, and a domain has none); when it does not parse as a domain the whole
/// string is tried as a path, as the regular expression's backtracking would.
fn match_reference(s: &str) -> Option<ImageReference> {
    if let Some((first, rest)) = s.split_once('/')
        && is_domain(first)
        && let Some(mut parts) = match_remainder(rest)
    {
        parts.domain = first.to_string();
        return Some(parts);
    }
    match_remainder(s)
}

/// `path [':' tag] ['@' digest]`.
fn match_remainder(s: &str) -> Option<ImageReference> {
    let (name_tag, digest) = match s.split_once('@') {
        Some((name_tag, digest)) => (name_tag, Some(digest)),
        None => (s, None),
    };
    if digest.is_some_and(|d| !is_digest_syntax(d)) {
        return None;
    }
    let (path, tag) = match name_tag.split_once(':') {
        Some((path, tag)) => (path, Some(tag)),
        None => (name_tag, None),
    };
    if !path.split('/').all(is_path_component) {
        return None;
    }
    if tag.is_some_and(|t| !is_tag(t)) {
        return None;
    }
    Some(ImageReference {
        domain: String::new(),
        path: path.to_string(),
        tag: tag.map(str::to_string),
        digest: digest.map(str::to_string),
    })
}

/// `host [':' port]`, the host a domain name, an IPv4 address (which the domain-name rule
/// covers) or a bracketed IPv6 address.
fn is_domain(s: &str) -> bool {
    let (host_ok, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((ipv6, after)) = rest.split_once(']') else {
            return false;
        };
        let ipv6_ok = !ipv6.is_empty() && ipv6.chars().all(|c| c.is_ascii_hexdigit() || c == ':');
        match after.strip_prefix(':') {
            Some(port) => (ipv6_ok, Some(port)),
            None => (ipv6_ok && after.is_empty(), None),
        }
    } else {
        let (host, port) = match s.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        };
        (host.split('.').all(is_domain_component), port)
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

fn is_domain_component(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    // Between runs of [a-z0-9]: exactly one of `.`, `_`, `__`, or one or more `-`.
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_tag(s: &str) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

fn is_digest_syntax(s: &str) -> bool {
    let Some((algorithm, hex)) = s.split_once(':') else {
        return false;
    };
    let component_ok = |c: &str| {
        let b = c.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
    };
    algorithm.split(['+', '.', '-', '_']).all(component_ok)
        && hex.len() >= 32
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// go-digest's `Validate`: a known algorithm with lower-case hex of its exact length.
fn validate_digest(digest: &str) -> Result<(), String> {
    let (algorithm, hex) = digest.split_once(':').unwrap_or((digest, ""));
    let size = match algorithm {
        "sha256" => 32,
        "sha384" => 48,
        "sha512" => 64,
        _ => return Err("unsupported digest algorithm".into()),
    };
    if hex.len() != size * 2 {
        return Err("invalid checksum digest length".into());
    }
    if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err("invalid checksum digest format".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backoff::image_backoff_key;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    #[test]
    fn im_01_default_tag() {
        let digested = format!("nginx@{SHA}");
        let tagged_and_digested = format!("nginx:1.25@{SHA}");
        let cases = [
            ("nginx", "nginx:latest".to_string()),
            ("nginx:1.25", "nginx:1.25".into()),
            ("nginx:latest", "nginx:latest".into()),
            (digested.as_str(), digested.clone()),
            (tagged_and_digested.as_str(), tagged_and_digested.clone()),
            (
                "localhost:5000/busybox",
                "localhost:5000/busybox:latest".into(),
            ),
            (
                "localhost:5000/busybox:1.36",
                "localhost:5000/busybox:1.36".into(),
            ),
            (
                "127.0.0.1:5000/nodelet/app",
                "127.0.0.1:5000/nodelet/app:latest".into(),
            ),
            (
                "docker.io/library/busybox",
                "docker.io/library/busybox:latest".into(),
            ),
            ("[::1]:5000/busybox", "[::1]:5000/busybox:latest".into()),
            (
                "registry.k8s.io/pause:3.10",
                "registry.k8s.io/pause:3.10".into(),
            ),
            (
                "gcr.io/a/b/c_d__e-f--g.h",
                "gcr.io/a/b/c_d__e-f--g.h:latest".into(),
            ),
            // Not a valid registry name, but a valid two-component path.
            ("a_b.c/d", "a_b.c/d:latest".into()),
        ];
        for (image, want) in cases {
            assert_eq!(image_with_default_tag(image).as_ref(), Ok(&want), "{image}");
        }
    }

    #[test]
    fn parse_normalizes_like_the_docker_library() {
        let r = ImageReference::parse("busybox").unwrap();
        assert_eq!(
            (r.domain.as_str(), r.path.as_str()),
            ("docker.io", "library/busybox")
        );
        assert_eq!(r.effective_tag(), Some("latest"));
        let r = ImageReference::parse("localhost:5000/busybox").unwrap();
        assert_eq!(
            (r.domain.as_str(), r.path.as_str(), r.tag.as_deref()),
            ("localhost:5000", "busybox", None)
        );
        let r = ImageReference::parse("index.docker.io/nginx:1").unwrap();
        assert_eq!(
            (r.domain.as_str(), r.path.as_str()),
            ("docker.io", "library/nginx")
        );
        let r = ImageReference::parse(&format!("nginx@{SHA}")).unwrap();
        assert_eq!(r.effective_tag(), None);
        assert_eq!(r.digest.as_deref(), Some(SHA));
    }

    #[test]
    fn im_08_invalid_image_name() {
        let hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let long = format!("a/{}", "b".repeat(260));
        let cases: [(&str, &str); 10] = [
            ("", "invalid reference format"),
            ("nginx:", "invalid reference format"),
            ("nginx::1", "invalid reference format"),
            ("nginx:1 2", "invalid reference format"),
            ("-nginx", "invalid reference format"),
            (
                "Nginx",
                "invalid reference format: repository name (library/Nginx) must be lowercase",
            ),
            (
                hex64,
                "invalid repository name (0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef), cannot specify 64-byte hexadecimal strings",
            ),
            (
                "nginx@sha256:0123456789abcdef0123456789abcdef",
                "invalid checksum digest length",
            ),
            (
                "nginx@md5:0123456789abcdef0123456789abcdef",
                "unsupported digest algorithm",
            ),
            (
                &long,
                "repository name must not be more than 255 characters",
            ),
        ];
        for (image, message) in cases {
            let err = image_with_default_tag(image).unwrap_err();
            assert_eq!(err.message, message, "{image:?}");
            assert_eq!(err.image, image);
        }
        let err = image_with_default_tag("Nginx").unwrap_err();
        assert_eq!(
            err.to_string(),
            "couldn't parse image name \"Nginx\": invalid reference format: repository name (library/Nginx) must be lowercase"
        );
        let reason = err.waiting_reason();
        assert_eq!(reason.reason, "InvalidImageName");
        assert_eq!(
            reason.message,
            "Failed to apply default image tag \"Nginx\": couldn't parse image name \"Nginx\": invalid reference format: repository name (library/Nginx) must be lowercase"
        );
        let upper_hex = format!("nginx@sha256:{}", "A".repeat(64));
        assert_eq!(
            image_with_default_tag(&upper_hex).unwrap_err().message,
            "invalid checksum digest format"
        );
    }

    #[test]
    fn api_default_pull_policy() {
        use ImagePullPolicy::*;
        assert_eq!(ImagePullPolicy::default_for("nginx"), Always);
        assert_eq!(ImagePullPolicy::default_for("nginx:latest"), Always);
        assert_eq!(
            ImagePullPolicy::default_for("localhost:5000/busybox"),
            Always
        );
        assert_eq!(ImagePullPolicy::default_for("nginx:1.25"), IfNotPresent);
        assert_eq!(
            ImagePullPolicy::default_for(&format!("nginx@{SHA}")),
            IfNotPresent
        );
        assert_eq!(
            ImagePullPolicy::default_for(&format!("nginx:latest@{SHA}")),
            Always
        );
        assert_eq!(ImagePullPolicy::default_for("Not Valid"), IfNotPresent);
        assert_eq!(ImagePullPolicy::effective(None, "nginx:1"), IfNotPresent);
        assert_eq!(
            ImagePullPolicy::effective(Some("Always"), "nginx:1"),
            Always
        );
        assert_eq!(ImagePullPolicy::effective(Some("Never"), "nginx"), Never);
        assert_eq!(
            ImagePullPolicy::effective(Some("Sometimes"), "nginx"),
            Never
        );
    }

    #[test]
    fn im_02_if_not_present_uses_the_present_image_and_always_pulls() {
        let b = Backoff::image_pull();
        let key = image_backoff_key("uid", "busybox:1");
        let decide =
            |policy, present| pull_decision(policy, "busybox:1", present, &b, &key, None, t(0));
        assert_eq!(
            decide(Some("IfNotPresent"), true),
            ImagePullDecision::UsePresent
        );
        assert_eq!(
            decide(None, true),
            ImagePullDecision::UsePresent,
            "busybox:1 defaults to IfNotPresent"
        );
        assert_eq!(decide(Some("IfNotPresent"), false), ImagePullDecision::Pull);
        assert_eq!(decide(Some("Always"), true), ImagePullDecision::Pull);
        assert_eq!(
            already_present_message("busybox:1"),
            "Container image \"busybox:1\" already present on machine"
        );
        // An untagged image defaults to Always: pulled even when present.
        let key = image_backoff_key("uid", "busybox");
        assert_eq!(
            pull_decision(None, "busybox", true, &b, &key, None, t(0)),
            ImagePullDecision::Pull
        );
    }

    #[test]
    fn im_03_never_with_absent_image_is_err_image_never_pull() {
        let b = Backoff::image_pull();
        let d = pull_decision(Some("Never"), "busybox:1", false, &b, "k", None, t(0));
        let want = WaitingReason::new(
            "ErrImageNeverPull",
            "Container image \"busybox:1\" is not present with pull policy of Never",
        );
        assert_eq!(d, ImagePullDecision::NeverPull(want.clone()));
        assert_eq!(d.waiting_reason(), Some(&want));
        assert_eq!(
            pull_decision(Some("Never"), "busybox:1", true, &b, "k", None, t(0)),
            ImagePullDecision::UsePresent
        );
    }

    #[test]
    fn im_04_failed_pull_then_image_pull_back_off() {
        let mut b = Backoff::image_pull();
        let key = image_backoff_key("uid", "registry.local/app:1");
        assert_eq!(
            pull_failed_message(
                "registry.local/app:1",
                "rpc error: code = NotFound desc = not found"
            ),
            "Failed to pull image \"registry.local/app:1\": rpc error: code = NotFound desc = not found"
        );
        assert_eq!(
            pull_failed_reason("registry.local/app:1", "rpc error: not found"),
            WaitingReason::new("ErrImagePull", "rpc error: not found")
        );
        assert_eq!(
            pull_failed_reason("x:1", "RegistryUnavailable: connection refused"),
            WaitingReason::new(
                "RegistryUnavailable",
                "image pull failed for x:1 because the registry is unavailable: connection refused"
            )
        );
        assert_eq!(
            pull_failed_reason("x:1", "SignatureValidationFailed"),
            WaitingReason::new(
                "SignatureValidationFailed",
                "image pull failed for x:1 because the signature validation failed"
            )
        );
        b.next(&key, t(0));
        let d = pull_decision(
            Some("Always"),
            "registry.local/app:1",
            false,
            &b,
            &key,
            None,
            t(5),
        );
        assert_eq!(
            d,
            ImagePullDecision::BackOff(WaitingReason::new(
                "ImagePullBackOff",
                "Back-off pulling image \"registry.local/app:1\""
            ))
        );
        assert_eq!(
            pull_decision(
                Some("Always"),
                "registry.local/app:1",
                false,
                &b,
                &key,
                None,
                t(10)
            ),
            ImagePullDecision::Pull
        );
        // A present image under IfNotPresent is used even while the pull backs off.
        assert_eq!(
            pull_decision(None, "registry.local/app:1", true, &b, &key, None, t(5)),
            ImagePullDecision::UsePresent
        );
    }

    /// `image-backoff-message` (differential suite): the back-off message ends with the last
    /// pull's error, as the kubelet's `prevPullErrMsg`; the event does not.
    #[test]
    fn im_04_back_off_message_carries_the_previous_pull_error() {
        let mut b = Backoff::image_pull();
        let key = image_backoff_key("uid", "registry.local/app:1");
        b.next(&key, t(0));
        let failed = pull_failed_reason("registry.local/app:1", "not found");
        let previous = previous_pull_error(&failed);
        assert_eq!(previous, "ErrImagePull: not found");
        let d = pull_decision(
            Some("Always"),
            "registry.local/app:1",
            false,
            &b,
            &key,
            Some(&previous),
            t(5),
        );
        assert_eq!(
            d,
            ImagePullDecision::BackOff(WaitingReason::new(
                "ImagePullBackOff",
                "Back-off pulling image \"registry.local/app:1\": ErrImagePull: not found"
            ))
        );
        assert_eq!(
            back_off_pulling_message("registry.local/app:1"),
            "Back-off pulling image \"registry.local/app:1\""
        );
    }

    #[test]
    fn im_06_pull_messages() {
        assert_eq!(pulling_message("busybox"), "Pulling image \"busybox\"");
        assert_eq!(
            pulled_message(
                "busybox",
                Duration::from_micros(1_234_567),
                Duration::from_millis(1_500),
                2_157_568
            ),
            "Successfully pulled image \"busybox\" in 1.234s (1.5s including waiting). Image size: 2157568 bytes."
        );
        assert_eq!(
            inspect_failed_reason("busybox", "boom"),
            WaitingReason::new(
                "ImageInspectError",
                "Failed to inspect image \"busybox\": boom"
            )
        );
    }
}
