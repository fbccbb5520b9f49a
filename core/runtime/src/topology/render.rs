//! The report an operator reads: every diagnostic drawn by miette's graphical handler
//! (message, `[file:line:col]`, the source lines, a caret, the help), then a count.

use miette::{GraphicalReportHandler, GraphicalTheme};

use super::diagnostic::TopologyErrors;

/// Draw every diagnostic as miette does (message, `[file:line:col]`, snippet, caret,
/// help), followed by a one-line count. `color` adds ANSI colors for a terminal.
pub fn render(errors: &TopologyErrors, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(120)
        .with_links(false);
    let mut out = String::new();
    for d in &errors.diagnostics {
        if handler.render_report(&mut out, d).is_err() {
            // Rendering into a String cannot fail; keep the plain line if it ever does.
            out.push_str(&format!(
                "{}:{}:{}: {}\n",
                errors.path, d.line, d.col, d.message
            ));
        }
        out.push('\n');
    }
    let n = errors.diagnostics.len();
    out.push_str(&format!(
        "{}: {n} error{} in topology",
        errors.path,
        if n == 1 { "" } else { "s" }
    ));
    out
}
