//! The cases of the socket itself: `create-udp-socket`, `start-bind` and
//! `finish-bind`, `local-address`, `address-family` and the options
//! (`unicast-hop-limit`, `receive-buffer-size`, `send-buffer-size`).
//!
//! Each function is one case; `main.rs` runs them in order.

use socklab_guest::wasi::sockets::network::{ErrorCode, IpAddressFamily};
use socklab_guest::wasi::sockets::udp::UdpSocket;

use crate::net::*;

// --- create-udp-socket: socket(AF_INET or AF_INET6, SOCK_DGRAM) ---

pub fn create(family: IpAddressFamily) -> Outcome {
    socket(family).map(|_| String::new())
}

/// `address-family` (`SO_DOMAIN`) of a fresh socket.
pub fn address_family(family: IpAddressFamily) -> Outcome {
    Ok(match socket(family)?.address_family() {
        Ipv4 => "ipv4".into(),
        Ipv6 => "ipv6".into(),
    })
}

/// Sockets held at once until creation fails: run under `--max-sockets`, the
/// host's limit answers `new-socket-limit` (WIT: EMFILE, ENFILE). The value
/// is how many were made first; the error is printed by [`past_socket_limit`].
pub fn sockets_before_limit(held: &mut Vec<UdpSocket>) -> Outcome {
    for _ in 0..64 {
        match socket(Ipv4) {
            Ok(s) => held.push(s),
            Err(_) => return Ok(format!("{}", held.len())),
        }
    }
    Ok(format!("no-limit-within={}", held.len()))
}

/// The next creation, with every socket of [`sockets_before_limit`] held.
pub fn past_socket_limit(_held: &[UdpSocket]) -> Outcome {
    socket(Ipv4).map(|_| String::new())
}

// --- start-bind / finish-bind: bind(addr) ---

/// `bind(("127.0.0.1", 0))` or `bind(("::1", 0))`: a free port is chosen.
pub fn bind_port_0(family: IpAddressFamily) -> Outcome {
    let s = socket(family)?;
    bind(&s, loopback(family, 0))?;
    Ok(String::new())
}

/// `getsockname` before any bind: WASI says `invalid-state`.
pub fn local_address_unbound() -> Outcome {
    socket(Ipv4)?.local_address().map(|a| addr_value(&a))
}

/// `getsockname` after a port-0 bind: the loopback address and a real port.
pub fn local_address_bound(family: IpAddressFamily) -> Outcome {
    let (_s, addr) = bound(family)?;
    Ok(addr_value(&addr))
}

/// `bind` to an explicit port (one a socket had a moment ago, now free):
/// the socket gets exactly that port.
pub fn bind_explicit_port() -> Outcome {
    let port = closed_port(Ipv4)?;
    let s = socket(Ipv4)?;
    bind(&s, v4(port))?;
    Ok(format!(
        "same-port={}",
        port_of(&s.local_address()?) == port
    ))
}

/// `bind` to the address and port another live socket holds: EADDRINUSE.
pub fn bind_address_in_use(family: IpAddressFamily) -> Outcome {
    let (_holder, addr) = bound(family)?;
    let s = socket(family)?;
    bind(&s, addr).map(|()| String::new())
}

/// `bind` a second time after the first finished: EINVAL, `invalid-state`.
pub fn bind_twice() -> Outcome {
    let (s, _) = bound(Ipv4)?;
    s.start_bind(&network(), v4(0)).map(|()| String::new())
}

/// `start-bind` again before `finish-bind`: another operation is in
/// progress. Not in bind's `# Typical errors`, but one the WIT says any call
/// may return (`concurrency-conflict`, EALREADY).
pub fn start_bind_while_in_progress() -> Outcome {
    let s = socket(Ipv4)?;
    s.start_bind(&network(), v4(0))?;
    let again = s.start_bind(&network(), v4(0));
    // Leave the socket finished either way.
    let _ = s.finish_bind();
    again.map(|()| String::new())
}

/// `finish-bind` with no `start-bind`: `not-in-progress`.
pub fn finish_bind_not_started() -> Outcome {
    socket(Ipv4)?.finish_bind().map(|()| String::new())
}

/// `finish-bind` again after it finished: `not-in-progress`.
pub fn finish_bind_twice() -> Outcome {
    let (s, _) = bound(Ipv4)?;
    s.finish_bind().map(|()| String::new())
}

/// `bind` to an address of the other family (EAFNOSUPPORT): `invalid-argument`.
pub fn bind_wrong_family(family: IpAddressFamily) -> Outcome {
    let s = socket(family)?;
    let other = match family {
        Ipv4 => v6(0),
        Ipv6 => v4(0),
    };
    bind(&s, other).map(|()| String::new())
}

/// `bind` an IPv6 socket to `::ffff:127.0.0.1`: WASI sockets are IPv6-only,
/// so wasmtime-wasi refuses IPv4-mapped addresses with `invalid-argument`.
pub fn bind_ipv4_mapped() -> Outcome {
    let s = socket(Ipv6)?;
    bind(&s, mapped(0)).map(|()| String::new())
}

/// `bind` to `127.0.0.2`, loopback but not granted: the sandbox answers
/// `access-denied` before the kernel sees the call.
pub fn bind_denied_address() -> Outcome {
    let s = socket(Ipv4)?;
    bind(&s, v4_of((127, 0, 0, 2), 0)).map(|()| String::new())
}

// --- options: getsockopt / setsockopt ---

/// `IP_TTL` / `IPV6_UNICAST_HOPS` of a fresh socket.
pub fn hop_limit_default(family: IpAddressFamily) -> Outcome {
    Ok(socket(family)?.unicast_hop_limit()?.to_string())
}

/// Set the hop limit to `value`, read it back.
pub fn hop_limit_set(family: IpAddressFamily, value: u8) -> Outcome {
    let s = socket(family)?;
    s.set_unicast_hop_limit(value)?;
    Ok(s.unicast_hop_limit()?.to_string())
}

/// Which of the two buffers a case is about.
#[derive(Clone, Copy)]
pub enum Buffer {
    /// `SO_RCVBUF`.
    Receive,
    /// `SO_SNDBUF`.
    Send,
}

fn get_buffer(s: &UdpSocket, which: Buffer) -> Result<u64, ErrorCode> {
    match which {
        Buffer::Receive => s.receive_buffer_size(),
        Buffer::Send => s.send_buffer_size(),
    }
}

fn set_buffer(s: &UdpSocket, which: Buffer, value: u64) -> Result<(), ErrorCode> {
    match which {
        Buffer::Receive => s.set_receive_buffer_size(value),
        Buffer::Send => s.set_send_buffer_size(value),
    }
}

/// A fresh socket's buffer size: the kernel's default, allow-listed.
pub fn buffer_default(which: Buffer) -> Outcome {
    Ok(format!("buffer={}", get_buffer(&socket(Ipv4)?, which)?))
}

/// Set the buffer to `value` (0 is `invalid-argument`; any other value is
/// accepted and may be clamped or rounded), then read it back.
pub fn buffer_set(which: Buffer, value: u64) -> Outcome {
    let s = socket(Ipv4)?;
    set_buffer(&s, which, value)?;
    Ok(format!("buffer={}", get_buffer(&s, which)?))
}
