//! The streams an actor polls: datagrams from a UDP socket, connections from a TCP
//! listener, and bytes from a TCP connection.
//!
//! Each is a `Stream` added to the actor's context, so an item is handled by the
//! actor directly, without a mailbox hop. None of them ends on a transient error: an
//! ICMP error reported on a UDP socket, or `EMFILE` on accept, is handed to the actor
//! and the stream goes on (after a pause, for accept, so a full fd table is no busy loop).

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use tokio::io::ReadBuf;
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// Largest UDP payload (IPv6 jumbograms aside).
const MAX_DATAGRAM: usize = 65536;

/// One datagram, or a socket error, from socket `socket`.
#[derive(Debug)]
pub struct UdpItem {
    pub socket: u64,
    pub result: io::Result<(SocketAddr, Vec<u8>)>,
}

impl actix::Message for UdpItem {
    type Result = ();
}

/// Datagrams from one socket.
#[derive(Debug)]
pub struct UdpRecv {
    pub sock: Rc<UdpSocket>,
    pub id: u64,
    buf: Box<[u8]>,
}

impl UdpRecv {
    pub fn new(sock: Rc<UdpSocket>, id: u64) -> UdpRecv {
        UdpRecv {
            sock,
            id,
            buf: vec![0u8; MAX_DATAGRAM].into_boxed_slice(),
        }
    }
}

impl Stream for UdpRecv {
    type Item = UdpItem;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<UdpItem>> {
        let this = self.get_mut();
        let mut rb = ReadBuf::new(&mut this.buf);
        match this.sock.poll_recv_from(cx, &mut rb) {
            Poll::Ready(Ok(peer)) => {
                let data = rb.filled().to_vec();
                Poll::Ready(Some(UdpItem {
                    socket: this.id,
                    result: Ok((peer, data)),
                }))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Some(UdpItem {
                socket: this.id,
                result: Err(e),
            })),
            Poll::Pending => Poll::Pending,
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
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Accept {
    pub fn new(listener: TcpListener, name: Rc<str>) -> Accept {
        Accept {
            listener,
            name,
            pause: None,
        }
    }
}

impl Stream for Accept {
    type Item = Accepted;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Accepted>> {
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

/// Bytes from one connection; ends after EOF or an error.
#[derive(Debug)]
pub struct ConnRead {
    pub stream: Rc<TcpStream>,
    pub conn: u64,
    /// How much to read at once: larger while receiving straight into a file.
    pub chunk: Rc<Cell<usize>>,
    done: bool,
}

impl ConnRead {
    pub fn new(stream: Rc<TcpStream>, conn: u64, chunk: Rc<Cell<usize>>) -> ConnRead {
        ConnRead {
            stream,
            conn,
            chunk,
            done: false,
        }
    }
}

impl Stream for ConnRead {
    type Item = ConnItem;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ConnItem>> {
        if self.done {
            return Poll::Ready(None);
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
            let mut buf = vec![0u8; self.chunk.get().max(1)];
            match self.stream.try_read(&mut buf) {
                Ok(0) => {
                    self.done = true;
                    return Poll::Ready(Some(ConnItem {
                        conn: self.conn,
                        input: ConnInput::Eof,
                    }));
                }
                Ok(n) => {
                    buf.truncate(n);
                    return Poll::Ready(Some(ConnItem {
                        conn: self.conn,
                        input: ConnInput::Data(buf),
                    }));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
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
