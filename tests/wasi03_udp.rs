//! WASI 0.3 UDP guests beside the WASI 0.2 ones in one host: every UDP
//! server with every UDP client across versions, byte-exact on IPv4 and
//! IPv6; the 0.3 guests with native `std::net` peers, with the seed notes'
//! Python steps, and against a server that drops replies (`lost`, never a
//! hang); a 0.3 UDP role refused a TCP socket, audited; `inspect` and
//! `guests` naming them. (The 0.3 TCP guests are `tests/wasi03.rs`; the UDP
//! grant cases on the 0.3 probe, `tests/grant_matrix.rs`.)

mod common;

use std::net::IpAddr;

use common::sandbox::{decisions, rules, start_probe};
use common::udp::*;
use common::*;
use socklab::exchange;
use socklab::report::Expect;

/// Every UDP server: the 0.2 batching one, the 0.2 std::net one, the 0.3
/// one.
const SERVERS: [&str; 3] = [
    "udp-echo-server",
    "udp-std-echo-server",
    "wasi03-udp-echo-server",
];
/// Every UDP client: 0.2 (wasi:sockets, std::net) and 0.3.
const CLIENTS: [&str; 3] = ["udp-client", "udp-std-client", "wasi03-udp-client"];

/// Every server with every client on `ip`: each exchange succeeds with
/// each reply the datagram sent, byte for byte, and only the server that
/// cannot await the stop signal (std::net's) is cancelled.
async fn every_server_every_client(ip: IpAddr) {
    let sent = tricky_datagrams();
    for server in SERVERS {
        for client in CLIENTS {
            let pair = format!("{client} -> {server} on {ip}");
            let run = within(
                &pair,
                exchange::exchange(
                    &lab(),
                    server_spec(server, any_port(ip), None),
                    client_spec(client, &sent, 10_000, Expect::Echo),
                ),
            )
            .await;
            let ok = run.ok();
            let report = json_of(vec![run]);
            assert!(ok, "{pair}: {report:#}");
            assert_replies(&report, &sent, <[u8]>::to_vec);
            let server_record = &report["runs"][0]["server"];
            let stops_itself = !server.contains("-std-");
            assert_eq!(
                server_record["cancelled"] != true,
                stops_itself,
                "{pair}: {report:#}"
            );
            if stops_itself {
                let served = &server_record["served"];
                assert_eq!(served["sessions"], sent.len(), "{pair}: {report:#}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_every_server_every_client_across_wasi_versions_ipv4() {
    every_server_every_client(V4).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_every_server_every_client_across_wasi_versions_ipv6() {
    every_server_every_client(V6).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_wasi03_server_native_client_echoes_ipv4() {
    guest_server_native_client("wasi03-udp-echo-server", V4).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_wasi03_server_native_client_echoes_ipv6() {
    guest_server_native_client("wasi03-udp-echo-server", V6).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_wasi03_client_native_server_replies_ipv4() {
    guest_client_native_server("wasi03-udp-client", V4).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_wasi03_client_native_server_replies_ipv6() {
    guest_client_native_server("wasi03-udp-client", V6).await;
}

#[test]
fn udp_wasi03_client_native_server_drops_every_other_reply_reports_lost() {
    client_drops_every_other_reply_reports_lost("wasi03-udp-client");
}

#[test]
fn udp_wasi03_server_python_client_seed_steps() {
    if !python3() {
        return;
    }
    let (served, server) = seed_client_against("udp", "wasi03-udp-echo-server");
    assert_eq!(served["sessions"], 1, "{server}");
    assert_eq!(served["bytes_in"], 7, "{server}");
}

#[test]
fn udp_wasi03_client_python_server_seed_steps() {
    if !python3() {
        return;
    }
    let (record, client) = seed_server_for("udp", "wasi03-udp-client", "reply message", b"message");
    assert_eq!(record["status"], "complete", "{client}");
    assert_eq!(record["reply"]["text"], "reply message", "{client}");
}

#[test]
fn udp_wasi03_inspect_and_guests_name_the_role_and_version() {
    let listed = socklab(&["--json", "guests"]).finish().json();
    for (name, role) in [
        ("wasi03-udp-echo-server", "server"),
        ("wasi03-udp-client", "client"),
    ] {
        let row = listed["guests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not listed: {listed:#}"));
        assert_eq!(row["role"], role, "{row:#}");
        assert_eq!(row["transport"], "udp", "{row:#}");
        assert_eq!(row["wasi"], "0.3", "{row:#}");
        let inspected = socklab(&["--json", "inspect", name]).finish().json();
        assert_eq!(inspected["kind"], format!("udp-{role}"), "{inspected:#}");
        assert_eq!(inspected["wasi"], "0.3", "{inspected:#}");
    }
}

/// A 0.3 UDP role may not create a TCP socket: `access-denied`, recorded.
#[tokio::test(flavor = "multi_thread")]
async fn udp_wasi03_role_refused_a_tcp_socket_and_audited() {
    let params = [("op", "tcp".to_string())];
    let allow = vec!["udp=127.0.0.1:*".to_string()];
    let probe = start_probe(
        "wasi03-probe-udp",
        "tcp",
        any_port(V4),
        &params,
        rules(&allow, &[]),
    );
    let probed = probe.await.finish().await;
    assert_eq!(
        probed.result,
        Err("socket: access-denied".into()),
        "{}",
        probed.stderr
    );
    let refused = decisions(&probed.audit, "deny", "tcp-bind", "(socket creation)");
    assert_eq!(refused.len(), 1, "{:#?}", probed.audit);
    assert_eq!(refused[0]["rule"], "a UDP guest is granted no TCP socket");
}
