//! Collecting problems while compiling: byte spans in the file and the words, turned
//! into [`Diagnostic`]s (file attached, sorted, positions computed) at the end.

use std::ops::Range;
use std::sync::Arc;

use super::diagnostic::{Diagnostic, DiagnosticKind, TopologyErrors};
use super::source::{CharColumns, SourceFile, line_col};

/// A problem before the file is attached: a byte span in the file and the words.
#[derive(Debug, Clone)]
pub(crate) struct Diag {
    pub kind: DiagnosticKind,
    pub span: Option<Range<usize>>,
    pub message: String,
    pub label: Option<String>,
    pub help: Option<String>,
}

impl Diag {
    /// A problem at `span` (`None` = the problem has no place in the file).
    pub fn new(
        kind: DiagnosticKind,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Diag {
        Diag {
            kind,
            span,
            message: message.into(),
            label: None,
            help: None,
        }
    }

    /// The short text under the caret.
    pub fn label(mut self, label: impl Into<String>) -> Diag {
        self.label = Some(label.into());
        self
    }

    /// A hint on how to fix it.
    pub fn help(mut self, help: Option<String>) -> Diag {
        self.help = help;
        self
    }
}

/// The problems found so far.
#[derive(Debug, Default)]
pub(crate) struct Diags(pub Vec<Diag>);

impl Diags {
    pub fn push(&mut self, diag: Diag) {
        self.0.push(diag);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Attach the file, sort by position and wrap as [`TopologyErrors`].
    pub fn finish(self, src: &SourceFile) -> TopologyErrors {
        let path = src.path.display().to_string();
        let source = CharColumns {
            name: path.clone(),
            text: Arc::clone(&src.text),
        };
        let mut diags = self.0;
        diags.sort_by_key(|d| d.span.as_ref().map(|s| (s.start, s.end)));
        let diagnostics = diags
            .into_iter()
            .map(|d| {
                let span = d.span.map(|s| clamp(&src.text, s));
                let (line, col) = span
                    .as_ref()
                    .map_or((0, 0), |s| line_col(&src.text, s.start));
                Diagnostic {
                    kind: d.kind,
                    message: d.message,
                    help: d.help,
                    line,
                    col,
                    span,
                    label: d.label,
                    source: source.clone(),
                }
            })
            .collect();
        TopologyErrors { diagnostics, path }
    }
}

/// Keep a span inside the text and on character boundaries, so miette never panics.
fn clamp(text: &str, span: Range<usize>) -> Range<usize> {
    let fix = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = fix(span.start);
    start..fix(span.end).max(start)
}

/// `Some("did you mean `x`?")` when one of `candidates` is close to `found`.
pub(crate) fn did_you_mean<'c>(
    found: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(found, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

/// "`a`, `b` or `c`", for messages listing what was expected.
pub(crate) fn one_of<'c>(items: impl IntoIterator<Item = &'c str>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| format!("`{i}`")).collect();
    match items.split_last() {
        None => "nothing".to_string(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}
