//! `wasi03-command`: a plain `wasi:cli@0.3.0` command, for `socklab run`
//! (and `wasmtime run`, which should do the same with it).
//!
//! - `echo WORDS...`: prints the words, space-separated, and a newline;
//! - `tcp ADDR MESSAGE`: connects to `ADDR`, sends `MESSAGE` and `\n`, and
//!   prints the reply line it reads back (`socket`, `connect`, `sendall`,
//!   `recv`, through `wasi:sockets/types@0.3.0`).
//!
//! Anything else, or a failed step, prints why on stdout and exits 1
//! (`run` returns `err`).

wit_bindgen::generate!({
    path: "../../wit/p3",
    inline: "
        package socklab:wasi03-command;
        world command {
            import wasi:cli/environment@0.3.0;
            import wasi:cli/stdout@0.3.0;
            import wasi:sockets/types@0.3.0;
            export wasi:cli/run@0.3.0;
        }
    ",
    world: "socklab:wasi03-command/command",
    generate_all,
});

use wasi::cli::{environment, stdout};
use wasi::sockets::types::{
    IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress, TcpSocket,
};
use wit_bindgen::StreamResult;

struct Command;

impl exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let args = environment::get_arguments();
        let words: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
        let (text, ok) = match words.as_slice() {
            ["echo", rest @ ..] => (format!("{}\n", rest.join(" ")), true),
            ["tcp", addr, message] => match tcp(addr, message).await {
                Ok(reply) => (reply, true),
                Err(e) => (format!("tcp: {e}\n"), false),
            },
            _ => (
                "usage: wasi03-command echo WORDS... | tcp ADDR MESSAGE\n".into(),
                false,
            ),
        };
        print(text.into_bytes()).await;
        if ok { Ok(()) } else { Err(()) }
    }
}

/// `print(text)`: the bytes on stdout's stream, waited for until written.
async fn print(bytes: Vec<u8>) {
    let (mut tx, rx) = wit_stream::new();
    let written = stdout::write_via_stream(rx);
    tx.write_all(bytes).await;
    drop(tx);
    let _ = written.await;
}

/// `socket`, `connect`, `sendall(message + b'\n')`, `recv` until `\n` or
/// the close: the reply.
async fn tcp(addr: &str, message: &str) -> Result<String, String> {
    let addr: std::net::SocketAddr = addr.parse().map_err(|_| format!("bad address `{addr}`"))?;
    let (family, remote) = wasi_addr(addr);
    // client_sock = socket.socket(AF_INET, SOCK_STREAM)
    let socket = TcpSocket::create(family).map_err(|e| format!("socket: {e:?}"))?;
    // client_sock.connect((host, port))
    socket
        .connect(remote)
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    let (mut rx, _received) = socket.receive();
    let (mut tx, to_send) = wit_stream::new();
    let _sent = socket.send(to_send);
    // client_sock.sendall(message + b'\n')
    let rest = tx.write_all(format!("{message}\n").into_bytes()).await;
    if !rest.is_empty() {
        return Err("send: the connection took no more".into());
    }
    // reply = client_sock.recv(...) until b'\n' or the close
    let mut reply = Vec::new();
    while !reply.ends_with(b"\n") {
        let (result, bytes) = rx.read(Vec::with_capacity(4096)).await;
        reply.extend_from_slice(&bytes);
        if !matches!(result, StreamResult::Complete(_)) {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

/// A `std::net` address as `wasi:sockets@0.3.0`'s family and address.
fn wasi_addr(addr: std::net::SocketAddr) -> (IpAddressFamily, IpSocketAddress) {
    match addr {
        std::net::SocketAddr::V4(a) => {
            let [x, y, z, w] = a.ip().octets();
            let address = (x, y, z, w);
            (
                IpAddressFamily::Ipv4,
                IpSocketAddress::Ipv4(Ipv4SocketAddress {
                    port: a.port(),
                    address,
                }),
            )
        }
        std::net::SocketAddr::V6(a) => {
            let s = a.ip().segments();
            let address = (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]);
            let v6 = Ipv6SocketAddress {
                port: a.port(),
                flow_info: 0,
                address,
                scope_id: 0,
            };
            (IpAddressFamily::Ipv6, IpSocketAddress::Ipv6(v6))
        }
    }
}

export!(Command);
