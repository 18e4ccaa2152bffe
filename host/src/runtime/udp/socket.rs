//! The operating system's side of a UDP socket: creating it, binding,
//! connecting and disconnecting, its options, and what each error becomes,
//! with wasmtime-wasi 48's portability fixes and validation (its
//! `sockets/udp.rs` and `sockets/mod.rs`). Through socket2, on the socket
//! tokio registered.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};
use wasmtime_wasi::p2::bindings::sockets::network::ErrorCode;

/// What an I/O error becomes, exactly as wasmtime-wasi maps it for a 0.2
/// guest (through its `sockets::ErrorCode`, so `other` is `unknown`).
pub fn code(e: &std::io::Error) -> ErrorCode {
    ErrorCode::from(wasmtime_wasi::sockets::ErrorCode::from(e))
}

/// A non-blocking, close-on-exec UDP socket of the family, registered
/// with tokio; IPv6 ones are IPv6-only (the WASI spec: "enabled by default
/// and can't be configured otherwise").
pub fn open(ipv6: bool) -> std::io::Result<tokio::net::UdpSocket> {
    let domain = if ipv6 { Domain::IPV6 } else { Domain::IPV4 };
    // socket2 sets close-on-exec itself.
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_nonblocking(true)?;
    if ipv6 {
        socket.set_only_v6(true)?;
    }
    tokio::net::UdpSocket::from_std(socket.into())
}

/// The wildcard address of the family, port 0: what an unbound socket's
/// local address reads, and what an implicit bind is checked against.
pub fn unspecified(ipv6: bool) -> SocketAddr {
    let ip = match ipv6 {
        true => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        false => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    SocketAddr::new(ip, 0)
}

/// Whether the socket has a local address.
pub fn is_bound(socket: &tokio::net::UdpSocket, ipv6: bool) -> bool {
    socket.local_addr().is_ok_and(|a| a != unspecified(ipv6))
}

/// The connected peer, if any.
pub fn peer(socket: &tokio::net::UdpSocket, ipv6: bool) -> Option<SocketAddr> {
    socket.peer_addr().ok().filter(|a| *a != unspecified(ipv6))
}

/// `bind(2)`; `EAFNOSUPPORT` reads as `invalid-argument`.
pub fn bind(socket: &tokio::net::UdpSocket, addr: SocketAddr) -> Result<(), ErrorCode> {
    SockRef::from(socket)
        .bind(&SockAddr::from(addr))
        .map_err(|e| match e.raw_os_error() {
            Some(libc::EAFNOSUPPORT) => ErrorCode::InvalidArgument,
            _ => code(&e),
        })
}

/// `connect(2)`. Linux does not move a connected socket to the interface
/// of a new destination's route (it says `EINVAL`): the old association is
/// dissolved and the socket connected again, as wasmtime-wasi does.
pub fn connect(socket: &tokio::net::UdpSocket, addr: SocketAddr) -> Result<(), ErrorCode> {
    let sock = SockRef::from(socket);
    let addr = SockAddr::from(addr);
    let result = match sock.connect(&addr) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            let _ = disconnect(socket);
            sock.connect(&addr)
        }
        r => r,
    };
    result.map_err(|e| match e.raw_os_error() {
        Some(libc::EAFNOSUPPORT) => ErrorCode::InvalidArgument,
        _ => code(&e),
    })
}

/// Dissolve the association: `connect(2)` to an `AF_UNSPEC` address.
pub fn disconnect(socket: &tokio::net::UdpSocket) -> Result<(), ErrorCode> {
    // SAFETY: a zeroed sockaddr with the family AF_UNSPEC is what Linux
    // reads as "dissolve"; the descriptor is the socket's own and open.
    let unspec = libc::sockaddr {
        sa_family: libc::AF_UNSPEC as libc::sa_family_t,
        sa_data: [0; 14],
    };
    let size = std::mem::size_of::<libc::sockaddr>() as libc::socklen_t;
    if unsafe { libc::connect(socket.as_raw_fd(), &unspec, size) } != 0 {
        return Err(code(&std::io::Error::last_os_error()));
    }
    Ok(())
}

/// The unicast hop limit: `IP_TTL` or `IPV6_UNICAST_HOPS`.
pub fn hop_limit(socket: &tokio::net::UdpSocket, ipv6: bool) -> Result<u8, ErrorCode> {
    let sock = SockRef::from(socket);
    let value = match ipv6 {
        true => sock.unicast_hops_v6(),
        false => sock.ttl_v4(),
    };
    let value = value.map_err(|e| code(&e))?;
    u8::try_from(value).map_err(|_| ErrorCode::NotSupported)
}

/// Set the unicast hop limit; 0 is `invalid-argument` (the WIT), checked
/// here since the kernel's own checks differ between IPv4 and IPv6.
pub fn set_hop_limit(
    socket: &tokio::net::UdpSocket,
    ipv6: bool,
    value: u8,
) -> Result<(), ErrorCode> {
    if value == 0 {
        return Err(ErrorCode::InvalidArgument);
    }
    let sock = SockRef::from(socket);
    let set = match ipv6 {
        true => sock.set_unicast_hops_v6(value.into()),
        false => sock.set_ttl_v4(value.into()),
    };
    set.map_err(|e| code(&e))
}

/// Which of a socket's two buffers.
#[derive(Clone, Copy)]
pub enum Buffer {
    /// `SO_RCVBUF`.
    Receive,
    /// `SO_SNDBUF`.
    Send,
}

/// A buffer's size as the guest asked for it: Linux doubles what it is
/// given (for its bookkeeping) and reads back the doubled value, so the
/// reading is halved, as wasmtime-wasi does.
pub fn buffer_size(socket: &tokio::net::UdpSocket, which: Buffer) -> Result<u64, ErrorCode> {
    let sock = SockRef::from(socket);
    let size = match which {
        Buffer::Receive => sock.recv_buffer_size(),
        Buffer::Send => sock.send_buffer_size(),
    };
    let size = size.map_err(|e| code(&e))?;
    Ok(u64::try_from(size / 2).unwrap_or(u64::MAX))
}

/// Set a buffer's size, a hint the kernel clamps; 0 is
/// `invalid-argument`, and `ENOBUFS` is no error (wasmtime-wasi's
/// "performance hint" reading).
pub fn set_buffer_size(
    socket: &tokio::net::UdpSocket,
    which: Buffer,
    value: u64,
) -> Result<(), ErrorCode> {
    if value == 0 {
        return Err(ErrorCode::InvalidArgument);
    }
    let value = usize::try_from(value)
        .unwrap_or(usize::MAX)
        .clamp(1, i32::MAX as usize);
    let sock = SockRef::from(socket);
    let set = match which {
        Buffer::Receive => sock.set_recv_buffer_size(value),
        Buffer::Send => sock.set_send_buffer_size(value),
    };
    match set {
        Err(e) if e.raw_os_error() != Some(libc::ENOBUFS) => Err(code(&e)),
        _ => Ok(()),
    }
}
