//! Typed messages a plugin emits on an output port, sent to the routed handlers and
//! offered to the bus for the routed subjects (never waiting: `bus::outbox`).
//!
//! The host does not read them: what it counts of a transfer comes from
//! `session_end` (`calls::sessions`), whatever the plugin's message types.

use std::sync::Arc;

use switchyard_sdk::abi;

use crate::actor::InstanceActor;
use crate::actor::messages::TypedMessage;
use crate::bus::outbox::Outgoing;

/// Largest typed message.
const MAX_MESSAGE: usize = 1024 * 1024;

pub fn emit(actor: &mut InstanceActor, port: u32, data: &[u8]) -> u32 {
    let shared = &actor.shared;
    let Some(decl) = shared.plugin.info().ports.get(port as usize) else {
        return abi::SY_ERR_INVALID;
    };
    if decl.input {
        return abi::SY_ERR_INVALID;
    }
    if data.len() > MAX_MESSAGE {
        return abi::SY_ERR_LIMIT;
    }
    let routes = shared.outputs.get(&port).map_or(&[][..], Vec::as_slice);
    let subjects = shared.bus_outputs.get(&port).map_or(&[][..], Vec::as_slice);
    if routes.is_empty() && subjects.is_empty() {
        return abi::SY_OK;
    }
    let type_name = Arc::clone(&shared.type_names[port as usize]);
    let source: Arc<str> = Arc::from(format!("{}.{}", shared.name, decl.name));
    if let Some(bus) = &shared.bus {
        let payload = bytes::Bytes::copy_from_slice(data);
        for subject in subjects {
            bus.outbox.offer(Outgoing {
                subject: Arc::clone(subject),
                type_name: Arc::clone(&type_name),
                source: Arc::clone(&source),
                payload: payload.clone(),
            });
        }
    }
    let data: Arc<[u8]> = Arc::from(data);
    let registry = actor.registry.read().unwrap_or_else(|e| e.into_inner());
    for r in routes {
        let Some(workers) = registry.get(&r.to_handler) else {
            continue;
        };
        // One worker in turn, or a copy to each, as the receiving plugin declared.
        for addr in workers.for_message() {
            addr.do_send(TypedMessage {
                port: r.to_port,
                source: Arc::clone(&source),
                type_name: Arc::clone(&type_name),
                data: Arc::clone(&data),
            });
        }
    }
    abi::SY_OK
}
