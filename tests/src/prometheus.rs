//! Reading `/metrics` the way Prometheus does: with the reference parser of the
//! Prometheus text format 0.0.4, the Python `prometheus_client` package's
//! `text_string_to_metric_families`, not with a parser of our own (which would share
//! our misreadings of the format).
//!
//! The interpreter comes from `SWITCHYARD_PYTHON` (`.ci/run` makes a venv with a pinned
//! `prometheus-client` and exports it). Without it a test skips with the setup printed,
//! except under CI (`faults::in_ci`), where it fails.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The environment variable naming a Python with `prometheus_client` installed.
pub const PYTHON_VAR: &str = "SWITCHYARD_PYTHON";

/// How to get one, printed when it is missing.
const SETUP: &str = "python3 -m venv target/pyenv && target/pyenv/bin/pip install \
                     prometheus-client==0.26.0 && export SWITCHYARD_PYTHON=$PWD/target/pyenv/bin/python";

/// One metric family as the reference parser saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The family name (for a counter, without `_total`, as the parser reports it).
    pub name: String,
    /// `counter`, `gauge`, ... or `unknown` when no `# TYPE` line matched its samples.
    pub kind: String,
    pub samples: Vec<Sample>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// The interpreter from [`PYTHON_VAR`], checked to import `prometheus_client`; `None`
/// (after printing how to set it up) when it is missing, a panic under CI.
pub fn reference_parser() -> Option<PathBuf> {
    let python = std::env::var_os(PYTHON_VAR).map(PathBuf::from);
    let works = python.as_ref().is_some_and(|p| {
        Command::new(p)
            .args(["-c", "import prometheus_client.parser"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if works {
        return python;
    }
    let why = format!(
        "{PYTHON_VAR} does not name a Python with prometheus_client ({python:?}); set it up \
         with: {SETUP}"
    );
    crate::faults::skip(&why);
    None
}

/// Parse `text` (a `/metrics` body) with the reference parser. Panics with the parser's
/// error when it rejects the text.
pub fn parse(python: &Path, text: &str) -> Vec<Family> {
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "samples": [
        {"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
json.dump(out, sys.stdout)
"#;
    let mut child = Command::new(python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the reference parser");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed the parser");
    let out = child.wait_with_output().expect("parser output");
    assert!(
        out.status.success(),
        "the reference parser rejected /metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).expect("parser JSON");
    json.as_array()
        .expect("a list of families")
        .iter()
        .map(|f| Family {
            name: f["name"].as_str().unwrap_or_default().to_owned(),
            kind: f["type"].as_str().unwrap_or_default().to_owned(),
            samples: f["samples"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| Sample {
                    name: s["name"].as_str().unwrap_or_default().to_owned(),
                    labels: s["labels"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect(),
                    value: s["value"].as_f64().unwrap_or(f64::NAN),
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parser is strict where it matters here: OpenMetrics' counter naming, served
    /// as 0.0.4 (what `/metrics` used to do), leaves the samples `unknown`.
    #[test]
    fn openmetrics_counter_naming_reads_as_unknown_and_0_0_4_as_counter() {
        let Some(python) = reference_parser() else {
            return;
        };
        let om = "# HELP c_x Things.\n# TYPE c_x counter\nc_x_total{h=\"a\"} 3\n# EOF\n";
        let fams = parse(&python, om);
        let sample_kind = fams
            .iter()
            .find(|f| f.samples.iter().any(|s| s.name == "c_x_total"))
            .map(|f| f.kind.as_str());
        assert_eq!(sample_kind, Some("unknown"), "{fams:?}");

        let text = "# HELP c_x_total Things.\n# TYPE c_x_total counter\nc_x_total{h=\"a\"} 3\n";
        let fams = parse(&python, text);
        assert_eq!(fams.len(), 1, "{fams:?}");
        assert_eq!(
            (fams[0].name.as_str(), fams[0].kind.as_str()),
            ("c_x", "counter")
        );
        assert_eq!(fams[0].samples[0].labels["h"], "a");
        assert_eq!(fams[0].samples[0].value, 3.0);
    }
}
