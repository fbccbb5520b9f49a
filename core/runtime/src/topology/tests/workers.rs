//! `workers`: checked against what the plugin declares, defaulted per plugin.

use super::fake::{assert_at, compile_text, errors, only, pos};
use crate::topology::DiagnosticKind;
use crate::topology::workers::default_workers;

/// A `files` handler (shards: any worker) and a `chat` handler (one worker), with
/// `files_extra` and `chat_extra` added to each.
fn layout(files_extra: &str, chat_extra: &str) -> String {
    format!(
        r#"(
    listeners: {{
        "t": (kind: tcp, bind: "127.0.0.1:0"),
        "u": (kind: udp, bind: "127.0.0.1:0"),
    }},
    handlers: {{
        "files": (plugin: "files", root: Some("./data"), {files_extra}),
        "chat": (plugin: "chat", {chat_extra}),
    }},
    routes: [ (from: "t", to: "files"), (from: "u", to: "chat") ],
)
"#
    )
}

#[test]
fn workers_default_to_the_cpus_for_a_sharding_plugin_and_to_one_otherwise() {
    let t = compile_text(&layout("", "")).expect("compiles");
    let files = &t.handlers[0];
    assert_eq!(files.workers, default_workers(&files.plugin));
    assert_eq!(
        files.workers,
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    assert_eq!(t.handlers[1].workers, 1);
    let t = compile_text(&layout("workers: 3", "workers: 1")).expect("compiles");
    assert_eq!((t.handlers[0].workers, t.handlers[1].workers), (3, 1));
}

#[test]
fn more_than_one_worker_for_a_plugin_that_does_not_shard_is_an_error_at_the_value() {
    let text = layout("", "workers: 4");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e}");
    let d = only(&e, DiagnosticKind::BadValue);
    assert_at(&d, pos(&text, "4),"));
    assert!(
        d.message.contains("handler `chat` cannot run on 4 workers")
            && d.message.contains("plugin `chat` runs on one"),
        "{}",
        d.message
    );
    assert!(d.help.as_deref().unwrap().contains("set it to 1"), "{d:?}");
}

#[test]
fn zero_and_too_many_workers_are_errors_both_reported() {
    let text = layout("workers: 0", "workers: 257");
    let e = errors(&text);
    assert_eq!(e.len(), 2, "{e}");
    let messages: Vec<&str> = e.iter().map(|d| d.message.as_str()).collect();
    assert!(
        messages.iter().any(|m| m.contains("`files` is at least 1")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("`chat` is at most 256")),
        "{messages:?}"
    );
}
