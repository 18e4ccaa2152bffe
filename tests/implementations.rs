//! Every implementation of a role is interchangeable: each server of a
//! transport with each client of it, in one host, byte-exact; the upper-case
//! server transforms; a std::net server (which cannot poll the stop signal)
//! is cancelled at the end and says so.

mod common;

use common::*;
use socklab::exchange;
use socklab::report::Expect;

const TCP_SERVERS: [&str; 2] = ["tcp-echo-server", "tcp-std-echo-server"];
const TCP_CLIENTS: [&str; 2] = ["tcp-client", "tcp-std-client"];
const UDP_SERVERS: [&str; 2] = ["udp-echo-server", "udp-std-echo-server"];
const UDP_CLIENTS: [&str; 2] = ["udp-client", "udp-std-client"];

fn messages() -> Vec<Vec<u8>> {
    vec![
        b"hello".to_vec(),
        "caf\u{e9} \u{2615}".as_bytes().to_vec(),
        vec![b'x'; 3000],
    ]
}

/// Every server of `servers` with every client of `clients`: each exchange
/// succeeds and every reply is `want(message)`; a std::net server is
/// cancelled at the end (it cannot poll the stop signal), any other is not.
async fn every_pair(servers: [&str; 2], clients: [&str; 2], want: impl Fn(&[u8]) -> Vec<u8>) {
    for server in servers {
        for client in clients {
            let sent = messages();
            let run = within(
                &format!("{client} -> {server}"),
                exchange::exchange(
                    &lab(),
                    server_spec(server, any_port(V4), None),
                    client_spec(client, &sent, 2000, Expect::Echo),
                ),
            )
            .await;
            let std_server = server.contains("-std-");
            assert_eq!(
                run.server.as_ref().unwrap().guest.cancelled,
                std_server,
                "{client} -> {server}"
            );
            assert!(run.ok(), "{client} -> {server}: {}", json_of(vec![run]));
            assert_replies(&json_of(vec![run]), &sent, &want);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_every_server_with_every_client_echoes() {
    every_pair(TCP_SERVERS, TCP_CLIENTS, framed).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_every_server_with_every_client_echoes() {
    every_pair(UDP_SERVERS, UDP_CLIENTS, |m| m.to_vec()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_upper_server_transforms_each_line() {
    for client in TCP_CLIENTS {
        let sent = vec![b"hello".to_vec(), b"Mixed Case 42".to_vec()];
        let run = within(
            client,
            exchange::exchange(
                &lab(),
                server_spec("tcp-upper-server", any_port(V6), None),
                client_spec(client, &sent, 2000, Expect::Any),
            ),
        )
        .await;
        assert!(run.ok(), "{client}: {}", json_of(vec![run]));
        assert_replies(&json_of(vec![run]), &sent, |m| {
            framed(&m.to_ascii_uppercase())
        });
    }
}
