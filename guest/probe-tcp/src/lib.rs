//! `probe-tcp`: makes the one TCP (or name-lookup) call its parameters name,
//! so the grant tests can put every operation through the real WASI path.
//!
//! Parameters: `op` is `bind`, `listen`, `accept`, `connect` or `dns`;
//! `target=ADDR` is the peer for `connect`; `name` the name for `dns`;
//! `wait-ms` how long `accept` waits for a connection (default 2000).
//! `bind`, `listen` and `accept` use the config's listen address.
//!
//! The report's `sessions` counts what succeeded (1 for a bind, listen or
//! connect; connections accepted; addresses resolved); a refused call is the
//! error, named by its `error-code`.

use socklab_guest::io::Deadline;
use socklab_guest::tcp::TcpSocketExt;
use socklab_guest::types::{ServerConfig, ServerReport};
use socklab_guest::wasi::io::poll::poll;
use socklab_guest::wasi::sockets::instance_network::instance_network;
use socklab_guest::wasi::sockets::network::{ErrorCode, IpSocketAddress};
use socklab_guest::wasi::sockets::tcp_create_socket::create_tcp_socket;
use socklab_guest::{failed, family_of, host, param};

// The TCP server's world, plus name lookup for `dns`.
socklab_guest::role!("socklab:lab/tcp-server" + "wasi:sockets/ip-name-lookup@0.2.12");

use wasi::sockets::ip_name_lookup::resolve_addresses;

struct Probe;

impl exports::socklab::lab::tcp_server_role::Guest for Probe {
    fn serve(config: ServerConfig) -> Result<ServerReport, String> {
        let op = param(&config.params, "op").unwrap_or("bind");
        let sessions = match op {
            "bind" | "listen" | "accept" => listen(op, &config)?,
            "connect" => {
                let target = target(&config)?;
                let socket =
                    create_tcp_socket(family_of(&target)).map_err(|e| failed("socket", e))?;
                // connect((host, port))
                socket
                    .blocking_connect(&instance_network(), target)
                    .map_err(|e| failed("connect", e))?;
                1
            }
            "dns" => {
                let name = param(&config.params, "name").ok_or("dns needs name=")?;
                // getaddrinfo(name)
                let stream =
                    resolve_addresses(&instance_network(), name).map_err(|e| failed("dns", e))?;
                let ready = stream.subscribe();
                let mut found = 0;
                loop {
                    match stream.resolve_next_address() {
                        Ok(Some(_)) => found += 1,
                        Ok(None) => break,
                        Err(ErrorCode::WouldBlock) => ready.block(),
                        Err(e) => return Err(failed("dns", e)),
                    }
                }
                found
            }
            other => return Err(format!("unknown op `{other}`")),
        };
        Ok(ServerReport {
            sessions,
            bytes_in: 0,
            bytes_out: 0,
        })
    }
}

/// `bind`, then `listen`, then `accept` for as long as `wait-ms`, stopping at
/// the step `op` names.
fn listen(op: &str, config: &ServerConfig) -> Result<u64, String> {
    let network = instance_network();
    let socket = create_tcp_socket(family_of(&config.listen)).map_err(|e| failed("socket", e))?;
    socket
        .blocking_bind(&network, config.listen)
        .map_err(|e| failed("bind", e))?;
    if op == "bind" {
        return Ok(1);
    }
    socket.blocking_listen().map_err(|e| failed("listen", e))?;
    let stop = host::stop_requested();
    host::listening(
        socket
            .local_address()
            .map_err(|e| failed("local-address", e))?,
    );
    if op == "listen" {
        return Ok(1);
    }
    let wait: u32 = param(&config.params, "wait-ms")
        .and_then(|w| w.parse().ok())
        .unwrap_or(2000);
    let (ready, timer) = (socket.subscribe(), Deadline::after_ms(wait).pollable());
    let mut accepted = 0;
    loop {
        let fired = poll(&[&ready, &stop, &timer]);
        if !fired.contains(&0) {
            return Ok(accepted);
        }
        // conn, addr = server_sock.accept(); a refused peer never shows up.
        match socket.accept() {
            Ok((socket, input, output)) => {
                // Streams first: they are the socket's children.
                drop((input, output));
                drop(socket);
                accepted += 1;
            }
            Err(ErrorCode::WouldBlock) => {}
            Err(e) => return Err(failed("accept", e)),
        }
    }
}

fn target(config: &ServerConfig) -> Result<IpSocketAddress, String> {
    let text = param(&config.params, "target").ok_or("connect needs target=ADDR")?;
    let addr: std::net::SocketAddr = text.parse().map_err(|_| format!("bad target `{text}`"))?;
    Ok(socklab_guest::from_std(addr))
}

export!(Probe);
