//! A route's `handler.port` ends, resolved against the plugins' ports: the handler must
//! exist, the port too, in the direction the route needs. Each mistake is reported at
//! the end where it is written, with the closest name as a suggestion. Shared by the
//! routes between handlers (`routes.rs`) and those to and from the bus
//! (`bus_routes.rs`).

use std::collections::HashMap;

use super::catalog::{PluginDescription, PortDirection};
use super::collect::{Diag, did_you_mean, one_of};
use super::diagnostic::DiagnosticKind;
use super::document::{At, Document};
use super::reader::Reader;

/// Names and plugins the routes are checked against.
pub(super) struct Scope<'d> {
    pub listeners: HashMap<&'d str, usize>,
    pub handlers: HashMap<&'d str, usize>,
    pub plugins: &'d [Option<PluginDescription>],
    pub handler_names: Vec<&'d str>,
    /// In file order, so that suggestions are deterministic.
    pub listener_names: Vec<&'d str>,
}

/// A resolved `handler.port` end.
pub(super) struct PortEnd<'p> {
    pub handler: usize,
    pub index: usize,
    pub port: &'p super::catalog::PortDescription,
}

impl<'d> Scope<'d> {
    /// The names of `doc` and its handlers' plugins (`plugins[i]` is handler `i`'s).
    pub fn new(doc: &'d Document<'_>, plugins: &'d [Option<PluginDescription>]) -> Scope<'d> {
        Scope {
            listeners: doc
                .listeners
                .iter()
                .enumerate()
                .map(|(i, l)| (l.name.value.as_str(), i))
                .collect(),
            handlers: doc
                .handlers
                .iter()
                .enumerate()
                .map(|(i, h)| (h.name.value.as_str(), i))
                .collect(),
            plugins,
            handler_names: doc.handlers.iter().map(|h| h.name.value.as_str()).collect(),
            listener_names: doc
                .listeners
                .iter()
                .map(|l| l.name.value.as_str())
                .collect(),
        }
    }
}

/// The `to` of a port route: `handler.in_port`.
pub(super) fn input_end<'p>(
    r: &mut Reader<'_>,
    scope: &Scope<'p>,
    to: &At<String>,
) -> Option<PortEnd<'p>> {
    if let Some((h, p)) = to.value.split_once('.') {
        return port_end(r, scope, to, h, p, PortDirection::In);
    }
    if scope.handlers.contains_key(to.value.as_str()) {
        let ins = port_names(scope, &to.value, PortDirection::In);
        r.push(
            Diag::new(
                DiagnosticKind::BadRoute,
                to.span.clone(),
                format!("route to handler `{}` names no port", to.value),
            )
            .label("a handler port is `handler.port`")
            .help(Some(format!("messages go to an input port: {ins}"))),
        );
    } else if scope.listeners.contains_key(to.value.as_str()) {
        r.push(
            Diag::new(
                DiagnosticKind::BadRoute,
                to.span.clone(),
                format!("messages cannot be routed to listener `{}`", to.value),
            )
            .label("a listener")
            .help(Some(
                "messages go to an input port of a handler: `handler.port`".into(),
            )),
        );
    } else {
        dangling(r, scope, to, "target", false);
    }
    None
}

/// Resolve `h.p`, which must be a port of direction `want`.
pub(super) fn port_end<'p>(
    r: &mut Reader<'_>,
    scope: &Scope<'p>,
    end: &At<String>,
    h: &str,
    p: &str,
    want: PortDirection,
) -> Option<PortEnd<'p>> {
    let Some(&hi) = scope.handlers.get(h) else {
        let (message, help) = if scope.listeners.contains_key(h) {
            (format!("`{h}` is a listener, which has no ports"), None)
        } else {
            (
                format!("`{}` names no handler `{h}`", end.value),
                did_you_mean(h, scope.handler_names.iter().copied()),
            )
        };
        r.push(
            Diag::new(DiagnosticKind::DanglingRoute, end.span.clone(), message)
                .label("unknown handler")
                .help(help),
        );
        return None;
    };
    // An undescribed plugin already has its diagnostic; its ports cannot be checked.
    let plugin = scope.plugins[hi].as_ref()?;
    let Some((index, port)) = plugin
        .ports
        .iter()
        .enumerate()
        .find(|(_, port)| port.name == p)
    else {
        let help =
            did_you_mean(p, plugin.ports.iter().map(|port| port.name.as_str())).or_else(|| {
                Some(format!(
                    "its ports: {}",
                    one_of(plugin.ports.iter().map(|port| port.name.as_str()))
                ))
            });
        r.push(
            Diag::new(
                DiagnosticKind::DanglingRoute,
                end.span.clone(),
                format!("handler `{h}` (plugin `{}`) has no port `{p}`", plugin.name),
            )
            .label("unknown port")
            .help(help),
        );
        return None;
    };
    if port.direction != want {
        let (is, should) = match want {
            PortDirection::Out => ("an input", "starts at an output port"),
            PortDirection::In => ("an output", "ends at an input port"),
        };
        r.push(
            Diag::new(
                DiagnosticKind::BadRoute,
                end.span.clone(),
                format!(
                    "direction mismatch: `{}` is {is} port, and a route {should}",
                    end.value
                ),
            )
            .label(format!("{is} port")),
        );
        return None;
    }
    Some(PortEnd {
        handler: hi,
        index,
        port,
    })
}

/// A name that exists nowhere; suggest the closest listener or handler.
pub(super) fn dangling(
    r: &mut Reader<'_>,
    scope: &Scope<'_>,
    end: &At<String>,
    role: &str,
    listeners_too: bool,
) {
    let mut names: Vec<&str> = scope.handler_names.clone();
    let what = if listeners_too {
        names.extend(scope.listener_names.iter().copied());
        "listener or handler"
    } else {
        "handler"
    };
    r.push(
        Diag::new(
            DiagnosticKind::DanglingRoute,
            end.span.clone(),
            format!("route {role} `{}` names no {what}", end.value),
        )
        .label(format!("no such {what}"))
        .help(did_you_mean(&end.value, names)),
    );
}

/// "`a`, `b`" for the ports of `handler` in direction `dir`, for hints.
pub(super) fn port_names(scope: &Scope<'_>, handler: &str, dir: PortDirection) -> String {
    let plugin = scope
        .handlers
        .get(handler)
        .and_then(|&hi| scope.plugins[hi].as_ref());
    let Some(plugin) = plugin else {
        return "`handler.port`".to_string();
    };
    let names: Vec<String> = plugin
        .ports
        .iter()
        .filter(|p| p.direction == dir)
        .map(|p| format!("{handler}.{}", p.name))
        .collect();
    if names.is_empty() {
        return format!("plugin `{}` has none", plugin.name);
    }
    one_of(names.iter().map(String::as_str))
}
