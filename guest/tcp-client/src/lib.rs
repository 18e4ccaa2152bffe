//! `tcp-client`: connect once, then send each message as a line and read its
//! reply as a line.
//!
//! It follows the seed notes' TCP client: `socket(SOCK_STREAM)`, `connect`,
//! then `sendall` and `recv` for each message on the one connection. Because
//! TCP carries bytes, not messages, a reply is framed as a line: every byte up
//! to and including the next `\n`, or up to the server closing the
//! connection, or what arrived before the timeout. One `recv` is never taken
//! to be one message: bytes that arrive after a `\n` are kept for the next
//! reply.

use socklab_guest::io::{Deadline, ReadSize, elapsed_ns, stream_error_text, wait_until, write_all};
use socklab_guest::tcp::TcpSocketExt;
use socklab_guest::types::{ClientConfig, ClientReport, Exchange, Reply};
use socklab_guest::wasi::clocks::monotonic_clock;
use socklab_guest::wasi::io::poll::Pollable;
use socklab_guest::wasi::io::streams::{InputStream, StreamError};
use socklab_guest::wasi::sockets::instance_network::instance_network;
use socklab_guest::wasi::sockets::tcp_create_socket::create_tcp_socket;
use socklab_guest::{addr_text, debug, failed, family_of};

socklab_guest::role!("socklab:lab/tcp-client");

struct Client;

impl exports::socklab::lab::tcp_client_role::Guest for Client {
    fn run(config: ClientConfig) -> Result<ClientReport, String> {
        let network = instance_network();

        // client_sock = socket.socket(AF_INET, SOCK_STREAM)
        let socket = create_tcp_socket(family_of(&config.server))
            .map_err(|e| failed("create-tcp-socket", e))?;
        // client_sock.connect((host, port))
        let (input, output) = socket
            .blocking_connect(&network, config.server)
            .map_err(|e| failed(&format!("connect to {}", addr_text(&config.server)), e))?;
        debug(&format!("connected to {}", addr_text(&config.server)));

        let mut lines = LineReader {
            readable: input.subscribe(),
            input: &input,
            buffered: Vec::new(),
            closed: false,
            read_size: ReadSize::new(),
        };
        let mut exchanges = Vec::with_capacity(config.messages.len());
        for message in config.messages {
            let mut framed = message;
            framed.push(b'\n');
            let start = monotonic_clock::now();
            // client_sock.sendall(message + b'\n')
            if let Err(e) = write_all(&output, &framed) {
                exchanges.push(Exchange {
                    bytes_sent: 0,
                    reply: Reply::SendFailed(stream_error_text(&e)),
                    rtt_ns: elapsed_ns(start),
                });
                continue;
            }
            // reply = client_sock.recv(...) until b'\n', close or timeout
            let reply = lines.next_line(Deadline::after_ms(config.reply_timeout_ms));
            exchanges.push(Exchange {
                bytes_sent: framed.len() as u64,
                reply,
                rtt_ns: elapsed_ns(start),
            });
        }
        Ok(ClientReport { exchanges })
    }
}

/// Reads line-framed replies from a byte stream.
struct LineReader<'a> {
    /// Ready when `input` has bytes; one for the whole connection, not one
    /// per reply (each is two host calls).
    readable: Pollable,
    input: &'a InputStream,
    /// Bytes received but not yet handed out: the start of the next reply.
    buffered: Vec<u8>,
    /// The server closed its side (`recv` returned `b''`).
    closed: bool,
    /// How much the next `recv` asks for.
    read_size: ReadSize,
}

impl LineReader<'_> {
    /// The next reply: up to and including `\n`, or all that came before the
    /// close or the deadline.
    fn next_line(&mut self, deadline: Deadline) -> Reply {
        let timer = deadline.pollable();
        loop {
            if let Some(end) = self.buffered.iter().position(|&b| b == b'\n') {
                let rest = self.buffered.split_off(end + 1);
                return Reply::Complete(std::mem::replace(&mut self.buffered, rest));
            }
            if self.closed {
                return Reply::Closed(std::mem::take(&mut self.buffered));
            }
            if !wait_until(&self.readable, &timer) {
                return Reply::TimedOut(std::mem::take(&mut self.buffered));
            }
            match self.input.read(self.read_size.get()) {
                Ok(bytes) => {
                    self.read_size.update(bytes.len() as u64);
                    self.buffered.extend_from_slice(&bytes);
                }
                Err(StreamError::Closed) => self.closed = true,
                Err(StreamError::LastOperationFailed(e)) => {
                    debug(&format!("recv: {}", e.to_debug_string()));
                    self.closed = true;
                }
            }
        }
    }
}

export!(Client);
