//! The cases of the socket itself: `create-tcp-socket`, `start-bind` and
//! `finish-bind`, `local-address` and `address-family`.
//!
//! Each function is one case; `main.rs` runs them in order.

use socklab_guest::wasi::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress};
use socklab_guest::wasi::sockets::tcp::TcpSocket;

use crate::net::*;

// --- create-tcp-socket: socket(AF_INET or AF_INET6, SOCK_STREAM) ---

pub fn create(family: IpAddressFamily) -> Outcome {
    socket(family).map(|_| String::new())
}

/// `address-family` (`SO_DOMAIN`) of a fresh socket.
pub fn address_family(family: IpAddressFamily) -> Outcome {
    Ok(family_name(socket(family)?.address_family()).into())
}

/// `ipv4` or `ipv6`.
pub fn family_name(family: IpAddressFamily) -> &'static str {
    match family {
        Ipv4 => "ipv4",
        Ipv6 => "ipv6",
    }
}

/// Sockets held at once until creation fails: run under `--max-sockets`, the
/// host's limit answers `new-socket-limit` (WIT: EMFILE, ENFILE). The value
/// is how many were made first; the error is printed by [`past_socket_limit`].
pub fn sockets_before_limit(held: &mut Vec<TcpSocket>) -> Outcome {
    for _ in 0..64 {
        match socket(Ipv4) {
            Ok(s) => held.push(s),
            Err(_) => return Ok(format!("{}", held.len())),
        }
    }
    Ok(format!("no-limit-within={}", held.len()))
}

/// The next creation, with every socket of [`sockets_before_limit`] held.
pub fn past_socket_limit(_held: &[TcpSocket]) -> Outcome {
    socket(Ipv4).map(|_| String::new())
}

// --- start-bind / finish-bind: bind(addr) ---

/// `bind(("127.0.0.1", 0))` or `bind(("::1", 0))`: a free port is chosen.
pub fn bind_port_0(family: IpAddressFamily) -> Outcome {
    let s = socket(family)?;
    bind(&s, loopback(family, 0))?;
    Ok(String::new())
}

/// `bind` of a fresh socket of `family` to `addr`.
pub fn bind_to(family: IpAddressFamily, addr: IpSocketAddress) -> Outcome {
    let s = socket(family)?;
    bind(&s, addr).map(|()| String::new())
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

/// `bind` to an explicit port (one a listener had a moment ago, now free):
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

/// `bind` to the address and port a live listener holds: EADDRINUSE.
pub fn bind_in_use_by_listener(family: IpAddressFamily) -> Outcome {
    let (_holder, addr) = listener(family)?;
    bind_to(family, addr)
}

/// `bind` to the address and port a socket holds that is bound but neither
/// listening nor connected.
pub fn bind_in_use_by_bound() -> Outcome {
    let (_holder, addr) = bound(Ipv4)?;
    bind_to(Ipv4, addr)
}

/// A bind that failed, then another on the same socket: "Bind can be
/// attempted multiple times ... as long as the previous bind failed".
pub fn bind_after_failed_bind() -> Outcome {
    let (_holder, addr) = listener(Ipv4)?;
    let s = socket(Ipv4)?;
    let first = bind(&s, addr);
    bind(&s, v4(0))?;
    let first = first.err().map_or("ok", |e| e.name());
    Ok(format!("first={first},second=ok"))
}

/// `bind` a second time after the first finished: EINVAL, `invalid-state`.
pub fn bind_twice() -> Outcome {
    let (s, _) = bound(Ipv4)?;
    s.start_bind(&network(), v4(0)).map(|()| String::new())
}

/// `bind` on a listening socket.
pub fn bind_listening() -> Outcome {
    let (s, _) = listener(Ipv4)?;
    s.start_bind(&network(), v4(0)).map(|()| String::new())
}

/// `bind` on a connected socket (bound implicitly by its connect).
pub fn bind_connected() -> Outcome {
    let p = pair(Ipv4)?;
    let bound = p.client.socket.start_bind(&network(), v4(0));
    bound.map(|()| String::new())
}

/// `start-bind` again before `finish-bind`: another operation is in
/// progress (`concurrency-conflict`, EALREADY).
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

/// `finish-bind` right after `start-bind`: `ok`, or `would-block` first if
/// the implementation binds later (the probe prints which, allow-listed).
pub fn finish_bind_first_call() -> Outcome {
    let s = socket(Ipv4)?;
    s.start_bind(&network(), v4(0))?;
    let first = match s.finish_bind() {
        Ok(()) => "ready",
        Err(ErrorCode::WouldBlock) => {
            finish(&s, || s.finish_bind())?;
            "would-block"
        }
        Err(e) => return Err(e),
    };
    Ok(format!("first-finish={first}"))
}

// --- start-connect on a bound socket keeps its address ---

/// `getsockname` of a socket bound explicitly, then connected: unchanged.
pub fn local_address_after_connect() -> Outcome {
    let (_listener, to) = listener(Ipv4)?;
    let (s, addr) = bound(Ipv4)?;
    let c = connect_on(s, to)?;
    let now = c.socket.local_address()?;
    Ok(format!("unchanged={}", same(&now, &addr)))
}

/// `getsockname` of a socket connected without a bind: the implicit bind
/// chose the loopback address and an ephemeral port.
pub fn local_address_implicit_bind(family: IpAddressFamily) -> Outcome {
    let (_listener, to) = listener(family)?;
    let c = connect(family, to)?;
    Ok(addr_value(&c.socket.local_address()?))
}
