//! Native peers and waits shared by the relay's tests: echo servers on
//! loopback, a spec builder, and waits that always have a deadline.
#![allow(dead_code)] // Each test file uses a different part of this.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use socklab_relay::{Capture, LinkSpec, LinkStats, Relay};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// The longest any single wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(20);

pub const V4: &str = "127.0.0.1:0";
pub const V6: &str = "[::1]:0";

/// `fut`, or a panic naming `what` after [`WAIT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(t) => t,
        Err(_) => panic!("timed out after {WAIT:?} waiting for {what}"),
    }
}

/// A spec for link `name` from `listen` to `server`.
pub fn spec<I: Default>(name: &str, seed: u64, listen: &str, server: SocketAddr) -> LinkSpec<I> {
    LinkSpec {
        name: name.into(),
        seed,
        listen: listen.parse().expect("loopback address"),
        server,
        to_server: I::default(),
        to_client: I::default(),
        capture: None::<Capture>,
    }
}

/// Waits until the relay's stats satisfy `done`, checking every few
/// milliseconds, and returns them.
pub async fn until(relay: &Relay, what: &str, done: impl Fn(&LinkStats) -> bool) -> LinkStats {
    within(what, async {
        loop {
            let stats = relay.stats();
            if done(&stats) {
                return stats;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

/// Waits until a UDP relay has read `sent` datagrams from the client, the
/// echo server has answered every one it delivered, and nothing is queued.
pub async fn udp_settled(relay: &Relay, sent: u64) -> LinkStats {
    until(relay, "the UDP relay to settle", |s| {
        s.to_server.received == sent
            && s.to_server.pending == 0
            && s.to_client.received == s.to_server.delivered
            && s.to_client.pending == 0
    })
    .await
}

/// A UDP echo server on `bind`: sends every datagram back to its source.
pub async fn udp_echo(bind: &str) -> SocketAddr {
    let socket = UdpSocket::bind(bind).await.expect("bind UDP echo");
    let addr = socket.local_addr().expect("UDP echo address");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let _ = socket.send_to(&buf[..n], from).await;
        }
    });
    addr
}

/// A TCP echo server on `bind`: per connection, writes back what it reads
/// and shuts down writing at end of stream.
pub async fn tcp_echo(bind: &str) -> SocketAddr {
    let listener = TcpListener::bind(bind).await.expect("bind TCP echo");
    let addr = listener.local_addr().expect("TCP echo address");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                if tokio::io::copy(&mut r, &mut w).await.is_ok() {
                    let _ = w.shutdown().await;
                }
            });
        }
    });
    addr
}

/// `n` bytes of a fixed pseudo-random pattern.
pub fn pattern(n: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_u32;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Sends `data` on `s` while reading everything that comes back, half-closes
/// after the last byte, and returns what was read up to end of stream.
pub async fn tcp_exchange(s: TcpStream, data: &[u8]) -> Vec<u8> {
    let (mut r, mut w) = s.into_split();
    let data = data.to_vec();
    let writer = tokio::spawn(async move {
        w.write_all(&data).await.expect("write to relay");
        w.shutdown().await.expect("half-close");
        w
    });
    let mut back = Vec::new();
    within("the echo up to end of stream", r.read_to_end(&mut back))
        .await
        .expect("read from relay");
    within("the writer", writer).await.expect("writer task");
    back
}

/// One message and its echo: writes `msg` and reads exactly as many bytes
/// back.
pub async fn tcp_ping(s: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
    s.write_all(msg).await.expect("write to relay");
    let mut back = vec![0u8; msg.len()];
    within("an echo", s.read_exact(&mut back))
        .await
        .expect("read echo");
    back
}

/// The lab's message `#nnnnnn` padded to `len` bytes with `x` and a newline.
pub fn message(n: u64, len: usize) -> Vec<u8> {
    let mut m = format!("#{n:06} ").into_bytes();
    m.resize(len - 1, b'x');
    m.push(b'\n');
    m
}

/// The number of a lab message.
pub fn tag(msg: &[u8]) -> u64 {
    std::str::from_utf8(&msg[1..7])
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("a #nnnnnn message")
}
