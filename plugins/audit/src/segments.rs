//! [`Segments`]: when and what to commit, on a manual clock.
//!
//! The storage API writes only new files (a temp file committed atomically by
//! rename), so "append a line to the transcript" is built as: keep the current
//! segment in memory, and every `flush_interval_ms` (and at drain) commit the
//! whole segment again under its name, overwriting the previous commit. A reader
//! therefore always sees a complete prefix of the segment, a crash loses at most
//! one flush interval, and each flush rewrites at most `max_segment_bytes`. Past
//! that size the segment is sealed (committed a last time) and the next number
//! starts. A restarted instance starts after the highest existing number, so it
//! never overwrites a segment it no longer holds in memory.

/// A commit to perform: write `data` to a temp file and commit it over `path`.
#[derive(Debug, PartialEq, Eq)]
pub struct Commit<'a> {
    pub path: String,
    pub data: &'a [u8],
}

/// The transcript's segments.
#[derive(Debug)]
pub struct Segments {
    dir: String,
    stem: String,
    ext: String,
    seq: u64,
    buf: Vec<u8>,
    /// Sealed segments not committed yet: (path, data, records not committed before).
    sealed: Vec<(String, Vec<u8>, u64)>,
    max_bytes: usize,
    flush_ms: u64,
    /// Records in `buf` not yet committed; `Some(since)` when there are any.
    dirty_since: Option<u64>,
    uncommitted: u64,
    draining: bool,
}

impl Segments {
    /// Start after the highest segment number among `existing` names in `dir`.
    pub fn new<'a>(
        dir: String,
        stem: String,
        ext: String,
        max_bytes: usize,
        flush_ms: u64,
        existing: impl IntoIterator<Item = &'a str>,
    ) -> Segments {
        let last = numbers(&stem, &ext, existing).first().copied().unwrap_or(0);
        Segments {
            dir,
            stem,
            ext,
            seq: last + 1,
            buf: Vec::new(),
            sealed: Vec::new(),
            max_bytes,
            flush_ms,
            dirty_since: None,
            uncommitted: 0,
            draining: false,
        }
    }

    /// The current segment's number.
    pub fn number(&self) -> u64 {
        self.seq
    }

    /// Go on after segment `n` (a predecessor's last), unless past it already. Only
    /// before the first record: what is buffered stays under the old number otherwise.
    pub fn start_after(&mut self, n: u64) {
        if self.buf.is_empty() && self.seq <= n {
            self.seq = n + 1;
        }
    }

    /// The current segment's path.
    pub fn path(&self) -> String {
        self.path_of(self.seq)
    }

    /// The path of segment `n`.
    pub fn path_of(&self, n: u64) -> String {
        let name = format!("{}-{n:06}{}", self.stem, self.ext);
        if self.dir.is_empty() {
            name
        } else {
            format!("{}/{name}", self.dir)
        }
    }

    /// The paths of the segments among `existing` names, newest first.
    pub fn existing_paths<'a>(&self, existing: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        numbers(&self.stem, &self.ext, existing)
            .into_iter()
            .map(|n| self.path_of(n))
            .collect()
    }

    /// Add one record (a full line). If it does not fit, the current segment is
    /// sealed first; a record larger than a whole segment gets a segment of its own.
    pub fn append(&mut self, now: u64, line: &[u8]) {
        if !self.buf.is_empty() && self.buf.len() + line.len() > self.max_bytes {
            let data = std::mem::take(&mut self.buf);
            self.sealed.push((self.path(), data, self.uncommitted));
            self.seq += 1;
            self.uncommitted = 0;
        }
        self.buf.extend_from_slice(line);
        self.uncommitted += 1;
        self.dirty_since.get_or_insert(now);
    }

    /// From now on every record is committed at once.
    pub fn drain(&mut self) {
        self.draining = true;
    }

    /// Sealed segments to commit, oldest first (taken: commit them or count them lost).
    pub fn take_sealed(&mut self) -> Vec<(String, Vec<u8>, u64)> {
        std::mem::take(&mut self.sealed)
    }

    /// The current segment, if its commit is due at `now`.
    pub fn due(&self, now: u64) -> Option<Commit<'_>> {
        let since = self.dirty_since?;
        let due = self.draining || now >= since.saturating_add(self.flush_ms);
        due.then(|| Commit {
            path: self.path(),
            data: &self.buf,
        })
    }

    /// The commit returned by [`Segments::due`] succeeded.
    pub fn committed(&mut self) {
        self.dirty_since = None;
        self.uncommitted = 0;
    }

    /// It failed: try again one interval later (memory stays bounded by the segment
    /// size, since a full segment is sealed and handed out regardless).
    pub fn failed(&mut self, now: u64) {
        self.dirty_since = Some(now);
    }

    /// Records accepted but not committed yet.
    pub fn pending_records(&self) -> u64 {
        self.uncommitted + self.sealed.iter().map(|s| s.2).sum::<u64>()
    }

    /// When the current segment's commit falls due.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.dirty_since
            .map(|since| since.saturating_add(self.flush_ms))
    }
}

/// The segment numbers among `existing` names (`<stem>-<n><ext>`), highest first.
fn numbers<'a>(stem: &str, ext: &str, existing: impl IntoIterator<Item = &'a str>) -> Vec<u64> {
    let mut found: Vec<u64> = existing
        .into_iter()
        .filter_map(|name| {
            name.strip_prefix(stem)?
                .strip_prefix('-')?
                .strip_suffix(ext)
        })
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|n| n.parse::<u64>().ok())
        .collect();
    found.sort_unstable_by(|a, b| b.cmp(a));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(existing: &[&str]) -> Segments {
        Segments::new(
            String::new(),
            "t".into(),
            ".jsonl".into(),
            10,
            100,
            existing.iter().copied(),
        )
    }

    #[test]
    fn numbering_continues_after_existing_segments() {
        assert_eq!(segs(&[]).path(), "t-000001.jsonl");
        let s = segs(&[
            "t-000002.jsonl",
            "t-000010.jsonl",
            "t-x.jsonl",
            "other-000099.jsonl",
            "t-000050.txt",
            "t-.jsonl",
        ]);
        assert_eq!(s.path(), "t-000011.jsonl");
        let s = Segments::new(
            "logs".into(),
            "t".into(),
            String::new(),
            10,
            100,
            ["t-000003"],
        );
        assert_eq!(s.path(), "logs/t-000004");
    }

    #[test]
    fn commits_fall_due_after_the_interval_and_rewrite_the_whole_segment() {
        let mut s = segs(&[]);
        assert_eq!((s.due(0), s.poll_timeout()), (None, None));
        s.append(5, b"ab\n");
        s.append(50, b"cd\n");
        assert_eq!(s.poll_timeout(), Some(105));
        assert_eq!(s.due(104), None);
        assert_eq!(
            s.due(105),
            Some(Commit {
                path: "t-000001.jsonl".into(),
                data: b"ab\ncd\n"
            })
        );
        assert_eq!(s.pending_records(), 2);
        s.committed();
        assert_eq!((s.poll_timeout(), s.pending_records()), (None, 0));
        s.append(200, b"ef\n");
        assert_eq!(s.pending_records(), 1, "only the new line is at risk");
        assert_eq!(
            s.due(300).unwrap().data,
            b"ab\ncd\nef\n",
            "same segment, rewritten with the new line"
        );
    }

    #[test]
    fn a_full_segment_is_sealed_and_the_next_one_starts() {
        let mut s = segs(&[]);
        s.append(0, b"12345\n");
        s.append(0, b"678\n");
        s.append(0, b"9\n");
        assert_eq!(
            s.take_sealed(),
            vec![("t-000001.jsonl".to_string(), b"12345\n678\n".to_vec(), 2)]
        );
        assert_eq!(s.path(), "t-000002.jsonl");
        s.append(0, b"a line longer than a segment\n");
        assert_eq!(s.take_sealed().len(), 1);
        assert_eq!(s.due(100).unwrap().data, b"a line longer than a segment\n");
    }

    #[test]
    fn failure_retries_later_and_drain_commits_at_once() {
        let mut s = segs(&[]);
        s.append(0, b"x\n");
        s.failed(100);
        assert_eq!(s.due(150), None);
        assert_eq!(s.poll_timeout(), Some(200));
        s.drain();
        assert!(s.due(150).is_some());
    }
}
