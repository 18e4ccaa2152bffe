//! `probe-command`: a wasi:cli command that makes the one raw wasi:sockets
//! call its arguments name, for the tests of `socklab run`.
//!
//! - `probe-command create tcp|udp ipv4|ipv6`: `socket(AF_INET[6],
//!   SOCK_STREAM|SOCK_DGRAM)` and nothing else; prints `created` or the
//!   error code (and exits 4).
//! - `probe-command oversend ADDR`: binds a UDP socket, then sends two
//!   datagrams to ADDR without asking `check-send` first, which WASI forbids:
//!   the host traps the call ("unpermitted: argument exceeds permitted
//!   size"), and socklab must say so.

use socklab_guest::udp::UdpSocketExt;
use socklab_guest::wasi::sockets::instance_network::instance_network;
use socklab_guest::wasi::sockets::network::{ErrorCode, IpAddressFamily};
use socklab_guest::wasi::sockets::tcp_create_socket::create_tcp_socket;
use socklab_guest::wasi::sockets::udp::OutgoingDatagram;
use socklab_guest::wasi::sockets::udp_create_socket::create_udp_socket;
use socklab_guest::{code_text, family_of, from_std, unspecified};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map_or("", String::as_str);
    match arg(0) {
        "create" => {
            let family = match arg(2) {
                "ipv6" => IpAddressFamily::Ipv6,
                _ => IpAddressFamily::Ipv4,
            };
            // socket(AF_INET or AF_INET6, SOCK_STREAM or SOCK_DGRAM)
            let created = match arg(1) {
                "tcp" => create_tcp_socket(family).map(drop),
                _ => create_udp_socket(family).map(drop),
            };
            report(&format!("create-{}-socket", arg(1)), created);
        }
        "oversend" => {
            let to = arg(1).parse().map(from_std).unwrap_or_else(|e| {
                eprintln!("oversend: `{}` is not an address: {e}", arg(1));
                std::process::exit(2)
            });
            let socket = create_udp_socket(family_of(&to)).unwrap_or_else(|e| fail("socket", e));
            // bind(("", 0))
            socket
                .blocking_bind(&instance_network(), unspecified(family_of(&to)))
                .unwrap_or_else(|e| fail("bind", e));
            let (_incoming, outgoing) = socket.stream(None).unwrap_or_else(|e| fail("stream", e));
            let datagram = || OutgoingDatagram {
                data: b"too soon".to_vec(),
                remote_address: Some(to),
            };
            // sendmmsg of two datagrams with no `check-send` permit: a trap.
            let sent = outgoing.send(&[datagram(), datagram()]);
            println!("the host let it through: {sent:?}");
        }
        other => {
            eprintln!(
                "usage: probe-command create tcp|udp ipv4|ipv6 | oversend ADDR (got `{other}`)"
            );
            std::process::exit(2);
        }
    }
}

fn report(what: &str, result: Result<(), ErrorCode>) {
    match result {
        Ok(()) => println!("{what}: created"),
        Err(e) => fail(what, e),
    }
}

fn fail<T>(what: &str, code: ErrorCode) -> T {
    println!("{what}: {}", code_text(code));
    std::process::exit(4)
}
