//! [`Stat`]: what the host says of a file (below `Ctx` and `Storage`, which both
//! return it).

use crate::abi;

/// Metadata of a file under the handler's root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub is_dir: bool,
    pub is_file: bool,
    pub size: u64,
    pub modified_unix: i64,
}

impl From<abi::SyStat> for Stat {
    fn from(s: abi::SyStat) -> Stat {
        Stat {
            is_dir: s.kind == abi::SY_FILE_DIR,
            is_file: s.kind == abi::SY_FILE_REGULAR,
            size: s.size,
            modified_unix: s.modified_unix,
        }
    }
}
