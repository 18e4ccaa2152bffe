//! The cases of `stream` (`connect` on a UDP socket) and of the two
//! datagram streams: `remote-address`, `check-send`, `send` (`sendto`,
//! `sendmmsg`) and `receive` (`recvfrom`, `recvmmsg`), between the probe's
//! own sockets on loopback.
//!
//! Each function is one case; `main.rs` runs them in order.

use socklab_guest::wasi::sockets::network::{IpAddressFamily, IpSocketAddress};

use crate::net::*;

// --- stream: connect(s, remote) or connect(s, AF_UNSPEC) ---

/// `stream` on a socket never bound. WASI 0.2 has no implicit bind here:
/// `invalid-state`, with or without a remote address.
pub fn stream_unbound(remote: Option<IpSocketAddress>) -> Outcome {
    let s = socket(Ipv4)?;
    s.stream(remote).map(|_| String::new())
}

/// `stream` to a remote address WASI refuses (wrong family, `0.0.0.0`,
/// port 0, IPv4-mapped on an IPv6 socket): `invalid-argument`.
pub fn stream_to(family: IpAddressFamily, remote: IpSocketAddress) -> Outcome {
    let (s, _) = bound(family)?;
    s.stream(Some(remote)).map(|_| String::new())
}

/// `stream` to a live peer; its remote address reads back as the peer.
pub fn stream_connected(family: IpAddressFamily) -> Outcome {
    let (_peer, peer) = bound(family)?;
    let s = streaming(family, Some(peer))?;
    let remote = s.socket.remote_address()?;
    Ok(format!("remote-is-peer={}", same(&remote, &peer)))
}

/// `getpeername` on a socket streaming to no one: `invalid-state` (ENOTCONN).
pub fn remote_address_unconnected() -> Outcome {
    let s = streaming(Ipv4, None)?;
    s.socket.remote_address().map(|a| addr_value(&a))
}

/// `local-address` after `stream` to a loopback peer: still the bound one.
pub fn local_address_after_connect() -> Outcome {
    let (_peer, peer) = bound(Ipv4)?;
    let s = streaming(Ipv4, Some(peer))?;
    Ok(format!(
        "unchanged={}",
        same(&s.socket.local_address()?, &s.addr)
    ))
}

/// `stream(none)` after a connected `stream` (its streams dropped first):
/// disconnected, so `remote-address` is `invalid-state` again.
pub fn stream_disconnect() -> Outcome {
    let (_peer, peer) = bound(Ipv4)?;
    let Streaming {
        incoming,
        outgoing,
        socket,
        ..
    } = streaming(Ipv4, Some(peer))?;
    drop((incoming, outgoing));
    let _streams = socket.stream(None)?;
    socket.remote_address().map(|a| addr_value(&a))
}

/// `stream` to a second peer (the first streams dropped): the association
/// moves, and `remote-address` says so.
pub fn stream_reconnect() -> Outcome {
    let (_a, a) = bound(Ipv4)?;
    let (_b, b) = bound(Ipv4)?;
    let Streaming {
        incoming,
        outgoing,
        socket,
        ..
    } = streaming(Ipv4, Some(a))?;
    drop((incoming, outgoing));
    let _streams = socket.stream(Some(b))?;
    Ok(format!(
        "remote-is-second-peer={}",
        same(&socket.remote_address()?, &b)
    ))
}

// --- check-send and send: sendto / send / sendmmsg ---

/// `check-send` on fresh streams: how many datagrams the next `send` may
/// carry (wasmtime-wasi 48 always says 16 when the socket is writable).
pub fn check_send_fresh() -> Outcome {
    let s = streaming(Ipv4, None)?;
    Ok(s.outgoing.check_send()?.to_string())
}

/// `send` of an empty list: `ok(0)`, and no `check-send` needed.
pub fn send_empty_list() -> Outcome {
    let s = streaming(Ipv4, None)?;
    Ok(s.outgoing.send(&[])?.to_string())
}

/// One `sendto` from an unconnected socket of `family` to `to` (`None`:
/// `send` with no address): the count `send` returned, or its error.
pub fn send_unconnected(
    family: IpAddressFamily,
    to: Option<IpSocketAddress>,
    size: usize,
) -> Outcome {
    let s = streaming(family, None)?;
    Ok(send_one(&s.outgoing, vec![0x5a; size], to)?.to_string())
}

/// One `sendto` to a live peer of `family`, `size` bytes: `ok:1`.
pub fn send_to_peer(family: IpAddressFamily, size: usize) -> Outcome {
    let (_peer, peer) = bound(family)?;
    send_unconnected(family, Some(peer), size)
}

/// On a socket connected to a peer, `send` with `to` chosen from the peer:
/// the peer itself (`sendto` to the connected address), none (`send`), or
/// another address (EISCONN: `invalid-argument`).
pub fn send_connected(to: Target) -> Outcome {
    let (_peer, peer) = bound(Ipv4)?;
    let (_other, other) = bound(Ipv4)?;
    let s = streaming(Ipv4, Some(peer))?;
    let to = match to {
        Target::Peer => Some(peer),
        Target::None => None,
        Target::Other => Some(other),
    };
    Ok(send_one(&s.outgoing, b"connected".to_vec(), to)?.to_string())
}

/// Where a connected socket's datagram is addressed.
#[derive(Clone, Copy)]
pub enum Target {
    /// The connected peer, named explicitly.
    Peer,
    /// No address: the connected peer.
    None,
    /// Another live socket.
    Other,
}

/// Twenty datagrams to a peer in as many `send` calls as the permits need:
/// how many `send` took in all.
pub fn send_many_to_peer() -> Outcome {
    let (_peer, peer) = bound(Ipv4)?;
    let s = streaming(Ipv4, None)?;
    Ok(send_many(&s.outgoing, 20, peer)?.to_string())
}

// --- receive: recvfrom / recvmmsg ---

/// `receive(0)`: an empty list, never `would-block`.
pub fn receive_zero() -> Outcome {
    let s = streaming(Ipv4, None)?;
    Ok(s.incoming.receive(0)?.len().to_string())
}

/// `receive(16)` with nothing sent: an empty list, never `would-block`.
pub fn receive_nothing_pending() -> Outcome {
    let s = streaming(Ipv4, None)?;
    Ok(s.incoming.receive(16)?.len().to_string())
}

/// `sendto` from one unconnected socket to another, `recvfrom` there: the
/// payload, and whether the source address is the sender's.
pub fn round_trip_unconnected(size: usize) -> Outcome {
    let b = streaming(Ipv4, None)?;
    let a = streaming(Ipv4, None)?;
    let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    send_one(&a.outgoing, payload.clone(), Some(b.addr))?;
    match receive_one(&b.incoming, WAIT_MS)? {
        Some(d) => Ok(format!(
            "len={},intact={},from-sender={}",
            d.data.len(),
            d.data == payload,
            same(&d.remote_address, &a.addr)
        )),
        None => Ok("nothing".into()),
    }
}

/// Two sockets connected to each other, `send` with no address both ways:
/// each receives the other's datagram, from the other's address.
pub fn round_trip_connected() -> Outcome {
    let (a_socket, a) = bound(Ipv4)?;
    let (b_socket, b) = bound(Ipv4)?;
    let (a_in, a_out) = a_socket.stream(Some(b))?;
    let (b_in, b_out) = b_socket.stream(Some(a))?;
    send_one(&a_out, b"ping".to_vec(), None)?;
    let ping = receive_one(&b_in, WAIT_MS)?;
    send_one(&b_out, b"pong".to_vec(), None)?;
    let pong = receive_one(&a_in, WAIT_MS)?;
    let seen = |d: Option<_>, want: &[u8], from| match d {
        Some(socklab_guest::wasi::sockets::udp::IncomingDatagram {
            data,
            remote_address,
        }) => data == want && same(&remote_address, from),
        None => false,
    };
    Ok(format!(
        "ping={},pong={}",
        seen(ping, b"ping", &a),
        seen(pong, b"pong", &b)
    ))
}

/// A socket connected to A receives only from A: a datagram from C, sent
/// first, is never delivered; A's, sent after, is the first one seen.
pub fn connected_filters_other_peers() -> Outcome {
    let a = streaming(Ipv4, None)?;
    let c = streaming(Ipv4, None)?;
    let b = streaming(Ipv4, Some(a.addr))?;
    send_one(&c.outgoing, b"from c".to_vec(), Some(b.addr))?;
    send_one(&a.outgoing, b"from a".to_vec(), Some(b.addr))?;
    Ok(match receive_one(&b.incoming, WAIT_MS)? {
        Some(d) if same(&d.remote_address, &a.addr) => "first-from=a".into(),
        Some(d) if same(&d.remote_address, &c.addr) => "first-from=c".into(),
        Some(_) => "first-from=elsewhere".into(),
        None => "nothing".into(),
    })
}

/// Twenty datagrams queued, one `receive(100)`: how many it returns
/// (wasmtime-wasi 48 returns at most 16 per call).
pub fn receive_many() -> Outcome {
    let b = streaming(Ipv4, None)?;
    let a = streaming(Ipv4, None)?;
    send_many(&a.outgoing, 20, b.addr)?;
    if !wait(&b.incoming.subscribe(), WAIT_MS) {
        return Ok("nothing".into());
    }
    Ok(b.incoming.receive(100)?.len().to_string())
}

/// A connected socket sends to a closed port; the ICMP port-unreachable
/// comes back as `connection-refused` (ECONNREFUSED) on the next receive.
pub fn receive_after_refused() -> Outcome {
    let port = closed_port(Ipv4)?;
    let s = streaming(Ipv4, Some(v4(port)))?;
    send_one(&s.outgoing, b"anyone?".to_vec(), None)?;
    match receive_one(&s.incoming, WAIT_MS)? {
        Some(_) => Ok("received".into()),
        None => Ok("nothing".into()),
    }
}

// --- the sandbox: uses the probe's grants do not cover ---

/// `stream` to a peer the grants let the socket send to but not receive
/// from: connecting needs both, so `access-denied`.
pub fn stream_denied(family: IpAddressFamily) -> Outcome {
    let (_peer, peer) = bound(family)?;
    let (s, _) = bound(family)?;
    s.stream(Some(peer)).map(|_| String::new())
}

/// A datagram from a sender the grants do not let the receiver hear:
/// dropped before the guest sees it, so nothing arrives. (The send itself
/// is granted and succeeds.)
pub fn receive_from_denied_peer(family: IpAddressFamily) -> Outcome {
    let b = streaming(family, None)?;
    let a = streaming(family, None)?;
    let sent = send_one(&a.outgoing, b"unheard".to_vec(), Some(b.addr))?;
    Ok(match receive_one(&b.incoming, SILENCE_MS)? {
        Some(_) => format!("sent={sent},received"),
        None => format!("sent={sent},nothing"),
    })
}

/// A send the grants refuse (port or address not granted): `access-denied`
/// from `send`, and nothing leaves.
pub fn send_denied(to: IpSocketAddress) -> Outcome {
    send_unconnected(Ipv4, Some(to), 8)
}
