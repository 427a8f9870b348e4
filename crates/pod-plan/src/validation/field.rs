//! Field errors worded as the API server words them (`field.Error` of
//! `k8s.io/apimachinery/pkg/util/validation/field`), and the message helpers of
//! `k8s.io/apimachinery/pkg/util/validation` the rules share.

use std::fmt;

use k8s_openapi::api::core::v1::Pod;

use super::path::display_value;
use crate::pod_full_name;
use crate::{Error, Result};

/// At most this many errors are spelled out in one [`Error::InvalidPod`]; the rest are
/// counted, so a manifest with thousands of mistakes still gives a readable log line.
const MAX_REPORTED_ERRORS: usize = 32;

/// One thing wrong with one field, as the API server reports it: the field path
/// (`spec.containers[0].ports[0].containerPort`) and the body of the message
/// (`Invalid value: 70000: must be between 1 and 65535, inclusive`).
///
/// `Display` is `<field>: <message>`, which is `field.Error.Error()`.
///
/// ```
/// use pod_plan::validation::FieldError;
///
/// let error = FieldError::invalid("spec.activeDeadlineSeconds", &0i64, "must be between 1 and 2147483647, inclusive");
/// assert_eq!(
///     error.to_string(),
///     "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field path, as `field.Path` prints it (`metadata.labels`,
    /// `spec.containers[1].resources.limits[cpu]`).
    pub field: String,
    /// The message without the field: the error type (`Invalid value`, `Required value`,
    /// `Unsupported value`, ...), the bad value when the type shows one, and the detail.
    pub message: String,
}

/// A value an error shows, printed as `field.Error.ErrorBody` prints it: strings quoted
/// (escaped and cut after 64 characters, so a hostile value cannot forge a log line),
/// numbers as they are.
pub trait BadValue {
    /// The value as the message shows it.
    fn render(&self) -> String;
}

impl BadValue for str {
    fn render(&self) -> String {
        display_value(self)
    }
}

impl BadValue for String {
    fn render(&self) -> String {
        display_value(self)
    }
}

impl BadValue for i32 {
    fn render(&self) -> String {
        self.to_string()
    }
}

impl BadValue for i64 {
    fn render(&self) -> String {
        self.to_string()
    }
}

impl BadValue for usize {
    fn render(&self) -> String {
        self.to_string()
    }
}

/// A value shown as the API shows a list or an object: its JSON, as it is.
pub(crate) struct Json(pub(crate) String);

impl BadValue for Json {
    fn render(&self) -> String {
        self.0.clone()
    }
}

impl FieldError {
    fn new(field: impl Into<String>, kind: &str, detail: &str) -> Self {
        let mut message = kind.to_owned();
        if !detail.is_empty() {
            message.push_str(": ");
            message.push_str(detail);
        }
        FieldError {
            field: field.into(),
            message,
        }
    }

    /// `field.Invalid`: `Invalid value: <value>: <detail>`.
    pub fn invalid<V: BadValue + ?Sized>(
        field: impl Into<String>,
        value: &V,
        detail: impl AsRef<str>,
    ) -> Self {
        let kind = format!("Invalid value: {}", value.render());
        FieldError::new(field, &kind, detail.as_ref())
    }

    /// `field.Required`: `Required value` and the detail, if any.
    pub fn required(field: impl Into<String>, detail: impl AsRef<str>) -> Self {
        FieldError::new(field, "Required value", detail.as_ref())
    }

    /// `field.Forbidden`: `Forbidden: <detail>`.
    pub fn forbidden(field: impl Into<String>, detail: impl AsRef<str>) -> Self {
        FieldError::new(field, "Forbidden", detail.as_ref())
    }

    /// `field.Duplicate`: `Duplicate value: <value>`.
    pub fn duplicate<V: BadValue + ?Sized>(field: impl Into<String>, value: &V) -> Self {
        FieldError::new(field, &format!("Duplicate value: {}", value.render()), "")
    }

    /// `field.NotFound`: `Not found: <value>`.
    pub fn not_found<V: BadValue + ?Sized>(field: impl Into<String>, value: &V) -> Self {
        FieldError::new(field, &format!("Not found: {}", value.render()), "")
    }

    /// `field.NotSupported`: `Unsupported value: <value>: supported values: "a", "b"`, the
    /// supported values in the order given (the API sorts some lists and not others).
    pub fn not_supported<V: BadValue + ?Sized>(
        field: impl Into<String>,
        value: &V,
        supported: &[&str],
    ) -> Self {
        let kind = format!("Unsupported value: {}", value.render());
        let quoted: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        let detail = if quoted.is_empty() {
            String::new()
        } else {
            format!("supported values: {}", quoted.join(", "))
        };
        FieldError::new(field, &kind, &detail)
    }

    /// `field.TooLong` with a byte limit: `Too long: may not be more than <n> bytes`.
    pub fn too_long(field: impl Into<String>, max_bytes: usize) -> Self {
        let unit = if max_bytes == 1 { "byte" } else { "bytes" };
        FieldError::new(
            field,
            "Too long",
            &format!("may not be more than {max_bytes} {unit}"),
        )
    }

    /// `field.TooMany`: `Too many: <actual>: must have at most <max> items`.
    pub fn too_many(field: impl Into<String>, actual: usize, max: usize) -> Self {
        let unit = if max == 1 { "item" } else { "items" };
        FieldError::new(
            field,
            &format!("Too many: {actual}"),
            &format!("must have at most {max} {unit}"),
        )
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// `errors` as the one [`Error::InvalidPod`] of `pod`, or `Ok(())` when there are none.
///
/// The error's field is the first error's field; its message is the first error's message
/// followed by every other error as `; <field>: <message>` (after 32 errors, only a count),
/// so the whole list reads as the API server's `[<error> <error> ...]` does, one error
/// after the other.
pub(crate) fn into_result(pod: &Pod, errors: Vec<FieldError>) -> Result<()> {
    let mut errors = errors.into_iter();
    let Some(first) = errors.next() else {
        return Ok(());
    };
    let mut message = first.message;
    let mut more = 0usize;
    for (index, error) in errors.enumerate() {
        if index + 1 < MAX_REPORTED_ERRORS {
            message.push_str("; ");
            message.push_str(&error.to_string());
        } else {
            more += 1;
        }
    }
    if more > 0 {
        message.push_str(&format!("; and {more} more"));
    }
    Err(Error::InvalidPod {
        pod: pod_full_name(pod),
        field: first.field,
        message,
    })
}

/// `validation.RegexError`: the message, the examples and the regular expression, worded
/// (and spaced) exactly as apimachinery words them:
/// `<msg> (e.g. 'my-name',  or '123-abc', regex used for validation is '<re>')`.
pub(crate) fn regex_error(message: &str, regex: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{message} (regex used for validation is '{regex}')");
    }
    let mut text = format!("{message} (e.g. ");
    for (index, example) in examples.iter().enumerate() {
        if index > 0 {
            text.push_str(" or ");
        }
        text.push_str(&format!("'{example}', "));
    }
    text.push_str(&format!("regex used for validation is '{regex}')"));
    text
}

/// `validation.InclusiveRangeError`.
pub(crate) fn inclusive_range_error(low: i64, high: i64) -> String {
    format!("must be between {low} and {high}, inclusive")
}

/// `validation.IsNegativeErrorMsg`.
pub(crate) const IS_NEGATIVE: &str = "must be greater than or equal to 0";

/// `ValidateNonnegativeField`.
pub(crate) fn non_negative(errors: &mut Vec<FieldError>, field: &str, value: i64) {
    if value < 0 {
        errors.push(FieldError::invalid(field, &value, IS_NEGATIVE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_worded_as_field_error_body() {
        assert_eq!(
            FieldError::invalid("a.b", "x", "bad").to_string(),
            "a.b: Invalid value: \"x\": bad"
        );
        assert_eq!(
            FieldError::required("a", "").to_string(),
            "a: Required value"
        );
        assert_eq!(
            FieldError::required("a", "why").to_string(),
            "a: Required value: why"
        );
        assert_eq!(
            FieldError::forbidden("a", "no").to_string(),
            "a: Forbidden: no"
        );
        assert_eq!(
            FieldError::duplicate("a", "x").to_string(),
            "a: Duplicate value: \"x\""
        );
        assert_eq!(
            FieldError::not_found("a", "x").to_string(),
            "a: Not found: \"x\""
        );
        assert_eq!(
            FieldError::not_supported("a", "x", &["B", "C"]).to_string(),
            "a: Unsupported value: \"x\": supported values: \"B\", \"C\""
        );
        assert_eq!(
            FieldError::too_long("a", 262144).to_string(),
            "a: Too long: may not be more than 262144 bytes"
        );
        assert_eq!(
            FieldError::too_many("a", 21, 20).to_string(),
            "a: Too many: 21: must have at most 20 items"
        );
    }

    #[test]
    fn regex_errors_are_spaced_as_apimachinery_spaces_them() {
        assert_eq!(
            regex_error("m", "r", &["a", "b"]),
            "m (e.g. 'a',  or 'b', regex used for validation is 'r')"
        );
        assert_eq!(
            regex_error("m", "r", &["a"]),
            "m (e.g. 'a', regex used for validation is 'r')"
        );
        assert_eq!(
            regex_error("m", "r", &[]),
            "m (regex used for validation is 'r')"
        );
    }

    #[test]
    fn many_errors_are_joined_then_counted() {
        let mut pod = Pod::default();
        pod.metadata.name = Some("web".into());
        pod.metadata.namespace = Some("default".into());
        assert!(into_result(&pod, Vec::new()).is_ok());
        let errors: Vec<FieldError> = (0..40)
            .map(|i| FieldError::required(format!("f{i}"), ""))
            .collect();
        let message = into_result(&pod, errors).unwrap_err().to_string();
        assert!(
            message.starts_with("invalid pod default/web: f0: Required value; f1: Required value;"),
            "{message}"
        );
        assert!(
            message.contains("f31: Required value; and 8 more"),
            "{message}"
        );
        assert!(!message.contains("f32"), "{message}");
    }
}
