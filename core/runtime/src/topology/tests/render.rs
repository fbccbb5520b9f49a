//! The report an operator sees: miette's graphical rendering, and `Display`.

use super::fake::{errors, pos};
use crate::topology::render;

const TWO_ERRORS: &str = r#"(
    listeners: {
        "u": (kind: udpp, bind: "127.0.0.1:7007"),
    },
    handlers: { "echo": (plugin: "nosuch") },
    routes: [(from: "u", to: "echo")],
)
"#;

#[test]
fn the_graphical_report_shows_file_line_col_caret_and_help() {
    let e = errors(TWO_ERRORS);
    let out = render(&e, false);
    let (line, col) = pos(TWO_ERRORS, "udpp");
    assert!(out.contains(&format!("[file.ron:{line}:{col}]")), "{out}");
    let (line, col) = pos(TWO_ERRORS, "\"nosuch\"");
    assert!(out.contains(&format!("[file.ron:{line}:{col}]")), "{out}");
    assert!(
        out.contains("unknown variant `udpp`, expected `udp` or `tcp`"),
        "{out}"
    );
    assert!(out.contains("did you mean `udp`?"), "{out}");
    assert!(out.contains("topology::bad_value"), "{out}");
    assert!(
        out.contains("──┬─"),
        "an underline under the four letters of `udpp`: {out}"
    );
    assert!(out.contains("╰── this value"), "{out}");
    assert!(
        out.contains(r#""u": (kind: udpp, bind: "127.0.0.1:7007"),"#),
        "the source line: {out}"
    );
    assert!(
        out.trim_end().ends_with("file.ron: 2 errors in topology"),
        "{out}"
    );
    assert!(!out.contains('\u{1b}'), "no colors asked: {out}");
}

#[test]
fn the_colored_report_has_ansi_colors() {
    let out = render(&errors(TWO_ERRORS), true);
    assert!(out.contains('\u{1b}'), "{out}");
    assert!(out.contains("file.ron:3:21"), "{out}");
}

#[test]
fn display_lists_every_diagnostic_with_its_place() {
    let e = errors(TWO_ERRORS);
    let text = e.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], "file.ron: 2 errors in topology");
    assert_eq!(
        lines[1],
        "file.ron:3:21: invalid `kind` of listener `u`: unknown variant `udpp`, expected `udp` or `tcp` (did you mean `udp`?)"
    );
    assert!(
        lines[2].starts_with("file.ron:5:34: cannot load plugin `nosuch`"),
        "{text}"
    );
}

#[test]
fn the_error_is_a_miette_diagnostic_with_every_problem_related() {
    let e = errors(TWO_ERRORS);
    let diag: &dyn miette::Diagnostic = &e;
    let related: Vec<String> = diag
        .related()
        .into_iter()
        .flatten()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(related.len(), 2);
    assert!(related[1].contains("nosuch"), "{related:?}");
    let first = &e.diagnostics[0];
    let labels: Vec<_> = miette::Diagnostic::labels(first)
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(labels.len(), 1);
    let (line, col) = pos(TWO_ERRORS, "udpp");
    assert_eq!((first.line, first.col), (line, col));
    assert_eq!(labels[0].offset(), TWO_ERRORS.find("udpp").unwrap());
    assert_eq!(labels[0].len(), 4);
    assert_eq!(first.file_name(), "file.ron");
}

#[test]
fn an_io_error_renders_without_a_snippet() {
    let dir = tempfile::tempdir().unwrap();
    let e = crate::topology::load(&dir.path().join("gone.ron")).unwrap_err();
    let out = render(&e, false);
    assert!(out.contains("cannot read topology file"), "{out}");
    assert!(out.contains("topology::io"), "{out}");
    assert!(out.trim_end().ends_with("1 error in topology"), "{out}");
}

#[test]
fn columns_count_characters_like_miette_does() {
    let text = "(\n    /* é, ü */ listeners: {}, handlers: {}, zzz: 1,\n)";
    let e = errors(text);
    let d = &e.diagnostics[0];
    assert_eq!((d.line, d.col), pos(text, "zzz"), "{e}");
    assert_eq!(d.col, 45, "45 characters, 49 bytes");
    let out = render(&e, false);
    assert!(out.contains("[file.ron:2:45]"), "{out}");
}
