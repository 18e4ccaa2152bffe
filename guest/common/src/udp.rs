//! UDP helpers: the blocking form of `bind`, and `sendto` that waits for
//! room in the outgoing stream.

use crate::wasi::sockets::network::{ErrorCode, IpSocketAddress, Network};
use crate::wasi::sockets::udp::{OutgoingDatagram, OutgoingDatagramStream, UdpSocket};

/// Blocking forms of the two-phase UDP calls.
pub trait UdpSocketExt {
    /// `bind(addr)`: `start-bind`, then `finish-bind` until it stops saying
    /// `would-block`.
    fn blocking_bind(&self, net: &Network, addr: IpSocketAddress) -> Result<(), ErrorCode>;
}

impl UdpSocketExt for UdpSocket {
    fn blocking_bind(&self, net: &Network, addr: IpSocketAddress) -> Result<(), ErrorCode> {
        self.start_bind(net, addr)?;
        let ready = self.subscribe();
        loop {
            match self.finish_bind() {
                Err(ErrorCode::WouldBlock) => ready.block(),
                done => return done,
            }
        }
    }
}

/// `sendto(data, to)`: wait until the stream accepts a datagram
/// (`check-send`), then `send` it. Returns the bytes sent.
pub fn send_to(
    out: &OutgoingDatagramStream,
    data: Vec<u8>,
    to: IpSocketAddress,
) -> Result<u64, ErrorCode> {
    let ready = out.subscribe();
    while out.check_send()? == 0 {
        ready.block();
    }
    let len = data.len() as u64;
    let sent = out.send(&[OutgoingDatagram {
        data,
        remote_address: Some(to),
    }])?;
    // `send` returns how many datagrams it took: 0 means the stream had no
    // room after all, which `check-send` promised against.
    if sent == 1 {
        Ok(len)
    } else {
        Err(ErrorCode::WouldBlock)
    }
}
