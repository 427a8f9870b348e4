//! Decoding `Secret` documents without ever showing a secret value in an error.
//!
//! serde's messages quote the value they could not use (`invalid type: integer `1234`,
//! expected a string`), and the base64 decoder names the offending byte and its offset.
//! Both end up in logs and on the agent's `/errors`, so for a Secret every such message is
//! rebuilt from what is safe to show: the field path with the key, the kind of value found
//! (`a number`) and what was expected.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use serde_json::Value;

use crate::{Error, Result};

/// Decodes one `Secret` document (already parsed from YAML or JSON). `data` values must be
/// base64 strings and `stringData` values strings; any problem is an
/// [`Error::InvalidSecret`] naming the Secret, the field (`stringData.pin`) and the
/// problem, never the value. `stringData` is left as it is (see
/// [`merge_string_data`](super::merge_string_data)).
///
/// ```
/// use volume_manager::objects::decode_secret;
///
/// let doc = serde_json::json!({
///     "apiVersion": "v1", "kind": "Secret",
///     "metadata": {"name": "db"},
///     "stringData": {"pin": 918273645},
/// });
/// let err = decode_secret(doc).unwrap_err().to_string();
/// assert_eq!(
///     err,
///     "invalid Secret default/db: stringData.pin: invalid type: expected a string, \
///      found a number (the value is not shown)"
/// );
/// assert!(!err.contains("918273645"));
///
/// let doc = serde_json::json!({
///     "apiVersion": "v1", "kind": "Secret",
///     "metadata": {"name": "db"},
///     "data": {"pin": "OTE4MjczNjQ1"},
/// });
/// assert_eq!(decode_secret(doc)?.data.unwrap()["pin"].0, b"918273645");
/// # Ok::<(), volume_manager::Error>(())
/// ```
pub fn decode_secret(document: Value) -> Result<Secret> {
    let name = secret_name(&document);
    let fail = |field: String, message: String| Error::InvalidSecret {
        name: name.clone(),
        field,
        message: format!("{message} (the value is not shown)"),
    };
    let Value::Object(fields) = &document else {
        return Err(fail(
            "document".into(),
            format!("expected an object, found {}", kind(&document)),
        ));
    };
    for (map, expected) in [
        ("data", "a base64-encoded string"),
        ("stringData", "a string"),
    ] {
        let entries = match fields.get(map) {
            None | Some(Value::Null) => continue,
            Some(Value::Object(entries)) => entries,
            Some(other) => {
                return Err(fail(
                    map.into(),
                    format!(
                        "invalid type: expected a map of keys to {expected} values, found {}",
                        kind(other)
                    ),
                ));
            }
        };
        for (key, value) in entries {
            let field = format!("{map}.{}", key_display(key));
            let Value::String(_) = value else {
                return Err(fail(
                    field,
                    format!("invalid type: expected {expected}, found {}", kind(value)),
                ));
            };
            if map == "data" && serde_json::from_value::<ByteString>(value.clone()).is_err() {
                return Err(fail(field, "invalid value: not valid base64".into()));
            }
        }
    }
    serde_path_to_error::deserialize::<_, Secret>(document).map_err(|err| {
        let field = err.path().to_string();
        // serde's message is "<problem>: <the value>, expected <what>"; keep what was
        // expected (a description from the type, never a value), drop the rest.
        let message = err.into_inner().to_string();
        let problem = match message.rfind(", expected ") {
            Some(at) => format!("invalid value: expected {}", &message[at + 11..]),
            None => "invalid value".to_owned(),
        };
        fail(field, problem)
    })
}

/// `namespace/name` of the Secret as far as the document says (`default` namespace when
/// unset, as static objects have).
fn secret_name(document: &Value) -> String {
    let text = |pointer: &str| {
        document
            .pointer(pointer)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    format!(
        "{}/{}",
        text("/metadata/namespace").unwrap_or("default"),
        text("/metadata/name").unwrap_or("")
    )
}

/// A key as shown in a field path: as it is when it is a valid Secret key
/// (`[-._a-zA-Z0-9]+`), else quoted with escapes and cut, so a hostile key cannot forge a
/// message.
fn key_display(key: &str) -> String {
    let plain = !key.is_empty()
        && key.len() <= 253
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if plain {
        key.to_owned()
    } else {
        crate::layout::display_value(key)
    }
}

/// The kind of a JSON value, for messages that must not show the value itself.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const VALUE: &str = "s3cr3t-v@lue!!";

    fn error(doc: Value) -> String {
        decode_secret(doc).unwrap_err().to_string()
    }

    #[test]
    fn string_data_type_errors_name_the_key_not_the_value() {
        for value in [
            json!(918273645),
            json!(true),
            json!([VALUE]),
            json!({"x": VALUE}),
        ] {
            let doc = json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "prod"},
                             "stringData": {"pin": value}});
            let err = error(doc);
            assert!(
                err.starts_with(
                    "invalid Secret prod/s: stringData.pin: invalid type: expected a string, found"
                ),
                "{err}"
            );
            assert!(!err.contains("918273645") && !err.contains(VALUE), "{err}");
        }
    }

    #[test]
    fn bad_base64_in_data_names_the_key_not_the_value() {
        let doc = json!({"kind": "Secret", "metadata": {"name": "s"}, "data": {"token": VALUE}});
        let err = error(doc);
        assert_eq!(
            err,
            "invalid Secret default/s: data.token: invalid value: not valid base64 (the value is not shown)"
        );
        let doc = json!({"kind": "Secret", "metadata": {"name": "s"}, "data": {"pin": 918273645}});
        let err = error(doc);
        assert!(
            err.contains(
                "data.pin: invalid type: expected a base64-encoded string, found a number"
            ),
            "{err}"
        );
        assert!(!err.contains("918273645"), "{err}");
    }

    #[test]
    fn maps_of_the_wrong_type_and_other_fields_show_no_value() {
        let err = error(json!({"kind": "Secret", "metadata": {"name": "s"}, "data": VALUE}));
        assert!(err.contains("data: invalid type: expected a map"), "{err}");
        assert!(!err.contains(VALUE), "{err}");
        let err = error(json!({"kind": "Secret", "metadata": {"name": "s"}, "type": {"v": VALUE}}));
        assert!(
            err.contains(": type: invalid value: expected a string"),
            "{err}"
        );
        assert!(!err.contains(VALUE), "{err}");
        let err = error(json!({"kind": "Secret", "metadata": {"name": "s"},
                               "stringData": {"bad\nkey": 1}}));
        assert!(err.contains("stringData.\"bad\\nkey\""), "{err}");
    }

    #[test]
    fn valid_secrets_decode() {
        let secret = decode_secret(json!({"kind": "Secret", "metadata": {"name": "s"},
            "data": {"a": "YWJj"}, "stringData": {"b": "x"}}))
        .unwrap();
        assert_eq!(secret.data.unwrap()["a"].0, b"abc");
        assert_eq!(secret.string_data.unwrap()["b"], "x");
    }
}
