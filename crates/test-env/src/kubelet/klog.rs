//! Reading the kubelet's log: klog's text format, structured key/value pairs.
//!
//! A line looks like
//!
//! ```text
//! I1207 06:19:16.839801   12982 kubelet_pods.go:1922] "Got phase for pod" pod="default/web-n" phase="Running"
//! ```
//!
//! (severity letter, date, time, thread id, `file:line]`, the quoted message, then
//! `key=value` pairs whose values are Go-quoted strings or bare words). A multi-line string
//! value is written `key=<` followed by tab-indented lines and a closing ` >` line.
//! Some facts about pods exist only there: the manifests the file source refused, and the
//! phases of a static pod after its manifest is gone (`/pods` forgets the pod at once).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// One structured klog line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KlogLine {
    /// `I`, `W`, `E` or `F`.
    pub severity: char,
    /// `file.go:line`.
    pub source: String,
    /// The message (unquoted).
    pub message: String,
    /// The key/value pairs, values unquoted.
    pub fields: BTreeMap<String, String>,
}

impl KlogLine {
    /// The value of `key`.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }
}

/// The structured lines of a klog text log; other lines (unstructured messages, Go panics)
/// are skipped.
///
/// ```
/// let log = "I1207 06:19:16.839801   12982 kubelet_pods.go:1922] \"Got phase for pod\" \
///            pod=\"default/web-n\" oldPhase=\"Pending\" phase=\"Running\"\n\
///            E1207 06:19:17.000000   12982 file.go:186] \"Could not process manifest file\" \
///            err=\"invalid pod: \\\"x\\\"\" path=\"/m/bad.yaml\"\n";
/// let lines = test_env::klog_lines(log);
/// assert_eq!(lines[0].message, "Got phase for pod");
/// assert_eq!(lines[0].field("phase"), Some("Running"));
/// assert_eq!(lines[1].severity, 'E');
/// assert_eq!(lines[1].field("err"), Some("invalid pod: \"x\""));
/// ```
pub fn klog_lines(log: &str) -> Vec<KlogLine> {
    let mut out = Vec::new();
    let mut lines = log.lines();
    while let Some(line) = lines.next() {
        let Some((mut entry, mut pending)) = parse_head(line) else {
            continue;
        };
        // A multi-line value (`key=<`) continues on the following tab-indented lines up to
        // a ` >` line, which may carry more pairs.
        while let Some(key) = pending.take() {
            let mut value = Vec::new();
            let mut after = "";
            for next in lines.by_ref() {
                if let Some(rest) = next.strip_prefix(" >") {
                    after = rest;
                    break;
                }
                value.push(next.strip_prefix('\t').unwrap_or(next));
            }
            entry.fields.insert(key, value.join("\n"));
            pending = parse_pairs(after, &mut entry.fields).unwrap_or(None);
        }
        out.push(entry);
    }
    out
}

/// A line's head: the entry, and the key of a multi-line value that follows, if any.
fn parse_head(line: &str) -> Option<(KlogLine, Option<String>)> {
    let severity = line.chars().next().filter(|c| "IWEF".contains(*c))?;
    let (prefix, rest) = line.split_once("] ")?;
    let source = prefix.rsplit(' ').next()?.to_string();
    let rest = rest.strip_prefix('"')?;
    let (message, rest) = read_quoted(rest)?;
    let mut fields = BTreeMap::new();
    let pending = parse_pairs(rest, &mut fields)?;
    let entry = KlogLine {
        severity,
        source,
        message,
        fields,
    };
    Some((entry, pending))
}

/// Reads ` key=value` pairs into `fields`; returns the key of a multi-line value
/// (`key=<`) that ends the text, if any. `None` when the text is not pairs.
fn parse_pairs(mut rest: &str, fields: &mut BTreeMap<String, String>) -> Option<Option<String>> {
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Some(None);
        }
        let (key, after) = rest.split_once('=')?;
        if let Some(quoted) = after.strip_prefix('"') {
            let (value, after) = read_quoted(quoted)?;
            fields.insert(key.to_string(), value);
            rest = after;
        } else if after == "<" {
            return Some(Some(key.to_string()));
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            fields.insert(key.to_string(), after[..end].to_string());
            rest = &after[end..];
        }
    }
}

/// A Go-quoted string's text up to its closing quote (the opening one already consumed),
/// unescaped, and what follows it.
fn read_quoted(text: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &text[i + 1..])),
            '\\' => {
                let (_, escaped) = chars.next()?;
                match escaped {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'x' => {
                        let hex: String =
                            (0..2).filter_map(|_| chars.next().map(|c| c.1)).collect();
                        out.push(char::from(u8::from_str_radix(&hex, 16).ok()?));
                    }
                    'u' => {
                        let hex: String =
                            (0..4).filter_map(|_| chars.next().map(|c| c.1)).collect();
                        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    None
}

/// The manifests the kubelet's file source refused, by path, with the error of the last
/// refusal (`"Could not process manifest file"`, logged on every rescan of the directory;
/// `pkg/kubelet/config/file.go`).
pub fn refused_manifests(lines: &[KlogLine]) -> BTreeMap<PathBuf, String> {
    lines
        .iter()
        .filter(|l| l.message == "Could not process manifest file")
        .filter_map(|l| Some((PathBuf::from(l.field("path")?), l.field("err")?.to_string())))
        .collect()
}

/// The phases the kubelet computed for the pod `namespace/name`, in order (`"Got phase for
/// pod"`, logged at `-v=4` by `generateAPIPodStatus`, `pkg/kubelet/kubelet_pods.go`),
/// consecutive repeats folded. The last one is the phase a pod ends in after its manifest
/// is removed, which `/pods` no longer shows.
pub fn pod_phases(lines: &[KlogLine], pod: &str) -> Vec<String> {
    let mut phases: Vec<String> = Vec::new();
    for line in lines {
        if line.message != "Got phase for pod" || line.field("pod") != Some(pod) {
            continue;
        }
        if let Some(phase) = line.field("phase")
            && phases.last().map(String::as_str) != Some(phase)
        {
            phases.push(phase.to_string());
        }
    }
    phases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_values_escapes_and_multi_line_values() {
        let log = "W1207 06:18:18.960585    7469 csi_plugin.go:286] \"plain\" n=3 ok=true s=\"a\\tb\\u00e9\"\n\
                   some unstructured line\n\
                   E1207 06:18:18.960585    7469 x.go:1] \"multi\" err=<\n\
                   \tfirst\n\
                   \tsecond\n \
                   > path=\"/x\"\n\
                   I1207 06:18:18.960585    7469 x.go:2] \"after\"\n";
        let lines = klog_lines(log);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0].source, "csi_plugin.go:286");
        assert_eq!(lines[0].field("n"), Some("3"));
        assert_eq!(lines[0].field("ok"), Some("true"));
        assert_eq!(lines[0].field("s"), Some("a\tbé"));
        assert_eq!(lines[1].field("err"), Some("first\nsecond"));
        assert_eq!(lines[1].field("path"), Some("/x"));
        assert_eq!(lines[2].message, "after");
    }

    #[test]
    fn refusals_and_phases() {
        let log = "E1 0 1 file.go:186] \"Could not process manifest file\" err=\"old\" path=\"/m/a.yaml\"\n\
                   E1 0 1 file.go:186] \"Could not process manifest file\" err=\"new\" path=\"/m/a.yaml\"\n\
                   I1 0 1 kubelet_pods.go:1922] \"Got phase for pod\" pod=\"default/p\" phase=\"Pending\"\n\
                   I1 0 1 kubelet_pods.go:1922] \"Got phase for pod\" pod=\"default/q\" phase=\"Failed\"\n\
                   I1 0 1 kubelet_pods.go:1922] \"Got phase for pod\" pod=\"default/p\" phase=\"Running\"\n\
                   I1 0 1 kubelet_pods.go:1922] \"Got phase for pod\" pod=\"default/p\" phase=\"Running\"\n";
        let lines = klog_lines(log);
        let refused = refused_manifests(&lines);
        assert_eq!(refused[&PathBuf::from("/m/a.yaml")], "new");
        assert_eq!(pod_phases(&lines, "default/p"), ["Pending", "Running"]);
    }
}
