//! `wasi03-tcp-client`: `tcp-client` on WASI 0.3 — connect once, then send
//! each message as a line and read its reply as a line.
//!
//! It follows the seed notes' TCP client: `socket(SOCK_STREAM)`, `connect`,
//! then `sendall` and `recv` for each message on the one connection,
//! through `wasi:sockets/types@0.3.0`: `connect` is one `async` call, the
//! bytes sent are written to the `stream<u8>` handed to `send`, and the
//! bytes received come from the `receive` stream. TCP carries bytes, not
//! messages, so a reply is framed as a line: every byte up to and including
//! the next `\n`, or up to the server closing the connection, or what
//! arrived before the timeout. Bytes after a `\n` are kept for the next
//! reply.

use socklab_guest03::types::{ClientConfig, ClientReport, Exchange, Reply};
use socklab_guest03::wasi::clocks::monotonic_clock;
use socklab_guest03::wasi::sockets::types::TcpSocket;
use socklab_guest03::{
    Read, StreamReader, addr_text, debug, elapsed_ns, failed, family_of, read_until,
};

socklab_guest03::role!("socklab:lab/tcp-client@0.2.0");

struct Client;

/// How much one `recv` asks for.
const READ_SIZE: usize = 64 * 1024;

impl exports::socklab::lab::tcp_client_role::Guest for Client {
    async fn run(config: ClientConfig) -> Result<ClientReport, String> {
        // client_sock = socket.socket(AF_INET, SOCK_STREAM)
        let socket = TcpSocket::create(family_of(&config.server))
            .map_err(|e| failed("tcp-socket.create", e))?;
        // client_sock.connect((host, port))
        socket
            .connect(config.server)
            .await
            .map_err(|e| failed(&format!("connect to {}", addr_text(&config.server)), e))?;
        debug(&format!("connected to {}", addr_text(&config.server)));

        // The bytes received: client_sock.recv(...) reads from here.
        let (rx, received) = socket.receive();
        // The bytes sent: client_sock.sendall(...) writes here.
        let (mut tx, to_send) = socklab_guest03::wit_stream::new();
        let sent = socket.send(to_send);

        let mut lines = LineReader {
            rx,
            buffered: Vec::new(),
            closed: false,
        };
        let timeout_ns = u64::from(config.reply_timeout_ms) * 1_000_000;
        let mut exchanges = Vec::with_capacity(config.messages.len());
        for message in config.messages {
            let mut framed = message;
            framed.push(b'\n');
            let bytes = framed.len() as u64;
            let start = monotonic_clock::now();
            // client_sock.sendall(message + b'\n'): what comes back
            // unwritten is what the connection no longer takes.
            let rest = tx.write_all(framed).await;
            if !rest.is_empty() {
                exchanges.push(Exchange {
                    bytes_sent: bytes - rest.len() as u64,
                    reply: Reply::SendFailed("the connection no longer takes bytes".into()),
                    rtt_ns: elapsed_ns(start),
                });
                continue;
            }
            // reply = client_sock.recv(...) until b'\n', close or timeout
            let reply = lines.next_line(start.saturating_add(timeout_ns)).await;
            exchanges.push(Exchange {
                bytes_sent: bytes,
                reply,
                rtt_ns: elapsed_ns(start),
            });
        }
        // client_sock.close(): the end of the send stream is the FIN.
        drop(tx);
        if let Err(e) = sent.await {
            debug(&failed("send", e));
        }
        drop(lines);
        if let Err(e) = received.await {
            debug(&failed("recv", e));
        }
        Ok(ClientReport { exchanges })
    }
}

/// Reads line-framed replies from the connection's receive stream.
struct LineReader {
    rx: StreamReader<u8>,
    /// Bytes received but not yet handed out: the start of the next reply.
    buffered: Vec<u8>,
    /// The server closed its side (`recv` returned `b''`).
    closed: bool,
}

impl LineReader {
    /// The next reply: up to and including `\n`, or all that came before the
    /// close or the `deadline` (a monotonic-clock mark).
    async fn next_line(&mut self, deadline: u64) -> Reply {
        loop {
            if let Some(end) = self.buffered.iter().position(|&b| b == b'\n') {
                let rest = self.buffered.split_off(end + 1);
                return Reply::Complete(std::mem::replace(&mut self.buffered, rest));
            }
            if self.closed {
                return Reply::Closed(std::mem::take(&mut self.buffered));
            }
            match read_until(&mut self.rx, READ_SIZE, deadline).await {
                Read::Bytes(bytes) => self.buffered.extend_from_slice(&bytes),
                Read::Closed => self.closed = true,
                Read::TimedOut => return Reply::TimedOut(std::mem::take(&mut self.buffered)),
            }
        }
    }
}

export!(Client);
