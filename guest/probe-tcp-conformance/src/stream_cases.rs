//! The cases of a connection's two streams (`send` and `recv` on the
//! input and output streams `finish-connect` and `accept` return) and of
//! `shutdown`, between the probe's own two ends on loopback.
//!
//! Each function is one case; `main.rs` runs them in order.

use socklab_guest::wasi::io::streams::OutputStream;
use socklab_guest::wasi::sockets::network::IpAddressFamily;
use socklab_guest::wasi::sockets::tcp::ShutdownType;

use crate::net::*;

// --- send / recv ---

/// `send` on one end, `recv` on the other, and the reply back: an echo of
/// `len` bytes through the probe's own connection of `family`.
pub fn echo(family: IpAddressFamily, len: usize) -> Outcome {
    let p = pair(family)?;
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    write_all(&p.client.output, &data).map_err(|_| timeout())?;
    let got = read_exactly(&p.server.input, len);
    write_all(&p.server.output, &got).map_err(|_| timeout())?;
    let back = read_exactly(&p.client.input, len);
    Ok(format!("len={},intact={}", back.len(), back == data))
}

/// The code a stream error becomes when a case cannot go on.
fn timeout() -> socklab_guest::wasi::sockets::network::ErrorCode {
    socklab_guest::wasi::sockets::network::ErrorCode::Timeout
}

/// `len` bytes one way, sent and received in turns (one end's send buffer
/// is far smaller than `len`, so sending it all before reading would stall).
pub fn bulk(len: usize) -> Outcome {
    let p = pair(Ipv4)?;
    let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
    let (mut sent, mut got) = (0, Vec::with_capacity(len));
    let (out_ready, in_ready) = (p.client.output.subscribe(), p.server.input.subscribe());
    for _ in 0..100_000 {
        if got.len() >= len {
            break;
        }
        let permit = p.client.output.check_write().map_err(|_| timeout())?;
        let n = (len - sent).min(usize::try_from(permit).unwrap_or(usize::MAX));
        if n > 0 {
            p.client
                .output
                .write(&data[sent..sent + n])
                .map_err(|_| timeout())?;
            sent += n;
        }
        match p.server.input.read(64 * 1024) {
            Ok(bytes) if !bytes.is_empty() => got.extend(bytes),
            Ok(_) if n == 0 => {
                let timeout = socklab_guest::wasi::clocks::monotonic_clock::subscribe_duration(
                    WAIT_MS * 1_000_000,
                );
                let woke = socklab_guest::wasi::io::poll::poll(&[&out_ready, &in_ready, &timeout]);
                if woke == [2] {
                    break;
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(format!("len={},intact={}", got.len(), got == data))
}

/// `recv(0)`: an empty read, at once.
pub fn read_zero() -> Outcome {
    let p = pair(Ipv4)?;
    let bytes = p.client.input.read(0).map_err(|_| timeout())?;
    Ok(bytes.len().to_string())
}

/// A non-blocking `recv` with nothing sent: an empty read, not an error.
pub fn read_nothing_pending() -> Outcome {
    let p = pair(Ipv4)?;
    let bytes = p.client.input.read(16).map_err(|_| timeout())?;
    Ok(bytes.len().to_string())
}

/// `check-write` once the output stream is ready: how many bytes the next
/// `write` may carry.
pub fn check_write_ready() -> Outcome {
    let p = pair(Ipv4)?;
    wait(&p.client.output.subscribe(), WAIT_MS);
    Ok(p.client
        .output
        .check_write()
        .map_err(|_| timeout())?
        .to_string())
}

/// `write` of nothing: ok, and the peer reads nothing.
pub fn write_empty() -> Outcome {
    let p = pair(Ipv4)?;
    p.client.output.write(&[]).map_err(|_| timeout())?;
    let seen = read_within(&p.server.input, 16, SILENCE_MS);
    Ok(format!("peer-read={}", seen.name()))
}

/// The peer drops its end (streams, then socket): `recv` sees the end of
/// the stream once what was sent before has been read.
pub fn peer_closes() -> Outcome {
    let Pair { client, server, .. } = pair(Ipv4)?;
    write_all(&server.output, b"bye").map_err(|_| timeout())?;
    drop(server);
    let data = read_exactly(&client.input, 3);
    let then = read_within(&client.input, 16, WAIT_MS);
    Ok(format!("data={},then={}", data == b"bye", then.name()))
}

// --- shutdown: shutdown(SHUT_RD / SHUT_WR / SHUT_RDWR) ---

/// Which way a shutdown case closes, and what it then checks.
fn shut(how: ShutdownType) -> Outcome {
    let p = pair(Ipv4)?;
    p.client.socket.shutdown(how)?;
    let write = try_write(&p.client.output);
    let read = read_within(&p.client.input, 16, SILENCE_MS);
    let peer = read_within(&p.server.input, 16, SILENCE_MS);
    Ok(format!(
        "write={write},read={},peer-read={}",
        read.name(),
        peer.name()
    ))
}

/// `shutdown(receive)`: this end reads no more.
pub fn shutdown_receive() -> Outcome {
    shut(ShutdownType::Receive)
}

/// `shutdown(send)`: this end writes no more, and the peer sees the end.
pub fn shutdown_send() -> Outcome {
    shut(ShutdownType::Send)
}

/// `shutdown(both)`.
pub fn shutdown_both() -> Outcome {
    shut(ShutdownType::Both)
}

/// One write of a byte: `ok`, or the stream's error name.
fn try_write(output: &OutputStream) -> &'static str {
    match output.check_write().and_then(|_| output.write(b"x")) {
        Ok(()) => "ok",
        Err(e) => stream_error(&e),
    }
}

/// "This function is idempotent": `shutdown(send)` twice.
pub fn shutdown_twice() -> Outcome {
    let p = pair(Ipv4)?;
    p.client.socket.shutdown(ShutdownType::Send)?;
    p.client.socket.shutdown(ShutdownType::Send)?;
    Ok(String::new())
}

/// Half-close: after `shutdown(send)` the peer reads what was sent, then
/// the end; it can still answer, and this end still reads the answer.
pub fn half_close() -> Outcome {
    let p = pair(Ipv4)?;
    write_all(&p.client.output, b"ping").map_err(|_| timeout())?;
    p.client.socket.shutdown(ShutdownType::Send)?;
    let got = read_exactly(&p.server.input, 4);
    let end = read_within(&p.server.input, 16, WAIT_MS);
    write_all(&p.server.output, b"pong").map_err(|_| timeout())?;
    let answer = read_exactly(&p.client.input, 4);
    Ok(format!(
        "peer-got={},peer-then={},answer={}",
        got == b"ping",
        end.name(),
        answer == b"pong"
    ))
}

/// `shutdown` of a socket that is not connected: fresh, bound, listening.
pub fn shutdown_not_connected(when: &str) -> Outcome {
    let s = match when {
        "fresh" => socket(Ipv4)?,
        "bound" => bound(Ipv4)?.0,
        _ => listener(Ipv4)?.0,
    };
    s.shutdown(ShutdownType::Both).map(|()| String::new())
}

/// `shutdown` of the accepted end works as of the connecting one.
pub fn shutdown_accepted() -> Outcome {
    let p = pair(Ipv4)?;
    p.server.socket.shutdown(ShutdownType::Send)?;
    let seen = read_within(&p.client.input, 16, WAIT_MS);
    Ok(format!("peer-read={}", seen.name()))
}
