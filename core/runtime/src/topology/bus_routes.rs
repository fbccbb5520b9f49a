//! Routes between ports and bus subjects: `(from: "chat.messages", to: "bus:chat.lines")`
//! publishes a handler's output on the bus, `(from: "bus:chat.lines", to:
//! "audit.events")` delivers what any other host publishes there (`own: true`: this
//! host's own messages too).
//!
//! A subject carries one type, as a port does: every route of the subject in this
//! topology must agree with it (the first publishing port's type, else the first
//! receiving port's that is not `*`), with the same check and wording as a route
//! between two handlers. Other hosts are checked at run time: each message names its
//! type and schema version, and a receiver refuses one its port does not accept.

use std::ops::Range;

use switchyard_bus::subject_problem;
use switchyard_sdk::abi;

use super::catalog::{PluginDescription, PortDirection};
use super::collect::Diag;
use super::diagnostic::DiagnosticKind;
use super::document::{At, Document, RouteDef};
use super::model::{BusInputRoute, BusOutputRoute};
use super::reader::Reader;
use super::route_ends::{PortEnd, Scope, dangling, input_end, port_end};
use super::routes::{BUS_END, index_u32, is_bus_end};

/// What the bus routes give the topology.
#[derive(Debug, Default)]
pub(crate) struct BusWiring {
    /// For each handler, its outputs published on the bus.
    pub outputs: Vec<Vec<BusOutputRoute>>,
    /// Subjects delivered to input ports, in file order.
    pub inputs: Vec<BusInputRoute>,
    /// Handler -> handler edges through a subject delivered back to its own host
    /// (`own: true`), for the cycle check.
    pub edges: Vec<(usize, usize, Option<Range<usize>>)>,
}

/// One port end of a subject, for the type check.
struct SubjectEnd {
    handler: usize,
    type_name: String,
    /// `handler.port` as written, and where.
    end: At<String>,
    publishes: bool,
    own: bool,
}

/// Check every route with a `bus:` end. `plugins[i]` is handler `i`'s plugin.
pub(crate) fn wire(
    r: &mut Reader<'_>,
    doc: &Document<'_>,
    plugins: &[Option<PluginDescription>],
) -> BusWiring {
    let scope = Scope::new(doc, plugins);
    let mut wiring = BusWiring {
        outputs: vec![Vec::new(); doc.handlers.len()],
        ..BusWiring::default()
    };
    let mut subjects: Vec<(String, Vec<SubjectEnd>)> = Vec::new();
    for route in &doc.routes {
        let (Some(from), Some(to)) = (&route.from, &route.to) else {
            continue;
        };
        let (from_bus, to_bus) = (is_bus_end(&from.value), is_bus_end(&to.value));
        if let Some(own) = &route.own
            && !from_bus
        {
            r.push(
                Diag::new(
                    DiagnosticKind::BadValue,
                    own.span.clone(),
                    "`own` is only for a route from a bus subject",
                )
                .label("not a route from `bus:...`")
                .help(Some(
                    "it says whether this host's own messages on the subject come back to it"
                        .into(),
                )),
            );
        }
        if !from_bus && !to_bus {
            continue;
        }
        if !doc.bus_written {
            let at = if from_bus { from } else { to };
            r.push(
                Diag::new(
                    DiagnosticKind::BadRoute,
                    at.span.clone(),
                    format!(
                        "route end `{}` names a bus subject, but the topology has no `bus`",
                        at.value
                    ),
                )
                .label("no bus to carry it")
                .help(Some(
                    "add `bus: Some((kind: nats, servers: [...], name: \"...\"))`".into(),
                )),
            );
            continue;
        }
        if from_bus && to_bus {
            r.push(
                Diag::new(
                    DiagnosticKind::BadRoute,
                    to.span.clone(),
                    "a route cannot go from a bus subject to a bus subject",
                )
                .label("another subject")
                .help(Some(
                    "routes to and from the bus start or end at a handler's port".into(),
                )),
            );
            continue;
        }
        let (subject_end, port) = if from_bus {
            (from, input_end(r, &scope, to))
        } else {
            (to, output_end(r, &scope, from))
        };
        let subject = checked_subject(r, subject_end);
        let (Some(subject), Some(port)) = (subject, port) else {
            continue;
        };
        let own = route.own.as_ref().is_some_and(|o| o.value);
        if !add_route(
            r,
            &mut wiring,
            route,
            &scope,
            &subject,
            &port,
            from_bus,
            own,
        ) {
            continue;
        }
        let end = if from_bus { to } else { from };
        let ends = match subjects.iter_mut().find(|(s, _)| *s == subject) {
            Some((_, ends)) => ends,
            None => {
                subjects.push((subject.clone(), Vec::new()));
                &mut subjects.last_mut().expect("just pushed").1
            }
        };
        ends.push(SubjectEnd {
            handler: port.handler,
            type_name: port.port.type_name.clone(),
            end: end.clone(),
            publishes: !from_bus,
            own,
        });
    }
    for (subject, ends) in &subjects {
        check_types(r, subject, ends);
        own_edges(&mut wiring, ends);
    }
    wiring
}

/// Record the route in `wiring`, or report it as given twice (`false`).
#[allow(clippy::too_many_arguments)]
fn add_route(
    r: &mut Reader<'_>,
    wiring: &mut BusWiring,
    route: &RouteDef,
    scope: &Scope<'_>,
    subject: &str,
    port: &PortEnd<'_>,
    from_bus: bool,
    own: bool,
) -> bool {
    let repeated = if from_bus {
        let input = BusInputRoute {
            subject: subject.to_string(),
            handler: scope.handler_names[port.handler].to_string(),
            port: index_u32(port.index),
            type_name: port.port.type_name.clone(),
            own,
        };
        let repeated = wiring.inputs.iter().any(|i| {
            (&i.subject, &i.handler, i.port) == (&input.subject, &input.handler, input.port)
        });
        if !repeated {
            wiring.inputs.push(input);
        }
        repeated
    } else {
        let output = BusOutputRoute {
            port: index_u32(port.index),
            subject: subject.to_string(),
            type_name: port.port.type_name.clone(),
        };
        let outputs = &mut wiring.outputs[port.handler];
        let repeated = outputs.contains(&output);
        if !repeated {
            outputs.push(output);
        }
        repeated
    };
    if repeated {
        r.push(
            Diag::new(
                DiagnosticKind::Duplicate,
                route.span.clone(),
                "this route is given twice",
            )
            .label("repeated route"),
        );
    }
    !repeated
}

/// The `from` of a route to the bus: `handler.out_port`.
fn output_end<'p>(r: &mut Reader<'_>, scope: &Scope<'p>, from: &At<String>) -> Option<PortEnd<'p>> {
    if let Some((h, p)) = from.value.split_once('.') {
        return port_end(r, scope, from, h, p, PortDirection::Out);
    }
    if scope.listeners.contains_key(from.value.as_str())
        || scope.handlers.contains_key(from.value.as_str())
    {
        r.push(
            Diag::new(
                DiagnosticKind::BadRoute,
                from.span.clone(),
                format!(
                    "route from `{}` to the bus names no output port",
                    from.value
                ),
            )
            .label("not `handler.port`")
            .help(Some(
                "the bus carries typed messages: route an output port, `handler.port`".into(),
            )),
        );
    } else {
        dangling(r, scope, from, "source", false);
    }
    None
}

/// The subject of a `bus:subject` end, when it is one NATS reads as meant.
fn checked_subject(r: &mut Reader<'_>, end: &At<String>) -> Option<String> {
    let subject = &end.value[BUS_END.len()..];
    let Some(problem) = subject_problem(subject) else {
        return Some(subject.to_string());
    };
    r.push(
        Diag::new(
            DiagnosticKind::BadRoute,
            end.span.clone(),
            format!("invalid bus subject `{subject}`: {problem}"),
        )
        .label("not a plain subject")
        .help(Some(
            "a subject is dotted tokens, e.g. `bus:chat.lines`".into(),
        )),
    );
    None
}

/// Every end of `subject` must agree with the type it carries: the first publishing
/// port's, else the first receiving port's that is not `*`.
fn check_types(r: &mut Reader<'_>, subject: &str, ends: &[SubjectEnd]) {
    let carrier = ends
        .iter()
        .find(|e| e.publishes)
        .or_else(|| ends.iter().find(|e| e.type_name != abi::SY_TYPE_ANY));
    let Some(carrier) = carrier else {
        return;
    };
    for e in ends {
        let agrees =
            e.type_name == carrier.type_name || (!e.publishes && e.type_name == abi::SY_TYPE_ANY);
        if agrees {
            continue;
        }
        let (does, verb) = if e.publishes {
            ("emits", "publishes")
        } else {
            ("accepts", "receives")
        };
        r.push(
            Diag::new(
                DiagnosticKind::TypeMismatch,
                e.end.span.clone(),
                format!(
                    "type mismatch: bus subject `{subject}` carries `{}` (from `{}`), but `{}` {does} `{}`",
                    carrier.type_name, carrier.end.value, e.end.value, e.type_name
                ),
            )
            .label(format!("{verb} `{}`", e.type_name))
            .help(Some("one subject carries one type: use another subject for this one".into())),
        );
    }
}

/// A subject delivered back to its own host links each of its publishers to each such
/// receiver, as a route between them would.
fn own_edges(wiring: &mut BusWiring, ends: &[SubjectEnd]) {
    for to in ends.iter().filter(|e| !e.publishes && e.own) {
        for from in ends.iter().filter(|e| e.publishes) {
            wiring
                .edges
                .push((from.handler, to.handler, to.end.span.clone()));
        }
    }
}
