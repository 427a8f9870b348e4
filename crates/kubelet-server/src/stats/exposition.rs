//! The Prometheus text format (version 0.0.4) as the Go client writes it: families sorted
//! by name, each family's samples sorted by their label values, labels sorted by name,
//! values in Go's shortest `%g` form (`1.4344192e+07`), optional millisecond timestamps.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;

/// A metric family's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MetricType {
    Counter,
    Gauge,
}

impl MetricType {
    fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
        }
    }
}

/// One sample: label pairs (any order), a value and an optional timestamp.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sample {
    labels: Vec<(&'static str, String)>,
    value: f64,
    timestamp_ms: Option<i64>,
}

impl Sample {
    pub(crate) fn new(labels: Vec<(&'static str, String)>, value: f64) -> Self {
        let mut labels = labels;
        labels.sort_by(|a, b| a.0.cmp(b.0));
        Sample {
            labels,
            value,
            timestamp_ms: None,
        }
    }

    /// With the explicit timestamp Go's `NewMetricWithTimestamp` writes (milliseconds).
    pub(crate) fn at(mut self, time: Option<Timestamp>) -> Self {
        self.timestamp_ms = time.map(|t| t.as_millisecond());
        self
    }
}

struct Family {
    help: String,
    type_: MetricType,
    samples: Vec<Sample>,
}

/// Samples gathered by family, written in the Go client's order by [`Exposition::render`].
#[derive(Default)]
pub(crate) struct Exposition {
    families: BTreeMap<&'static str, Family>,
}

impl Exposition {
    /// Adds `sample` to the family `name` (made with `help` and `type_` on first use).
    pub(crate) fn add(
        &mut self,
        name: &'static str,
        help: &str,
        type_: MetricType,
        sample: Sample,
    ) {
        self.families
            .entry(name)
            .or_insert_with(|| Family {
                help: help.to_owned(),
                type_,
                samples: Vec::new(),
            })
            .samples
            .push(sample);
    }

    /// The text. Families without samples are not written, as the Go client gathers none.
    pub(crate) fn render(mut self) -> String {
        let mut out = String::new();
        for (name, family) in &mut self.families {
            // The Go client's `metricSorter`: fewer labels first, then label values in
            // label-name order, then the timestamp.
            family.samples.sort_by(|a, b| {
                let values =
                    |s: &Sample| s.labels.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>();
                a.labels
                    .len()
                    .cmp(&b.labels.len())
                    .then_with(|| values(a).cmp(&values(b)))
                    .then(a.timestamp_ms.cmp(&b.timestamp_ms))
            });
            let _ = writeln!(out, "# HELP {name} {}", escape_help(&family.help));
            let _ = writeln!(out, "# TYPE {name} {}", family.type_.as_str());
            for sample in &family.samples {
                out.push_str(name);
                if !sample.labels.is_empty() {
                    out.push('{');
                    for (i, (label, value)) in sample.labels.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let _ = write!(out, "{label}=\"{}\"", escape_label_value(value));
                    }
                    out.push('}');
                }
                out.push(' ');
                out.push_str(&go_float(sample.value));
                if let Some(ms) = sample.timestamp_ms {
                    let _ = write!(out, " {ms}");
                }
                out.push('\n');
            }
        }
        out
    }
}

fn escape_help(text: &str) -> String {
    text.replace('\\', r"\\").replace('\n', r"\n")
}

fn escape_label_value(text: &str) -> String {
    text.replace('\\', r"\\")
        .replace('\n', r"\n")
        .replace('"', "\\\"")
}

/// A value as the Go client writes it: `strconv.FormatFloat(f, 'g', -1, 64)`, with `+Inf`,
/// `-Inf` and `NaN` spelled as Prometheus spells them.
pub(crate) fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    pod_plan::format_float_g(&format!("{:e}", f.abs()), f.is_sign_negative())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_go_formats_them() {
        for (f, expected) in [
            (0.0, "0"),
            (1.0, "1"),
            (-1.0, "-1"),
            (10.0, "10"),
            (2.178052818, "2.178052818"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (14344192.0, "1.4344192e+07"),
            (1e6, "1e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1_700_000_000.5, "1.7000000005e+09"),
            (1.624396278302e12, "1.624396278302e+12"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(go_float(f), expected, "{f}");
        }
    }

    #[test]
    fn families_by_name_samples_by_label_values_labels_by_name() {
        let mut e = Exposition::default();
        let labels = |pod: &str, container: &str| {
            vec![("pod", pod.to_owned()), ("container", container.to_owned())]
        };
        e.add(
            "b_total",
            "B.",
            MetricType::Counter,
            Sample::new(labels("p2", "c"), 2.0),
        );
        e.add(
            "b_total",
            "B.",
            MetricType::Counter,
            Sample::new(labels("p1", "c\"q"), 1.0),
        );
        e.add(
            "a",
            "A\\help\nline",
            MetricType::Gauge,
            Sample::new(vec![], 3.5).at(Some(
                Timestamp::from_millisecond(1_624_396_278_302).unwrap(),
            )),
        );
        assert_eq!(
            e.render(),
            "# HELP a A\\\\help\\nline\n# TYPE a gauge\na 3.5 1624396278302\n\
             # HELP b_total B.\n# TYPE b_total counter\n\
             b_total{container=\"c\",pod=\"p2\"} 2\n\
             b_total{container=\"c\\\"q\",pod=\"p1\"} 1\n"
        );
    }
}
