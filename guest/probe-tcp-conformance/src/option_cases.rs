//! The cases of the socket options: keep-alive (enabled, idle time,
//! interval, count), `hop-limit`, the two buffer sizes and
//! `set-listen-backlog-size`, and what an accepted socket inherits.
//!
//! Durations are printed in whole seconds (`s=N`): every value the probe
//! sets is a whole number of seconds, and Linux keeps them in seconds.
//! Each function is one case; `main.rs` runs them in order.

use socklab_guest::wasi::sockets::network::{ErrorCode, IpAddressFamily};
use socklab_guest::wasi::sockets::tcp::TcpSocket;

use crate::net::*;

/// One second, in the nanoseconds a WASI `duration` counts.
pub const SECOND: u64 = 1_000_000_000;

/// Which of the keep-alive durations a case is about.
#[derive(Clone, Copy)]
pub enum KeepAlive {
    /// `TCP_KEEPIDLE`.
    IdleTime,
    /// `TCP_KEEPINTVL`.
    Interval,
}

fn get_time(s: &TcpSocket, which: KeepAlive) -> Result<u64, ErrorCode> {
    match which {
        KeepAlive::IdleTime => s.keep_alive_idle_time(),
        KeepAlive::Interval => s.keep_alive_interval(),
    }
}

fn set_time(s: &TcpSocket, which: KeepAlive, value: u64) -> Result<(), ErrorCode> {
    match which {
        KeepAlive::IdleTime => s.set_keep_alive_idle_time(value),
        KeepAlive::Interval => s.set_keep_alive_interval(value),
    }
}

/// `ns` as `s=N`, or `ns=N` when it is not whole seconds.
fn seconds(ns: u64) -> String {
    if ns.is_multiple_of(SECOND) {
        format!("s={}", ns / SECOND)
    } else {
        format!("ns={ns}")
    }
}

// --- keep-alive: SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT ---

/// `SO_KEEPALIVE` of a fresh socket.
pub fn keep_alive_default() -> Outcome {
    Ok(socket(Ipv4)?.keep_alive_enabled()?.to_string())
}

/// Set `SO_KEEPALIVE` to `value`, read it back.
pub fn keep_alive_set(value: bool) -> Outcome {
    let s = socket(Ipv4)?;
    s.set_keep_alive_enabled(value)?;
    Ok(s.keep_alive_enabled()?.to_string())
}

/// A keep-alive duration of a fresh socket.
pub fn time_default(which: KeepAlive) -> Outcome {
    Ok(seconds(get_time(&socket(Ipv4)?, which)?))
}

/// Set a keep-alive duration to `value` nanoseconds, read it back (0 is
/// `invalid-argument`; any other value may be clamped or rounded).
pub fn time_set(which: KeepAlive, value: u64) -> Outcome {
    let s = socket(Ipv4)?;
    set_time(&s, which, value)?;
    Ok(seconds(get_time(&s, which)?))
}

/// `TCP_KEEPCNT` of a fresh socket.
pub fn count_default() -> Outcome {
    Ok(socket(Ipv4)?.keep_alive_count()?.to_string())
}

/// Set `TCP_KEEPCNT` to `value`, read it back.
pub fn count_set(value: u32) -> Outcome {
    let s = socket(Ipv4)?;
    s.set_keep_alive_count(value)?;
    Ok(s.keep_alive_count()?.to_string())
}

// --- hop-limit: IP_TTL / IPV6_UNICAST_HOPS ---

/// The hop limit of a fresh socket.
pub fn hop_limit_default(family: IpAddressFamily) -> Outcome {
    Ok(socket(family)?.hop_limit()?.to_string())
}

/// Set the hop limit to `value`, read it back.
pub fn hop_limit_set(family: IpAddressFamily, value: u8) -> Outcome {
    let s = socket(family)?;
    s.set_hop_limit(value)?;
    Ok(s.hop_limit()?.to_string())
}

/// The hop limit asked for while a connect is in progress (no
/// `finish-connect` called yet).
pub fn hop_limit_connecting() -> Outcome {
    let (_listener, to) = listener(Ipv4)?;
    let s = socket(Ipv4)?;
    s.start_connect(&network(), to)?;
    let during = s.hop_limit();
    // Leave the connect finished either way.
    let _ = finish(&s, || s.finish_connect());
    Ok(during?.to_string())
}

// --- receive-buffer-size, send-buffer-size: SO_RCVBUF, SO_SNDBUF ---

/// Which of the two buffers a case is about.
#[derive(Clone, Copy)]
pub enum Buffer {
    /// `SO_RCVBUF`.
    Receive,
    /// `SO_SNDBUF`.
    Send,
}

fn get_buffer(s: &TcpSocket, which: Buffer) -> Result<u64, ErrorCode> {
    match which {
        Buffer::Receive => s.receive_buffer_size(),
        Buffer::Send => s.send_buffer_size(),
    }
}

fn set_buffer(s: &TcpSocket, which: Buffer, value: u64) -> Result<(), ErrorCode> {
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

// --- set-listen-backlog-size: the backlog of listen() ---

/// Where the socket is when its backlog is set.
#[derive(Clone, Copy)]
pub enum When {
    /// Fresh, before any listen.
    Fresh,
    /// Listening (Linux changes the backlog with a second `listen`).
    Listening,
    /// Connected.
    Connected,
}

/// `set-listen-backlog-size(value)` on a socket in state `when`.
pub fn backlog_set(when: When, value: u64) -> Outcome {
    let set = |s: &TcpSocket| s.set_listen_backlog_size(value).map(|()| String::new());
    match when {
        When::Fresh => set(&socket(Ipv4)?),
        When::Listening => set(&listener(Ipv4)?.0),
        When::Connected => set(&pair(Ipv4)?.client.socket),
    }
}

/// A backlog set before `listen`, then a listen that uses it: ok.
pub fn backlog_then_listen() -> Outcome {
    let (s, _) = bound(Ipv4)?;
    s.set_listen_backlog_size(4)?;
    listen(&s)?;
    Ok(format!("listening={}", s.is_listening()))
}

// --- what accept passes on ---

/// Options set on a listener, read on the socket it accepts: the WIT lists
/// keep-alive (all four), `hop-limit` and the buffer sizes as inherited.
pub fn accept_inherits() -> Outcome {
    let (l, addr) = bound(Ipv4)?;
    l.set_keep_alive_enabled(true)?;
    l.set_keep_alive_idle_time(100 * SECOND)?;
    l.set_keep_alive_interval(20 * SECOND)?;
    l.set_keep_alive_count(4)?;
    l.set_hop_limit(33)?;
    listen(&l)?;
    let _client = connect(Ipv4, addr)?;
    let a = accept(&l)?.socket;
    Ok(format!(
        "keep-alive={},idle-{},interval-{},count={},hop-limit={}",
        a.keep_alive_enabled()?,
        seconds(a.keep_alive_idle_time()?),
        seconds(a.keep_alive_interval()?),
        a.keep_alive_count()?,
        a.hop_limit()?,
    ))
}
