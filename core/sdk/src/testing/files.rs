//! The mock's namespace under the root, as the real host keeps it: what `stat`,
//! `list_dir`, `remove_file`, `open_partial` and `file_digest` find (every prefix of a
//! file's path is a directory; a partial being continued is locked).

use super::calls::{dir_stat, stat_of, valid_path};
use super::{MockHost, OpenFile};
use crate::abi::{self, SyStat};

impl MockHost {
    pub(super) fn files_stat(&mut self, path: &str) -> Result<SyStat, u32> {
        if !valid_path(path) {
            return Err(abi::SY_ERR_ACCESS);
        }
        if let Some(data) = self.files.get(path) {
            return Ok(stat_of(data));
        }
        let inside = format!("{path}/");
        if self.files.keys().any(|name| name.starts_with(&inside)) {
            return Ok(dir_stat());
        }
        Err(abi::SY_ERR_NOT_FOUND)
    }
    /// The files directly in `path`, and its subdirectories (each prefix of a deeper
    /// file's path), each once.
    pub(super) fn files_list_dir(&mut self, path: &str) -> Result<Vec<(String, SyStat)>, u32> {
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        let mut entries: Vec<(String, SyStat)> = Vec::new();
        for (name, data) in &self.files {
            let Some(rest) = name.strip_prefix(&prefix) else {
                continue;
            };
            let entry = match rest.split_once('/') {
                None => (rest.to_owned(), stat_of(data)),
                Some((dir, _)) if entries.last().is_some_and(|(n, _)| n == dir) => continue,
                Some((dir, _)) => (dir.to_owned(), dir_stat()),
            };
            entries.push(entry);
        }
        Ok(entries)
    }
    pub(super) fn files_remove_file(&mut self, path: &str) -> u32 {
        // As the host: a partial being continued is locked against removal.
        if self.continued(path) {
            return abi::SY_ERR_BUSY;
        }
        match self.files.remove(path) {
            Some(_) => abi::SY_OK,
            None => abi::SY_ERR_NOT_FOUND,
        }
    }
    pub(super) fn files_open_partial(&mut self, path: &str) -> Result<(u64, u64), u32> {
        if !valid_path(path) || !path.rsplit('/').next().unwrap_or("").starts_with('.') {
            return Err(abi::SY_ERR_ACCESS);
        }
        if self.continued(path) {
            return Err(abi::SY_ERR_BUSY);
        }
        let Some(data) = self.files.get(path).cloned() else {
            return Err(abi::SY_ERR_NOT_FOUND);
        };
        Ok(self.hand_out(OpenFile {
            data,
            temp: true,
            continues: Some(path.to_owned()),
            read_from: None,
        }))
    }
    /// As the host on a cache miss: the side file beside the path the file was opened
    /// at, if it matches the open file's size and time.
    pub(super) fn files_file_digest(&mut self, file: u64) -> Result<[u8; 32], u32> {
        let f = self.open.get(&file).ok_or(abi::SY_ERR_INVALID)?;
        let path = f.read_from.as_deref().ok_or(abi::SY_ERR_INVALID)?;
        let stat = crate::Stat::from(stat_of(&f.data));
        crate::sums::side_path(path)
            .and_then(|side| self.files.get(&side))
            .and_then(|text| std::str::from_utf8(text).ok())
            .and_then(|text| crate::sums::parse(text, &stat))
            .ok_or(abi::SY_ERR_NOT_FOUND)
    }
}
