//! What must differ between the two agents, taken out: a pod status becomes a flat, sorted
//! list of `field = value` with placeholders for everything that names a run rather than a
//! behaviour.

use std::collections::BTreeMap;

use serde_json::Value;

/// Fields whose value is a time: kept as `<time>` (present) or absent.
const TIME_FIELDS: &[&str] = &[
    "startedAt",
    "finishedAt",
    "lastTransitionTime",
    "lastProbeTime",
    "startTime",
];
/// Fields whose value names a runtime object: kept as `<id>` or absent.
const ID_FIELDS: &[&str] = &["containerID", "imageID"];
/// Fields whose value is an address.
const IP_FIELDS: &[&str] = &["podIP", "hostIP", "ip"];

/// The pod's `status`, flattened: `phase`, `conditions[Ready].status`,
/// `containerStatuses[main].state.waiting.reason`, ... (lists of container statuses keyed by
/// `name`, conditions by `type`, other lists by index), with every string
/// [normalized](normalize_text) and nulls, empty objects and empty lists left out.
pub fn flatten_status(
    status: &Value,
    placeholders: &[(String, String)],
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    flatten(status, "", placeholders, &mut out);
    out
}

fn flatten(
    value: &Value,
    path: &str,
    placeholders: &[(String, String)],
    out: &mut BTreeMap<String, String>,
) {
    let last = path.rsplit('.').next().unwrap_or(path);
    let last = last.split('[').next().unwrap_or(last);
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (key, v) in map {
                let sub = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                flatten(v, &sub, placeholders, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let key = item
                    .get("name")
                    .or_else(|| item.get("type"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| i.to_string());
                flatten(item, &format!("{path}[{key}]"), placeholders, out);
            }
        }
        Value::String(s) if TIME_FIELDS.contains(&last) => {
            if !s.is_empty() {
                out.insert(path.to_string(), "<time>".to_string());
            }
        }
        Value::String(s) if ID_FIELDS.contains(&last) => {
            if !s.is_empty() {
                out.insert(path.to_string(), "<id>".to_string());
            }
        }
        Value::String(s) if IP_FIELDS.contains(&last) => {
            if !s.is_empty() {
                out.insert(path.to_string(), "<ip>".to_string());
            }
        }
        Value::String(s) => {
            out.insert(path.to_string(), normalize_text(s, placeholders));
        }
        other => {
            out.insert(path.to_string(), other.to_string());
        }
    }
}

/// A message with what names the run replaced: the agent's directories and node name
/// (`placeholders`, longest first), then 64-hex ids as `<id>`, 32-hex uids as `<uid>`,
/// IPv4 addresses as `<ip>`, and durations of image pulls (`in 1.2s`) as `<duration>`.
pub fn normalize_text(text: &str, placeholders: &[(String, String)]) -> String {
    let mut text = text.to_string();
    for (from, to) in placeholders {
        if !from.is_empty() {
            text = text.replace(from.as_str(), to.as_str());
        }
    }
    let text = replace_hex_runs(&text);
    replace_ipv4(&text)
}

/// `<id>` for runs of exactly 64 hex digits, `<uid>` for 32, and `<uid>` for
/// dashed UUIDs.
fn replace_hex_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit() || **c == '-')
            .count();
        let word_before = i > 0 && chars[i - 1].is_ascii_alphanumeric();
        if run > 0 && !word_before {
            let token: String = chars[i..i + run].iter().collect();
            let hex = token.chars().filter(char::is_ascii_hexdigit).count();
            let is_uuid = token.len() == 36 && token.matches('-').count() == 4;
            let after_ok = chars
                .get(i + run)
                .is_none_or(|c| !c.is_ascii_alphanumeric());
            if after_ok && !token.contains('-') && hex == 64 {
                out.push_str("<id>");
                i += run;
                continue;
            }
            if after_ok && ((!token.contains('-') && hex == 32) || is_uuid) {
                out.push_str("<uid>");
                i += run;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// `<ip>` for dotted quads.
fn replace_ipv4(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit()
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.'))
        {
            let end = i + bytes[i..]
                .iter()
                .take_while(|b| b.is_ascii_digit() || **b == b'.')
                .count();
            let token = &text[i..end];
            let token = token.trim_end_matches('.');
            if token.parse::<std::net::Ipv4Addr>().is_ok() {
                out.push_str("<ip>");
                i += token.len();
                continue;
            }
        }
        let c = text[i..].chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_lose_what_names_the_run() {
        let placeholders = vec![("kl-diff-1-0".to_string(), "<node>".to_string())];
        let text = "back-off 10s restarting failed container=main pod=web-kl-diff-1-0_default(4479539ac76d351309f0eb298d48eb32) \
                    id 2a4d95fd44976bf7078b21b412424e51277a87f14658c299abf4474f58c2d1aa at 10.89.0.2:80 v1.37.2";
        assert_eq!(
            normalize_text(text, &placeholders),
            "back-off 10s restarting failed container=main pod=web-<node>_default(<uid>) \
             id <id> at <ip>:80 v1.37.2"
        );
    }
}
