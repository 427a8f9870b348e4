//! Labels and annotations: key syntax (qualified names), label value syntax, and the total
//! size of a pod's annotations (`ValidateLabels`, `ValidateAnnotations` of apimachinery, as
//! `ValidateObjectMeta` calls them).

use std::collections::BTreeMap;

use super::field::{FieldError, regex_error};

/// The most bytes a pod's annotations may hold, keys and values together
/// (`TotalAnnotationSizeLimitB`, 256 KiB).
pub const MAX_ANNOTATIONS_SIZE: usize = 256 * 1024;
/// The longest name part of a qualified name, and the longest label value.
const MAX_NAME_PART_LEN: usize = 63;
/// The longest DNS subdomain prefix of a qualified name.
const MAX_PREFIX_LEN: usize = 253;

/// `labelKeyFmt`.
const KEY_REGEX: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const KEY_MESSAGE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must \
    start and end with an alphanumeric character";
/// `labelValueFmt`.
const VALUE_REGEX: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const VALUE_MESSAGE: &str = "a valid label must be an empty string or consist of alphanumeric \
    characters, '-', '_' or '.', and must start and end with an alphanumeric character";
/// `dns1123SubdomainFmt`, for the prefix of a qualified name.
const SUBDOMAIN_REGEX: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
    alphanumeric characters, '-' or '.', and must start and end with an alphanumeric \
    character";

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`: what a label key's name part and a
/// non-empty label value are made of.
fn is_key_name_text(value: &str) -> bool {
    let bytes = value.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// A lowercase DNS-1123 subdomain, by its regular expression alone.
fn is_subdomain_text(value: &str) -> bool {
    value.split('.').all(|part| {
        let bytes = part.as_bytes();
        match (bytes.first(), bytes.last()) {
            (Some(first), Some(last)) => {
                (first.is_ascii_lowercase() || first.is_ascii_digit())
                    && (last.is_ascii_lowercase() || last.is_ascii_digit())
                    && bytes
                        .iter()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            }
            _ => false,
        }
    })
}

/// `IsQualifiedName` (`content.IsLabelKey`): what is wrong with `value` as a qualified
/// name (`[prefix/]name`, the prefix a DNS subdomain, the name at most 63 characters of
/// `[-A-Za-z0-9_.]` starting and ending with an alphanumeric), in the API's words.
///
/// ```
/// use pod_plan::validation::qualified_name_errors;
///
/// assert!(qualified_name_errors("app.kubernetes.io/name").is_empty());
/// assert!(qualified_name_errors("tier").is_empty());
/// assert_eq!(qualified_name_errors("a/b/c").len(), 1);
/// assert!(qualified_name_errors("-x")[0].starts_with("name part must consist of"));
/// assert_eq!(qualified_name_errors("/x"), ["prefix part must be non-empty"]);
/// ```
pub fn qualified_name_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_owned());
            } else {
                if prefix.len() > MAX_PREFIX_LEN {
                    errors.push(format!(
                        "prefix part must be no more than {MAX_PREFIX_LEN} bytes"
                    ));
                }
                if !is_subdomain_text(prefix) {
                    errors.push(format!(
                        "prefix part {}",
                        regex_error(SUBDOMAIN_MESSAGE, SUBDOMAIN_REGEX, &["example.com"])
                    ));
                }
            }
            *name
        }
        _ => {
            errors.push(format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. \
                 'example.com/MyName')",
                regex_error(KEY_MESSAGE, KEY_REGEX, &["MyName", "my.name", "123-abc"])
            ));
            return errors;
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_owned());
    } else if name.len() > MAX_NAME_PART_LEN {
        errors.push(format!(
            "name part must be no more than {MAX_NAME_PART_LEN} bytes"
        ));
    }
    if !is_key_name_text(name) {
        errors.push(format!(
            "name part {}",
            regex_error(KEY_MESSAGE, KEY_REGEX, &["MyName", "my.name", "123-abc"])
        ));
    }
    errors
}

/// `IsValidLabelValue` (`content.IsLabelValue`): what is wrong with `value` as a label value
/// (empty, or at most 63 characters of `[-A-Za-z0-9_.]` starting and ending with an
/// alphanumeric), in the API's words.
///
/// ```
/// use pod_plan::validation::label_value_errors;
///
/// assert!(label_value_errors("").is_empty());
/// assert!(label_value_errors("v1.2_beta").is_empty());
/// assert_eq!(label_value_errors("a b").len(), 1);
/// assert_eq!(label_value_errors(&"a".repeat(64)), ["must be no more than 63 bytes"]);
/// ```
pub fn label_value_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > MAX_NAME_PART_LEN {
        errors.push(format!("must be no more than {MAX_NAME_PART_LEN} bytes"));
    }
    if !value.is_empty() && !is_key_name_text(value) {
        errors.push(regex_error(
            VALUE_MESSAGE,
            VALUE_REGEX,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errors
}

/// `ValidateLabels` at `field` (`metadata.labels`, `spec.nodeSelector`): each key a
/// qualified name, each value a label value. The errors name the map, not the key, as the
/// API's do; keys are taken in order.
pub(crate) fn validate_labels(
    errors: &mut Vec<FieldError>,
    field: &str,
    labels: Option<&BTreeMap<String, String>>,
) {
    for (key, value) in labels.into_iter().flatten() {
        for message in qualified_name_errors(key) {
            errors.push(FieldError::invalid(field, key, message));
        }
        for message in label_value_errors(value) {
            errors.push(FieldError::invalid(field, value, message));
        }
    }
}

/// `ValidateAnnotations` at `field`: each key a qualified name once lowercased (the case of
/// an annotation key does not matter), and keys and values together at most
/// [`MAX_ANNOTATIONS_SIZE`] bytes.
pub(crate) fn validate_annotations(
    errors: &mut Vec<FieldError>,
    field: &str,
    annotations: Option<&BTreeMap<String, String>>,
) {
    let Some(annotations) = annotations else {
        return;
    };
    for key in annotations.keys() {
        for message in qualified_name_errors(&key.to_lowercase()) {
            errors.push(FieldError::invalid(field, key, message));
        }
    }
    let size: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_ANNOTATIONS_SIZE {
        errors.push(FieldError::too_long(field, MAX_ANNOTATIONS_SIZE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<String> {
        let mut errors = Vec::new();
        validate_labels(&mut errors, "metadata.labels", Some(&map(pairs)));
        errors.iter().map(ToString::to_string).collect()
    }

    fn annotations(pairs: &[(&str, &str)]) -> Vec<String> {
        let mut errors = Vec::new();
        validate_annotations(&mut errors, "metadata.annotations", Some(&map(pairs)));
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn sp_02_label_keys_and_values_follow_the_api_syntax() {
        assert!(
            labels(&[
                ("app", "web"),
                ("app.kubernetes.io/name", "web-1.2_x"),
                ("empty", "")
            ])
            .is_empty()
        );
        assert_eq!(
            labels(&[("bad key", "v")]),
            [
                "metadata.labels: Invalid value: \"bad key\": name part must consist of \
                 alphanumeric characters, '-', '_' or '.', and must start and end with an \
                 alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex \
                 used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
            ]
        );
        assert_eq!(
            labels(&[("app", "-web")]),
            [
                "metadata.labels: Invalid value: \"-web\": a valid label must be an empty \
                 string or consist of alphanumeric characters, '-', '_' or '.', and must start \
                 and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or \
                 '12345', regex used for validation is \
                 '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
            ]
        );
        let long = labels(&[("app", &"v".repeat(64))]);
        assert_eq!(long.len(), 1);
        assert!(
            long[0].ends_with("must be no more than 63 bytes"),
            "{long:?}"
        );
        let prefix = labels(&[("Example.com/x", "v")]);
        assert!(
            prefix[0].contains(
                "Invalid value: \"Example.com/x\": prefix part a lowercase RFC 1123 subdomain"
            ),
            "{prefix:?}"
        );
        let empty_name = labels(&[("example.com/", "v")]);
        assert_eq!(empty_name.len(), 2, "{empty_name:?}");
        assert!(empty_name[0].ends_with("name part must be non-empty"));
        assert_eq!(labels(&[("a/b/c", "v")]).len(), 1);
    }

    #[test]
    fn sp_02_annotation_keys_ignore_case_and_their_size_is_capped() {
        assert!(annotations(&[("Example.COM/Some-Key", "anything at all\n")]).is_empty());
        let bad = annotations(&[("bad key", "v")]);
        assert!(
            bad[0].starts_with("metadata.annotations: Invalid value: \"bad key\": name part"),
            "{bad:?}"
        );
        let big = "x".repeat(MAX_ANNOTATIONS_SIZE - 1);
        assert!(annotations(&[("k", &big)]).is_empty());
        assert_eq!(
            annotations(&[("kk", &big)]),
            ["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
    }
}
