//! Diagnostics: one per problem found, each with its place in the file, gathered into
//! [`TopologyErrors`] so that an operator fixes everything in one round.
//!
//! Each [`Diagnostic`] carries the file (shared), so miette's graphical report shows
//! `[file.ron:line:col]` and a caret under the culprit; see `render.rs`. While
//! compiling, problems are collected without the file (`collect.rs`).

use std::fmt;
use std::ops::Range;

use miette::{LabeledSpan, SourceCode, SourceSpan};

use super::source::CharColumns;

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
    /// A bind address that is neither `ip:port` nor `host:port`.
    BadAddress,
    /// A host name in `bind` that does not resolve (now: DNS may be down, so tools may
    /// treat it apart from a typo in the file).
    Unresolved,
    /// A listener or handler name that cannot be used (empty, contains `.`, or shared
    /// by a listener and a handler).
    BadName,
    /// No library was found for a handler's plugin.
    UnknownPlugin,
    /// `dlopen` refused the library (the dynamic loader's reason is in the message).
    PluginOpen,
    /// The library is not a Switchyard plugin.
    NotAPlugin,
    /// The plugin was built for another ABI version.
    PluginAbi,
    /// The plugin was built with `panic = "abort"`.
    PluginPanicAbort,
    /// The plugin's entry refused this host, or its vtable is malformed.
    PluginRefused,
    /// The library found under a plugin's name declares another name.
    PluginName,
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
    /// A private storage root that equals, lies inside or contains a served one.
    NestedRoots,
    /// A handler's `storage` names no entry of `storages`.
    UnknownStorage,
    /// A storage the handler cannot be served from yet (an `s3` storage, until the
    /// async storage ABI of issue 21 lands).
    UnsupportedStorage,
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
            DiagnosticKind::Unresolved => "topology::unresolved",
            DiagnosticKind::BadName => "topology::bad_name",
            DiagnosticKind::UnknownPlugin => "topology::unknown_plugin",
            DiagnosticKind::PluginOpen => "topology::plugin_open_failed",
            DiagnosticKind::NotAPlugin => "topology::not_a_plugin",
            DiagnosticKind::PluginAbi => "topology::plugin_abi_mismatch",
            DiagnosticKind::PluginPanicAbort => "topology::plugin_panic_abort",
            DiagnosticKind::PluginRefused => "topology::plugin_refused",
            DiagnosticKind::PluginName => "topology::plugin_name_mismatch",
            DiagnosticKind::Config => "topology::config",
            DiagnosticKind::DanglingRoute => "topology::dangling_route",
            DiagnosticKind::BadRoute => "topology::bad_route",
            DiagnosticKind::ListenerRouting => "topology::listener_routing",
            DiagnosticKind::ListenerKind => "topology::listener_kind",
            DiagnosticKind::TypeMismatch => "topology::type_mismatch",
            DiagnosticKind::Cycle => "topology::cycle",
            DiagnosticKind::AddressConflict => "topology::address_conflict",
            DiagnosticKind::NestedRoots => "topology::nested_roots",
            DiagnosticKind::UnknownStorage => "topology::unknown_storage",
            DiagnosticKind::UnsupportedStorage => "topology::unsupported_storage",
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
    pub(super) label: Option<String>,
    pub(super) source: CharColumns,
}

impl Diagnostic {
    /// The file name shown in reports.
    pub fn file_name(&self) -> &str {
        &self.source.name
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

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.span
            .is_some()
            .then_some(&self.source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span.clone()?;
        let label = LabeledSpan::new_primary_with_span(self.label.clone(), SourceSpan::from(span));
        Some(Box::new(std::iter::once(label)))
    }
}

/// Every problem found in one topology file. `Display` lists them all, one per line as
/// `file:line:col: message`; [`render`](super::render()) draws them with source snippets.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", summary(self))]
pub struct TopologyErrors {
    /// The problems, in file order (problems without a place first).
    pub diagnostics: Vec<Diagnostic>,
    pub(super) path: String,
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
