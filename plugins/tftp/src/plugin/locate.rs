//! Where an admitted request's file is under the handler's root: the client's root
//! joined to its mapped name, the client's own directory checked (`unique_root`), and
//! for a download with `case_insensitive`, the name's spelling found when it is not
//! there as sent. The admission decided everything the address and the name decide;
//! this is the part that needs the host's storage (a step that may wait: `open`).

use switchyard_sdk::{HostError, Storage};

use super::{Tftp, storage_error};
use crate::admission::Request;
use crate::names::client_root::NO_DIRECTORY;
use crate::names::{ClientRoot, find_folded, join};
use crate::packet::{ErrorCode, RequestKind};

impl Tftp {
    /// The path under the root that `req` reads or writes.
    pub(super) fn locate(
        &self,
        st: &mut dyn Storage,
        req: &Request,
    ) -> Result<String, (ErrorCode, &'static str)> {
        let base = match &req.root {
            ClientRoot::Root => String::new(),
            ClientRoot::Dir(dir) => dir.clone(),
            ClientRoot::Own { dir, or_root } => match st.stat(dir) {
                Ok(st) if st.is_dir => dir.clone(),
                Ok(_) | Err(HostError::NotFound) if *or_root => String::new(),
                Ok(_) | Err(HostError::NotFound) => {
                    return Err((ErrorCode::AccessViolation, NO_DIRECTORY));
                }
                Err(e) => return Err(storage_error(e)),
            },
        };
        let path = join(&base, &req.path);
        if req.kind == RequestKind::Read
            && self.cfg.case_insensitive
            && matches!(st.stat(&path), Err(HostError::NotFound))
        {
            if let Some(found) = find_folded(st, &base, &req.path).map_err(storage_error)? {
                return Ok(join(&base, &found));
            }
        }
        Ok(path)
    }
}
