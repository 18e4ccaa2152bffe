//! TCP helpers: each turns a `start-*`/`finish-*` pair into one call that
//! blocks like its BSD counterpart.

use crate::wasi::io::streams::{InputStream, OutputStream};
use crate::wasi::sockets::network::{ErrorCode, IpSocketAddress, Network};
use crate::wasi::sockets::tcp::TcpSocket;

/// Blocking forms of the two-phase TCP calls.
pub trait TcpSocketExt {
    /// `bind(addr)`: `start-bind`, then `finish-bind` until it stops saying
    /// `would-block`.
    fn blocking_bind(&self, net: &Network, addr: IpSocketAddress) -> Result<(), ErrorCode>;

    /// `listen()`: `start-listen`, then `finish-listen`.
    fn blocking_listen(&self) -> Result<(), ErrorCode>;

    /// `connect(addr)`: `start-connect`, then `finish-connect` once the
    /// socket's pollable says the handshake is over. Returns the connection's
    /// two streams: what `recv` reads from and what `send` writes to.
    fn blocking_connect(
        &self,
        net: &Network,
        addr: IpSocketAddress,
    ) -> Result<(InputStream, OutputStream), ErrorCode>;
}

impl TcpSocketExt for TcpSocket {
    fn blocking_bind(&self, net: &Network, addr: IpSocketAddress) -> Result<(), ErrorCode> {
        self.start_bind(net, addr)?;
        finish(self, || self.finish_bind())
    }

    fn blocking_listen(&self) -> Result<(), ErrorCode> {
        self.start_listen()?;
        finish(self, || self.finish_listen())
    }

    fn blocking_connect(
        &self,
        net: &Network,
        addr: IpSocketAddress,
    ) -> Result<(InputStream, OutputStream), ErrorCode> {
        self.start_connect(net, addr)?;
        finish(self, || self.finish_connect())
    }
}

/// Call `finish` until it is no longer `would-block`, waiting on the socket's
/// pollable between tries.
fn finish<T>(
    socket: &TcpSocket,
    mut finish: impl FnMut() -> Result<T, ErrorCode>,
) -> Result<T, ErrorCode> {
    let ready = socket.subscribe();
    loop {
        match finish() {
            Err(ErrorCode::WouldBlock) => ready.block(),
            done => return done,
        }
    }
}
