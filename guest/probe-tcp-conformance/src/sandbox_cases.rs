//! The sandbox's cases: the uses the test's grants refuse (a bind, a
//! listen, a connect, and an accept the guest never sees) and socklab's
//! limits (`--max-connections`, `--max-sockets`).
//!
//! Each function is one case; `main.rs` runs them in order.

use socklab_guest::wasi::sockets::network::{ErrorCode, IpSocketAddress};
use socklab_guest::wasi::sockets::tcp::TcpSocket;

use crate::net::*;

/// `127.0.0.3`: a loopback address the grants let the probe bind but
/// neither listen on nor accept from.
pub fn unlisted(port: u16) -> IpSocketAddress {
    v4_of((127, 0, 0, 3), port)
}

/// `listen` on a socket bound to [`unlisted`]: the bind is granted, the
/// listen is not.
pub fn listen_denied() -> Outcome {
    let s = socket(Ipv4)?;
    bind(&s, unlisted(0))?;
    listen(&s).map(|()| String::new())
}

/// `start-connect` alone to an address the grants refuse: wasmtime-wasi
/// checks the grants inside the connect it starts, so the refusal comes
/// from `finish-connect` (see [`connect_denied`]).
pub fn start_connect_denied(to: IpSocketAddress) -> Outcome {
    let s = socket(Ipv4)?;
    let started = s.start_connect(&network(), to);
    let _ = finish(&s, || s.finish_connect());
    started.map(|()| String::new())
}

/// The whole `connect` to an address the grants refuse.
pub fn connect_denied(to: IpSocketAddress) -> Outcome {
    connect(Ipv4, to).map(|_| String::new())
}

/// A client bound to [`unlisted`] connects to a listener on `127.0.0.1`:
/// the kernel completes the handshake, the grants refuse the accept, and
/// the host resets the connection without the guest ever seeing it.
pub fn accept_denied_peer() -> Outcome {
    let (l, addr) = listener(Ipv4)?;
    let s = socket(Ipv4)?;
    bind(&s, unlisted(0))?;
    let client = connect_on(s, addr)?;
    let first = accepted_name(l.accept());
    let later = if wait(&l.subscribe(), SILENCE_MS) {
        accepted_name(l.accept())
    } else {
        "nothing"
    };
    let client_read = read_within(&client.input, 16, WAIT_MS);
    Ok(format!(
        "connected=true,accept={first},then={later},client-read={}",
        client_read.name()
    ))
}

/// Under `--max-connections 1`: with one accepted connection open, the
/// next is closed by the host before the guest sees it (`accept` says
/// `would-block`), and its client reads the end of the stream.
pub fn accept_past_connection_limit() -> Outcome {
    let (l, addr) = listener(Ipv4)?;
    let _first_client = connect(Ipv4, addr)?;
    let _first = accept(&l)?;
    let second = connect(Ipv4, addr)?;
    wait(&l.subscribe(), WAIT_MS);
    let accept = accepted_name(l.accept());
    let client_read = read_within(&second.input, 16, WAIT_MS);
    Ok(format!(
        "accept={accept},client-read={}",
        client_read.name()
    ))
}

/// With every socket `--max-sockets` allows held (two of them a listener
/// and a client connected to it), `accept` answers `new-socket-limit`
/// (accept's own documented error, EMFILE).
pub fn accept_past_socket_limit(held: &mut Vec<TcpSocket>) -> Outcome {
    // Make room for the listener and the client, then fill up again.
    held.truncate(held.len().saturating_sub(2));
    let (l, addr) = listener(Ipv4)?;
    let _client = connect(Ipv4, addr)?;
    let full = socket(Ipv4).err() == Some(ErrorCode::NewSocketLimit);
    if !full {
        return Ok("not-full".into());
    }
    wait(&l.subscribe(), WAIT_MS);
    accepted(l.accept())
}
