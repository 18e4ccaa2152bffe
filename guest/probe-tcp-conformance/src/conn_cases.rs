//! The cases of the connection's life: `start-connect`/`finish-connect`
//! (`connect`), `start-listen`/`finish-listen` (`listen`), `accept`,
//! `remote-address` (`getpeername`), `is-listening` and `subscribe`.
//!
//! Each function is one case; `main.rs` runs them in order.

use socklab_guest::wasi::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress};

use crate::net::*;
use crate::socket_cases::family_name;

// --- start-connect / finish-connect: connect(addr) ---

/// `connect` of a fresh socket of `family` to `to`; an error names the
/// first call that returned it.
pub fn connect_to(family: IpAddressFamily, to: IpSocketAddress) -> Outcome {
    connect(family, to).map(|_| String::new())
}

/// `connect` to a live listener of `family`: `remote-address` reads back as
/// the listener.
pub fn connect_ok(family: IpAddressFamily) -> Outcome {
    let (_listener, to) = listener(family)?;
    let c = connect(family, to)?;
    let remote = c.socket.remote_address()?;
    Ok(format!("remote-is-listener={}", same(&remote, &to)))
}

/// `finish-connect` right after `start-connect`: `would-block` while the
/// handshake runs, or already done (printed, allow-listed), then ok.
pub fn finish_connect_first_call() -> Outcome {
    let (_listener, to) = listener(Ipv4)?;
    let s = socket(Ipv4)?;
    s.start_connect(&network(), to)?;
    let first = match s.finish_connect() {
        Ok(_streams) => "ready",
        Err(ErrorCode::WouldBlock) => {
            let _streams = finish(&s, || s.finish_connect())?;
            "would-block"
        }
        Err(e) => return Err(e),
    };
    Ok(format!("first-finish={first}"))
}

/// `connect` to a loopback port nothing listens on (one the probe's own
/// listener had): the kernel answers with a RST.
pub fn connect_refused(family: IpAddressFamily) -> Outcome {
    let port = closed_port(family)?;
    connect_to(family, loopback(family, port))
}

/// After a refused connect the socket is closed: what a second
/// `start-connect`, a `finish-connect` and `local-address` say.
pub fn after_refused() -> Outcome {
    let port = closed_port(Ipv4)?;
    let s = socket(Ipv4)?;
    let refused = connect_on_ref(&s, v4(port));
    let name = |r: Result<(), ErrorCode>| r.err().map_or("ok", |e| e.name());
    Ok(format!(
        "connect={},start-connect={},finish-connect={},local-address={}",
        name(refused),
        name(s.start_connect(&network(), v4(port))),
        name(s.finish_connect().map(|_| ())),
        name(s.local_address().map(|_| ())),
    ))
}

/// `connect` that leaves the socket with the caller (streams dropped).
fn connect_on_ref(
    s: &socklab_guest::wasi::sockets::tcp::TcpSocket,
    to: IpSocketAddress,
) -> Result<(), ErrorCode> {
    s.start_connect(&network(), to)?;
    finish(s, || s.finish_connect()).map(|_| ())
}

/// `start-connect` on a listening socket.
pub fn connect_listening() -> Outcome {
    let (_other, to) = listener(Ipv4)?;
    let (s, _) = listener(Ipv4)?;
    s.start_connect(&network(), to).map(|()| String::new())
}

/// `start-connect` on a socket already connected.
pub fn connect_connected() -> Outcome {
    let p = pair(Ipv4)?;
    let again = p.client.socket.start_connect(&network(), p.addr);
    again.map(|()| String::new())
}

/// `start-connect` again while the first connect is in progress.
pub fn start_connect_while_in_progress() -> Outcome {
    let (_listener, to) = listener(Ipv4)?;
    let s = socket(Ipv4)?;
    s.start_connect(&network(), to)?;
    let again = s.start_connect(&network(), to);
    let _ = finish(&s, || s.finish_connect());
    again.map(|()| String::new())
}

/// `finish-connect` with no `start-connect`: `not-in-progress`.
pub fn finish_connect_not_started() -> Outcome {
    socket(Ipv4)?.finish_connect().map(|_| String::new())
}

/// `finish-connect` again after it returned the streams.
pub fn finish_connect_twice() -> Outcome {
    let (_listener, to) = listener(Ipv4)?;
    let c = connect(Ipv4, to)?;
    c.socket.finish_connect().map(|_| String::new())
}

/// `bind` with one `instance-network` handle, `connect` with another: the
/// WIT wants "identical" networks; both handles are the one default network.
pub fn connect_second_network_handle() -> Outcome {
    let (_listener, to) = listener(Ipv4)?;
    let (s, _) = bound(Ipv4)?;
    let second = network();
    s.start_connect(&second, to)?;
    finish(&s, || s.finish_connect()).map(|_| String::new())
}

/// `start-bind` while a connect is in progress.
pub fn bind_while_connecting() -> Outcome {
    let (_listener, to) = listener(Ipv4)?;
    let s = socket(Ipv4)?;
    s.start_connect(&network(), to)?;
    let bind = s.start_bind(&network(), v4(0));
    let _ = finish(&s, || s.finish_connect());
    bind.map(|()| String::new())
}

/// `local-address` while a connect is in progress.
pub fn local_address_connecting() -> Outcome {
    let (_listener, to) = listener(Ipv4)?;
    let s = socket(Ipv4)?;
    s.start_connect(&network(), to)?;
    let during = s.local_address();
    let _ = finish(&s, || s.finish_connect());
    during.map(|a| addr_value(&a))
}

// --- start-listen / finish-listen: listen() ---

/// `listen` on a socket of `family` bound to its loopback: `is-listening`.
pub fn listen_bound(family: IpAddressFamily) -> Outcome {
    let (s, _) = listener(family)?;
    Ok(format!("is-listening={}", s.is_listening()))
}

/// `listen` on a socket never bound (0.2 has no implicit bind for it).
pub fn listen_unbound() -> Outcome {
    let s = socket(Ipv4)?;
    listen(&s).map(|()| String::new())
}

/// `listen` again on a listening socket.
pub fn listen_twice() -> Outcome {
    let (s, _) = listener(Ipv4)?;
    s.start_listen().map(|()| String::new())
}

/// `start-listen` again before `finish-listen`.
pub fn start_listen_while_in_progress() -> Outcome {
    let (s, _) = bound(Ipv4)?;
    s.start_listen()?;
    let again = s.start_listen();
    let _ = s.finish_listen();
    again.map(|()| String::new())
}

/// `finish-listen` with no `start-listen`.
pub fn finish_listen_not_started() -> Outcome {
    let (s, _) = bound(Ipv4)?;
    s.finish_listen().map(|()| String::new())
}

/// `finish-listen` again after it finished.
pub fn finish_listen_twice() -> Outcome {
    let (s, _) = listener(Ipv4)?;
    s.finish_listen().map(|()| String::new())
}

/// `listen` on a connected socket.
pub fn listen_connected() -> Outcome {
    let p = pair(Ipv4)?;
    p.client.socket.start_listen().map(|()| String::new())
}

/// A listener's `local-address` is the address it was bound to.
pub fn listen_keeps_address() -> Outcome {
    let (s, addr) = bound(Ipv4)?;
    listen(&s)?;
    Ok(format!("unchanged={}", same(&s.local_address()?, &addr)))
}

// --- accept ---

/// `accept` on a fresh socket, or a bound one: neither is listening.
pub fn accept_not_listening(bind_first: bool) -> Outcome {
    let s = socket(Ipv4)?;
    if bind_first {
        bind(&s, v4(0))?;
    }
    accepted(s.accept())
}

/// `accept` after `start-listen`, before `finish-listen`.
pub fn accept_listen_in_progress() -> Outcome {
    let (s, _) = bound(Ipv4)?;
    s.start_listen()?;
    let during = accepted(s.accept());
    let _ = s.finish_listen();
    during
}

/// `accept` with no connection pending.
pub fn accept_nothing_pending() -> Outcome {
    let (s, _) = listener(Ipv4)?;
    accepted(s.accept())
}

/// `accept` of a connection the probe made to itself: the accepted
/// socket's addresses mirror the client's, and it is connected, not
/// listening.
pub fn accept_ok(family: IpAddressFamily) -> Outcome {
    let p = pair(family)?;
    let (server, client) = (&p.server.socket, &p.client.socket);
    Ok(format!(
        "local-is-listener={},remote-is-client={},family={},is-listening={}",
        same(&server.local_address()?, &p.addr),
        same(&server.remote_address()?, &client.local_address()?),
        family_name(server.address_family()),
        server.is_listening(),
    ))
}

/// Two connections pending, two `accept`s: both come, then `would-block`.
/// The first is closed before the second is accepted (the test runs the
/// probe under `--max-connections 1`).
pub fn accept_two_then_none() -> Outcome {
    let (l, addr) = listener(Ipv4)?;
    let _a = connect(Ipv4, addr)?;
    let _b = connect(Ipv4, addr)?;
    drop(accept(&l)?);
    let _second = accept(&l)?;
    let third = accepted_name(l.accept());
    Ok(format!("first=ok,second=ok,third={third}"))
}

// --- remote-address: getpeername ---

/// `getpeername` of a fresh, bound or listening socket: ENOTCONN.
pub fn remote_address_of(when: &str) -> Outcome {
    let s = match when {
        "fresh" => socket(Ipv4)?,
        "bound" => bound(Ipv4)?.0,
        _ => listener(Ipv4)?.0,
    };
    s.remote_address().map(|a| addr_value(&a))
}

// --- is-listening: SO_ACCEPTCONN ---

/// `is-listening` of a fresh, a bound and a connected socket.
pub fn is_listening_not() -> Outcome {
    let fresh = socket(Ipv4)?.is_listening();
    let bound = bound(Ipv4)?.0.is_listening();
    let connected = pair(Ipv4)?.client.socket.is_listening();
    Ok(format!("fresh={fresh},bound={bound},connected={connected}"))
}

// --- subscribe ---

/// A fresh socket's pollable, with nothing in progress: ready at once?
pub fn subscribe_idle() -> Outcome {
    let s = socket(Ipv4)?;
    Ok(format!("ready={}", wait(&s.subscribe(), SILENCE_MS)))
}

/// A listener's pollable with no connection pending (ready means an
/// `accept` would not block), then with one pending.
pub fn subscribe_listener() -> Outcome {
    let (l, addr) = listener(Ipv4)?;
    let ready = l.subscribe();
    let before = wait(&ready, SILENCE_MS);
    let _client = connect(Ipv4, addr)?;
    let after = wait(&ready, WAIT_MS);
    Ok(format!("nothing-pending={before},pending={after}"))
}

/// A connecting socket's pollable: ready once the handshake is over.
pub fn subscribe_connect() -> Outcome {
    let (_listener, to) = listener(Ipv4)?;
    let s = socket(Ipv4)?;
    s.start_connect(&network(), to)?;
    let ready = wait(&s.subscribe(), WAIT_MS);
    let done = s
        .finish_connect()
        .map(|_| ())
        .err()
        .map_or("ok", |e| e.name());
    Ok(format!("ready={ready},finish-connect={done}"))
}
