//! `tcp-std-echo-server`: the TCP echo server written with Rust's
//! `std::net`, which on `wasm32-wasip2` goes through `wasi:sockets` too.
//!
//! The seed notes' steps, as std spells them: `TcpListener::bind` (socket,
//! bind, listen), `incoming()` (accept), `read`/`write_all` (recv/sendall).
//! std's calls block, so it serves one client at a time, and it cannot poll
//! the host's stop signal: the host stops it by cancelling the call, and its
//! report is lost. `tcp-echo-server` is the same role without those limits.

use std::io::{Read, Write};
use std::net::TcpListener;

use socklab_guest::types::{ServerConfig, ServerReport};
use socklab_guest::{debug, from_std, host, to_std};

socklab_guest::role!("socklab:lab/tcp-server");

struct Server;

impl exports::socklab::lab::tcp_server_role::Guest for Server {
    fn serve(config: ServerConfig) -> Result<ServerReport, String> {
        // server_sock.bind((host, port)); server_sock.listen()
        let listener =
            TcpListener::bind(to_std(config.listen)).map_err(|e| format!("bind: {e}"))?;
        let local = listener
            .local_addr()
            .map_err(|e| format!("local address: {e}"))?;
        host::listening(from_std(local));

        let mut report = ServerReport {
            sessions: 0,
            bytes_in: 0,
            bytes_out: 0,
        };
        let mut buf = vec![0u8; 64 * 1024];
        // conn, addr = server_sock.accept(), one client after another
        for conn in listener.incoming() {
            if config
                .max_sessions
                .is_some_and(|max| report.sessions >= max)
            {
                break;
            }
            let mut conn = match conn {
                Ok(conn) => conn,
                Err(e) => {
                    debug(&format!("accept: {e}"));
                    continue;
                }
            };
            report.sessions += 1;
            // message = conn.recv(65536); conn.sendall(message) until b''
            loop {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        report.bytes_in += n as u64;
                        if conn.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        report.bytes_out += n as u64;
                    }
                }
            }
            if config
                .max_sessions
                .is_some_and(|max| report.sessions >= max)
            {
                break;
            }
        }
        Ok(report)
    }
}

export!(Server);
