//! Starting a transfer: where its file is, the netascii prefetch, the option
//! negotiation's parameters, the transfer socket and the first packets.
//!
//! Why apart from `mod.rs`: a request becomes a transfer in one place, and everything
//! after it ([`drive`](super::drive)) only runs actions on a transfer that exists.

use std::net::SocketAddr;

use switchyard_sdk::prelude::*;

use super::{Convert, Live, Machine, Parked, Tftp, ports, storage_error};
use crate::admission::Request;
use crate::netascii;
use crate::options;
use crate::packet::{self, ErrorCode, RequestKind};
use crate::transfer::{Receiver, Sender};

impl Tftp {
    pub(super) fn start(
        &mut self,
        ctx: &mut Ctx<'_>,
        listener: SocketId,
        peer: SocketAddr,
        req: &Request,
    ) -> Result<(), (ErrorCode, &'static str)> {
        let path = self.locate(ctx, req)?;
        if req.kind == RequestKind::Read && req.netascii {
            return self.prefetch_netascii(ctx, listener, peer, req, path);
        }
        self.begin(ctx, listener, peer, req, &path, None)
    }

    /// Open a netascii download's file and have the host bring it into the page cache;
    /// the transfer begins when it is there ([`Tftp::on_prefetched`]).
    fn prefetch_netascii(
        &mut self,
        ctx: &mut Ctx<'_>,
        listener: SocketId,
        peer: SocketAddr,
        req: &Request,
        path: String,
    ) -> Result<(), (ErrorCode, &'static str)> {
        let (file, size) = ctx.open_read(&path).map_err(storage_error)?;
        if size > self.cfg.max_netascii_bytes {
            let _ = ctx.close_file(file);
            return Err((
                ErrorCode::NotDefined,
                "file too large for netascii, use octet",
            ));
        }
        self.next_prefetch += 1;
        let token = self.next_prefetch;
        if let Err(e) = ctx.prefetch_file(file, 0, size, token) {
            let _ = ctx.close_file(file);
            return Err(storage_error(e));
        }
        self.admission.started(peer, req);
        let parked = Parked {
            listener,
            peer,
            req: req.clone(),
            path,
            file,
            size,
        };
        self.prefetching.insert(token, parked);
        Ok(())
    }

    /// A netascii download's file is cached (or could not be read): begin it, or
    /// refuse it.
    pub(super) fn on_prefetched(
        &mut self,
        ctx: &mut Ctx<'_>,
        token: u64,
        result: Result<(), HostError>,
    ) {
        let Some(p) = self.prefetching.remove(&token) else {
            return;
        };
        let begun = match result {
            Ok(()) => {
                let opened = Some((p.file, p.size));
                self.begin(ctx, p.listener, p.peer, &p.req, &p.path, opened)
            }
            Err(e) => {
                let _ = ctx.close_file(p.file);
                Err(storage_error(e))
            }
        };
        if let Err((code, msg)) = begun {
            self.transfer_ended(ctx, p.peer, p.req.kind, &p.req.path);
            let what = (Some(p.req.kind), p.req.requested.as_str());
            Tftp::refuse(ctx, p.listener, p.peer, what, code, msg);
        }
    }

    /// Begin a transfer of `path` (its file under the root): negotiate, open its
    /// socket, send the first packet. `opened`: a download's file, already open and
    /// counted against the limits (netascii).
    fn begin(
        &mut self,
        ctx: &mut Ctx<'_>,
        listener: SocketId,
        peer: SocketAddr,
        req: &Request,
        path: &str,
        opened: Option<(FileId, u64)>,
    ) -> Result<(), (ErrorCode, &'static str)> {
        let now = ctx.now_ms();
        let opts: Vec<packet::Opt<'_>> = req
            .options
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let (file, neg, total, convert) = match req.kind {
            RequestKind::Read => {
                let (file, size) = match opened {
                    Some(f) => f,
                    None => ctx.open_read(path).map_err(storage_error)?,
                };
                let (total, convert) = if req.netascii {
                    match Tftp::netascii_len(ctx, file, size) {
                        Ok(total) => (total, Some(Convert::Encode(netascii::Encoder::new(size)))),
                        Err(e) => {
                            let _ = ctx.close_file(file);
                            return Err(storage_error(e));
                        }
                    }
                } else {
                    (size, None)
                };
                let neg = options::negotiate(
                    req.kind,
                    &opts,
                    self.limits(),
                    (!req.netascii).then_some(size),
                );
                (file, neg, total, convert)
            }
            RequestKind::Write => {
                match ctx.stat(path) {
                    Ok(st) if st.is_dir => {
                        return Err((ErrorCode::AccessViolation, "is a directory"));
                    }
                    Ok(_) if !self.cfg.allow_overwrite => {
                        return Err((ErrorCode::FileExists, "file already exists"));
                    }
                    Ok(_) | Err(HostError::NotFound) => {}
                    Err(e) => return Err(storage_error(e)),
                }
                let neg = options::negotiate(req.kind, &opts, self.limits(), None);
                let free = ctx.free_space().unwrap_or(u64::MAX);
                let room = free.saturating_sub(self.cfg.reserve_free_bytes);
                if let Some(size) = neg.tsize {
                    if size > self.cfg.max_upload_bytes {
                        return Err((ErrorCode::DiskFull, "file too large"));
                    }
                    if size > room {
                        return Err((ErrorCode::DiskFull, "disk full"));
                    }
                }
                if room == 0 {
                    return Err((ErrorCode::DiskFull, "disk full"));
                }
                let file = ctx.create_temp(path).map_err(storage_error)?;
                let convert = req
                    .netascii
                    .then(|| Convert::Decode(netascii::Decoder::new()));
                (file, neg, room, convert)
            }
        };
        let (socket, own_socket) = match self.transfer_socket(ctx, listener) {
            Ok(opened) => opened,
            Err(refusal) => {
                let _ = ctx.close_file(file);
                return Err(refusal);
            }
        };
        let mut params = self.params(&neg);
        let oack = (!neg.granted.is_empty()).then(|| packet::oack(&neg.granted));
        let mut out = Vec::new();
        let size_told = neg.granted.iter().any(|(n, _)| n == "tsize");
        let machine = match req.kind {
            RequestKind::Read => {
                let mut sender = Sender::server(now, params, peer, total, oack, &mut out);
                if size_told {
                    sender.offer_size();
                }
                Machine::Send(sender)
            }
            RequestKind::Write => {
                params.max_bytes = params.max_bytes.min(total);
                Machine::Recv(Receiver::server(now, params, peer, oack, &mut out))
            }
        };
        self.next_id += 1;
        let id = self.next_id;
        if opened.is_none() {
            self.admission.started(peer, req);
        }
        let session = if own_socket {
            self.by_socket.insert(socket, id);
            socket.0
        } else {
            self.by_peer.insert((socket, peer), id);
            ports::session_key(id)
        };
        let live = Live {
            machine,
            socket,
            own_socket,
            session,
            request: req.datagram.clone(),
            peer,
            file: Some(file),
            kind: req.kind,
            path: path.to_owned(),
            name: req.path.clone(),
            requested: (req.requested != path).then(|| req.requested.clone()),
            convert,
            options: neg.summary(),
            started_ms: now,
            armed: None,
            running: true,
            closed: false,
            total: match req.kind {
                RequestKind::Read => Some(total),
                RequestKind::Write => neg.tsize,
            },
            described: None,
        };
        self.step(ctx, id, live, out);
        Ok(())
    }

    /// The netascii length of a file: one counting pass, so the last block is known.
    fn netascii_len(ctx: &mut Ctx<'_>, file: FileId, size: u64) -> Result<u64, HostError> {
        let mut buf = vec![0u8; 64 * 1024];
        let (mut off, mut total) = (0u64, 0u64);
        while off < size {
            let n = ctx.read_file(file, off, &mut buf)?;
            if n == 0 {
                break;
            }
            total += netascii::encoded_len(&buf[..n]);
            off += n as u64;
        }
        Ok(total)
    }
}
