//! Diagnostics: one per problem found, each with its place in the file, gathered into
//! [`TopologyErrors`] so that an operator fixes everything in one round.
//!
//! While compiling, problems are collected as [`Diags`] (byte spans, no file attached);
//! [`Diags::finish`] attaches the source so each becomes a miette [`Diagnostic`] whose
//! graphical report shows `[file.ron:line:col]` and a caret under the culprit.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};

use super::source::{SourceFile, line_col};

/// The class of a problem; tests and tools can match on it instead of on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiagnosticKind {
    /// The file could not be read.
    Io,
    /// The file is not valid RON.
    Syntax,
    /// A field the format does not have (often a typo; a suggestion comes with it).
    UnknownField,
    /// A required field is absent.
    MissingField,
    /// A field is given twice, or a name is defined twice.
    Duplicate,
    /// A value has the wrong type or shape (e.g. `kind: udpp`, a negative number).
    BadValue,
    /// A bind address that is not `ip:port`.
    BadAddress,
    /// A listener or handler name that cannot be used (empty, contains `.`, or shared
    /// by a listener and a handler).
    BadName,
    /// The catalog could not find or load a handler's plugin.
    UnknownPlugin,
    /// The plugin refused its handler's configuration.
    Config,
    /// A route names a listener, handler or port that does not exist.
    DanglingRoute,
    /// A route whose endpoints are of the wrong sort (listener to port, from an input port...).
    BadRoute,
    /// A listener routed to no handler or to more than one.
    ListenerRouting,
    /// A listener kind the handler's plugin does not accept (incl. per-connection on UDP).
    ListenerKind,
    /// An output port routed to an input port of another type.
    TypeMismatch,
    /// Handler port routes that loop back to where they started.
    Cycle,
    /// Two listeners claiming the same address.
    AddressConflict,
}

impl DiagnosticKind {
    /// The miette code shown above each message, e.g. `topology::unknown_field`.
    pub fn code(self) -> &'static str {
        match self {
            DiagnosticKind::Io => "topology::io",
            DiagnosticKind::Syntax => "topology::syntax",
            DiagnosticKind::UnknownField => "topology::unknown_field",
            DiagnosticKind::MissingField => "topology::missing_field",
            DiagnosticKind::Duplicate => "topology::duplicate",
            DiagnosticKind::BadValue => "topology::bad_value",
            DiagnosticKind::BadAddress => "topology::bad_address",
            DiagnosticKind::BadName => "topology::bad_name",
            DiagnosticKind::UnknownPlugin => "topology::unknown_plugin",
            DiagnosticKind::Config => "topology::config",
            DiagnosticKind::DanglingRoute => "topology::dangling_route",
            DiagnosticKind::BadRoute => "topology::bad_route",
            DiagnosticKind::ListenerRouting => "topology::listener_routing",
            DiagnosticKind::ListenerKind => "topology::listener_kind",
            DiagnosticKind::TypeMismatch => "topology::type_mismatch",
            DiagnosticKind::Cycle => "topology::cycle",
            DiagnosticKind::AddressConflict => "topology::address_conflict",
        }
    }
}

/// One problem in a topology file.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// What class of problem this is.
    pub kind: DiagnosticKind,
    /// The headline, e.g. "unknown field `bnd` in listener `echo_udp`".
    pub message: String,
    /// A hint on how to fix it ("did you mean `bind`?"), when there is one.
    pub help: Option<String>,
    /// 1-based line of the culprit in the file, 0 when the problem has no place.
    pub line: u32,
    /// 1-based column (characters) of the culprit, 0 when the problem has no place.
    pub col: u32,
    /// Byte range of the culprit in the file, when it has one.
    pub span: Option<Range<usize>>,
    label: Option<String>,
    source: CharColumns,
}

impl Diagnostic {
    /// The file name shown in reports.
    pub fn file_name(&self) -> &str {
        &self.source.name
    }
}

/// The file as miette's source, reporting columns in characters.
///
/// miette's own `str` source counts the `[file:line:col]` column in bytes, which
/// disagrees with RON, with editors and with [`Diagnostic::col`] on any line holding
/// non-ASCII text before the culprit (a comment in French is enough).
#[derive(Debug, Clone)]
struct CharColumns {
    name: String,
    text: Arc<str>,
}

impl SourceCode for CharColumns {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = (*self.text).read_span(span, context_lines_before, context_lines_after)?;
        // With context lines miette reports column 0 and measures lines itself.
        let column = if inner.column() == 0 {
            0
        } else {
            line_col(&self.text, span.offset()).1.saturating_sub(1) as usize
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line(),
            column,
            inner.line_count(),
        )))
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.kind.code()))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.span
            .is_some()
            .then_some(&self.source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span.clone()?;
        let label = LabeledSpan::new_primary_with_span(self.label.clone(), SourceSpan::from(span));
        Some(Box::new(std::iter::once(label)))
    }
}

/// Every problem found in one topology file. `Display` lists them all, one per line as
/// `file:line:col: message`; [`render`] draws them with source snippets.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", summary(self))]
pub struct TopologyErrors {
    /// The problems, in file order (problems without a place first).
    pub diagnostics: Vec<Diagnostic>,
    path: String,
}

impl TopologyErrors {
    /// How many problems were found.
    pub fn len(&self) -> usize {
        self.diagnostics.len()
    }

    /// True when there are none (never the case for an error returned by the compiler).
    pub fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// The problems, in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.diagnostics.iter()
    }
}

impl miette::Diagnostic for TopologyErrors {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("topology::invalid"))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        Some(Box::new(
            self.diagnostics
                .iter()
                .map(|d| d as &dyn miette::Diagnostic),
        ))
    }
}

fn summary(errors: &TopologyErrors) -> String {
    let n = errors.diagnostics.len();
    let mut out = format!(
        "{}: {n} error{} in topology",
        errors.path,
        if n == 1 { "" } else { "s" }
    );
    for d in &errors.diagnostics {
        if d.span.is_some() {
            out.push_str(&format!(
                "\n{}:{}:{}: {}",
                errors.path, d.line, d.col, d.message
            ));
        } else {
            out.push_str(&format!("\n{}: {}", errors.path, d.message));
        }
        if let Some(help) = &d.help {
            out.push_str(&format!(" ({help})"));
        }
    }
    out
}

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
