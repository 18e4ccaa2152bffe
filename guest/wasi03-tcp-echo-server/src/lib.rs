//! `wasi03-tcp-echo-server`: `tcp-echo-server` on WASI 0.3 — a TCP server
//! that sends back every byte as it arrives.
//!
//! It follows the seed notes' TCP server (`socket`, `bind`, `listen`,
//! `accept`, `recv`, `sendall`) through `wasi:sockets/types@0.3.0`, where
//! those calls are nearly one each: `listen` returns the stream of accepted
//! sockets, and each connection's bytes come in on its `receive` stream and
//! go out on the `stream<u8>` handed to `send`. Many clients are served at
//! once in one task: each connection is a future, and one `select` waits on
//! the host's stop future, the next accepted socket and every connection.

use std::cell::Cell;
use std::pin::pin;

use futures::stream::{FuturesUnordered, StreamExt};
use futures::{FutureExt, select_biased};
use socklab_guest03::types::{ServerConfig, ServerReport};
use socklab_guest03::wasi::sockets::types::TcpSocket;
use socklab_guest03::{StreamReader, StreamResult, addr_text, debug, failed, family_of, host};

socklab_guest03::role!("socklab:lab/tcp-server@0.2.0");

struct Server;

/// The listen queue's length, as tokio and most servers ask for.
const LISTEN_BACKLOG: u64 = 1024;

/// How much one `recv` asks for.
const READ_SIZE: usize = 64 * 1024;

impl exports::socklab::lab::tcp_server_role::Guest for Server {
    async fn serve(config: ServerConfig) -> Result<ServerReport, String> {
        let listen = addr_text(&config.listen);
        // server_sock = socket.socket(AF_INET, SOCK_STREAM)
        let listener = TcpSocket::create(family_of(&config.listen))
            .map_err(|e| failed("tcp-socket.create", e))?;
        // server_sock.bind((host, port))
        listener
            .bind(config.listen)
            .map_err(|e| failed(&format!("bind {listen}"), e))?;
        listener
            .set_listen_backlog_size(LISTEN_BACKLOG)
            .map_err(|e| failed("set-listen-backlog-size", e))?;
        // server_sock.listen(1024); every later accept() is the next item
        // of the stream it returns.
        let mut accepted = listener.listen().map_err(|e| failed("listen", e))?;
        let local = listener
            .get_local_address()
            .map_err(|e| failed("get-local-address", e))?;
        // Take the stop signal before announcing the address, so the host
        // knows from the start that this server stops by itself.
        let stop = host::stop_requested();
        host::listening(local);

        let served = Served::default();
        serve_until_stopped(&mut accepted, stop, config.max_sessions, &served).await;
        Ok(ServerReport {
            sessions: served.sessions.get(),
            bytes_in: served.bytes_in.get(),
            bytes_out: served.bytes_out.get(),
        })
    }
}

/// What has been served so far, shared by every connection's future.
#[derive(Default)]
struct Served {
    sessions: Cell<u64>,
    bytes_in: Cell<u64>,
    bytes_out: Cell<u64>,
}

/// The accept loop: until the stop future resolves, or `max_sessions`
/// connections have been accepted and have closed.
async fn serve_until_stopped(
    accepted: &mut StreamReader<TcpSocket>,
    stop: wit_bindgen::FutureReader<()>,
    max_sessions: Option<u64>,
    served: &Served,
) {
    let mut stop = pin!(stop.into_future().fuse());
    let mut conns = FuturesUnordered::new();
    loop {
        let accepting = max_sessions.is_none_or(|max| served.sessions.get() < max);
        if !accepting && conns.is_empty() {
            return; // every allowed session has been served
        }
        // select() over the stop signal, every connection and the listener.
        let next = async {
            if accepting {
                accepted.next().await
            } else {
                std::future::pending().await
            }
        };
        select_biased! {
            () = stop => {
                debug("stop requested");
                return;
            }
            () = conns.select_next_some() => {}
            socket = next.fuse() => match socket {
                // conn, addr = server_sock.accept()
                Some(socket) => {
                    served.sessions.set(served.sessions.get() + 1);
                    conns.push(echo(socket, served));
                }
                None => return, // the listener's stream ended
            },
        }
    }
}

/// `conn.sendall(conn.recv(65536))` until the client closes, then close
/// this side too.
async fn echo(socket: TcpSocket, served: &Served) {
    let peer = socket
        .get_remote_address()
        .map(|a| addr_text(&a))
        .unwrap_or_else(|_| "?".into());
    debug(&format!("accepted {peer}"));
    // The bytes the client sends: conn.recv(...) reads from here.
    let (mut rx, received) = socket.receive();
    // The bytes sent back: conn.sendall(...) writes here.
    let (mut tx, to_send) = socklab_guest03::wit_stream::new();
    let sent = socket.send(to_send);
    let mut buf = Vec::with_capacity(READ_SIZE);
    loop {
        // data = conn.recv(65536)
        let (result, data) = rx.read(buf).await;
        match result {
            StreamResult::Complete(n) => {
                served.bytes_in.set(served.bytes_in.get() + n as u64);
                // conn.sendall(data): what comes back unwritten is what the
                // peer no longer takes.
                let rest = tx.write_all(data).await;
                let written = n - rest.len();
                served
                    .bytes_out
                    .set(served.bytes_out.get() + written as u64);
                if !rest.is_empty() {
                    break;
                }
            }
            StreamResult::Dropped | StreamResult::Cancelled => break, // recv returned b''
        }
        buf = Vec::with_capacity(READ_SIZE);
    }
    // conn.close(): the end of the send stream is the FIN.
    drop(tx);
    if let Err(e) = sent.await {
        debug(&failed(&format!("send to {peer}"), e));
    }
    if let Err(e) = received.await {
        debug(&failed(&format!("recv from {peer}"), e));
    }
    debug(&format!("connection from {peer} closed"));
}

export!(Server);
