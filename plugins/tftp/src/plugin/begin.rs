//! Starting a transfer once its storage step (`open`) found its file: the netascii
//! prefetch, the option negotiation's parameters, the transfer socket and the first
//! packets.
//!
//! Why apart from `mod.rs`: a request becomes a transfer in one place, and everything
//! after it ([`drive`](super::drive)) only runs actions on a transfer that exists.

use std::net::SocketAddr;

use switchyard_sdk::prelude::*;

use super::open::Found;
use super::{Convert, Live, Machine, Parked, Tftp, ports, storage_error};
use crate::admission::Request;
use crate::netascii;
use crate::options;
use crate::packet::{self, ErrorCode, RequestKind};
use crate::transfer::{Receiver, Sender};

impl Tftp {
    /// A request whose storage step is done: its transfer begins, or (netascii) its
    /// file is brought into memory first. `counted`: it already counts as started.
    pub(super) fn proceed(
        &mut self,
        ctx: &mut Ctx<'_>,
        listener: SocketId,
        peer: SocketAddr,
        req: &Request,
        found: Found,
        counted: bool,
    ) -> Result<(), (ErrorCode, &'static str)> {
        match found {
            Found::Read { path, file, size } if req.netascii => {
                let parked = Parked {
                    listener,
                    peer,
                    req: req.clone(),
                    path,
                    file,
                    size,
                };
                self.prefetch_netascii(ctx, parked, counted)
            }
            found => self.begin(ctx, listener, peer, req, found, counted),
        }
    }

    /// Have the host bring a netascii download's file into memory; the transfer
    /// begins when it is there ([`Tftp::on_prefetched`]).
    fn prefetch_netascii(
        &mut self,
        ctx: &mut Ctx<'_>,
        parked: Parked,
        counted: bool,
    ) -> Result<(), (ErrorCode, &'static str)> {
        self.next_prefetch += 1;
        let token = self.next_prefetch;
        if let Err(e) = ctx.prefetch_file(parked.file, 0, parked.size, token) {
            let _ = ctx.close_file(parked.file);
            return Err(storage_error(e));
        }
        if !counted {
            self.admission.started(parked.peer, &parked.req);
        }
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
            return self.on_warmed(ctx, token, result);
        };
        let begun = match result {
            Ok(()) => {
                let found = Found::Read {
                    path: p.path.clone(),
                    file: p.file,
                    size: p.size,
                };
                self.begin(ctx, p.listener, p.peer, &p.req, found, true)
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

    /// Begin a transfer of what the storage step found: negotiate, open its socket,
    /// send the first packet. `counted`: it already counts against the limits.
    fn begin(
        &mut self,
        ctx: &mut Ctx<'_>,
        listener: SocketId,
        peer: SocketAddr,
        req: &Request,
        found: Found,
        counted: bool,
    ) -> Result<(), (ErrorCode, &'static str)> {
        let now = ctx.now_ms();
        let opts: Vec<packet::Opt<'_>> = req
            .options
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let (path, file_size) = match &found {
            Found::Read { path, size, .. } => (path.clone(), *size),
            Found::Write { path, .. } => (path.clone(), 0),
        };
        let (file, neg, total, convert) = match found {
            Found::Read { file, size, .. } => {
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
            Found::Write { file, room, .. } => {
                let neg = options::negotiate(req.kind, &opts, self.limits(), None);
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
        if !counted {
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
            requested: (req.requested != path).then(|| req.requested.clone()),
            path,
            name: req.path.clone(),
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
            file_size,
            unsent: Vec::new(),
            cold: false,
            warming: None,
            warm_until: 0,
            after_commit: None,
            commit_by: None,
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
