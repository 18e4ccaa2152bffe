//! `tcp-std-client`: the TCP client written with Rust's `std::net`:
//! `TcpStream::connect`, then `write_all` each message and a line and read
//! the reply as a line, with the reply timeout as the socket's read timeout.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use socklab_guest::to_std;
use socklab_guest::types::{ClientConfig, ClientReport, Exchange, Reply};

socklab_guest::role!("socklab:lab/tcp-client");

struct Client;

impl exports::socklab::lab::tcp_client_role::Guest for Client {
    fn run(config: ClientConfig) -> Result<ClientReport, String> {
        let server = to_std(config.server);
        // client_sock.connect((host, port))
        let mut conn =
            TcpStream::connect(server).map_err(|e| format!("connect to {server}: {e}"))?;
        let timeout = Duration::from_millis(u64::from(config.reply_timeout_ms.max(1)));
        // Bytes after a reply's `\n` belong to the next reply.
        let mut buffered: Vec<u8> = Vec::new();
        let mut closed = false;
        let mut exchanges = Vec::new();
        for mut message in config.messages {
            message.push(b'\n');
            let start = Instant::now();
            // client_sock.sendall(message + b'\n')
            if let Err(e) = conn.write_all(&message) {
                exchanges.push(Exchange {
                    bytes_sent: 0,
                    reply: Reply::SendFailed(e.to_string()),
                    rtt_ns: 0,
                });
                continue;
            }
            let deadline = start + timeout;
            let reply = loop {
                if let Some(end) = buffered.iter().position(|&b| b == b'\n') {
                    let rest = buffered.split_off(end + 1);
                    break Reply::Complete(std::mem::replace(&mut buffered, rest));
                }
                if closed {
                    break Reply::Closed(std::mem::take(&mut buffered));
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() || conn.set_read_timeout(Some(left)).is_err() {
                    break Reply::TimedOut(std::mem::take(&mut buffered));
                }
                // reply = client_sock.recv(65536)
                let mut chunk = [0u8; 64 * 1024];
                match conn.read(&mut chunk) {
                    Ok(0) => closed = true,
                    Ok(n) => buffered.extend_from_slice(&chunk[..n]),
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(_) => closed = true,
                }
            };
            exchanges.push(Exchange {
                bytes_sent: message.len() as u64,
                reply,
                rtt_ns: start.elapsed().as_nanos() as u64,
            });
        }
        Ok(ClientReport { exchanges })
    }
}

export!(Client);
