//! Tests the grant rules one decision at a time: every socket operation
//! allowed, left unlisted and denied over an allow, on IPv4 and IPv6, each
//! made by a real probe guest through WASI and checked both in what the guest
//! saw and in the audit file; then CIDR blocks, port ranges, name patterns
//! and the silent drops of peers the guest never sees.
//!
//! The WASI 0.2 cases run on both networks, the real loopback and the
//! simulated network, and their two results are compared case by case: the
//! simulated network must decide, refuse and audit exactly as the real one
//! does. (The WASI 0.3 probe and the accept from a second loopback address
//! run on the real network only.)

mod common;

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};

use common::grant_cases::*;
use common::networks::*;
use common::peers::*;
use common::sandbox::*;
use common::{V4, V6};

#[tokio::test(flavor = "multi_thread")]
async fn grants_tcp_ops_allowed_unlisted_and_denied_on_v4_and_v6_on_both_networks() {
    let mut cases = Vec::new();
    for op in ["tcp-bind", "tcp-listen", "tcp-accept", "tcp-connect"] {
        for ip in [V4, V6] {
            for verdict in [Verdict::Allow, Verdict::Unlisted, Verdict::Deny] {
                let run = case(move |net| async move {
                    op_case_of(&net, Probes::Wasi02, op, ip, verdict).await
                });
                cases.push((format!("{op} {ip} {verdict:?}"), run));
            }
        }
    }
    assert_eq!(cases.len(), 4 * 2 * 3);
    on_both_networks("TCP operation x verdict x family", cases).await;
}

/// The TCP operations again, made by the WASI 0.3 probe (on the real
/// network: the simulated one runs 0.2 guests only): wasmtime-wasi's 0.3
/// sockets consult the same policy, and the audit reads the same.
#[tokio::test(flavor = "multi_thread")]
async fn grants_tcp_ops_on_a_wasi03_probe_allowed_unlisted_and_denied_on_v4_and_v6() {
    let mut cases = Vec::new();
    for op in ["tcp-bind", "tcp-listen", "tcp-accept", "tcp-connect"] {
        for ip in [V4, V6] {
            for verdict in [Verdict::Allow, Verdict::Unlisted, Verdict::Deny] {
                let case = async move {
                    op_case_of(&Net::Real, Probes::Wasi03, op, ip, verdict).await;
                };
                cases.push((format!("wasi03 {op} {ip} {verdict:?}"), case));
            }
        }
    }
    assert_eq!(cases.len(), 4 * 2 * 3);
    run_cases("WASI 0.3 TCP operation x verdict x family", cases).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_udp_ops_allowed_unlisted_and_denied_on_v4_and_v6_on_both_networks() {
    let mut cases = Vec::new();
    for op in ["udp-bind", "udp-send", "udp-receive"] {
        for ip in [V4, V6] {
            for verdict in [Verdict::Allow, Verdict::Unlisted, Verdict::Deny] {
                let run = case(move |net| async move {
                    op_case_of(&net, Probes::Wasi02, op, ip, verdict).await
                });
                cases.push((format!("{op} {ip} {verdict:?}"), run));
            }
        }
    }
    assert_eq!(cases.len(), 3 * 2 * 3);
    on_both_networks("UDP operation x verdict x family", cases).await;
}

/// The UDP operations again, made by the WASI 0.3 probe (real network):
/// the same grants, the same audit lines, silent drops included.
#[tokio::test(flavor = "multi_thread")]
async fn grants_udp_ops_on_a_wasi03_probe_allowed_unlisted_and_denied_on_v4_and_v6() {
    let mut cases = Vec::new();
    for op in ["udp-bind", "udp-send", "udp-receive"] {
        for ip in [V4, V6] {
            for verdict in [Verdict::Allow, Verdict::Unlisted, Verdict::Deny] {
                let case = async move {
                    op_case_of(&Net::Real, Probes::Wasi03, op, ip, verdict).await;
                };
                cases.push((format!("wasi03 {op} {ip} {verdict:?}"), case));
            }
        }
    }
    assert_eq!(cases.len(), 3 * 2 * 3);
    run_cases("WASI 0.3 UDP operation x verdict x family", cases).await;
}

type Row = (
    IpAddr,
    &'static [&'static str],
    &'static [&'static str],
    &'static str,
);

#[tokio::test(flavor = "multi_thread")]
async fn grants_tcp_cidr_blocks_port_ranges_and_deny_over_allow_on_both_networks() {
    #[rustfmt::skip]
    let table: [Row; 15] = [
        (OTHER_LOOPBACK, &["tcp-connect=127.0.0.0/8"], &[], "allow: tcp-connect=127.0.0.0/8:*"),
        (OTHER_LOOPBACK, &["tcp-connect=127.0.0.0/31"], &[], NONE),
        (V4, &["tcp-connect=127.0.0.0/31"], &[], "allow: tcp-connect=127.0.0.0/31:*"),
        (V4, &["tcp-connect=10.0.0.0/8"], &[], NONE),
        (V6, &["tcp-connect=[::1]/128"], &[], "allow: tcp-connect=[::1]:*"),
        (V6, &["tcp-connect=[::2]/127"], &[], NONE),
        (V4, &["tcp-connect=127.0.0.1:{P-1}-{P+1}"], &[], "allow: tcp-connect=127.0.0.1:{P-1}-{P+1}"),
        (V4, &["tcp-connect=127.0.0.1:{P+1}-{P+9}"], &[], NONE),
        (V4, &["tcp-connect=127.0.0.1:{P}"], &[], "allow: tcp-connect=127.0.0.1:{P}"),
        (V6, &["tcp-connect=[::1]:{P}-{P}"], &[], "allow: tcp-connect=[::1]:{P}"),
        (V6, &["tcp-connect=[::1]:1-{P-1}"], &[], NONE),
        (V6, &["tcp-connect=localhost"], &[], "allow: tcp-connect=localhost:*"),
        (OTHER_LOOPBACK, &["tcp-connect=localhost"], &[], NONE),
        (V4, &["tcp-connect=127.0.0.1:{P}"], &["tcp-connect=127.0.0.0/8"], "deny: tcp-connect=127.0.0.0/8:*"),
        (V4, &["tcp=*"], &["tcp-connect,udp-send=127.0.0.1:{P-1}-{P+1}"], "deny: tcp-connect,udp-send=127.0.0.1:{P-1}-{P+1}"),
    ];
    let cases = table
        .into_iter()
        .map(|(peer, allow, deny, decided)| {
            let name = format!("tcp to {peer} allow {allow:?} deny {deny:?}");
            let run = case(move |net| async move {
                target_case_of(&net, Probes::Wasi02, "tcp", peer, allow, deny, decided).await
            });
            (name, run)
        })
        .collect();
    on_both_networks("TCP blocks, ranges and deny over allow", cases).await;
}

/// The UDP destinations' table: blocks, port ranges and deny over allow.
fn udp_targets() -> [Row; 6] {
    #[rustfmt::skip]
    let table: [Row; 6] = [
        (OTHER_LOOPBACK, &["udp-send=127.0.0.0/8:*"], &[], "allow: udp-send=127.0.0.0/8:*"),
        (V6, &["udp-send=[::]/127"], &[], "allow: udp-send=[::]/127:*"),
        (V4, &["udp-send=127.0.0.1:{P}-{P+9}"], &[], "allow: udp-send=127.0.0.1:{P}-{P+9}"),
        (V4, &["udp-send=127.0.0.1:{P+1}-{P+9}"], &[], NONE),
        (V6, &["*=*"], &["udp-send=localhost:{P}"], "deny: udp-send=localhost:{P}"),
        (V4, &["udp=*"], &["tcp-connect,udp-send=127.0.0.1:{P-1}-{P+1}"], "deny: tcp-connect,udp-send=127.0.0.1:{P-1}-{P+1}"),
    ];
    table
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_udp_cidr_blocks_port_ranges_and_deny_over_allow_on_both_networks() {
    let cases = udp_targets()
        .into_iter()
        .map(|(peer, allow, deny, decided)| {
            let name = format!("udp to {peer} allow {allow:?} deny {deny:?}");
            let run = case(move |net| async move {
                target_case_of(&net, Probes::Wasi02, "udp", peer, allow, deny, decided).await
            });
            (name, run)
        })
        .collect();
    on_both_networks("UDP blocks, ranges and deny over allow", cases).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_udp_cidr_blocks_port_ranges_and_deny_over_allow_on_a_wasi03_probe() {
    let cases = udp_targets()
        .into_iter()
        .map(|(peer, allow, deny, decided)| {
            let name = format!("wasi03 udp to {peer} allow {allow:?} deny {deny:?}");
            let case = async move {
                target_case_of(
                    &Net::Real,
                    Probes::Wasi03,
                    "udp",
                    peer,
                    allow,
                    deny,
                    decided,
                )
                .await;
            };
            (name, case)
        })
        .collect();
    run_cases("WASI 0.3 UDP blocks, ranges and deny over allow", cases).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_dns_name_patterns_on_both_networks() {
    type Row = (
        &'static [&'static str],
        &'static [&'static str],
        &'static str,
    );
    let table: [Row; 6] = [
        (&["dns=localhost"], &[], "allow: dns=localhost"),
        (&["dns=LOCALHOST."], &[], "allow: dns=localhost"),
        (&["dns=*.example.com"], &[], NONE),
        (&[], &[], NONE),
        (&["*=*"], &[], NONE),
        (&["dns=*"], &["dns=localhost"], "deny: dns=localhost"),
    ];
    let cases = table
        .into_iter()
        .map(|(allow, deny, decided)| {
            let name = format!("allow {allow:?} deny {deny:?}");
            let run = case(move |net| async move { dns_case(&net, allow, deny, decided).await });
            (name, run)
        })
        .collect();
    on_both_networks("dns name patterns", cases).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_tcp_accept_from_another_loopback_dropped_silently() {
    let allow = ["tcp-bind,tcp-listen,tcp-accept=127.0.0.1".to_string()];
    let params = [
        ("op", "accept".to_string()),
        ("wait-ms", "60000".to_string()),
    ];
    let listen = SocketAddr::new(V4, 0);
    let p = start_probe(
        "probe-tcp",
        "silent accept",
        listen,
        &params,
        rules(&allow, &[]),
    )
    .await;
    // The host resets the refused peer; the guest, still waiting, never
    // hears of it.
    let (refused, read) = connect_and_read(OTHER_LOOPBACK, p.addr()).await;
    assert_eq!(
        read,
        Err(ErrorKind::ConnectionReset),
        "the peer on 127.0.0.2"
    );
    let probed = p.finish().await;
    assert_eq!(
        probed.result,
        Ok(0),
        "the guest saw no connection: {}",
        probed.stderr
    );
    let target = refused.to_string();
    assert_audit("silent accept", &probed.audit, "tcp-accept", &target, NONE);
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_udp_datagram_from_another_loopback_dropped_silently_on_both_networks() {
    let run = case(|net| async move { udp_silent_drop_case(&net, Probes::Wasi02).await });
    on_both_networks("silent receive", vec![("silent receive".into(), run)]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_udp_datagram_from_another_loopback_dropped_silently_on_a_wasi03_probe() {
    let case = async {
        udp_silent_drop_case(&Net::Real, Probes::Wasi03).await;
    };
    run_cases(
        "WASI 0.3 silent receive",
        vec![("silent receive".into(), case)],
    )
    .await;
}
