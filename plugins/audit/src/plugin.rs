//! The `Protocol` impl: typed messages in (from the `events` port, and from a stream
//! of the bus when configured), records into [`Segments`], commits through the host's
//! storage capability. The stream's position is the transcript's own
//! ([`crate::cursor`]): read back from the newest segments at start.

use std::time::Duration;

use switchyard_sdk::prelude::*;

use crate::config::Config;
use crate::from_stream::{FromStream, READ_RETRY_TIMER, STREAM_TOKEN};
use crate::record;
use crate::segments::Segments;

/// The timer of the next commit.
pub(crate) const FLUSH_TIMER: u64 = 1;
/// The version of the state a replaced instance hands over: the last stream sequence
/// it committed and its current segment's number (little-endian `u64`s).
const STATE_VERSION: u32 = 1;
/// The input port; it accepts every message type.
pub const EVENTS_PORT: &str = "events";

/// The audit handler.
#[derive(Debug)]
pub struct Audit {
    segments: Segments,
    armed: Option<u64>,
    /// Records lost to failed commits of sealed segments.
    lost: u64,
    /// The stream written from, and where the transcript stands in it.
    stream: Option<FromStream>,
}

impl Protocol for Audit {
    type Config = Config;
    const NAME: &'static str = "audit";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "writes every typed message it receives as a JSON line";
    const LISTENERS: Listeners = Listeners::NONE;
    const PORTS: &'static [Port] = &[Port::input(EVENTS_PORT, "*")];
    /// Transcripts hold every chat line with its peer's address: only this plugin
    /// reads them, so the topology keeps its root out of every served root.
    const STORAGE: StorageKind = StorageKind::Private;
    /// A reload hands the stream position over, so the successor reads on exactly
    /// after what this instance committed (nothing twice, nothing skipped).
    const HANDS_OVER_STATE: bool = true;

    fn new(config: Config, ctx: &mut Ctx<'_>) -> Result<Self, String> {
        let name = config.validate()?;
        let existing: Vec<String> = match ctx.list_dir(&name.dir) {
            Ok(entries) => entries.into_iter().map(|(name, _)| name).collect(),
            // The storage API cannot create directories: fail now, not at the first flush.
            Err(HostError::NotFound) => {
                return Err(format!(
                    "file: directory {:?} does not exist under the storage root",
                    name.dir
                ));
            }
            Err(HostError::Unsupported) => {
                return Err("audit needs a storage root: set `root: Some(\"...\")`".into());
            }
            Err(e) => return Err(format!("cannot list the transcript directory: {e}")),
        };
        let segments = Segments::new(
            name.dir,
            name.stem,
            name.ext,
            config.max_segment_bytes,
            config.flush_interval_ms,
            existing.iter().map(String::as_str),
        );
        ctx.info(format_args!(
            "transcript segments start at {}",
            segments.path()
        ));
        let stream = match config.stream {
            None => None,
            Some(name) => {
                let newest_first = segments.existing_paths(existing.iter().map(String::as_str));
                Some(FromStream::new(ctx, name, &newest_first)?)
            }
        };
        Ok(Audit {
            segments,
            armed: None,
            lost: 0,
            stream,
        })
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: Event<'_>) {
        let now = ctx.now_ms();
        match event {
            Event::Message {
                from,
                type_name,
                data,
                ..
            } => {
                let line = record::encode(ctx.now_unix_ms(), from, type_name, data);
                self.segments.append(now, &line);
            }
            Event::StreamMessage {
                token: STREAM_TOKEN,
                sequence,
                type_name,
                from,
                data,
                ..
            } => {
                let taken = self
                    .stream
                    .as_mut()
                    .and_then(|stream| stream.take(ctx, sequence, from, type_name, data));
                if let Some(line) = taken {
                    self.segments.append(now, &line);
                }
            }
            Event::Start
            | Event::Timer {
                token: READ_RETRY_TIMER,
            } => {
                if let Some(stream) = &mut self.stream {
                    stream.start(ctx);
                }
            }
            Event::BusDone {
                token: STREAM_TOKEN,
                result,
            } => {
                if let Some(stream) = &mut self.stream {
                    stream.started(ctx, result);
                }
            }
            Event::Timer { token: FLUSH_TIMER } => self.armed = None,
            Event::Drain => {
                self.segments.drain();
                // What is not read yet stays in the stream for the next instance.
                if let Some(stream) = &mut self.stream {
                    stream.end(ctx);
                }
            }
            _ => {}
        }
        self.flush(ctx, now);
    }

    /// Uncommitted records keep the host's drain waiting for us.
    fn active_sessions(&self) -> u64 {
        self.segments.pending_records()
    }

    /// Stop reading, commit everything taken, and hand over where that leaves the
    /// transcript. `None` (this instance then drains as without the hook) when there
    /// is no stream, or a commit failed and records are still pending.
    fn export_state(&mut self, ctx: &mut Ctx<'_>) -> Option<(u32, Vec<u8>)> {
        let stream = self.stream.as_mut()?;
        stream.end(ctx);
        let last = stream.last();
        self.segments.drain();
        self.flush(ctx, ctx.now_ms());
        if self.segments.pending_records() > 0 {
            ctx.warn("records not committed at the reload: the successor may write them again");
            return None;
        }
        let mut state = last.to_le_bytes().to_vec();
        state.extend_from_slice(&self.segments.number().to_le_bytes());
        Some((STATE_VERSION, state))
    }

    /// Read on after the predecessor's last committed sequence, in a segment after
    /// its own.
    fn import_state(
        &mut self,
        _ctx: &mut Ctx<'_>,
        version: u32,
        state: &[u8],
    ) -> Result<(), String> {
        let (Some(stream), STATE_VERSION, Ok(state)) =
            (&mut self.stream, version, <[u8; 16]>::try_from(state))
        else {
            return Err(format!(
                "state version {version} of {} bytes is not taken",
                state.len()
            ));
        };
        let [last, segment] =
            [&state[..8], &state[8..]].map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
        stream.continue_after(last);
        self.segments.start_after(segment);
        Ok(())
    }
}

impl Audit {
    fn flush(&mut self, ctx: &mut Ctx<'_>, now: u64) {
        for (path, data, records) in self.segments.take_sealed() {
            if let Err(e) = write(ctx, &path, &data) {
                self.lost += records;
                ctx.error(format_args!(
                    "sealing {path} failed ({e}): {records} records lost, {} in all",
                    self.lost
                ));
            }
        }
        if let Some(commit) = self.segments.due(now) {
            match write(ctx, &commit.path, commit.data) {
                Ok(()) => self.segments.committed(),
                Err(e) => {
                    ctx.warn(format_args!(
                        "committing {} failed ({e}); retrying",
                        commit.path
                    ));
                    self.segments.failed(now);
                }
            }
        }
        let deadline = self.segments.poll_timeout();
        if deadline != self.armed {
            let result = match deadline {
                Some(at) => {
                    ctx.set_timer(FLUSH_TIMER, Duration::from_millis(at.saturating_sub(now)))
                }
                None => ctx.cancel_timer(FLUSH_TIMER),
            };
            self.armed = if result.is_ok() { deadline } else { None };
        }
    }
}

/// Write `data` to a temp file beside `path` and commit it over `path`.
fn write(ctx: &mut Ctx<'_>, path: &str, data: &[u8]) -> Result<(), HostError> {
    let file = ctx.create_temp(path)?;
    let result = ctx
        .write_file(file, data)
        .and_then(|()| ctx.commit_file(file, path, true));
    if result.is_err() {
        let _ = ctx.close_file(file);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::testing::{Action, MockHost};

    fn message<'a>(data: &'a [u8]) -> Event<'a> {
        Event::Message {
            port: EVENTS_PORT,
            from: "chat.messages",
            type_name: ChatMessage::TYPE,
            data,
        }
    }

    fn lines(host: &MockHost, path: &str) -> Vec<serde_json::Value> {
        let text = std::str::from_utf8(&host.files[path]).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn messages_become_json_lines_committed_after_the_interval() {
        let mut host = MockHost::new();
        host.files
            .insert("transcript-000004.jsonl".into(), b"old".to_vec());
        let mut audit = host.create::<Audit>("(flush_interval_ms: 100)").unwrap();
        host.take_actions();
        let msg = ChatMessage {
            from: "v1".into(),
            channel: "v1".into(),
            text: "你好".into(),
            at_unix_ms: 5,
        };
        let json = serde_json::to_vec(&msg).unwrap();
        host.deliver(&mut audit, 10, message(&json));
        assert_eq!(
            host.take_io(),
            vec![Action::SetTimer {
                token: FLUSH_TIMER,
                delay_ms: 100
            }]
        );
        host.deliver(&mut audit, 50, message(b"{\"n\":2}"));
        assert_eq!(
            host.take_io(),
            vec![],
            "still buffered, timer already armed"
        );
        host.deliver(&mut audit, 110, Event::Timer { token: FLUSH_TIMER });
        assert_eq!(
            host.take_io(),
            vec![Action::Commit {
                path: "transcript-000005.jsonl".into()
            }]
        );
        assert_eq!(
            host.files["transcript-000004.jsonl"], b"old",
            "never overwritten"
        );
        let records = lines(&host, "transcript-000005.jsonl");
        assert_eq!(records.len(), 2);
        assert_eq!(records[0]["handler_port"], "chat.messages");
        assert_eq!(records[0]["type"], "switchyard.ChatMessage/1");
        assert_eq!(records[0]["data"], serde_json::to_value(&msg).unwrap());
        assert!(records[0]["at_ms"].as_u64().unwrap() > 1_600_000_000_000);
        assert_eq!(records[1]["data"]["n"], 2);
        assert_eq!(host.open_files(), 0);
        assert_eq!(audit.active_sessions(), 0);
    }

    #[test]
    fn drain_commits_at_once_and_later_lines_rewrite_the_segment() {
        let mut host = MockHost::new();
        let mut audit = host.create::<Audit>("(file: \"t.jsonl\")").unwrap();
        host.deliver(&mut audit, 0, message(b"1"));
        assert_eq!(audit.active_sessions(), 1, "the drain waits for it");
        host.deliver(&mut audit, 1, Event::Drain);
        assert_eq!(lines(&host, "t-000001.jsonl").len(), 1);
        host.deliver(&mut audit, 2, message(b"2"));
        assert_eq!(lines(&host, "t-000001.jsonl").len(), 2);
        assert_eq!(audit.active_sessions(), 0);
    }

    #[test]
    fn full_segments_rotate_and_a_full_disk_is_retried() {
        let mut host = MockHost::new();
        let mut audit = host
            .create::<Audit>("(max_segment_bytes: 1024, flush_interval_ms: 10)")
            .unwrap();
        let big = format!("\"{}\"", "x".repeat(600));
        host.deliver(&mut audit, 0, message(big.as_bytes()));
        host.deliver(&mut audit, 1, message(big.as_bytes()));
        assert!(
            host.files.contains_key("transcript-000001.jsonl"),
            "sealed at once"
        );
        host.free_space = 0;
        host.deliver(&mut audit, 20, Event::Timer { token: FLUSH_TIMER });
        assert!(!host.files.contains_key("transcript-000002.jsonl"));
        assert_eq!(host.open_files(), 0, "the failed temp file is closed");
        host.free_space = 1 << 20;
        host.deliver(&mut audit, 30, Event::Timer { token: FLUSH_TIMER });
        assert_eq!(lines(&host, "transcript-000002.jsonl").len(), 1);
    }

    #[test]
    fn bad_config_is_refused() {
        let mut host = MockHost::new();
        assert!(
            host.create::<Audit>("(file: \"../x\")")
                .unwrap_err()
                .contains("file")
        );
        assert!(host.create::<Audit>("(flie: \"x\")").is_err());
    }
}
