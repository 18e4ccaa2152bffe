//! `tcp-upper-server`: a line-based TCP server that answers each line in
//! upper case, a server that transforms rather than echoes.
//!
//! Written with `std::net` and `BufRead::read_line`, so it frames requests
//! as lines itself (unlike the echo servers, which send bytes back as they
//! come). It serves one client at a time and is stopped by cancellation.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use socklab_guest::types::{ServerConfig, ServerReport};
use socklab_guest::{debug, from_std, host, to_std};

socklab_guest::role!("socklab:lab/tcp-server");

struct Server;

impl exports::socklab::lab::tcp_server_role::Guest for Server {
    fn serve(config: ServerConfig) -> Result<ServerReport, String> {
        // socket, bind, listen
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
        for conn in listener.incoming() {
            let conn = match conn {
                Ok(conn) => conn,
                Err(e) => {
                    debug(&format!("accept: {e}"));
                    continue;
                }
            };
            report.sessions += 1;
            // request = conn.recv() up to b'\n'; conn.sendall(request.upper()).
            // `&TcpStream` reads and writes, so one stream serves both.
            let mut writer = &conn;
            let mut lines = BufReader::new(&conn);
            let mut line = String::new();
            while matches!(lines.read_line(&mut line), Ok(n) if n > 0) {
                report.bytes_in += line.len() as u64;
                let reply = line.to_uppercase();
                if writer.write_all(reply.as_bytes()).is_err() {
                    break;
                }
                report.bytes_out += reply.len() as u64;
                line.clear();
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
