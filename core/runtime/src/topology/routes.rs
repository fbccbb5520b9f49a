//! Routes: which handler each listener feeds, and where each output port's messages go.
//!
//! A route is `(from: "listener", to: "handler")` or
//! `(from: "handler.out_port", to: "handler.in_port")`; one with a `bus:subject` end
//! is left to `bus_routes.rs`. Every mistake is reported where it
//! is written: a name that exists nowhere (with a suggestion), a listener sent to a port,
//! a route starting at an input port, a type mismatch, a listener routed twice.
//! Ends whose handler's plugin could not be described are not checked further: that
//! plugin already has its own diagnostic.

use std::ops::Range;

use switchyard_sdk::abi;

use super::catalog::{PluginDescription, PortDirection};
use super::collect::Diag;
use super::diagnostic::DiagnosticKind;
use super::document::{At, Document};
use super::model::OutputRoute;
use super::reader::Reader;
use super::route_ends::{Scope, dangling, input_end, port_end, port_names};

/// The wiring found, indexed like the document's listeners and handlers.
#[derive(Debug, Default)]
pub(crate) struct Wiring {
    /// For each listener, the handler it is routed to.
    pub listener_handler: Vec<Option<usize>>,
    /// For each handler, its output routes.
    pub outputs: Vec<Vec<OutputRoute>>,
    /// Handler -> handler edges of the port routes, with the route's place, in file order.
    pub edges: Vec<(usize, usize, Option<Range<usize>>)>,
}

/// Check every route and the listener kinds they imply. `plugins[i]` is handler `i`'s
/// plugin, when it could be described.
pub(crate) fn wire(
    r: &mut Reader<'_>,
    doc: &Document<'_>,
    plugins: &[Option<PluginDescription>],
) -> Wiring {
    let scope = Scope::new(doc, plugins);
    let mut wiring = Wiring {
        listener_handler: vec![None; doc.listeners.len()],
        outputs: vec![Vec::new(); doc.handlers.len()],
        edges: Vec::new(),
    };
    for route in &doc.routes {
        let (Some(from), Some(to)) = (&route.from, &route.to) else {
            continue;
        };
        if is_bus_end(&from.value) || is_bus_end(&to.value) {
            continue; // bus_routes.rs
        }
        match from.value.split_once('.') {
            None => {
                if let Some(&li) = scope.listeners.get(from.value.as_str()) {
                    let Some(hi) = listener_target(r, &scope, from, to) else {
                        continue;
                    };
                    match wiring.listener_handler[li] {
                        None => wiring.listener_handler[li] = Some(hi),
                        Some(first) if first == hi => r.push(
                            Diag::new(DiagnosticKind::Duplicate, route.span.clone(), "this route is given twice")
                                .label("repeated route"),
                        ),
                        Some(first) => r.push(
                            Diag::new(
                                DiagnosticKind::ListenerRouting,
                                to.span.clone(),
                                format!("listener `{}` is routed to more than one handler", from.value),
                            )
                            .label("second route")
                            .help(Some(format!(
                                "it is already routed to handler `{}`; a listener feeds exactly one handler",
                                scope.handler_names[first]
                            ))),
                        ),
                    }
                } else if scope.handlers.contains_key(from.value.as_str()) {
                    let outs = port_names(&scope, &from.value, PortDirection::Out);
                    r.push(
                        Diag::new(
                            DiagnosticKind::BadRoute,
                            from.span.clone(),
                            format!("route from handler `{}` names no port", from.value),
                        )
                        .label("a handler port is `handler.port`")
                        .help(Some(format!(
                            "routes between handlers go from an output port: {outs}"
                        ))),
                    );
                } else {
                    dangling(r, &scope, from, "source", true);
                }
            }
            Some((h, p)) => {
                // Both ends checked, so a route with two mistakes reports both.
                let out = port_end(r, &scope, from, h, p, PortDirection::Out);
                let inp = input_end(r, &scope, to);
                let (Some(out), Some(inp)) = (out, inp) else {
                    continue;
                };
                if inp.port.type_name != abi::SY_TYPE_ANY
                    && inp.port.type_name != out.port.type_name
                {
                    r.push(
                        Diag::new(
                            DiagnosticKind::TypeMismatch,
                            to.span.clone(),
                            format!(
                                "type mismatch: `{}` emits `{}` but `{}` accepts `{}`",
                                from.value, out.port.type_name, to.value, inp.port.type_name
                            ),
                        )
                        .label(format!("expects `{}`", inp.port.type_name)),
                    );
                    continue;
                }
                let route_out = OutputRoute {
                    port: index_u32(out.index),
                    to_handler: scope.handler_names[inp.handler].to_string(),
                    to_port: index_u32(inp.index),
                    type_name: out.port.type_name.clone(),
                };
                if wiring.outputs[out.handler].contains(&route_out) {
                    r.push(
                        Diag::new(
                            DiagnosticKind::Duplicate,
                            route.span.clone(),
                            "this route is given twice",
                        )
                        .label("repeated route"),
                    );
                    continue;
                }
                wiring.outputs[out.handler].push(route_out);
                wiring
                    .edges
                    .push((out.handler, inp.handler, route.span.clone()));
            }
        }
    }
    for (li, listener) in doc.listeners.iter().enumerate() {
        match wiring.listener_handler[li] {
            None => r.push(
                Diag::new(
                    DiagnosticKind::ListenerRouting,
                    listener.name.span.clone(),
                    format!("listener `{}` is routed to no handler", listener.name.value),
                )
                .label("never routed")
                .help(Some(format!(
                    "add a route: `(from: \"{}\", to: \"<handler>\")`",
                    listener.name.value
                ))),
            ),
            Some(hi) => check_kind(r, &scope, doc, li, hi),
        }
    }
    wiring
}

/// The handler a listener route goes to, or a diagnostic on its `to`.
fn listener_target(
    r: &mut Reader<'_>,
    scope: &Scope<'_>,
    from: &At<String>,
    to: &At<String>,
) -> Option<usize> {
    if let Some(&hi) = scope.handlers.get(to.value.as_str()) {
        return Some(hi);
    }
    let (message, help) = if let Some((h, _)) = to.value.split_once('.') {
        (
            format!(
                "listener `{}` is routed to a port, `{}`",
                from.value, to.value
            ),
            Some(format!(
                "a listener is routed to a whole handler: `to: \"{h}\"`"
            )),
        )
    } else if scope.listeners.contains_key(to.value.as_str()) {
        (
            format!(
                "listener `{}` is routed to listener `{}`",
                from.value, to.value
            ),
            Some("a listener is routed to a handler".to_string()),
        )
    } else {
        dangling(r, scope, to, "target", false);
        return None;
    };
    r.push(
        Diag::new(DiagnosticKind::BadRoute, to.span.clone(), message)
            .label("not a handler")
            .help(help),
    );
    None
}

/// The listener's kind must be one its handler's plugin accepts; per-connection plugins
/// need connections, which UDP does not have.
fn check_kind(r: &mut Reader<'_>, scope: &Scope<'_>, doc: &Document<'_>, li: usize, hi: usize) {
    let listener = &doc.listeners[li];
    let (Some(kind), Some(plugin)) = (&listener.kind, &scope.plugins[hi]) else {
        return;
    };
    let handler = scope.handler_names[hi];
    if plugin.listener_kinds & kind.value.abi_bit() == 0 {
        r.push(
            Diag::new(
                DiagnosticKind::ListenerKind,
                kind.span.clone(),
                format!(
                    "listener `{}` is {}, but handler `{handler}` (plugin `{}`) accepts {}",
                    listener.name.value,
                    kind.value,
                    plugin.name,
                    kinds_text(plugin.listener_kinds)
                ),
            )
            .label(format!("not accepted by plugin `{}`", plugin.name)),
        );
    } else if kind.value == super::model::ListenerKind::Udp
        && plugin.instance_mode == abi::SY_INSTANCE_PER_CONNECTION
    {
        r.push(
            Diag::new(
                DiagnosticKind::ListenerKind,
                kind.span.clone(),
                format!(
                    "listener `{}` is udp, but plugin `{}` (handler `{handler}`) runs one instance per connection",
                    listener.name.value, plugin.name
                ),
            )
            .label("UDP has no connections")
            .help(Some("route a tcp listener to this handler".into())),
        );
    }
}

/// "only udp", "only tcp", "udp and tcp", "no listener".
fn kinds_text(mask: u32) -> &'static str {
    match (
        mask & abi::SY_LISTEN_UDP != 0,
        mask & abi::SY_LISTEN_TCP != 0,
    ) {
        (true, true) => "udp and tcp listeners",
        (true, false) => "only udp listeners",
        (false, true) => "only tcp listeners",
        (false, false) => "no listener",
    }
}

/// Whether a route end names a bus subject (`bus:subject`), which `bus_routes.rs` checks.
pub(super) fn is_bus_end(end: &str) -> bool {
    end.starts_with(BUS_END)
}

/// What starts a route end that names a bus subject.
pub(super) const BUS_END: &str = "bus:";

/// Port indices come from a plugin's port list, which the ABI counts in `u32`.
pub(super) fn index_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}
