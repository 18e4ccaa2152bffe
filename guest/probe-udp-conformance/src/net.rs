//! The probe's vocabulary: its loopback addresses, sockets bound on them,
//! bounded waits, and sends and receives that never wait past a deadline.
//!
//! Every helper returns the first error code it meets, so a case that fails
//! in its set-up prints that code and the comparison shows it.

use socklab_guest::wasi::clocks::monotonic_clock::subscribe_duration;
use socklab_guest::wasi::io::poll::{Pollable, poll};
use socklab_guest::wasi::sockets::instance_network::instance_network;
use socklab_guest::wasi::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress, Network};
use socklab_guest::wasi::sockets::udp::{
    IncomingDatagram, IncomingDatagramStream, OutgoingDatagram, OutgoingDatagramStream, UdpSocket,
};
use socklab_guest::wasi::sockets::udp_create_socket::create_udp_socket;

pub use IpAddressFamily::{Ipv4, Ipv6};
pub use socklab_guest::probe::*;

/// The longest any one wait in the probe lasts: a datagram on loopback
/// arrives in microseconds, so this only bounds a broken implementation.
pub const WAIT_MS: u64 = 2000;

/// How long a case that expects *nothing* to arrive listens for it.
pub const SILENCE_MS: u64 = 300;

/// The default network (`instance-network`), the capability every bind needs.
pub fn network() -> Network {
    instance_network()
}

/// `socket(family, SOCK_DGRAM)`: `create-udp-socket`.
pub fn socket(family: IpAddressFamily) -> Result<UdpSocket, ErrorCode> {
    create_udp_socket(family)
}

/// `bind(addr)`: `start-bind`, then `finish-bind`, waiting on the socket's
/// pollable (bounded) while it says `would-block`.
pub fn bind(socket: &UdpSocket, addr: IpSocketAddress) -> Result<(), ErrorCode> {
    socket.start_bind(&network(), addr)?;
    let ready = socket.subscribe();
    for _ in 0..100 {
        match socket.finish_bind() {
            Err(ErrorCode::WouldBlock) => {
                if !wait(&ready, WAIT_MS) {
                    return Err(ErrorCode::Timeout);
                }
            }
            done => return done,
        }
    }
    Err(ErrorCode::Timeout)
}

/// A socket of `family` bound to its loopback address, port 0, with the
/// address it got.
pub fn bound(family: IpAddressFamily) -> Result<(UdpSocket, IpSocketAddress), ErrorCode> {
    let s = socket(family)?;
    bind(&s, loopback(family, 0))?;
    let addr = s.local_address()?;
    Ok((s, addr))
}

/// A socket and its two streams. Fields drop in order, streams first: WASI
/// refuses to drop a socket whose streams are still alive.
pub struct Streaming {
    pub incoming: IncomingDatagramStream,
    pub outgoing: OutgoingDatagramStream,
    pub socket: UdpSocket,
    /// Its local address.
    pub addr: IpSocketAddress,
}

/// A bound loopback socket of `family` with its streams, connected to
/// `remote` when given (`connect`), unconnected otherwise.
pub fn streaming(
    family: IpAddressFamily,
    remote: Option<IpSocketAddress>,
) -> Result<Streaming, ErrorCode> {
    let (socket, addr) = bound(family)?;
    let (incoming, outgoing) = socket.stream(remote)?;
    Ok(Streaming {
        incoming,
        outgoing,
        socket,
        addr,
    })
}

/// A port nothing listens on: one a socket had, closed again.
pub fn closed_port(family: IpAddressFamily) -> Result<u16, ErrorCode> {
    let (_socket, addr) = bound(family)?;
    Ok(port_of(&addr))
}

/// Block until `ready` is ready or `ms` milliseconds pass; `true` if it was
/// ready (`poll` with a `subscribe-duration` timeout, as `select()`).
pub fn wait(ready: &Pollable, ms: u64) -> bool {
    let timeout = subscribe_duration(ms * 1_000_000);
    poll(&[ready, &timeout]).contains(&0)
}

/// `check-send`, waiting (bounded) for a permit.
pub fn permits(out: &OutgoingDatagramStream) -> Result<u64, ErrorCode> {
    let ready = out.subscribe();
    for _ in 0..100 {
        match out.check_send()? {
            0 => {
                if !wait(&ready, WAIT_MS) {
                    return Err(ErrorCode::Timeout);
                }
            }
            n => return Ok(n),
        }
    }
    Err(ErrorCode::Timeout)
}

/// `sendto(data, to)` (`send` alone when `to` is `None`): one datagram,
/// after `check-send` permits it. Returns how many datagrams `send` took.
pub fn send_one(
    out: &OutgoingDatagramStream,
    data: Vec<u8>,
    to: Option<IpSocketAddress>,
) -> Result<u64, ErrorCode> {
    permits(out)?;
    out.send(&[OutgoingDatagram {
        data,
        remote_address: to,
    }])
}

/// `sendmmsg`: `count` datagrams to `to`, in as many `send` calls as the
/// permits need (at most 100). Returns how many were taken.
pub fn send_many(
    out: &OutgoingDatagramStream,
    count: usize,
    to: IpSocketAddress,
) -> Result<u64, ErrorCode> {
    let mut sent = 0;
    for _ in 0..100 {
        if sent as usize >= count {
            break;
        }
        let room = permits(out)?;
        let n = (count - sent as usize).min(usize::try_from(room).unwrap_or(usize::MAX));
        let batch: Vec<OutgoingDatagram> = (0..n)
            .map(|i| OutgoingDatagram {
                data: vec![i as u8],
                remote_address: Some(to),
            })
            .collect();
        sent += out.send(&batch)?;
    }
    Ok(sent)
}

/// `recvfrom`: the next datagram within `ms` milliseconds, `None` if none
/// came (each `receive` asks for one).
pub fn receive_one(
    incoming: &IncomingDatagramStream,
    ms: u64,
) -> Result<Option<IncomingDatagram>, ErrorCode> {
    let ready = incoming.subscribe();
    let deadline = subscribe_duration(ms * 1_000_000);
    // Bounded twice: by the deadline, and by a count in case readiness
    // keeps firing with nothing to receive.
    for _ in 0..1000 {
        if let Some(datagram) = incoming.receive(1)?.pop() {
            return Ok(Some(datagram));
        }
        if !poll(&[&ready, &deadline]).contains(&0) {
            return Ok(None);
        }
    }
    Ok(None)
}

/// Whether two addresses are the same address and port.
pub fn same(a: &IpSocketAddress, b: &IpSocketAddress) -> bool {
    socklab_guest::same_peer(a, b)
}
