//! `tcp-echo-server`: a TCP server that sends back every byte as it arrives.
//!
//! It follows the seed notes' TCP server (`socket`, `bind`, `listen`,
//! `accept`, `recv`, `sendall`) through `wasi:sockets`, and serves many
//! clients at once: one `wasi:io/poll` loop waits on the listener, every open
//! connection and the host's stop signal, and every read and write is
//! non-blocking, so a slow client never holds up the others. It adds no
//! framing of its own: the seed's client (`sendall(b'message')`, then `recv`)
//! gets its bytes back, and so does a line-oriented client.
//!
//! `recv` and `sendall` are one `splice` from the connection's input to its
//! output: the host moves the bytes, they never enter this guest's memory,
//! and each echo costs one host call instead of three.

use socklab_guest::host;
use socklab_guest::io::ReadSize;
use socklab_guest::tcp::TcpSocketExt;
use socklab_guest::types::{ServerConfig, ServerReport};
use socklab_guest::wasi::io::poll::{Pollable, poll};
use socklab_guest::wasi::io::streams::{InputStream, OutputStream, StreamError};
use socklab_guest::wasi::sockets::instance_network::instance_network;
use socklab_guest::wasi::sockets::network::ErrorCode;
use socklab_guest::wasi::sockets::tcp::TcpSocket;
use socklab_guest::wasi::sockets::tcp_create_socket::create_tcp_socket;
use socklab_guest::{addr_text, debug, failed, family_of, info};

socklab_guest::role!("socklab:lab/tcp-server");

struct Server;

impl exports::socklab::lab::tcp_server_role::Guest for Server {
    fn serve(config: ServerConfig) -> Result<ServerReport, String> {
        let network = instance_network();

        // server_sock = socket.socket(AF_INET, SOCK_STREAM)
        let listener = create_tcp_socket(family_of(&config.listen))
            .map_err(|e| failed("create-tcp-socket", e))?;
        // server_sock.bind((host, port))
        listener
            .blocking_bind(&network, config.listen)
            .map_err(|e| failed(&format!("bind {}", addr_text(&config.listen)), e))?;
        // server_sock.listen(1024): room for a thousand clients connecting
        // at once (wasmtime's default backlog is 128; past it the kernel
        // drops handshakes and clients wait a retransmission, about 1 s).
        listener
            .set_listen_backlog_size(LISTEN_BACKLOG)
            .map_err(|e| failed("set-listen-backlog-size", e))?;
        listener
            .blocking_listen()
            .map_err(|e| failed("listen", e))?;
        let local = listener
            .local_address()
            .map_err(|e| failed("local-address", e))?;
        // Take the stop signal before announcing the address, so the host
        // knows from the start that this server stops by itself.
        let stop = host::stop_requested();
        host::listening(local);

        let mut server = EchoLoop {
            listener_ready: listener.subscribe(),
            stop,
            conns: Vec::new(),
            report: ServerReport {
                sessions: 0,
                bytes_in: 0,
                bytes_out: 0,
            },
            max_sessions: config.max_sessions,
        };
        server.run(&listener);
        Ok(server.report)
    }
}

/// One accepted connection: the `conn` of `conn, addr = server_sock.accept()`.
///
/// Fields are declared so that the pollables drop before the streams they
/// watch, and the streams before the socket: WASI requires children to go
/// first.
struct Conn {
    /// Ready when `input` has bytes (or the peer closed).
    readable: Pollable,
    /// Ready when `output` accepts more bytes.
    writable: Pollable,
    input: InputStream,
    output: OutputStream,
    _socket: TcpSocket,
    /// The output had no room at the last splice. Until it has, the
    /// connection waits to write, not to read: the echo applies
    /// back-pressure to its client instead of buffering without bound.
    blocked: bool,
    /// How much the next splice asks for: small for small messages, up to
    /// 64 KiB for bulk.
    read_size: ReadSize,
    peer: String,
}

/// The serving loop's state.
struct EchoLoop {
    listener_ready: Pollable,
    stop: Pollable,
    conns: Vec<Conn>,
    /// What has been served; `sessions` counts accepted connections, which
    /// also decides when to stop accepting at `max_sessions`.
    report: ServerReport,
    max_sessions: Option<u64>,
}

/// The listen queue's length, as tokio and most servers ask for.
const LISTEN_BACKLOG: u64 = 1024;

impl EchoLoop {
    fn run(&mut self, listener: &TcpSocket) {
        loop {
            let accepting = self
                .max_sessions
                .is_none_or(|max| self.report.sessions < max);
            if !accepting && self.conns.is_empty() {
                return; // every allowed session has been served
            }
            // select() over the stop signal, the listener and each connection.
            let mut waits: Vec<&Pollable> = vec![&self.stop];
            if accepting {
                waits.push(&self.listener_ready);
            }
            let first_conn = waits.len();
            for conn in &self.conns {
                waits.push(if conn.blocked {
                    &conn.writable
                } else {
                    &conn.readable
                });
            }
            let ready = poll(&waits);
            if ready.contains(&0) {
                debug("stop requested");
                return;
            }
            if accepting && ready.contains(&1) {
                self.accept_all(listener);
            }
            // Service every connection that was ready, then drop the closed
            // ones (index order is kept stable until then).
            let mut closed = Vec::new();
            for &i in &ready {
                let i = i as usize;
                if i < first_conn {
                    continue;
                }
                let idx = i - first_conn;
                if !self.service(idx) {
                    closed.push(idx);
                }
            }
            closed.sort_unstable();
            for idx in closed.into_iter().rev() {
                let conn = self.conns.remove(idx);
                debug(&format!("connection from {} closed", conn.peer));
            }
        }
    }

    /// `conn, addr = server_sock.accept()`, for every connection waiting.
    fn accept_all(&mut self, listener: &TcpSocket) {
        while self
            .max_sessions
            .is_none_or(|max| self.report.sessions < max)
        {
            match listener.accept() {
                Ok((socket, input, output)) => {
                    let peer = socket
                        .remote_address()
                        .map(|a| addr_text(&a))
                        .unwrap_or_else(|_| "?".into());
                    debug(&format!("accepted {peer}"));
                    self.report.sessions += 1;
                    self.conns.push(Conn {
                        readable: input.subscribe(),
                        writable: output.subscribe(),
                        input,
                        output,
                        _socket: socket,
                        blocked: false,
                        read_size: ReadSize::new(),
                        peer,
                    });
                }
                Err(ErrorCode::WouldBlock) => return,
                Err(e) => {
                    info(&failed("accept", e));
                    return;
                }
            }
        }
    }

    /// Move bytes on one ready connection; `false` once it is finished.
    fn service(&mut self, idx: usize) -> bool {
        let conn = &mut self.conns[idx];
        // conn.sendall(conn.recv(65536)), non-blocking: as many bytes as
        // have arrived and the output has room for.
        match conn.output.splice(&conn.input, conn.read_size.get()) {
            Ok(0) => {
                // Nothing came, or the output is full: `check-write` tells.
                match conn.output.check_write() {
                    Ok(room) => conn.blocked = room == 0,
                    Err(_) => return false,
                }
            }
            Ok(n) => {
                conn.read_size.update(n);
                conn.blocked = false;
                self.report.bytes_in += n;
                self.report.bytes_out += n;
            }
            Err(StreamError::Closed) => return false, // recv returned b''
            Err(StreamError::LastOperationFailed(e)) => {
                debug(&format!("recv from {}: {}", conn.peer, e.to_debug_string()));
                return false;
            }
        }
        true
    }
}

export!(Server);
