//! The registry and its exposition: counters by handler, bounded transfer results,
//! and `# TYPE` lines that name their samples.

use super::*;

#[test]
fn handler_counters_appear_in_the_exposition() {
    let m = Metrics::new();
    let h = m.handler("tftp");
    h.bytes_out.inc_by(1234);
    h.conns_open.set(3);
    assert!(!h.transfer("ok"));
    h.error("conn_limit");
    m.reload("ok");
    let text = m.encode();
    assert!(
        text.contains("switchyard_bytes_out_total{handler=\"tftp\"} 1234"),
        "{text}"
    );
    assert!(
        text.contains("switchyard_connections_open{handler=\"tftp\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("switchyard_transfers_total{handler=\"tftp\",result=\"ok\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("switchyard_errors_total{handler=\"tftp\",kind=\"conn_limit\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("switchyard_reloads_total{result=\"ok\"} 1"),
        "{text}"
    );
}

#[test]
fn transfer_results_are_bounded_to_the_outcomes_and_other() {
    let m = Metrics::new();
    let h = m.handler("bulk");
    assert!(!h.transfer("partial"));
    assert!(!h.transfer("not_found"));
    // An older plugin's free text, then more of it: one `other` series, logged once.
    assert!(h.transfer("connection closed; 1760559104 bytes kept for resume"));
    assert!(!h.transfer("connection closed; 17 bytes kept for resume"));
    assert!(!h.transfer(""));
    let text = m.encode();
    let mut results: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("switchyard_transfers_total{"))
        .collect();
    results.sort_unstable();
    assert_eq!(
        results,
        [
            "switchyard_transfers_total{handler=\"bulk\",result=\"not_found\"} 1",
            "switchyard_transfers_total{handler=\"bulk\",result=\"other\"} 3",
            "switchyard_transfers_total{handler=\"bulk\",result=\"partial\"} 1",
        ],
        "{text}"
    );
    // Another handler logs its own first free text.
    assert!(m.handler("tftp").transfer("timeout!"));
}

#[test]
fn every_type_line_names_the_samples_under_it() {
    let m = Metrics::new();
    let h = m.handler("files");
    h.conns_total.inc();
    h.transfer("ok");
    let text = m.encode();
    assert!(
        !text.contains("# EOF") && !text.contains("# UNIT"),
        "{text}"
    );
    let mut family = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge"].contains(&kind), "{line}");
            assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
            family = Some(name.to_owned());
        } else if !line.starts_with('#') {
            let sample = line.split(['{', ' ']).next().unwrap();
            assert_eq!(Some(sample), family.as_deref(), "{line}");
        }
    }
    assert!(
        text.contains("# TYPE switchyard_connections_total counter\n"),
        "{text}"
    );
    assert!(m.encode_openmetrics().ends_with("# EOF\n"));
}

#[test]
fn sessions_cut_are_counted_by_handler_and_why() {
    let m = Metrics::new();
    let h = m.handler("tftp");
    h.session_cut("shutdown");
    h.session_cut("shutdown");
    m.handler("files").session_cut("reload");
    let text = m.encode();
    assert!(
        text.contains("# TYPE switchyard_sessions_cut_total counter\n"),
        "{text}"
    );
    assert!(
        text.contains("switchyard_sessions_cut_total{handler=\"tftp\",why=\"shutdown\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("switchyard_sessions_cut_total{handler=\"files\",why=\"reload\"} 1"),
        "{text}"
    );
}
