//! The client side of every network row: plain Rust `std::net` clients (and
//! tokio for the many-connections row) that drive a native server and a
//! guest server alike, so the two differ only in the server.
//!
//! Every loop is bounded twice, by a count and by a deadline, and every
//! socket has a read timeout: a stuck server ends a row, never the bench.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Barrier;

/// How long one read may wait before the row gives up.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A message of `size` bytes ending in `\n`, so line-framed clients and
/// byte echoes agree on where it ends.
pub fn message(size: usize) -> Vec<u8> {
    let mut m = vec![b'x'; size.max(1)];
    *m.last_mut().unwrap() = b'\n';
    m
}

fn connect(addr: SocketAddr) -> Result<TcpStream> {
    let conn = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .with_context(|| format!("connecting to {addr}"))?;
    conn.set_nodelay(true)?;
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(conn)
}

/// Ping-pong on one connection: send `size` bytes, read them all back,
/// `count` times or until `limit` has passed. Each round trip in µs.
pub fn ping_pong(addr: SocketAddr, count: usize, size: usize, limit: Duration) -> Result<Vec<f64>> {
    let mut conn = connect(addr)?;
    let message = message(size);
    let mut reply = vec![0u8; size];
    let mut rtts = Vec::with_capacity(count);
    let deadline = Instant::now() + limit;
    while rtts.len() < count && Instant::now() < deadline {
        let start = Instant::now();
        conn.write_all(&message).context("sending a ping")?;
        conn.read_exact(&mut reply).context("reading its echo")?;
        rtts.push(start.elapsed().as_secs_f64() * 1e6);
    }
    Ok(rtts)
}

/// Bulk echo on one connection: one thread writes `total` bytes while this
/// one reads them back. MB/s (10^6 bytes) of echoed bytes.
pub fn bulk(addr: SocketAddr, total: usize, limit: Duration) -> Result<f64> {
    let mut conn = connect(addr)?;
    let mut writer = conn.try_clone()?;
    let start = Instant::now();
    let deadline = start + limit;
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        let chunk = vec![b'b'; 64 * 1024];
        let mut sent = 0;
        while sent < total && Instant::now() < deadline {
            let n = chunk.len().min(total - sent);
            writer.write_all(&chunk[..n])?;
            sent += n;
        }
        Ok(())
    });
    let mut buf = vec![0u8; 256 * 1024];
    let mut received = 0;
    while received < total {
        if Instant::now() >= deadline {
            break;
        }
        match conn.read(&mut buf) {
            Ok(0) => bail!("the server closed after echoing {received} of {total} bytes"),
            Ok(n) => received += n,
            Err(e) => return Err(e).context("reading the echo"),
        }
    }
    let elapsed = start.elapsed();
    // Unblock the writer if the deadline cut the read short.
    let _ = conn.shutdown(Shutdown::Both);
    let _ = sender.join();
    if received == 0 {
        bail!("nothing came back within {limit:?}");
    }
    Ok(received as f64 / elapsed.as_secs_f64() / 1e6)
}

/// What a UDP run achieved.
pub struct UdpRate {
    /// Echoed datagrams per second.
    pub per_sec: f64,
    /// Datagrams sent whose echo never came.
    pub lost: usize,
}

/// Datagrams of `size` bytes with up to `window` in flight, `count` in all
/// or until `limit`; a gap of 100 ms without an echo counts what is in
/// flight as lost and refills the window.
pub fn udp_rate(
    addr: SocketAddr,
    (size, window): (usize, usize),
    count: usize,
    limit: Duration,
) -> Result<UdpRate> {
    let socket = UdpSocket::bind("127.0.0.1:0").context("binding the UDP client")?;
    socket.connect(addr)?;
    socket.set_read_timeout(Some(Duration::from_millis(100)))?;
    let datagram = vec![b'u'; size];
    let mut buf = vec![0u8; 64 * 1024];
    let (mut sent, mut echoed, mut lost) = (0, 0, 0);
    let start = Instant::now();
    let deadline = start + limit;
    while echoed + lost < count && Instant::now() < deadline {
        while sent < count && sent - echoed - lost < window {
            socket.send(&datagram).context("sending a datagram")?;
            sent += 1;
        }
        match socket.recv(&mut buf) {
            Ok(_) => echoed += 1,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                lost += sent - echoed - lost;
            }
            Err(e) => return Err(e).context("receiving an echo"),
        }
    }
    if echoed == 0 {
        bail!("no datagram came back");
    }
    Ok(UdpRate {
        per_sec: echoed as f64 / start.elapsed().as_secs_f64(),
        lost,
    })
}

/// Connections per second: connect, one byte there and back, close;
/// `count` times or until `limit`.
pub fn connect_rate(addr: SocketAddr, count: usize, limit: Duration) -> Result<f64> {
    let start = Instant::now();
    let deadline = start + limit;
    let mut done = 0;
    let mut byte = [0u8; 1];
    while done < count && Instant::now() < deadline {
        let mut conn = connect(addr)?;
        conn.write_all(b"c")?;
        conn.read_exact(&mut byte)
            .context("reading the echoed byte")?;
        done += 1;
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

/// `conns` connections held open at once, each doing `count` ping-pongs of
/// `size` bytes concurrently (started together once all are connected).
/// Every round trip in µs.
pub async fn concurrent(
    addr: SocketAddr,
    conns: usize,
    count: usize,
    size: usize,
    limit: Duration,
) -> Result<Vec<f64>> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut streams = Vec::with_capacity(conns);
    for _ in 0..conns {
        let conn = tokio::time::timeout(IO_TIMEOUT, tokio::net::TcpStream::connect(addr))
            .await
            .context("connecting timed out")?
            .with_context(|| format!("connecting to {addr}"))?;
        conn.set_nodelay(true)?;
        streams.push(conn);
    }
    let start = Arc::new(Barrier::new(conns));
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|mut conn| {
            let start = start.clone();
            tokio::spawn(async move {
                let message = message(size);
                let mut reply = vec![0u8; size];
                let mut rtts = Vec::with_capacity(count);
                start.wait().await;
                while rtts.len() < count && tokio::time::Instant::now() < deadline {
                    let t = Instant::now();
                    let io = async {
                        conn.write_all(&message).await?;
                        conn.read_exact(&mut reply).await
                    };
                    match tokio::time::timeout(IO_TIMEOUT, io).await {
                        Ok(Ok(_)) => rtts.push(t.elapsed().as_secs_f64() * 1e6),
                        Ok(Err(e)) => return Err(anyhow::Error::from(e).context("ping-pong")),
                        Err(_) => bail!("no echo within {IO_TIMEOUT:?}"),
                    }
                }
                Ok(rtts)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(conns * count);
    for task in tasks {
        all.extend(task.await??);
    }
    Ok(all)
}
