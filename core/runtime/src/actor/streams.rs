//! The streams an actor polls: datagrams from a UDP socket, connections from a TCP
//! listener, and bytes from a TCP connection.
//!
//! Each is a `Stream` added to the actor's context, so an item is handled by the
//! actor directly, without a mailbox hop. None of them ends on a transient error: an
//! ICMP error reported on a UDP socket, or `EMFILE` on accept, is handed to the actor
//! and the stream goes on (after a pause, for accept, so a full fd table is no busy loop).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::BufMut;
use futures_util::Stream;
use tokio::net::{TcpListener, TcpStream};

use switchyard_direct_io::DirectSink;

use super::udp_io::{self, UdpFd};

/// One datagram, or a socket error, from socket `socket`.
#[derive(Debug)]
pub struct UdpItem {
    pub socket: u64,
    pub result: io::Result<(SocketAddr, Vec<u8>)>,
}

impl actix::Message for UdpItem {
    type Result = ();
}

/// Whether a listening stream may still take from its socket. Closed by the actor
/// *before* it cancels the stream: actix polls an actor's streams once more after the
/// message that cancels them, and a datagram or connection taken then would have no
/// owner left (lost at a reload, when the socket's next owner is already waiting on
/// it). A closed stream ends without reading, leaving the kernel's queue to the next.
#[derive(Debug, Clone)]
pub struct Gate(Rc<Cell<bool>>);

impl Gate {
    pub fn open() -> Gate {
        Gate(Rc::new(Cell::new(true)))
    }

    /// Stop taking from the socket; the stream ends at its next poll.
    pub fn close(&self) {
        self.0.set(false);
    }

    fn is_open(&self) -> bool {
        self.0.get()
    }
}

/// Datagrams from one socket, taken in batches (`udp_io`) and handed over one by one.
#[derive(Debug)]
pub struct UdpRecv {
    pub sock: Rc<UdpFd>,
    pub id: u64,
    gate: Gate,
    /// Taken from the socket, not yet handed to the actor.
    taken: VecDeque<io::Result<(SocketAddr, Vec<u8>)>>,
}

impl UdpRecv {
    pub fn new(sock: Rc<UdpFd>, id: u64, gate: Gate) -> UdpRecv {
        UdpRecv {
            sock,
            id,
            gate,
            taken: VecDeque::new(),
        }
    }
}

impl Stream for UdpRecv {
    type Item = UdpItem;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<UdpItem>> {
        let this = self.get_mut();
        if !this.gate.is_open() {
            return Poll::Ready(None);
        }
        loop {
            if let Some(result) = this.taken.pop_front() {
                return Poll::Ready(Some(UdpItem {
                    socket: this.id,
                    result,
                }));
            }
            if udp_io::poll_recv_batch(&this.sock, cx, &mut this.taken).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

/// One accepted connection, or an accept error, from listener `listener`.
#[derive(Debug)]
pub struct Accepted {
    pub listener: Rc<str>,
    pub result: io::Result<(TcpStream, SocketAddr)>,
}

impl actix::Message for Accepted {
    type Result = ();
}

/// Connections from one listener.
#[derive(Debug)]
pub struct Accept {
    pub listener: TcpListener,
    pub name: Rc<str>,
    gate: Gate,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Accept {
    pub fn new(listener: TcpListener, name: Rc<str>, gate: Gate) -> Accept {
        Accept {
            listener,
            name,
            gate,
            pause: None,
        }
    }
}

impl Stream for Accept {
    type Item = Accepted;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Accepted>> {
        if !self.gate.is_open() {
            return Poll::Ready(None);
        }
        if let Some(p) = self.pause.as_mut() {
            if p.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.pause = None;
        }
        match self.listener.poll_accept(cx) {
            Poll::Ready(Ok(conn)) => Poll::Ready(Some(Accepted {
                listener: self.name.clone(),
                result: Ok(conn),
            })),
            Poll::Ready(Err(e)) => {
                // EMFILE and friends: back off instead of spinning on a full fd table.
                self.pause = Some(Box::pin(tokio::time::sleep(Duration::from_millis(100))));
                Poll::Ready(Some(Accepted {
                    listener: self.name.clone(),
                    result: Err(e),
                }))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// What came from a connection.
#[derive(Debug)]
pub enum ConnInput {
    Data(Vec<u8>),
    /// This many bytes were read straight into the active direct receive.
    Direct(usize),
    Eof,
    Failed(io::Error),
}

#[derive(Debug)]
pub struct ConnItem {
    pub conn: u64,
    pub input: ConnInput,
}

impl actix::Message for ConnItem {
    type Result = ();
}

/// Shared between a connection's read stream and its actor: how much to read at
/// once, whether reading is paused, and a small pool of buffers.
///
/// Pausing is a flag the stream checks on every poll (not a cancelled future): actix
/// keeps polling a stream for several items after a handler returns, so only a flag
/// stops the very next read. Buffers come back through the pool, so a read neither
/// allocates nor zeroes memory (large memsets and memcpys are slow on these VMs).
#[derive(Debug, Default)]
pub struct ReadControl {
    chunk: Cell<usize>,
    paused: Cell<bool>,
    waker: RefCell<Option<Waker>>,
    pool: RefCell<Vec<Vec<u8>>>,
    /// While set, reads go straight into this receive's buffers.
    direct: RefCell<Option<Rc<RefCell<DirectSink>>>>,
}

impl ReadControl {
    pub fn new(chunk: usize) -> ReadControl {
        ReadControl {
            chunk: Cell::new(chunk),
            ..ReadControl::default()
        }
    }

    pub fn set_chunk(&self, chunk: usize) {
        self.chunk.set(chunk);
    }

    pub fn paused(&self) -> bool {
        self.paused.get()
    }

    pub fn pause(&self) {
        self.paused.set(true);
    }

    pub fn resume(&self) {
        self.paused.set(false);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Read into `direct` from now on (`Some`), or back into own buffers (`None`).
    pub fn set_direct(&self, direct: Option<Rc<RefCell<DirectSink>>>) {
        *self.direct.borrow_mut() = direct;
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Give a buffer back for the next read.
    pub fn recycle(&self, mut buf: Vec<u8>) {
        let mut pool = self.pool.borrow_mut();
        if pool.len() < 2 {
            buf.clear();
            pool.push(buf);
        }
    }

    fn buffer(&self) -> Vec<u8> {
        let chunk = self.chunk.get().max(1);
        let mut buf = self.pool.borrow_mut().pop().unwrap_or_default();
        if buf.capacity() < chunk {
            buf.reserve_exact(chunk);
        }
        buf
    }
}

/// Bytes from one connection; ends after EOF or an error.
#[derive(Debug)]
pub struct ConnRead {
    pub stream: Rc<TcpStream>,
    pub conn: u64,
    ctl: Rc<ReadControl>,
    done: bool,
}

impl ConnRead {
    pub fn new(stream: Rc<TcpStream>, conn: u64, ctl: Rc<ReadControl>) -> ConnRead {
        ConnRead {
            stream,
            conn,
            ctl,
            done: false,
        }
    }

    /// One whose EOF was already read (a connection moved after its peer's EOF): it
    /// ends at once, so the EOF is not read and told a second time.
    pub fn past_eof(self) -> ConnRead {
        ConnRead { done: true, ..self }
    }
}

impl Stream for ConnRead {
    type Item = ConnItem;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ConnItem>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.ctl.paused() {
            *self.ctl.waker.borrow_mut() = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let direct = self.ctl.direct.borrow().clone();
        if let Some(d) = direct {
            return self.poll_direct(&d, cx);
        }
        loop {
            match self.stream.poll_read_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    self.done = true;
                    return Poll::Ready(Some(ConnItem {
                        conn: self.conn,
                        input: ConnInput::Failed(e),
                    }));
                }
                Poll::Ready(Ok(())) => {}
            }
            let mut buf = self.ctl.buffer();
            let chunk = self.ctl.chunk.get().max(1);
            // Read into the spare capacity only: no zeroing.
            let spare = buf.capacity().min(chunk);
            let result = {
                let mut limited = (&mut buf).limit(spare);
                self.stream.try_read_buf(&mut limited)
            };
            match result {
                Ok(0) => {
                    self.done = true;
                    self.ctl.recycle(buf);
                    return Poll::Ready(Some(ConnItem {
                        conn: self.conn,
                        input: ConnInput::Eof,
                    }));
                }
                Ok(_) => {
                    return Poll::Ready(Some(ConnItem {
                        conn: self.conn,
                        input: ConnInput::Data(buf),
                    }));
                }
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::Interrupted =>
                {
                    self.ctl.recycle(buf);
                    continue;
                }
                Err(e) => {
                    self.done = true;
                    return Poll::Ready(Some(ConnItem {
                        conn: self.conn,
                        input: ConnInput::Failed(e),
                    }));
                }
            }
        }
    }
}

impl ConnRead {
    /// Read straight into the direct receive's buffer: no copy between the socket and
    /// the disk. Waits (woken by the receive's buffer pool) while all its buffers are
    /// in flight, and (woken by `set_direct`) once it wants no more bytes.
    fn poll_direct(
        &mut self,
        d: &RefCell<DirectSink>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<ConnItem>> {
        loop {
            match self.stream.poll_read_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Some(self.failed(e))),
                Poll::Ready(Ok(())) => {}
            }
            let mut d = d.borrow_mut();
            let Some(spare) = d.spare(cx.waker()) else {
                return Poll::Pending;
            };
            if spare.is_empty() {
                *self.ctl.waker.borrow_mut() = Some(cx.waker().clone());
                return Poll::Pending;
            }
            match self.stream.try_read(spare) {
                Ok(0) => {
                    self.done = true;
                    return Poll::Ready(Some(ConnItem {
                        conn: self.conn,
                        input: ConnInput::Eof,
                    }));
                }
                Ok(n) => {
                    d.filled(n);
                    return Poll::Ready(Some(ConnItem {
                        conn: self.conn,
                        input: ConnInput::Direct(n),
                    }));
                }
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Some(self.failed(e))),
            }
        }
    }

    fn failed(&mut self, e: io::Error) -> ConnItem {
        self.done = true;
        ConnItem {
            conn: self.conn,
            input: ConnInput::Failed(e),
        }
    }
}
