//! TCP sockets for Rust code running inside the simulation (a test's peer,
//! a host-side fixture): the same stacks and event log as a guest's
//! sockets, without a guest's grants.

use std::future::poll_fn;
use std::net::SocketAddr;

use super::Node;
use super::tcp::{DEFAULT_BACKLOG, Read, Ready, WriteError};
use crate::bindings::sockets::network::ErrorCode;

/// A listening TCP socket on a [`Node`]; closed (its unaccepted
/// connections reset) when dropped.
pub struct TcpListener {
    node: Node,
    id: u64,
}

/// One TCP connection; closed when dropped (a FIN after what was written,
/// or a RST when received data was never read).
pub struct TcpStream {
    node: Node,
    id: u64,
}

impl Node {
    /// `socket` + `bind` + `listen`: a listener on `addr` (port 0: an
    /// ephemeral port drawn from the seed) with `backlog` connections
    /// (`None`: 128). Errors as a guest's `start-bind` would give them.
    pub fn tcp_listen_backlog(
        &self,
        addr: SocketAddr,
        backlog: Option<u32>,
    ) -> Result<TcpListener, ErrorCode> {
        let mut core = self.handle.shared.core();
        let id = core.tcp_open(self.index, addr.is_ipv6());
        let listening = core
            .tcp_bind(id, addr)
            .and_then(|()| core.tcp_listen(id, backlog.unwrap_or(DEFAULT_BACKLOG)));
        if let Err(code) = listening {
            core.tcp_close(id, true);
            return Err(code);
        }
        Ok(TcpListener {
            node: self.clone(),
            id,
        })
    }

    /// [`Node::tcp_listen_backlog`] with the default backlog.
    pub fn tcp_listen(&self, addr: SocketAddr) -> Result<TcpListener, ErrorCode> {
        self.tcp_listen_backlog(addr, None)
    }

    /// `socket` + `connect`: waits (in simulated time) for the handshake.
    /// `connection-refused` when the peer answers with a RST, `timeout`
    /// when it never answers.
    pub async fn tcp_connect(&self, addr: SocketAddr) -> Result<TcpStream, ErrorCode> {
        let shared = self.handle.shared.clone();
        let id = shared.core().tcp_open(self.index, addr.is_ipv6());
        let stream = TcpStream {
            node: self.clone(),
            id,
        };
        shared.core().tcp_connect(id, addr)?;
        poll_fn(|cx| shared.core().tcp_poll(id, Ready::Connect, cx)).await;
        // The outcome first: dropping `stream` takes the core's lock.
        let outcome = shared.core().tcp_connected(id);
        match outcome {
            std::task::Poll::Ready(Ok(())) => Ok(stream),
            std::task::Poll::Ready(Err(code)) => Err(code),
            std::task::Poll::Pending => Err(ErrorCode::InvalidState),
        }
    }
}

impl TcpListener {
    /// Its local address.
    pub fn local_addr(&self) -> Result<SocketAddr, ErrorCode> {
        self.node.handle.shared.core().tcp_local(self.id)
    }

    /// `accept`: waits for the next established connection.
    pub async fn accept(&self) -> Result<(TcpStream, SocketAddr), ErrorCode> {
        let shared = self.node.handle.shared.clone();
        loop {
            let accepted = shared.core().tcp_accept(self.id)?;
            if let Some(id) = accepted {
                let stream = TcpStream {
                    node: self.node.clone(),
                    id,
                };
                let peer = stream.peer_addr()?;
                return Ok((stream, peer));
            }
            poll_fn(|cx| shared.core().tcp_poll(self.id, Ready::Accept, cx)).await;
        }
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        self.node.handle.shared.core().tcp_close(self.id, false);
    }
}

impl TcpStream {
    /// Its local address.
    pub fn local_addr(&self) -> Result<SocketAddr, ErrorCode> {
        self.node.handle.shared.core().tcp_local(self.id)
    }

    /// Its peer's address.
    pub fn peer_addr(&self) -> Result<SocketAddr, ErrorCode> {
        self.node.handle.shared.core().tcp_peer(self.id)
    }

    /// `recv`: waits for data; `Ok(0)` at the end of the stream.
    pub async fn read(&self, buf: &mut [u8]) -> Result<usize, ErrorCode> {
        let shared = self.node.handle.shared.clone();
        loop {
            match shared.core().tcp_read(self.id, buf.len()) {
                Read::Data(data) => {
                    buf[..data.len()].copy_from_slice(&data);
                    return Ok(data.len());
                }
                Read::End => return Ok(0),
                Read::Failed(code) => return Err(code),
                Read::WouldBlock => {}
            }
            poll_fn(|cx| shared.core().tcp_poll(self.id, Ready::Read, cx)).await;
        }
    }

    /// Reads until the end of the stream.
    pub async fn read_to_end(&self) -> Result<Vec<u8>, ErrorCode> {
        let mut out = Vec::new();
        let mut buf = vec![0; 16 * 1024];
        loop {
            match self.read(&mut buf).await? {
                0 => return Ok(out),
                n => out.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// Whether a write would be taken now (false while the peer's window
    /// and this socket's send buffer are full).
    pub fn writable(&self) -> Result<bool, ErrorCode> {
        write_result(self.node.handle.shared.core().tcp_writable(self.id))
    }

    /// `send` of all of `data`: waits for room, then until every byte is
    /// in the send buffer (as the peer reads).
    pub async fn write_all(&self, data: &[u8]) -> Result<(), ErrorCode> {
        let shared = self.node.handle.shared.clone();
        poll_fn(|cx| shared.core().tcp_poll(self.id, Ready::Write, cx)).await;
        write_result(shared.core().tcp_write(self.id, data))?;
        poll_fn(|cx| shared.core().tcp_poll(self.id, Ready::Sent, cx)).await;
        write_result(shared.core().tcp_writable(self.id)).map(|_| ())
    }

    /// `shutdown(SHUT_WR)`: a FIN once what was written is sent.
    pub fn shutdown(&self) {
        self.node
            .handle
            .shared
            .core()
            .tcp_shutdown(self.id, false, true);
    }
}

/// A write's outcome as the error a Rust caller sees (`EPIPE`:
/// `invalid-state`).
fn write_result<T>(result: Result<T, WriteError>) -> Result<T, ErrorCode> {
    result.map_err(|e| match e {
        WriteError::Closed => ErrorCode::InvalidState,
        WriteError::Failed(code) => code,
    })
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        self.node.handle.shared.core().tcp_close(self.id, false);
    }
}
