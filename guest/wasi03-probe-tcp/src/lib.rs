//! `wasi03-probe-tcp`: `probe-tcp` on WASI 0.3 — makes the one call its
//! parameters name, so the grant tests put every TCP operation through the
//! real `wasi:sockets/types@0.3.0` path.
//!
//! Parameters: `op` is `bind`, `listen`, `accept`, `connect` or `udp` (a UDP
//! socket's creation, which a TCP role is refused); `target=ADDR` is the
//! peer for `connect`; `wait-ms` how long `accept` takes connections
//! (default 2000). `bind`, `listen` and `accept` use the config's listen
//! address.
//!
//! The report's `sessions` counts what succeeded (1 for a bind, listen,
//! connect or socket; connections accepted); a refused call is the error,
//! named by its `error-code` as `probe-tcp` names it (`bind: access-denied`).

use std::pin::pin;

use futures::future::{Either, select};
use socklab_guest03::types::{ServerConfig, ServerReport};
use socklab_guest03::wasi::clocks::monotonic_clock;
use socklab_guest03::wasi::sockets::types::{IpSocketAddress, TcpSocket, UdpSocket};
use socklab_guest03::{failed, family_of, from_std, host, param};

socklab_guest03::role!("socklab:lab/tcp-server@0.2.0");

struct Probe;

impl exports::socklab::lab::tcp_server_role::Guest for Probe {
    async fn serve(config: ServerConfig) -> Result<ServerReport, String> {
        let op = param(&config.params, "op").unwrap_or("bind");
        let sessions = match op {
            "bind" | "listen" | "accept" => listen(op, &config).await?,
            "connect" => {
                let target = target(&config)?;
                // socket(AF_INET, SOCK_STREAM)
                let socket =
                    TcpSocket::create(family_of(&target)).map_err(|e| failed("socket", e))?;
                // connect((host, port))
                socket
                    .connect(target)
                    .await
                    .map_err(|e| failed("connect", e))?;
                1
            }
            "udp" => {
                // socket(AF_INET, SOCK_DGRAM): a TCP role gets access-denied.
                UdpSocket::create(family_of(&config.listen)).map_err(|e| failed("socket", e))?;
                1
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

/// `bind`, then `listen`, then `accept` for as long as `wait-ms` (or until
/// the host asks it to stop), stopping at the step `op` names.
async fn listen(op: &str, config: &ServerConfig) -> Result<u64, String> {
    let socket = TcpSocket::create(family_of(&config.listen)).map_err(|e| failed("socket", e))?;
    // bind((host, port))
    socket.bind(config.listen).map_err(|e| failed("bind", e))?;
    if op == "bind" {
        return Ok(1);
    }
    // listen(); accept() is the stream's next item
    let mut accepted = socket.listen().map_err(|e| failed("listen", e))?;
    let stop = host::stop_requested();
    let local = socket
        .get_local_address()
        .map_err(|e| failed("get-local-address", e))?;
    host::listening(local);
    if op == "listen" {
        return Ok(1);
    }
    let wait_ns = param(&config.params, "wait-ms")
        .and_then(|w| w.parse::<u64>().ok())
        .unwrap_or(2000)
        * 1_000_000;
    let deadline = monotonic_clock::now().saturating_add(wait_ns);
    let stop = pin!(stop.into_future());
    let timer = pin!(monotonic_clock::wait_until(deadline));
    let mut ended = select(stop, timer);
    let mut count = 0;
    loop {
        // conn, addr = server_sock.accept(); a refused peer never shows up.
        match select(pin!(accepted.next()), &mut ended).await {
            Either::Left((Some(conn), _)) => {
                drop(conn);
                count += 1;
            }
            Either::Left((None, _)) | Either::Right(_) => return Ok(count),
        }
    }
}

fn target(config: &ServerConfig) -> Result<IpSocketAddress, String> {
    let text = param(&config.params, "target").ok_or("connect needs target=ADDR")?;
    let addr: std::net::SocketAddr = text.parse().map_err(|_| format!("bad target `{text}`"))?;
    Ok(from_std(addr))
}

export!(Probe);
