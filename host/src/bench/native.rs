//! The native baseline: echo servers written with tokio, in socklab's own
//! process and on its own runtime, doing what the bundled guest servers do
//! (echo bytes as they arrive; answer each datagram to its sender).

use std::net::SocketAddr;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::{JoinHandle, JoinSet};

/// A native echo server; dropping it stops it and every connection it holds.
pub struct NativeServer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for NativeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The bytes one `read` asks for, as the guest servers do.
const READ_CHUNK: usize = 64 * 1024;

/// A TCP echo server on 127.0.0.1, serving every connection at once.
pub async fn tcp_echo() -> Result<NativeServer> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the native TCP echo server")?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        // Connections live in the set, so aborting the accept loop drops
        // (and aborts) them too.
        let mut conns = JoinSet::new();
        while let Ok((mut conn, _)) = listener.accept().await {
            conns.spawn(async move {
                let mut buf = vec![0u8; READ_CHUNK];
                while let Ok(n) = conn.read(&mut buf).await {
                    if n == 0 || conn.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
            // Reap finished connections so the set does not grow without bound.
            while conns.try_join_next().is_some() {}
        }
    });
    Ok(NativeServer { addr, task })
}

/// A UDP echo server on 127.0.0.1.
pub async fn udp_echo() -> Result<NativeServer> {
    let socket = UdpSocket::bind("127.0.0.1:0")
        .await
        .context("binding the native UDP echo server")?;
    let addr = socket.local_addr()?;
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; READ_CHUNK];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            let _ = socket.send_to(&buf[..n], peer).await;
        }
    });
    Ok(NativeServer { addr, task })
}
