//! The two text formats `/metrics` can answer in, and which one a scraper asked for.
//!
//! `prometheus-client` writes OpenMetrics only: a counter family is declared as
//! `# TYPE switchyard_connections counter` while its samples are named
//! `switchyard_connections_total`, and the text ends with `# EOF`. Served as
//! `text/plain; version=0.0.4`, that is wrong: a Prometheus text-format parser matches
//! samples to the `# TYPE` line by name, so every counter came out `untyped`/`unknown`.
//! [`to_prometheus_text`] rewrites the OpenMetrics text into the 0.0.4 format; a
//! scraper that asks for OpenMetrics (`Accept: application/openmetrics-text`, as
//! Prometheus itself does) gets the original, under its own content type.

/// `Content-Type` of the Prometheus text format 0.0.4.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// `Content-Type` of OpenMetrics 1.0.0 text.
pub const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether the request head asks for OpenMetrics: an `Accept` header listing
/// `application/openmetrics-text` with a non-zero quality. Anything else (no header,
/// `*/*`, `text/plain`) gets the 0.0.4 text, which every scraper reads.
pub fn wants_openmetrics(request_head: &str) -> bool {
    request_head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("accept"))
        .flat_map(|(_, value)| value.split(','))
        .any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("");
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            media.eq_ignore_ascii_case("application/openmetrics-text") && q > 0.0
        })
}

/// Rewrite an OpenMetrics exposition (as `prometheus-client` writes it) into the
/// Prometheus text format 0.0.4: counter families are named after their `_total`
/// samples, `info` becomes a `gauge` named `_info`, `unknown` becomes `untyped`,
/// `# UNIT` and `# EOF` lines go, and exemplars (` # {...}` after a value, which 0.0.4
/// has no room for) are cut. Sample lines are otherwise the same in both formats.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    // `# HELP` precedes `# TYPE`, whose type decides the name: hold it until then.
    let mut help: Option<(&str, &str)> = None;
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            flush_help(&mut out, help.take(), None);
            help = Some(rest.split_once(' ').unwrap_or((rest, "")));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let (name, kind) = match kind {
                "counter" => (format!("{name}_total"), "counter"),
                "info" => (format!("{name}_info"), "gauge"),
                "unknown" => (name.to_owned(), "untyped"),
                other => (name.to_owned(), other),
            };
            flush_help(&mut out, help.take(), Some(&name));
            out.push_str(&format!("# TYPE {name} {kind}\n"));
        } else if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        } else {
            flush_help(&mut out, help.take(), None);
            out.push_str(without_exemplar(line));
            out.push('\n');
        }
    }
    flush_help(&mut out, help, None);
    out
}

/// Write a held `# HELP` line, under the family's 0.0.4 name when its type is known.
fn flush_help(out: &mut String, help: Option<(&str, &str)>, renamed: Option<&str>) {
    if let Some((name, text)) = help {
        let name = renamed.unwrap_or(name);
        out.push_str(&format!("# HELP {name} {text}\n"));
    }
}

/// A sample line without its exemplar. The ` # ` that starts one is searched for after
/// the label set only: a label value may itself contain ` # `.
fn without_exemplar(line: &str) -> &str {
    let after_labels = match line.find('{') {
        Some(open) if line[..open].find(' ').is_none() => match closing_brace(&line[open..]) {
            Some(close) => open + close + 1,
            None => return line,
        },
        _ => 0,
    };
    match line[after_labels..].find(" # ") {
        Some(at) => &line[..after_labels + at],
        None => line,
    }
}

/// The index of the `}` closing a label set that starts at `s[0] == '{'`, skipping
/// quoted values and their `\"` escapes.
fn closing_brace(s: &str) -> Option<usize> {
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_families_are_named_after_their_total_samples() {
        let om = "# HELP sy_connections TCP connections accepted.\n\
                  # TYPE sy_connections counter\n\
                  sy_connections_total{handler=\"a\"} 3\n\
                  # HELP sy_open TCP connections open.\n\
                  # TYPE sy_open gauge\n\
                  sy_open{handler=\"a\"} 1\n\
                  # EOF\n";
        assert_eq!(
            to_prometheus_text(om),
            "# HELP sy_connections_total TCP connections accepted.\n\
             # TYPE sy_connections_total counter\n\
             sy_connections_total{handler=\"a\"} 3\n\
             # HELP sy_open TCP connections open.\n\
             # TYPE sy_open gauge\n\
             sy_open{handler=\"a\"} 1\n"
        );
    }

    #[test]
    fn info_unknown_unit_and_eof_have_0_0_4_equivalents_or_go() {
        let om = "# HELP b Build.\n# TYPE b info\nb_info{v=\"1\"} 1\n\
                  # HELP u Odd.\n# TYPE u unknown\nu 2\n\
                  # HELP t_seconds Time.\n# TYPE t_seconds counter\n# UNIT t_seconds seconds\n\
                  t_seconds_total 5\n# EOF\n";
        assert_eq!(
            to_prometheus_text(om),
            "# HELP b_info Build.\n# TYPE b_info gauge\nb_info{v=\"1\"} 1\n\
             # HELP u Odd.\n# TYPE u untyped\nu 2\n\
             # HELP t_seconds_total Time.\n# TYPE t_seconds_total counter\nt_seconds_total 5\n"
        );
    }

    #[test]
    fn exemplars_are_cut_but_a_label_value_with_a_hash_is_kept() {
        let om = "# TYPE c counter\n\
                  c_total{why=\"a # b \\\"}\\\" # c\"} 7 # {trace=\"x\"} 1.0\n\
                  c_total 8 # {trace=\"y\"} 1.0 123\n";
        assert_eq!(
            to_prometheus_text(om),
            "# TYPE c_total counter\n\
             c_total{why=\"a # b \\\"}\\\" # c\"} 7\n\
             c_total 8\n"
        );
    }

    #[test]
    fn accept_header_picks_openmetrics_only_when_asked() {
        let prometheus = "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: \
            application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
            version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n\r\n";
        assert!(wants_openmetrics(prometheus));
        assert!(wants_openmetrics(
            "GET /metrics HTTP/1.0\r\naccept:  Application/OpenMetrics-Text\r\n\r\n"
        ));
        assert!(!wants_openmetrics("GET /metrics HTTP/1.0\r\n\r\n"));
        assert!(!wants_openmetrics(
            "GET /metrics HTTP/1.0\r\nAccept: text/plain, */*\r\n\r\n"
        ));
        assert!(!wants_openmetrics(
            "GET /metrics HTTP/1.0\r\nAccept: application/openmetrics-text;q=0\r\n\r\n"
        ));
    }
}
