//! Tests that hostile guests are contained: each one runs beside an honest
//! exchange in the same `Lab` and process, is stopped or refused by the limit
//! or rule it runs into (named in its record), and the honest exchange
//! completes meanwhile. Also `--max-connections` on an honest server.
//!
//! Run with `--nocapture` to see how long each limit took to stop its guest.

mod common;

use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

use common::hostile::*;
use common::*;
use socklab::exchange::{self, ServerSpec};
use socklab::limits::Limits;

// One worker thread: the spinner and the honest exchange share it, so the
// exchange completes only if the spinner yields.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn tcp_hostile_spin_stopped_by_cpu_limit_while_honest_exchange_completes() {
    let (_listener, server) = nowhere();
    let cpu = Duration::from_millis(500);
    let limits = Limits {
        cpu,
        ..Limits::default()
    };
    let c = beside_honest("hostile-spin", server, limits, &[]).await;
    assert_limit(&c.record, "cpu-limit", "500ms", true);
    assert!(
        c.honest_first,
        "the honest exchange waited for the spinner to stop"
    );
    assert!(
        c.took >= cpu,
        "stopped after {:?}, before its CPU time was up",
        c.took
    );
    eprintln!(
        "hostile-spin, --cpu-limit 500ms: stopped {:?} after it started, {:?} past the limit",
        c.took,
        c.took - cpu
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn tcp_hostile_spin_stopped_by_deadline_while_honest_exchange_completes() {
    let (_listener, server) = nowhere();
    let deadline = Duration::from_millis(700);
    let limits = Limits {
        cpu: Duration::from_secs(60),
        deadline: Some(deadline),
        ..Limits::default()
    };
    let c = beside_honest("hostile-spin", server, limits, &[]).await;
    assert_limit(&c.record, "deadline", "700ms", true);
    assert!(
        c.honest_first,
        "the honest exchange waited for the spinner to stop"
    );
    assert!(
        c.took >= deadline,
        "stopped after {:?}, before the deadline",
        c.took
    );
    eprintln!(
        "hostile-spin, --deadline 700ms: stopped {:?} after it started, {:?} past the deadline",
        c.took,
        c.took - deadline
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_hostile_alloc_stopped_by_memory_limit_while_honest_exchange_completes() {
    let (_listener, server) = nowhere();
    let limits = Limits {
        memory: 32 << 20,
        ..Limits::default()
    };
    let c = beside_honest("hostile-alloc", server, limits, &[]).await;
    assert_limit(&c.record, "memory-limit", "32MiB", true);
    eprintln!(
        "hostile-alloc, --memory-limit 32MiB: stopped {:?} after it started",
        c.took
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_hostile_sockets_refused_by_max_sockets_while_honest_exchange_completes() {
    let (_listener, server) = nowhere();
    let limits = Limits {
        max_sockets: 16,
        ..Limits::default()
    };
    let c = beside_honest("hostile-sockets", server, limits, &[]).await;
    assert_limit(&c.record, "max-sockets", "16", false);
    // The guest was refused, not stopped: it saw the error code and said so.
    let error = c.record.guest.error.as_deref();
    let said = "create-tcp-socket after 16 sockets: new-socket-limit";
    assert_eq!(error, Some(said), "{}", shown(&c.record));
    assert_eq!(c.record.guest.limits[0].count, 1, "{}", shown(&c.record));
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_hostile_trap_reports_its_panic_while_honest_exchange_completes() {
    let (_listener, server) = nowhere();
    let c = beside_honest("hostile-trap", server, Limits::default(), &[]).await;
    let error = c.record.guest.error.as_deref().unwrap_or_default();
    assert!(error.starts_with("trapped: "), "{}", shown(&c.record));
    let said = "hostile-trap gives up on purpose after 3 message(s)";
    assert!(error.contains(said), "{}", shown(&c.record));
    assert!(
        error.lines().count() == 1,
        "one line, no wasm backtrace: {error}"
    );
    assert!(c.record.guest.limits.is_empty(), "{}", shown(&c.record));
}

/// A TCP listener and a UDP socket on one forbidden port of 127.0.0.1.
fn forbidden() -> (TcpListener, UdpSocket) {
    for _ in 0..20 {
        let tcp = TcpListener::bind(LOOPBACK).unwrap();
        if let Ok(udp) = UdpSocket::bind(tcp.local_addr().unwrap()) {
            tcp.set_nonblocking(true).unwrap();
            udp.set_nonblocking(true).unwrap();
            return (tcp, udp);
        }
    }
    panic!("no port of 127.0.0.1 was free for both TCP and UDP in 20 tries");
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_hostile_escape_refused_then_runs_honestly() {
    let (tcp, udp) = forbidden();
    let target = tcp.local_addr().unwrap();
    let mut spec = ServerSpec::new(guest("tcp-echo-server"), LOOPBACK.parse().unwrap());
    spec.max_sessions = Some(1);
    let server = exchange::start_server(&lab(), spec)
        .await
        .unwrap_or_else(|r| panic!("{r:?}"));
    let params = [
        ("target", target.to_string()),
        ("bind", LOOPBACK.to_string()),
    ];
    let c = beside_honest(
        "hostile-escape",
        server.connect_addr(),
        Limits::default(),
        &params,
    )
    .await;
    let record = c.record;
    let refused: Vec<(&str, &str, &str)> = record
        .guest
        .refusals
        .iter()
        .map(|r| (r.op.name(), r.target.as_str(), r.rule.as_str()))
        .collect();
    let forbidden_peer = target.to_string();
    let want = [
        ("tcp-bind", LOOPBACK, "no rule allows it"),
        ("tcp-connect", forbidden_peer.as_str(), "no rule allows it"),
        (
            "udp-bind",
            "(socket creation)",
            "a TCP guest is granted no UDP socket",
        ),
    ];
    assert_eq!(refused, want, "{}", shown(&record));
    assert_eq!(record.guest.refused_total, 3, "{}", shown(&record));
    assert!(record.guest.error.is_none(), "{}", shown(&record));
    // Then it ran its script honestly against the server it was wired to.
    assert_eq!(record.messages.len(), 3, "{}", shown(&record));
    assert!(record.messages.iter().all(|m| m.ok), "{}", shown(&record));
    let served = within("the escape's server", server.finish(std::future::pending())).await;
    assert_eq!(
        served.served.as_ref().map(|s| s.sessions),
        Some(1),
        "{served:?}"
    );
    // The forbidden address heard nothing, on either transport.
    assert!(tcp.accept().is_err(), "a connection reached {target}");
    assert!(
        udp.recv_from(&mut [0; 64]).is_err(),
        "a datagram reached {target}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_server_max_connections_closes_the_third_client() {
    max_connections_2_closes_the_third_client("tcp-echo-server").await;
}
