//! `ls` and `stat` output: like `ls -l` (kind, size, local time, name), sizes aligned.

use switchyard_client_support::locale::ls_time;
use switchyard_files::cmd::list::Entry;
use switchyard_files::cmd::stat::StatOk;

/// `ls -l`'s first column for a kind letter.
fn kind_char(kind: char) -> char {
    match kind {
        'f' => '-',
        'd' => 'd',
        _ => '?',
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// One line per entry: `-  1234567  May  3 14:05  name` (`name/` for a directory).
pub fn ls_lines(entries: &[Entry]) -> Vec<String> {
    let now = now();
    let width = entries
        .iter()
        .map(|e| e.size.to_string().len())
        .max()
        .unwrap_or(1);
    entries
        .iter()
        .map(|e| {
            let slash = if e.kind == 'd' { "/" } else { "" };
            format!(
                "{} {:>width$} {} {}{slash}",
                kind_char(e.kind),
                e.size,
                ls_time(e.mtime, now),
                e.name
            )
        })
        .collect()
}

/// `stat`: the same columns for one file.
pub fn stat_line(name: &str, s: &StatOk) -> String {
    format!(
        "{} {} {} {name}",
        kind_char(s.kind),
        s.size,
        ls_time(s.mtime, now())
    )
}
