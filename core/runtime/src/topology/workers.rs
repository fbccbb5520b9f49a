//! A handler's `workers`: checked against what its plugin declares, and defaulted.
//!
//! Why the plugin decides whether more than one is allowed: a worker is a thread with
//! its own instances, so a plugin whose instance holds state every peer must see (chat
//! rooms) would silently split into several independent services. Such a plugin runs
//! on one worker, and asking for more is an error here rather than a surprise later.

use switchyard_sdk::abi;

use super::catalog::PluginDescription;
use super::collect::Diag;
use super::diagnostic::DiagnosticKind;
use super::document::Document;
use super::reader::Reader;

/// More threads than this for one handler is a typo, not a plan.
pub const MAX_WORKERS: u32 = 256;

/// The workers of a handler that does not say: one per CPU for a plugin that shards,
/// else one.
pub fn default_workers(plugin: &PluginDescription) -> usize {
    if plugin.sharding == abi::SY_SHARD_NONE {
        1
    } else {
        std::thread::available_parallelism().map_or(1, usize::from)
    }
}

/// Each handler's worker count, in document order (1 where it cannot be known); every
/// problem is reported at its `workers` value.
pub(crate) fn check(
    r: &mut Reader<'_>,
    doc: &Document<'_>,
    plugins: &[Option<PluginDescription>],
) -> Vec<usize> {
    doc.handlers
        .iter()
        .zip(plugins)
        .map(|(h, plugin)| {
            let Some(plugin) = plugin else { return 1 };
            let Some(asked) = &h.workers else {
                return default_workers(plugin);
            };
            let problem = if asked.value == 0 {
                Some((
                    format!("`workers` of handler `{}` is at least 1", h.name.value),
                    "no thread would serve it".to_owned(),
                    "leave `workers` out for one per CPU".to_owned(),
                ))
            } else if asked.value > MAX_WORKERS {
                Some((
                    format!("`workers` of handler `{}` is at most {MAX_WORKERS}", h.name.value),
                    "more threads than cores only adds switching".to_owned(),
                    "leave `workers` out for one per CPU".to_owned(),
                ))
            } else if asked.value > 1 && plugin.sharding == abi::SY_SHARD_NONE {
                Some((
                    format!(
                        "handler `{}` cannot run on {} workers: plugin `{}` runs on one (its instance's state is shared by all its peers)",
                        h.name.value, asked.value, plugin.name
                    ),
                    "this plugin does not shard".to_owned(),
                    "remove `workers`, or set it to 1".to_owned(),
                ))
            } else {
                None
            };
            match problem {
                Some((message, label, help)) => {
                    r.push(
                        Diag::new(DiagnosticKind::BadValue, asked.span.clone(), message)
                            .label(label)
                            .help(Some(help)),
                    );
                    1
                }
                None => asked.value as usize,
            }
        })
        .collect()
}
