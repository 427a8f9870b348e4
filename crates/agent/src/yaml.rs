//! Kubernetes YAML: YAML read the way the kubelet and kubectl read it, into JSON values.
//!
//! The kubelet never decodes YAML into Go types directly. It converts the text to JSON with
//! `sigs.k8s.io/yaml` (`YAMLToJSON`, over go-yaml v2, that is **YAML 1.1**) and decodes the
//! JSON (`tryDecodeSinglePod` in `pkg/kubelet/config/common.go`; the config file goes the
//! same way through the apimachinery YAML serializer). So what a manifest *means* is fixed
//! by go-yaml v2's scalar resolution plus that JSON conversion, and Kubernetes users rely
//! on it: `defaultMode: 0644` is the octal 420, an unquoted `value: yes` is the boolean
//! `true` (which a string field then refuses), a mapping key `on:` is the string `"true"`.
//! A YAML 1.2 library reads all three differently, so [`documents`] reproduces the
//! conversion and hands out [`serde_json::Value`]s, which the callers decode with serde
//! exactly as the kubelet decodes the JSON.
//!
//! # Why saphyr-parser and our own resolution
//!
//! `serde_yaml` is deprecated. Its forks (`serde_yaml_ng`, `serde_norway`) keep its YAML 1.2
//! core schema and give no access to a scalar's style, so a quoted `"0644"` and a plain
//! `0644` cannot be told apart after the fact. `serde-saphyr` has YAML 1.1 switches
//! (`legacy_octal_numbers`, YAML 1.1 booleans), but measured against `sigs.k8s.io/yaml` on
//! the 159 inputs of this module's tests it differs on 24: it reads `yEs` and `tRue` as
//! booleans (go-yaml does not, so nodelet would refuse an env value the kubelet accepts),
//! keeps `0X1F`, `1_` and `685_230.15` as strings, turns `!foo 0644` into 420, keeps `y:` as
//! a key where Kubernetes has `"true"`, and hands integral floats (`80.0`, `1e3`) to an
//! integer field as floats, which serde refuses where the kubelet accepts them. Every one of
//! those needs a scalar's text, style and tag, which only an event parser gives.
//!
//! So this module takes events from [`saphyr_parser`] (the maintained successor of
//! yaml-rust and yaml-rust2: pure Rust, no `unsafe` C port, YAML 1.2 compliant) and does the
//! rest itself:
//!
//! - plain scalars are resolved by go-yaml v2's rules (`resolve.go`): the YAML 1.1
//!   booleans `y Y yes Yes YES on On ON` and `n N no No NO off Off OFF` besides
//!   `true`/`false` in three spellings; `~`, `null`, `Null`, `NULL` and the empty scalar
//!   as null; integers in Go's base-0 syntax after removing every `_` (`0644` and `0o644`
//!   octal, `0x1F` hex, `0b101` binary, a leading `+`), then YAML floats (`1e3`, `.5`,
//!   `.inf`, `.nan`); a number that overflows 64 bits becomes a float, a float that
//!   overflows stays a string; anything else (`12:30`, `2001-12-14`, `0x`) is a string;
//! - quoted and block scalars are strings; a tag (`!!int "0644"`, `!!str 0644`) asks for a
//!   type as go-yaml does, and an unknown tag (`!foo`) leaves the text;
//! - mapping keys become JSON strings as `sigs.k8s.io/yaml` makes them (`1` → `"1"`,
//!   `yes` → `"true"`); a null key or a collection as a key is an error;
//! - merge keys (`<<`) merge in go-yaml v2's order: a merged entry replaces a key written
//!   before the `<<`, a key written after it wins, and in `<<: [*a, *b]` the first wins;
//! - a later duplicate key replaces the earlier one (`YAMLToJSON` is not strict);
//! - anchors are scoped to their document: an alias to an anchor of an earlier document is
//!   an error, as it is for kubectl, which converts each document on its own;
//! - floats then go through JSON as Go writes them: an integral float below 10^21 becomes
//!   an integer (`containerPort: 80.0` is 80), NaN and infinities are errors;
//! - a document whose aliases expand too much is refused by go-yaml's ratio rule
//!   ("excessive aliasing"), and nesting is limited to 128 levels, the limit `serde_json`
//!   applies to JSON manifests.
//!
//! The table in this module's tests holds the output of `sigs.k8s.io/yaml` v1.6.0 with
//! go.yaml.in/yaml/v2 v2.4.4 (the versions Kubernetes v1.37.2 pins) for every input, and
//! this module gives the same JSON for each, or an error where it gives one.
//!
//! Where it departs: every document of a stream is read (`YAMLToJSON` reads the first
//! only; kubectl reads them all); a `%YAML 1.2` directive is accepted (go-yaml v2 refuses
//! any version but 1.1); nesting stops at 128 levels rather than 10000; and the grammar is
//! YAML 1.2's, the parser's, which differs from YAML 1.1's only in corners no manifest
//! uses (the `\/` escape, say).
//!
//! ```
//! let docs = agent::yaml::documents(
//!     "mode: 0644\nquoted: \"0644\"\nenabled: yes\non: 1\n---\nport: 80.0\n",
//! )?;
//! assert_eq!(
//!     docs,
//!     [
//!         serde_json::json!({"mode": 420, "quoted": "0644", "enabled": true, "true": 1}),
//!         serde_json::json!({"port": 80}),
//!     ]
//! );
//! # Ok::<(), agent::Error>(())
//! ```

use std::collections::{HashMap, HashSet};

use k8s_openapi::ByteString;
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, StrInput, Tag};
use serde_json::{Map, Number, Value};

use crate::{Error, Result};

/// The deepest nesting of sequences and mappings a document may have.
pub const MAX_DEPTH: usize = 128;

/// Every document of a YAML stream as JSON, in order, the way `sigs.k8s.io/yaml` converts
/// each (see the module docs). An empty document (`---` alone, a comment-only file) is
/// [`Value::Null`]; an empty text has no documents.
///
/// Any problem refuses the whole text: [`Error::Yaml`] with the line and column (from 1)
/// where it was found. A syntax error leaves no trustworthy document boundaries, and the
/// other problems (an unknown anchor, a null key, `.nan`) are what go-yaml refuses too.
pub fn documents(text: &str) -> Result<Vec<Value>> {
    document_results(text)?.into_iter().collect()
}

/// Like [`documents`], but a document that does not convert (an alias to an anchor of
/// another document, a null key, `.nan`) fails alone, so the others can still be used, as
/// kubectl, which converts each document of a file on its own, uses them. Only a syntax
/// error, after which no document boundary can be trusted, fails the whole text.
///
/// ```
/// let docs = agent::yaml::document_results("a: &x 1\n---\nb: *x\n---\nc: 3\n")?;
/// assert_eq!(docs[0].as_ref().unwrap(), &serde_json::json!({"a": 1}));
/// assert!(docs[1].as_ref().unwrap_err().to_string().contains("scoped to their document"));
/// assert_eq!(docs[2].as_ref().unwrap(), &serde_json::json!({"c": 3}));
/// assert!(agent::yaml::document_results("a: [1\n---\nb: 2\n").is_err());
/// # Ok::<(), agent::Error>(())
/// ```
pub fn document_results(text: &str) -> Result<Vec<Result<Value>>> {
    Reader::new(text).documents()
}

/// A hint for a serde error saying a field wanted a string and found a boolean or a
/// number: the likely cause is a plain scalar that YAML 1.1 reads as one (`value: yes`,
/// `mode: 0644`), which the kubelet refuses too. Empty for any other message.
pub(crate) fn string_field_hint(message: &str) -> &'static str {
    if !message.ends_with("expected a string") {
        ""
    } else if message.starts_with("invalid type: boolean") {
        " (unquoted, yes/no/on/off/y/n/true/false are booleans in Kubernetes YAML, \
         as the kubelet reads it: quote the value to keep it a string)"
    } else if message.starts_with("invalid type: integer")
        || message.starts_with("invalid type: floating point")
    {
        " (unquoted, 0644, 0x1F, 1_000 and 1e3 are numbers in Kubernetes YAML, as the \
         kubelet reads it: quote the value to keep it a string)"
    } else {
        ""
    }
}

/// A node of the document being read: scalars stay resolved scalars until it is known
/// whether they are a key or a value.
enum Node {
    Scalar(Scalar),
    Value(Value),
}

/// What an anchor names, for the aliases to it.
enum Anchored {
    Scalar(Scalar),
    /// A sequence or mapping, and how many nodes it holds (for the alias budget).
    Collection(Value, u64),
}

/// Reads a stream event by event.
struct Reader<'a> {
    parser: Parser<'a, StrInput<'a>>,
    /// The anchors of the current document by the parser's anchor id.
    anchors: HashMap<usize, Anchored>,
    /// Anchored collections still being read: an alias to one of them is recursive.
    open: HashSet<usize>,
    /// Nodes made so far in the document, alias copies included.
    nodes: u64,
    /// Nodes made by copying anchored collections.
    alias_nodes: u64,
    /// Whether the parser failed: the rest of the text cannot be read.
    syntax_error: bool,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Reader {
            parser: Parser::new_from_str(text),
            anchors: HashMap::new(),
            open: HashSet::new(),
            nodes: 0,
            alias_nodes: 0,
            syntax_error: false,
        }
    }

    fn next(&mut self) -> Result<(Event<'a>, Span)> {
        match self.parser.next_event() {
            Some(Ok(event)) => Ok(event),
            Some(Err(err)) => {
                self.syntax_error = true;
                Err(scan_error(&err))
            }
            // The parser ends every stream with StreamEnd; only a bug would get here.
            None => Err(Error::Yaml {
                line: 0,
                column: 0,
                reason: "unexpected end of the event stream".into(),
            }),
        }
    }

    fn documents(mut self) -> Result<Vec<Result<Value>>> {
        let mut documents = Vec::new();
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamEnd => return Ok(documents),
                Event::DocumentStart(_) => {
                    self.anchors.clear();
                    self.open.clear();
                    self.nodes = 0;
                    self.alias_nodes = 0;
                    let document = self.document();
                    if self.syntax_error {
                        return Err(document
                            .err()
                            .unwrap_or_else(|| at(span, "the parser failed without an error")));
                    }
                    let failed = document.is_err();
                    documents.push(document);
                    if failed && self.skip_document()? {
                        return Ok(documents);
                    }
                }
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                other => return Err(at(span, format!("unexpected {other:?}"))),
            }
        }
    }

    /// The root node of a document, as JSON.
    fn document(&mut self) -> Result<Value> {
        let (event, span) = self.next()?;
        let node = self.node(event, span, 0)?;
        into_value(node, span)
    }

    /// Skips the rest of a document that failed to convert; true when that ended the
    /// stream.
    fn skip_document(&mut self) -> Result<bool> {
        loop {
            match self.next()?.0 {
                Event::DocumentEnd => return Ok(false),
                Event::StreamEnd => return Ok(true),
                _ => {}
            }
        }
    }

    fn node(&mut self, event: Event<'a>, span: Span, depth: usize) -> Result<Node> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let scalar = resolve(&text, style, tag.as_deref()).map_err(|r| at(span, r))?;
                self.nodes += 1;
                if anchor > 0 {
                    self.anchors
                        .insert(anchor, Anchored::Scalar(scalar.clone()));
                }
                Ok(Node::Scalar(scalar))
            }
            Event::SequenceStart(anchor, _) => {
                let start = self.enter(anchor, depth, span)?;
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if let Event::SequenceEnd = event {
                        break;
                    }
                    let node = self.node(event, span, depth + 1)?;
                    items.push(into_value(node, span)?);
                }
                Ok(Node::Value(self.leave(anchor, start, Value::Array(items))))
            }
            Event::MappingStart(anchor, _) => {
                let start = self.enter(anchor, depth, span)?;
                let map = self.mapping(depth)?;
                Ok(Node::Value(self.leave(anchor, start, Value::Object(map))))
            }
            Event::Alias(id) => self.alias(id, span),
            other => Err(at(span, format!("unexpected {other:?}"))),
        }
    }

    /// Starts a collection: checks the depth and marks its anchor open. Returns the node
    /// count before it.
    fn enter(&mut self, anchor: usize, depth: usize, span: Span) -> Result<u64> {
        if depth >= MAX_DEPTH {
            return Err(at(
                span,
                format!("sequences and mappings nest deeper than {MAX_DEPTH} levels"),
            ));
        }
        if anchor > 0 {
            self.open.insert(anchor);
        }
        self.nodes += 1;
        Ok(self.nodes - 1)
    }

    /// Ends a collection: records it under its anchor.
    fn leave(&mut self, anchor: usize, start: u64, value: Value) -> Value {
        if anchor > 0 {
            self.open.remove(&anchor);
            let size = self.nodes - start;
            self.anchors
                .insert(anchor, Anchored::Collection(value.clone(), size));
        }
        value
    }

    /// The entries of a mapping up to its end, keys made JSON strings, merge keys merged.
    fn mapping(&mut self, depth: usize) -> Result<Map<String, Value>> {
        let mut map = Map::new();
        loop {
            let (event, key_span) = self.next()?;
            if let Event::MappingEnd = event {
                return Ok(map);
            }
            if is_merge_key(&event) {
                self.nodes += 1;
                let (event, span) = self.next()?;
                self.merge(&mut map, event, span, depth)?;
                continue;
            }
            let key = match self.node(event, key_span, depth + 1)? {
                Node::Scalar(scalar) => scalar.into_key().map_err(|r| at(key_span, r))?,
                Node::Value(_) => {
                    return Err(at(
                        key_span,
                        "a mapping key is a sequence or a mapping, which JSON cannot hold",
                    ));
                }
            };
            let (event, span) = self.next()?;
            let node = self.node(event, span, depth + 1)?;
            map.insert(key, into_value(node, span)?);
        }
    }

    /// A `<<` entry: its value is a mapping, an alias to one, or a sequence of those.
    /// Entries are set in place, so a merged key replaces one written before the `<<`
    /// (go-yaml v2 decodes the merged mapping into the same map); in a sequence the
    /// mappings are applied last to first, so the first one wins.
    fn merge(
        &mut self,
        map: &mut Map<String, Value>,
        event: Event<'a>,
        span: Span,
        depth: usize,
    ) -> Result<()> {
        const WANT_MAP: &str = "map merge requires map or sequence of maps as the value";
        let is_sequence = matches!(event, Event::SequenceStart(..));
        let is_mapping = matches!(event, Event::MappingStart(..) | Event::Alias(_));
        if !is_sequence && !is_mapping {
            return Err(at(span, WANT_MAP));
        }
        let merged = match self.node(event, span, depth + 1)? {
            Node::Value(Value::Object(entries)) if is_mapping => vec![entries],
            Node::Value(Value::Array(items)) if is_sequence => {
                let mut maps = Vec::with_capacity(items.len());
                for item in items {
                    let Value::Object(entries) = item else {
                        return Err(at(span, WANT_MAP));
                    };
                    maps.push(entries);
                }
                maps.reverse();
                maps
            }
            _ => return Err(at(span, WANT_MAP)),
        };
        for entries in merged {
            map.extend(entries);
        }
        Ok(())
    }

    fn alias(&mut self, id: usize, span: Span) -> Result<Node> {
        if self.open.contains(&id) {
            return Err(at(
                span,
                "an alias refers to the node that holds it (a recursive anchor)",
            ));
        }
        match self.anchors.get(&id) {
            Some(Anchored::Scalar(scalar)) => {
                self.nodes += 1;
                self.alias_nodes += 1;
                Ok(Node::Scalar(scalar.clone()))
            }
            Some(Anchored::Collection(value, size)) => {
                self.nodes += size;
                self.alias_nodes += size;
                if excessive_aliasing(self.alias_nodes, self.nodes) {
                    return Err(at(
                        span,
                        "the document contains excessive aliasing (its aliases expand to \
                         more nodes than go-yaml allows)",
                    ));
                }
                Ok(Node::Value(value.clone()))
            }
            None => Err(at(
                span,
                "an alias refers to an anchor that is not defined earlier in its document \
                 (anchors are scoped to their document)",
            )),
        }
    }
}

/// go-yaml v2's defence against alias bombs (`allowedAliasRatio` in `decode.go`): past 100
/// alias nodes and 1000 nodes in all, alias copies may make up at most 99% of the nodes of
/// a document of up to 400 000 nodes, falling linearly to 10% at 4 000 000.
fn excessive_aliasing(alias_nodes: u64, nodes: u64) -> bool {
    const LOW: f64 = 400_000.0;
    const HIGH: f64 = 4_000_000.0;
    if alias_nodes <= 100 || nodes <= 1000 {
        return false;
    }
    let total = nodes as f64;
    let allowed = if total <= LOW {
        0.99
    } else if total >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((total - LOW) / (HIGH - LOW))
    };
    alias_nodes as f64 / total > allowed
}

/// Whether a mapping key event is a merge key: a plain untagged `<<`, or one tagged
/// `!!merge`.
fn is_merge_key(event: &Event<'_>) -> bool {
    match event {
        Event::Scalar(text, style, _, tag) if text == "<<" => match tag.as_deref() {
            None => *style == ScalarStyle::Plain,
            Some(tag) => core_tag(tag) == Some(CoreTag::Merge),
        },
        _ => false,
    }
}

fn into_value(node: Node, span: Span) -> Result<Value> {
    match node {
        Node::Value(value) => Ok(value),
        Node::Scalar(scalar) => scalar.into_json().map_err(|r| at(span, r)),
    }
}

fn at(span: Span, reason: impl Into<String>) -> Error {
    Error::Yaml {
        line: span.start.line(),
        column: span.start.col() + 1,
        reason: reason.into(),
    }
}

fn scan_error(err: &ScanError) -> Error {
    Error::Yaml {
        line: err.marker().line(),
        column: err.marker().col() + 1,
        reason: err.info().to_owned(),
    }
}

/// A scalar as go-yaml v2 resolves it.
#[derive(Clone, Debug, PartialEq)]
enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    /// A timestamp: go-yaml hands it to an untyped value as its text.
    Timestamp(String),
    Str(String),
}

impl Scalar {
    /// The JSON value, as `json.Marshal` writes the Go value and a decoder reads it back.
    fn into_json(self) -> std::result::Result<Value, String> {
        Ok(match self {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Int(i) => Value::from(i),
            Scalar::Uint(u) => Value::from(u),
            Scalar::Float(f) => float_json(f)?,
            Scalar::Timestamp(s) | Scalar::Str(s) => Value::String(s),
        })
    }

    /// The JSON object key `sigs.k8s.io/yaml` makes of a mapping key.
    fn into_key(self) -> std::result::Result<String, String> {
        Ok(match self {
            Scalar::Null => {
                return Err(
                    "a mapping key is null (`~`, `null` or empty), which JSON cannot hold".into(),
                );
            }
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Uint(u) => u.to_string(),
            Scalar::Float(f) => go_float32_g(f),
            Scalar::Timestamp(s) | Scalar::Str(s) => s,
        })
    }

    fn tag_name(&self) -> &'static str {
        match self {
            Scalar::Null => "!!null",
            Scalar::Bool(_) => "!!bool",
            Scalar::Int(_) | Scalar::Uint(_) => "!!int",
            Scalar::Float(_) => "!!float",
            Scalar::Timestamp(_) => "!!timestamp",
            Scalar::Str(_) => "!!str",
        }
    }
}

/// A float as JSON after Go's `json.Marshal`: integral values below 1e21 are written
/// without a fraction, so they read back as integers; NaN and infinities have no JSON form.
fn float_json(f: f64) -> std::result::Result<Value, String> {
    if !f.is_finite() {
        // Which of the three it was is the value, and a Secret's value is never shown.
        return Err(
            "a YAML infinity or NaN (`.inf`, `-.inf`, `.nan`) has no JSON form; quote the \
             value to keep it a string"
                .into(),
        );
    }
    if f == 0.0 {
        // `-0` reads back as the integer 0.
        return Ok(Value::from(0));
    }
    if f.fract() == 0.0 && f.abs() < 1e21 {
        // Both Go and Rust write the shortest digits that read back as `f`, padded with
        // zeros: read that text as JSON does (an integer when it fits 64 bits).
        if let Ok(number) = f.to_string().parse::<Number>() {
            return Ok(Value::Number(number));
        }
    }
    Ok(Number::from_f64(f).map_or(Value::Null, Value::Number))
}

/// The YAML core tags go-yaml v2 gives a meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CoreTag {
    Str,
    Bool,
    Int,
    Float,
    Null,
    Timestamp,
    Binary,
    Merge,
}

fn core_tag(tag: &Tag) -> Option<CoreTag> {
    let full = format!("{}{}", tag.handle, tag.suffix);
    Some(match full.strip_prefix("tag:yaml.org,2002:")? {
        "str" => CoreTag::Str,
        "bool" => CoreTag::Bool,
        "int" => CoreTag::Int,
        "float" => CoreTag::Float,
        "null" => CoreTag::Null,
        "timestamp" => CoreTag::Timestamp,
        "binary" => CoreTag::Binary,
        "merge" => CoreTag::Merge,
        _ => return None,
    })
}

/// Resolves a scalar as go-yaml v2 does (`resolve` and `scalar` in `decode.go`).
fn resolve(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
) -> std::result::Result<Scalar, String> {
    let Some(tag) = tag else {
        // Only plain scalars are resolved; quoted and block scalars are strings.
        return Ok(if style == ScalarStyle::Plain {
            resolve_plain(text, false)
        } else {
            Scalar::Str(text.to_owned())
        });
    };
    let wanted = match core_tag(tag) {
        // `!!str`, `!`, `!!merge` on a value, `!!set`, and local tags keep the text.
        None | Some(CoreTag::Str | CoreTag::Merge) => return Ok(Scalar::Str(text.to_owned())),
        Some(CoreTag::Binary) => return binary(text),
        Some(wanted) => wanted,
    };
    let resolved = resolve_plain(text, wanted == CoreTag::Timestamp);
    let fits = matches!(
        (&resolved, wanted),
        (Scalar::Null, CoreTag::Null)
            | (Scalar::Bool(_), CoreTag::Bool)
            | (Scalar::Int(_) | Scalar::Uint(_), CoreTag::Int)
            | (Scalar::Float(_), CoreTag::Float)
            | (Scalar::Timestamp(_), CoreTag::Timestamp)
    );
    if fits {
        return Ok(resolved);
    }
    match (resolved, wanted) {
        (Scalar::Int(i), CoreTag::Float) => Ok(Scalar::Float(i as f64)),
        (Scalar::Uint(u), CoreTag::Float) => Ok(Scalar::Float(u as f64)),
        (resolved, wanted) => {
            let wanted = match wanted {
                CoreTag::Bool => "!!bool",
                CoreTag::Int => "!!int",
                CoreTag::Float => "!!float",
                CoreTag::Null => "!!null",
                _ => "!!timestamp",
            };
            // go-yaml also quotes the text; a Secret's value must never reach an error,
            // and the line and column already point at it.
            Err(format!(
                "cannot decode a {} as a {wanted}",
                resolved.tag_name()
            ))
        }
    }
}

/// A `!!binary` scalar: base64 (line breaks ignored, as Go's decoder ignores them), the
/// bytes then read as UTF-8 text, as the Go string becomes JSON.
fn binary(text: &str) -> std::result::Result<Scalar, String> {
    let compact: String = text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
    let bytes: ByteString = serde_json::from_value(Value::String(compact))
        .map_err(|_| "!!binary value contains invalid base64 data".to_owned())?;
    Ok(Scalar::Str(String::from_utf8_lossy(&bytes.0).into_owned()))
}

/// Resolves a plain scalar by go-yaml v2's implicit rules (see the module docs).
/// `timestamps` is set only for a `!!timestamp` tag: an untagged timestamp is a string in
/// the result either way.
fn resolve_plain(text: &str, timestamps: bool) -> Scalar {
    let Some(&first) = text.as_bytes().first() else {
        return Scalar::Null;
    };
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Scalar::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Scalar::Bool(false);
        }
        "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let string = || Scalar::Str(text.to_owned());
    match first {
        b'.' => float(text).map_or_else(string, Scalar::Float),
        b'+' | b'-' | b'0'..=b'9' => {
            if timestamps && is_timestamp(text) {
                return Scalar::Timestamp(text.to_owned());
            }
            let plain = text.replace('_', "");
            if let Some(i) = go_parse_int(&plain) {
                return Scalar::Int(i);
            }
            if let Some(u) = go_parse_uint(&plain) {
                return Scalar::Uint(u);
            }
            if let Some(f) = float(&plain) {
                return Scalar::Float(f);
            }
            // go-yaml's own binary branch, for what `ParseInt(s, 0, 64)` left.
            if let Some(digits) = plain.strip_prefix("0b") {
                if let Some(i) = parse_radix_signed(digits, 2) {
                    return Scalar::Int(i);
                }
                if let Some(u) = parse_radix(digits, 2) {
                    return Scalar::Uint(u);
                }
            } else if let Some(digits) = plain.strip_prefix("-0b")
                && let Some(i) = parse_radix_signed(&format!("-{digits}"), 2)
            {
                return Scalar::Int(i);
            }
            string()
        }
        _ => string(),
    }
}

/// A YAML-style float (`[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`) that is finite
/// in 64 bits; an overflowing one is not a float for go-yaml (Go's `ParseFloat` fails).
fn float(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let mut i = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return None;
        }
    } else {
        if digits(&mut i) == 0 {
            return None;
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Go's `strconv.ParseInt(s, 0, 64)`: an optional sign, then `0x`, `0o`, `0b` or a leading
/// `0` (octal) prefix, or decimal. `s` holds no `_` here.
fn go_parse_int(text: &str) -> Option<i64> {
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = go_parse_uint(body)?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)` (no sign allowed).
fn go_parse_uint(text: &str) -> Option<u64> {
    let (radix, digits) = match text.as_bytes() {
        [b'0', b'x' | b'X', ..] => (16, &text[2..]),
        [b'0', b'o' | b'O', ..] => (8, &text[2..]),
        [b'0', b'b' | b'B', ..] => (2, &text[2..]),
        [b'0', _, ..] => (8, &text[1..]),
        _ => (10, text),
    };
    parse_radix(digits, radix)
}

/// Digits in `radix` (at least one, nothing else) as a `u64`.
fn parse_radix(digits: &str, radix: u32) -> Option<u64> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Go's `strconv.ParseInt(s, radix, 64)`: an optional sign, then digits.
fn parse_radix_signed(text: &str, radix: u32) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = parse_radix(digits, radix)?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Whether go-yaml v2 reads `text` as a timestamp: `YYYY-M-D`, optionally followed by
/// `T` or `t` and `H:M:S[.fraction]` with a zone (`Z` or `±hh:mm`), or by a space and
/// `H:M:S[.fraction]` without one.
fn is_timestamp(text: &str) -> bool {
    fn number(rest: &mut &str, min: usize, max: usize) -> Option<u32> {
        let len = rest.bytes().take_while(u8::is_ascii_digit).count();
        if len < min || len > max {
            return None;
        }
        let (digits, tail) = rest.split_at(len);
        *rest = tail;
        digits.parse().ok()
    }
    fn expect(rest: &mut &str, c: char) -> Option<()> {
        *rest = rest.strip_prefix(c)?;
        Some(())
    }
    fn time(rest: &mut &str) -> Option<()> {
        (number(rest, 1, 2)? < 24).then_some(())?;
        expect(rest, ':')?;
        (number(rest, 1, 2)? < 60).then_some(())?;
        expect(rest, ':')?;
        (number(rest, 1, 2)? < 60).then_some(())?;
        if let Some(fraction) = rest.strip_prefix('.')
            && fraction.starts_with(|c: char| c.is_ascii_digit())
        {
            *rest = fraction.trim_start_matches(|c: char| c.is_ascii_digit());
        }
        Some(())
    }
    let parse = || -> Option<()> {
        let mut rest = text;
        let year = number(&mut rest, 4, 4)?;
        expect(&mut rest, '-')?;
        let month = number(&mut rest, 1, 2)?;
        expect(&mut rest, '-')?;
        let day = number(&mut rest, 1, 2)?;
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        if day == 0 || day > days {
            return None;
        }
        if rest.is_empty() {
            return Some(());
        }
        if let Some(tail) = rest.strip_prefix(' ') {
            rest = tail;
            time(&mut rest)?;
            return rest.is_empty().then_some(());
        }
        rest = rest.strip_prefix(['T', 't'])?;
        time(&mut rest)?;
        if rest == "Z" {
            return Some(());
        }
        rest = rest.strip_prefix(['+', '-'])?;
        (number(&mut rest, 2, 2)? < 24).then_some(())?;
        expect(&mut rest, ':')?;
        (number(&mut rest, 2, 2)? < 60).then_some(())?;
        rest.is_empty().then_some(())
    };
    parse().is_some()
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`, which `sigs.k8s.io/yaml` uses for a float
/// mapping key (`2.5` → `"2.5"`, `1e6` → `"1e+06"`), with go-yaml's names for infinities
/// and NaN.
fn go_float32_g(f: f64) -> String {
    let f = f as f32;
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    pod_plan::format_float_g(&format!("{:e}", f.abs()), f.is_sign_negative())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Value {
        let mut docs = documents(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(docs.len(), 1, "{text:?}");
        docs.remove(0)
    }

    fn value(scalar: &str) -> Value {
        one(&format!("v: {scalar}\n"))["v"].clone()
    }

    #[test]
    fn yaml_1_1_integers_are_octal_hex_binary_signed_and_underscored() {
        for (text, expected) in [
            ("0644", json!(420)),
            ("0400", json!(256)),
            ("0o644", json!(420)),
            ("0O644", json!(420)),
            ("0x1F", json!(31)),
            ("0X1F", json!(31)),
            ("-0x1F", json!(-31)),
            ("+12", json!(12)),
            ("1_000", json!(1000)),
            ("1_", json!(1)),
            ("0b101", json!(5)),
            ("-0b101", json!(-5)),
            ("007", json!(7)),
            ("-0", json!(0)),
            // Not octal (8 and 9 are not octal digits), so go-yaml reads a float: 8 and 999.
            ("08", json!(8)),
            ("0999", json!(999)),
            ("9223372036854775808", json!(9223372036854775808u64)),
            ("0xFFFFFFFFFFFFFFFF", json!(u64::MAX)),
            // Past 64 bits: a float, or text when it is not a YAML float.
            ("18446744073709551616", json!(18446744073709551616.0)),
            ("0x10000000000000000", json!("0x10000000000000000")),
        ] {
            assert_eq!(value(text), expected, "{text}");
        }
    }

    #[test]
    fn yaml_1_1_booleans_are_exact_spellings_only() {
        for text in [
            "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE",
        ] {
            assert_eq!(value(text), json!(true), "{text}");
        }
        for text in [
            "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE",
        ] {
            assert_eq!(value(text), json!(false), "{text}");
        }
        for text in ["yEs", "tRue", "oN", "nO", "nUll"] {
            assert_eq!(value(text), json!(text), "{text}");
        }
        for text in ["'yes'", "\"on\"", "!!str yes"] {
            assert!(value(text).is_string(), "{text}");
        }
    }

    #[test]
    fn integral_floats_become_integers_as_json_writes_them() {
        assert_eq!(value("80.0"), json!(80));
        assert_eq!(value("1e3"), json!(1000));
        assert_eq!(value("1."), json!(1));
        assert_eq!(value("1.5"), json!(1.5));
        assert_eq!(value(".5"), json!(0.5));
        assert_eq!(value("685_230.15"), json!(685230.15));
        assert_eq!(value("1e21"), json!(1e21));
        assert_eq!(value("1e400"), json!("1e400"));
        for text in [".inf", "-.inf", ".nan"] {
            let err = documents(&format!("v: {text}\n")).unwrap_err().to_string();
            assert!(err.contains("has no JSON form"), "{err}");
        }
    }

    #[test]
    fn mapping_keys_are_stringified_as_sigs_k8s_io_yaml_does() {
        assert_eq!(
            one("1: a\n2.5: b\nyes: c\non: d\n1e6: e\n0x10: f\n"),
            json!({"1": "a", "2.5": "b", "true": "d", "1e+06": "e", "16": "f"})
        );
        for text in ["~: a\n", ": a\n", "[a]: b\n", "{a: 1}: b\n"] {
            assert!(documents(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn anchors_are_scoped_to_their_document() {
        assert_eq!(
            documents("a: &x 1\nb: *x\n---\na: &x 2\nb: *x\n").unwrap(),
            [json!({"a": 1, "b": 1}), json!({"a": 2, "b": 2})]
        );
        let err = documents("a: &x 1\n---\nb: *x\n").unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid YAML: line 3 column 4: an alias refers to an anchor that is not defined \
             earlier in its document (anchors are scoped to their document)"
        );
        assert!(documents("a: &x [1, *x]\n").is_err());
    }

    #[test]
    fn merge_keys_follow_go_yaml_v2_order() {
        assert_eq!(
            one("base: &b {x: 1, z: 2}\nd:\n  <<: *b\n  z: 3\n")["d"],
            json!({"x": 1, "z": 3})
        );
        // A merged entry replaces a key written before the `<<`.
        assert_eq!(
            one("d:\n  z: 3\n  <<: {x: 1, z: 2}\n")["d"],
            json!({"x": 1, "z": 2})
        );
        assert_eq!(
            one("m:\n  <<: [{a: 1}, {a: 2, b: 2}]\n")["m"],
            json!({"a": 1, "b": 2})
        );
        assert_eq!(one("m:\n  !!merge <<: {a: 1}\n")["m"], json!({"a": 1}));
        assert_eq!(one("m:\n  '<<': {a: 1}\n")["m"], json!({"<<": {"a": 1}}));
        assert!(documents("m:\n  <<: 1\n").is_err());
        assert!(documents("s: &s [1]\nm:\n  <<: *s\n").is_err());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for level in b'b'..=b'i' {
            let previous = char::from(level - 1);
            let refs = vec![format!("*{previous}"); 10].join(", ");
            text.push_str(&format!(
                "{}: &{} [{refs}]\n",
                char::from(level),
                char::from(level)
            ));
        }
        let err = documents(&text).unwrap_err().to_string();
        assert!(err.contains("excessive aliasing"), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(
            documents(&text)
                .unwrap_err()
                .to_string()
                .contains("nest deeper")
        );
        let text = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(documents(&text).is_ok());
    }

    #[test]
    fn errors_name_line_and_column() {
        assert_eq!(
            documents("a: 1\nb: [1\n").unwrap_err().to_string(),
            "invalid YAML: line 3 column 1: while parsing a flow sequence, expected ',' or ']'"
        );
        assert_eq!(
            documents("a: !!int 1.5\n").unwrap_err().to_string(),
            "invalid YAML: line 1 column 4: cannot decode a !!float as a !!int"
        );
    }

    #[test]
    fn errors_never_quote_a_value() {
        for text in [
            "pin: !!int s3cr3t\n",
            "pin: !!bool s3cr3t\n",
            "pin: !!binary s3cr3t!\n",
            "pin: !!null s3cr3t\n",
        ] {
            let err = documents(text).unwrap_err().to_string();
            assert!(!err.contains("s3cr3t"), "{err}");
        }
    }

    #[test]
    fn go_float32_g_matches_go() {
        for (f, expected) in [
            (2.5, "2.5"),
            (0.1, "0.1"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-1.5, "-1.5"),
            (0.0, "0"),
            (6.125, "6.125"),
            (1e21, "1e+21"),
        ] {
            assert_eq!(go_float32_g(f), expected, "{f}");
        }
    }

    /// `sigs.k8s.io/yaml` v1.6.0 `YAMLToJSON` (go.yaml.in/yaml/v2 v2.4.4, as Kubernetes
    /// v1.37.2 pins them) run on each input; `None` where it returns an error. Inputs with
    /// several documents are left out (`YAMLToJSON` reads only the first), as is
    /// `%YAML 1.2` (see the module docs).
    const SIGS_K8S_IO_YAML: &[(&str, Option<&str>)] = &[
        ("v: 0644\n", Some(r#"{"v":420}"#)),
        ("v: 0400\n", Some(r#"{"v":256}"#)),
        ("v: 0o644\n", Some(r#"{"v":420}"#)),
        ("v: 0O644\n", Some(r#"{"v":420}"#)),
        ("v: 0x1F\n", Some(r#"{"v":31}"#)),
        ("v: 0X1F\n", Some(r#"{"v":31}"#)),
        ("v: -0x1F\n", Some(r#"{"v":-31}"#)),
        ("v: +12\n", Some(r#"{"v":12}"#)),
        ("v: -12\n", Some(r#"{"v":-12}"#)),
        ("v: 1_000\n", Some(r#"{"v":1000}"#)),
        ("v: 1_0_0\n", Some(r#"{"v":100}"#)),
        ("v: 08\n", Some(r#"{"v":8}"#)),
        ("v: 09.5\n", Some(r#"{"v":9.5}"#)),
        ("v: 0b101\n", Some(r#"{"v":5}"#)),
        ("v: -0b101\n", Some(r#"{"v":-5}"#)),
        ("v: 0B101\n", Some(r#"{"v":5}"#)),
        ("v: 1e3\n", Some(r#"{"v":1000}"#)),
        ("v: 1E3\n", Some(r#"{"v":1000}"#)),
        ("v: 1.5\n", Some(r#"{"v":1.5}"#)),
        ("v: .5\n", Some(r#"{"v":0.5}"#)),
        ("v: +.5\n", Some(r#"{"v":0.5}"#)),
        ("v: -.5\n", Some(r#"{"v":-0.5}"#)),
        ("v: 1.\n", Some(r#"{"v":1}"#)),
        ("v: -.inf\n", None),
        ("v: .inf\n", None),
        ("v: +.inf\n", None),
        ("v: .Inf\n", None),
        ("v: .nan\n", None),
        ("v: .NaN\n", None),
        ("v: yes\n", Some(r#"{"v":true}"#)),
        ("v: Yes\n", Some(r#"{"v":true}"#)),
        ("v: YES\n", Some(r#"{"v":true}"#)),
        ("v: yEs\n", Some(r#"{"v":"yEs"}"#)),
        ("v: no\n", Some(r#"{"v":false}"#)),
        ("v: No\n", Some(r#"{"v":false}"#)),
        ("v: NO\n", Some(r#"{"v":false}"#)),
        ("v: on\n", Some(r#"{"v":true}"#)),
        ("v: On\n", Some(r#"{"v":true}"#)),
        ("v: ON\n", Some(r#"{"v":true}"#)),
        ("v: off\n", Some(r#"{"v":false}"#)),
        ("v: Off\n", Some(r#"{"v":false}"#)),
        ("v: OFF\n", Some(r#"{"v":false}"#)),
        ("v: y\n", Some(r#"{"v":true}"#)),
        ("v: Y\n", Some(r#"{"v":true}"#)),
        ("v: n\n", Some(r#"{"v":false}"#)),
        ("v: N\n", Some(r#"{"v":false}"#)),
        ("v: true\n", Some(r#"{"v":true}"#)),
        ("v: True\n", Some(r#"{"v":true}"#)),
        ("v: TRUE\n", Some(r#"{"v":true}"#)),
        ("v: tRue\n", Some(r#"{"v":"tRue"}"#)),
        ("v: false\n", Some(r#"{"v":false}"#)),
        ("v: False\n", Some(r#"{"v":false}"#)),
        ("v: FALSE\n", Some(r#"{"v":false}"#)),
        ("v: ~\n", Some(r#"{"v":null}"#)),
        ("v: null\n", Some(r#"{"v":null}"#)),
        ("v: Null\n", Some(r#"{"v":null}"#)),
        ("v: NULL\n", Some(r#"{"v":null}"#)),
        ("v: nUll\n", Some(r#"{"v":"nUll"}"#)),
        ("v: \n", Some(r#"{"v":null}"#)),
        ("v: 2001-12-14\n", Some(r#"{"v":"2001-12-14"}"#)),
        (
            "v: 2001-12-14T21:59:43Z\n",
            Some(r#"{"v":"2001-12-14T21:59:43Z"}"#),
        ),
        (
            "v: 2001-12-14 21:59:43.10 -5\n",
            Some(r#"{"v":"2001-12-14 21:59:43.10 -5"}"#),
        ),
        ("v: 12:30\n", Some(r#"{"v":"12:30"}"#)),
        ("v: 1:20:30\n", Some(r#"{"v":"1:20:30"}"#)),
        ("v: 190:20:30\n", Some(r#"{"v":"190:20:30"}"#)),
        ("v: 0\n", Some(r#"{"v":0}"#)),
        ("v: 00\n", Some(r#"{"v":0}"#)),
        ("v: -0\n", Some(r#"{"v":0}"#)),
        ("v: +0\n", Some(r#"{"v":0}"#)),
        ("v: 007\n", Some(r#"{"v":7}"#)),
        (
            "v: 9223372036854775807\n",
            Some(r#"{"v":9223372036854775807}"#),
        ),
        (
            "v: 9223372036854775808\n",
            Some(r#"{"v":9223372036854775808}"#),
        ),
        (
            "v: 18446744073709551615\n",
            Some(r#"{"v":18446744073709551615}"#),
        ),
        (
            "v: 18446744073709551616\n",
            Some(r#"{"v":18446744073709552000}"#),
        ),
        (
            "v: -9223372036854775808\n",
            Some(r#"{"v":-9223372036854775808}"#),
        ),
        (
            "v: -9223372036854775809\n",
            Some(r#"{"v":-9223372036854776000}"#),
        ),
        ("v: 1e400\n", Some(r#"{"v":"1e400"}"#)),
        ("v: 0.1.2\n", Some(r#"{"v":"0.1.2"}"#)),
        ("v: 1.0\n", Some(r#"{"v":1}"#)),
        ("v: 01.5\n", Some(r#"{"v":1.5}"#)),
        ("v: 1__0\n", Some(r#"{"v":10}"#)),
        ("v: _1\n", Some(r#"{"v":"_1"}"#)),
        ("v: 1_\n", Some(r#"{"v":1}"#)),
        ("v: 0x_1F\n", Some(r#"{"v":31}"#)),
        ("v: 0x\n", Some(r#"{"v":"0x"}"#)),
        ("v: +\n", Some(r#"{"v":"+"}"#)),
        ("v: -\n", None),
        ("v: -.\n", Some(r#"{"v":"-."}"#)),
        ("v: 1e\n", Some(r#"{"v":"1e"}"#)),
        ("v: 1e+3\n", Some(r#"{"v":1000}"#)),
        ("v: +1e3\n", Some(r#"{"v":1000}"#)),
        ("v: 0x1f\n", Some(r#"{"v":31}"#)),
        (
            "v: 0xFFFFFFFFFFFFFFFF\n",
            Some(r#"{"v":18446744073709551615}"#),
        ),
        (
            "v: 0x10000000000000000\n",
            Some(r#"{"v":"0x10000000000000000"}"#),
        ),
        ("v: '0644'\n", Some(r#"{"v":"0644"}"#)),
        ("v: \"0644\"\n", Some(r#"{"v":"0644"}"#)),
        ("v: !!str 0644\n", Some(r#"{"v":"0644"}"#)),
        ("v: !!int \"0644\"\n", Some(r#"{"v":420}"#)),
        ("v: !!int 0644\n", Some(r#"{"v":420}"#)),
        ("v: !!float 1\n", Some(r#"{"v":1}"#)),
        ("v: !!float \"1.5\"\n", Some(r#"{"v":1.5}"#)),
        ("v: !!bool yes\n", Some(r#"{"v":true}"#)),
        ("v: !!bool \"yes\"\n", Some(r#"{"v":true}"#)),
        ("v: !!null ''\n", Some(r#"{"v":null}"#)),
        ("v: !!str yes\n", Some(r#"{"v":"yes"}"#)),
        ("v: !foo 0644\n", Some(r#"{"v":"0644"}"#)),
        ("v: ! 0644\n", Some(r#"{"v":"0644"}"#)),
        ("v: !!binary aGVsbG8=\n", Some(r#"{"v":"hello"}"#)),
        ("v: !!timestamp 2001-12-14\n", Some(r#"{"v":"2001-12-14"}"#)),
        ("v: !!int 1.5\n", None),
        ("v: !!bool 1\n", None),
        ("v: |\n  0644\n", Some(r#"{"v":"0644\n"}"#)),
        ("v: 0644 # comment\n", Some(r#"{"v":420}"#)),
        ("v: 3.14159\n", Some(r#"{"v":3.14159}"#)),
        ("v: 6.8523015e+5\n", Some(r#"{"v":685230.15}"#)),
        ("v: 685.230_15e+03\n", Some(r#"{"v":685230.15}"#)),
        ("v: 685_230.15\n", Some(r#"{"v":685230.15}"#)),
        ("v: -1_000\n", Some(r#"{"v":-1000}"#)),
        ("v: 0b1_0\n", Some(r#"{"v":2}"#)),
        ("v: 1.5e-3\n", Some(r#"{"v":0.0015}"#)),
        ("v: 0.0000001\n", Some(r#"{"v":1e-7}"#)),
        ("v: 100000000000000000000000.0\n", Some(r#"{"v":1e+23}"#)),
        ("v: 1e21\n", Some(r#"{"v":1e+21}"#)),
        ("v: 1e20\n", Some(r#"{"v":100000000000000000000}"#)),
        (
            "v: 123456789012345678901234567890\n",
            Some(r#"{"v":1.2345678901234568e+29}"#),
        ),
        ("1: a\n2.5: b\nyes: c\n~: d\n", None),
        ("[a]: b\n", None),
        ("{a: 1}: b\n", None),
        ("a: 1\na: 2\n", Some(r#"{"a":2}"#)),
        (
            "base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\n",
            Some(r#"{"base":{"true":2,"x":1},"derived":{"true":3,"x":1}}"#),
        ),
        (
            "derived:\n  y: 3\n  <<: {x: 1, y: 2}\n",
            Some(r#"{"derived":{"true":2,"x":1}}"#),
        ),
        (
            "m:\n  <<: [{a: 1}, {a: 2, b: 2}]\n",
            Some(r#"{"m":{"a":1,"b":2}}"#),
        ),
        ("m:\n  !!merge <<: {a: 1}\n", Some(r#"{"m":{"a":1}}"#)),
        ("m:\n  '<<': {a: 1}\n", Some(r#"{"m":{"<<":{"a":1}}}"#)),
        ("a: &x 1\nb: *x\n", Some(r#"{"a":1,"b":1}"#)),
        ("a: *x\n", None),
        ("a: &x [1, *x]\n", None),
        ("- 1\n- two\n", Some(r#"[1,"two"]"#)),
        ("just a string\n", Some(r#""just a string""#)),
        ("---\n", Some("null")),
        ("a: !!binary aGVsbG8=\n", Some(r#"{"a":"hello"}"#)),
        ("a: !!set {x, y}\n", Some(r#"{"a":{"true":null,"x":null}}"#)),
        ("? complex\n: v\n", Some(r#"{"complex":"v"}"#)),
        ("v: 0644\nw: \"0644\"\n", Some(r#"{"v":420,"w":"0644"}"#)),
        (
            "env:\n- name: A\n  value: yes\n",
            Some(r#"{"env":[{"name":"A","value":true}]}"#),
        ),
        ("a: b: c\n", None),
        ("a: [1\n", None),
        ("\"a\": 1\n", Some(r#"{"a":1}"#)),
        ("a:\n  - 1\n  -\n", Some(r#"{"a":[1,null]}"#)),
        ("a: !!str\n", Some(r#"{"a":""}"#)),
        ("a: \t1\n", Some(r#"{"a":1}"#)),
        ("a: 1\n...\n", Some(r#"{"a":1}"#)),
        ("%YAML 1.1\n---\na: 0644\n", Some(r#"{"a":420}"#)),
        ("k: 'it''s'\n", Some(r#"{"k":"it's"}"#)),
        ("k: \"\\u00e9\"\n", Some(r#"{"k":"é"}"#)),
        ("k: >\n  folded\n  text\n", Some(r#"{"k":"folded text\n"}"#)),
        ("k: |+\n  keep\n\n", Some(r#"{"k":"keep\n\n"}"#)),
        ("k: 10.0\n", Some(r#"{"k":10}"#)),
        ("k: 0.5\n", Some(r#"{"k":0.5}"#)),
    ];

    #[test]
    fn every_input_converts_as_sigs_k8s_io_yaml_converts_it() {
        let mut differences = Vec::new();
        for (text, expected) in SIGS_K8S_IO_YAML {
            let got = documents(text).map(|mut docs| docs.pop().unwrap_or(Value::Null));
            let same = match (&got, expected) {
                (Ok(got), Some(expected)) => {
                    *got == serde_json::from_str::<Value>(expected).unwrap()
                }
                (Err(_), None) => true,
                _ => false,
            };
            if !same {
                differences.push(format!("{text:?}: want {expected:?}, got {got:?}"));
            }
        }
        assert!(differences.is_empty(), "{differences:#?}");
    }
}
