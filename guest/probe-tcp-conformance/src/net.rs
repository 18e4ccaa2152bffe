//! The probe's vocabulary: its loopback addresses, sockets bound, listening
//! and connected on them, bounded waits, and reads and writes that never
//! wait past a deadline.
//!
//! Every helper returns the first error code it meets, so a case that fails
//! in its set-up prints that code and the comparison shows it.

use socklab_guest::wasi::clocks::monotonic_clock::subscribe_duration;
use socklab_guest::wasi::io::poll::{Pollable, poll};
use socklab_guest::wasi::io::streams::{InputStream, OutputStream, StreamError};
use socklab_guest::wasi::sockets::instance_network::instance_network;
use socklab_guest::wasi::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress, Network};
use socklab_guest::wasi::sockets::tcp::TcpSocket;
use socklab_guest::wasi::sockets::tcp_create_socket::create_tcp_socket;

pub use IpAddressFamily::{Ipv4, Ipv6};
pub use socklab_guest::probe::*;

/// The longest any one wait in the probe lasts: a handshake or a segment on
/// loopback takes microseconds, so this only bounds a broken implementation.
pub const WAIT_MS: u64 = 2000;

/// How long a case that expects *nothing* to happen waits for it.
pub const SILENCE_MS: u64 = 300;

/// The default network (`instance-network`), the capability bind and
/// connect need.
pub fn network() -> Network {
    instance_network()
}

/// Whether two addresses are the same address and port.
pub fn same(a: &IpSocketAddress, b: &IpSocketAddress) -> bool {
    socklab_guest::same_peer(a, b)
}

/// `socket(family, SOCK_STREAM)`: `create-tcp-socket`.
pub fn socket(family: IpAddressFamily) -> Result<TcpSocket, ErrorCode> {
    create_tcp_socket(family)
}

/// Block until `ready` is ready or `ms` milliseconds pass; `true` if it was
/// ready (`poll` with a `subscribe-duration` timeout, as `select()`).
pub fn wait(ready: &Pollable, ms: u64) -> bool {
    let timeout = subscribe_duration(ms * 1_000_000);
    poll(&[ready, &timeout]).contains(&0)
}

/// Call `finish` until it stops saying `would-block`, waiting (bounded) on
/// the socket's pollable between tries: the second half of every two-phase
/// call.
pub fn finish<T>(
    socket: &TcpSocket,
    mut finish: impl FnMut() -> Result<T, ErrorCode>,
) -> Result<T, ErrorCode> {
    let ready = socket.subscribe();
    for _ in 0..100 {
        match finish() {
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

/// `bind(addr)`: `start-bind`, then `finish-bind`.
pub fn bind(socket: &TcpSocket, addr: IpSocketAddress) -> Result<(), ErrorCode> {
    socket.start_bind(&network(), addr)?;
    finish(socket, || socket.finish_bind())
}

/// A socket of `family` bound to its loopback address, port 0, with the
/// address it got.
pub fn bound(family: IpAddressFamily) -> Result<(TcpSocket, IpSocketAddress), ErrorCode> {
    let s = socket(family)?;
    bind(&s, loopback(family, 0))?;
    let addr = s.local_address()?;
    Ok((s, addr))
}

/// `listen()`: `start-listen`, then `finish-listen`.
pub fn listen(socket: &TcpSocket) -> Result<(), ErrorCode> {
    socket.start_listen()?;
    finish(socket, || socket.finish_listen())
}

/// A socket of `family` listening on its loopback address, with the address.
pub fn listener(family: IpAddressFamily) -> Result<(TcpSocket, IpSocketAddress), ErrorCode> {
    let (s, addr) = bound(family)?;
    listen(&s)?;
    Ok((s, addr))
}

/// A connected socket and its two streams. Fields drop in order, streams
/// first: WASI refuses to drop a socket whose streams are still alive.
pub struct Conn {
    pub input: InputStream,
    pub output: OutputStream,
    pub socket: TcpSocket,
}

/// `connect(addr)` on `socket`: `start-connect`, then `finish-connect`.
pub fn connect_on(socket: TcpSocket, addr: IpSocketAddress) -> Result<Conn, ErrorCode> {
    socket.start_connect(&network(), addr)?;
    let (input, output) = finish(&socket, || socket.finish_connect())?;
    Ok(Conn {
        input,
        output,
        socket,
    })
}

/// A fresh socket of `addr`'s family connected to `addr` (bound implicitly).
pub fn connect(family: IpAddressFamily, addr: IpSocketAddress) -> Result<Conn, ErrorCode> {
    connect_on(socket(family)?, addr)
}

/// `accept()`, waiting (bounded) for a connection to be pending.
pub fn accept(listener: &TcpSocket) -> Result<Conn, ErrorCode> {
    let (socket, input, output) = finish(listener, || listener.accept())?;
    Ok(Conn {
        input,
        output,
        socket,
    })
}

/// What one `accept` call returned, as a case's result: `ok` (the
/// connection closed again, streams first, as WASI requires) or its error.
pub fn accepted(result: Result<(TcpSocket, InputStream, OutputStream), ErrorCode>) -> Outcome {
    let (socket, input, output) = result?;
    drop((input, output));
    drop(socket);
    Ok(String::new())
}

/// [`accepted`]'s result as one word: `ok` or the error's name.
pub fn accepted_name(
    result: Result<(TcpSocket, InputStream, OutputStream), ErrorCode>,
) -> &'static str {
    accepted(result).err().map_or("ok", |e| e.name())
}

/// A listener and the two ends of one connection to it: `client` made by
/// `connect`, `server` by `accept`. Drops the connection before the listener.
pub struct Pair {
    pub client: Conn,
    pub server: Conn,
    /// Held, not read: the listener stays open as long as the connection.
    #[allow(dead_code)]
    pub listener: TcpSocket,
    /// The listener's address.
    pub addr: IpSocketAddress,
}

/// A connection of `family` from the probe to itself on loopback.
pub fn pair(family: IpAddressFamily) -> Result<Pair, ErrorCode> {
    let (listener, addr) = listener(family)?;
    let client = connect(family, addr)?;
    let server = accept(&listener)?;
    Ok(Pair {
        client,
        server,
        listener,
        addr,
    })
}

/// A port nothing listens on: one a listener had, closed again.
pub fn closed_port(family: IpAddressFamily) -> Result<u16, ErrorCode> {
    let (_listener, addr) = listener(family)?;
    Ok(port_of(&addr))
}

/// What a bounded read found.
pub enum Read {
    /// These bytes (all that arrived within the wait, up to what was asked).
    Data(Vec<u8>),
    /// Nothing arrived within the wait.
    Nothing,
    /// The stream ended: the peer's FIN, or this side's shutdown.
    Closed,
    /// The stream failed (`last-operation-failed`: a reset, ...).
    Failed,
}

impl Read {
    /// As a result value: `data`, `nothing`, `closed` or `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            Read::Data(_) => "data",
            Read::Nothing => "nothing",
            Read::Closed => "closed",
            Read::Failed => "failed",
        }
    }
}

/// `recv`: the next bytes (at most `max`) within `ms` milliseconds.
pub fn read_within(input: &InputStream, max: u64, ms: u64) -> Read {
    let ready = input.subscribe();
    let deadline = subscribe_duration(ms * 1_000_000);
    // Bounded twice: by the deadline, and by a count in case readiness
    // keeps firing with nothing to read.
    for _ in 0..1000 {
        match input.read(max) {
            Ok(bytes) if !bytes.is_empty() => return Read::Data(bytes),
            Ok(_) => {}
            Err(StreamError::Closed) => return Read::Closed,
            Err(StreamError::LastOperationFailed(_)) => return Read::Failed,
        }
        if !poll(&[&ready, &deadline]).contains(&0) {
            return Read::Nothing;
        }
    }
    Read::Nothing
}

/// `recv` until `len` bytes have come (or the stream ends, fails, or a wait
/// passes [`WAIT_MS`]); what came.
pub fn read_exactly(input: &InputStream, len: usize) -> Vec<u8> {
    let mut got = Vec::new();
    for _ in 0..10_000 {
        if got.len() >= len {
            break;
        }
        match read_within(input, (len - got.len()) as u64, WAIT_MS) {
            Read::Data(bytes) => got.extend(bytes),
            _ => break,
        }
    }
    got
}

/// `sendall`: write all of `bytes`, each write as large as `check-write`
/// permits, waiting (bounded) while it permits nothing.
pub fn write_all(output: &OutputStream, mut bytes: &[u8]) -> Result<(), StreamError> {
    let ready = output.subscribe();
    for _ in 0..10_000 {
        if bytes.is_empty() {
            return Ok(());
        }
        let permit = output.check_write()?;
        if permit == 0 {
            if !wait(&ready, WAIT_MS) {
                break;
            }
            continue;
        }
        let n = bytes
            .len()
            .min(usize::try_from(permit).unwrap_or(usize::MAX));
        output.write(&bytes[..n])?;
        bytes = &bytes[n..];
    }
    // Out of waits: the stream stopped taking bytes.
    Err(StreamError::Closed)
}

/// A stream error's name: `closed` or `failed`.
pub fn stream_error(e: &StreamError) -> &'static str {
    match e {
        StreamError::Closed => "closed",
        StreamError::LastOperationFailed(_) => "failed",
    }
}
