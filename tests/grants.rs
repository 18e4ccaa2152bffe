//! Grants end to end: a guest that uses a socket it was not granted gets
//! `access-denied` (or, for an incoming peer, never sees it), the host
//! records the refusal and reports it, and the forbidden address sees no
//! connection and no datagram.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use socklab::grants::rules::{Rule, Target};
use socklab::grants::{Op, Policy, Refusal, UserRules, wiring};
use socklab::report::{ClientRecord, ExchangeRecord, Expect, Report};
use socklab::roles::Transport;
use socklab::roles::bindings::socklab::lab::types::{
    ClientConfig, ClientReport, Reply, ServerConfig, ServerReport,
};
use socklab::runtime::{Failure, Outcome, ServerWires, call};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// Another loopback address, as a peer the grants do not name.
const OTHER_LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// Run the client guest `name` against `server` under `policy`.
async fn run_client(
    name: &str,
    server: SocketAddr,
    messages: &[Vec<u8>],
    policy: Arc<Policy>,
) -> Outcome<ClientReport> {
    let config = ClientConfig {
        server: server.into(),
        messages: messages.to_vec(),
        reply_timeout_ms: 1_000,
        params: Vec::new(),
    };
    let guest = guest(name);
    let sandbox = sandbox(&guest, policy);
    let runtime = lab();
    let run = call::run_client(&runtime, &guest, &config, sandbox);
    within("the client", run).await
}

/// A server guest started under `policy`: where it said it listens (if it
/// did), the handle that stops it, and its task.
struct Started {
    listening: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Outcome<ServerReport>>,
}

async fn start(name: &str, listen: SocketAddr, policy: Arc<Policy>) -> Started {
    let (stop, stop_rx) = watch::channel(false);
    let (listening_tx, listening_rx) = oneshot::channel();
    let config = ServerConfig {
        listen: listen.into(),
        max_sessions: None,
        params: Vec::new(),
    };
    let guest = guest(name);
    let wires = ServerWires {
        stop: stop_rx,
        listening: listening_tx,
    };
    let sandbox = sandbox(&guest, policy);
    let task =
        tokio::spawn(async move { call::serve(&lab(), &guest, config, sandbox, wires).await });
    // The sender goes with the guest's store: an error means it returned
    // without ever listening.
    let listening = within("the server to listen or fail", listening_rx)
        .await
        .ok();
    Started {
        listening,
        stop,
        task,
    }
}

impl Started {
    async fn stop(self) -> Outcome<ServerReport> {
        let _ = self.stop.send(true);
        within("the server to stop", self.task)
            .await
            .expect("the server task")
    }
}

fn refused(policy: &Policy, op: Op, addr: SocketAddr) -> Option<Refusal> {
    policy
        .refusals()
        .into_iter()
        .find(|r| r.op == op && r.target == addr.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_guest_client_ungranted_server_access_denied() {
    // The client is granted `granted` but told to connect to `forbidden`.
    let granted = TcpListener::bind(any_port(V4)).unwrap();
    let forbidden = TcpListener::bind(any_port(V4)).unwrap();
    granted.set_nonblocking(true).unwrap();
    forbidden.set_nonblocking(true).unwrap();
    let (a, b) = (
        granted.local_addr().unwrap(),
        forbidden.local_addr().unwrap(),
    );
    let policy = Policy::wiring_only("client", wiring::tcp_client(a));
    let messages = [b"hello".to_vec()];
    let outcome = run_client("tcp-client", b, &messages, policy.clone()).await;

    let error = match &outcome.result {
        Err(Failure::Returned(e)) => e.clone(),
        other => panic!("the connect should have failed: {other:?}"),
    };
    assert!(
        error.contains("connect") && error.contains("access-denied"),
        "{error}"
    );
    let refusal = refused(&policy, Op::TcpConnect, b);
    assert!(
        refusal.is_some_and(|r| !r.silent),
        "{:?}",
        policy.refusals()
    );
    for (name, listener) in [("forbidden", &forbidden), ("granted", &granted)] {
        let accepted = listener.accept().map_err(|e| e.kind());
        assert_eq!(
            accepted.err(),
            Some(ErrorKind::WouldBlock),
            "{name} saw a connection"
        );
    }

    // The report shows the refusal and the error, and the run failed.
    let spec = client_spec("tcp-client", &messages, 1_000, Expect::Echo);
    let record = ClientRecord::new(
        &spec.guest,
        &policy,
        b,
        &spec.config(b),
        spec.expect,
        outcome,
    );
    let report = Report::new(vec![ExchangeRecord {
        transport: Transport::Tcp,
        server: None,
        client: Some(record),
    }]);
    assert_eq!(socklab::cli::exit::code(report.verdict()), 1);
    let json = json_of(report.runs);
    let client = &json["runs"][0]["client"];
    assert_eq!(client["refusals"][0]["op"], "tcp-connect", "{json:#}");
    assert_eq!(client["refusals"][0]["target"], b.to_string(), "{json:#}");
    assert!(
        client["error"].as_str().unwrap().contains("access-denied"),
        "{json:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_guest_client_ungranted_server_send_failed() {
    // The client is granted `granted` but told to send to `forbidden`.
    let granted = UdpSocket::bind(any_port(V4)).unwrap();
    let forbidden = UdpSocket::bind(any_port(V4)).unwrap();
    let (a, b) = (
        granted.local_addr().unwrap(),
        forbidden.local_addr().unwrap(),
    );
    let policy = Policy::wiring_only("client", wiring::udp_client(a));
    let messages = [b"one".to_vec(), b"two".to_vec()];
    let outcome = run_client("udp-client", b, &messages, policy.clone()).await;

    let report = outcome
        .result
        .as_ref()
        .expect("the client runs; its sends fail");
    assert_eq!(report.exchanges.len(), messages.len(), "{report:?}");
    for exchange in &report.exchanges {
        let failed = matches!(&exchange.reply, Reply::SendFailed(e) if e.contains("access-denied"));
        assert!(failed, "{report:?}");
    }
    let refusals = policy.refusals();
    let sends = refusals
        .iter()
        .filter(|r| r.op == Op::UdpSend && r.target == b.to_string() && !r.silent);
    assert_eq!(
        sends.count(),
        messages.len(),
        "one refusal per datagram: {refusals:?}"
    );
    for (name, socket) in [("forbidden", &forbidden), ("granted", &granted)] {
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let got = socket.recv_from(&mut [0; 64]).map_err(|e| e.kind());
        let nothing = matches!(got, Err(ErrorKind::WouldBlock | ErrorKind::TimedOut));
        assert!(nothing, "{name} received a datagram: {got:?}");
    }

    let spec = client_spec("udp-client", &messages, 1_000, Expect::Echo);
    let json = json_of(vec![ExchangeRecord {
        transport: Transport::Udp,
        server: None,
        client: Some(ClientRecord::new(
            &spec.guest,
            &policy,
            b,
            &spec.config(b),
            spec.expect,
            outcome,
        )),
    }]);
    for record in client_messages(&json) {
        assert_eq!(record["status"], "send-failed", "{json:#}");
        assert_eq!(record["error"], "access-denied", "{json:#}");
    }
}

/// A server granted `granted` but told to listen on `listen` fails to bind.
async fn bind_outside_grant(name: &str, granted: SocketAddr, listen: SocketAddr) {
    let (policy, op) = match name {
        "tcp-echo-server" => (
            Policy::wiring_only("server", wiring::tcp_server(granted)),
            Op::TcpBind,
        ),
        _ => (
            Policy::wiring_only("server", wiring::udp_server(granted)),
            Op::UdpBind,
        ),
    };
    let started = start(name, listen, policy.clone()).await;
    let listening = started.listening;
    let outcome = started.stop().await;
    assert_eq!(listening, None, "{name} listened outside its grant");
    match &outcome.result {
        Err(Failure::Returned(e)) => {
            assert!(e.contains("bind") && e.contains("access-denied"), "{e}")
        }
        other => panic!("{name} on {listen} should have failed: {other:?}"),
    }
    let refusal = refused(&policy, op, listen);
    assert!(
        refusal.is_some_and(|r| !r.silent),
        "{:?}",
        policy.refusals()
    );
}

/// A port that was free a moment ago (the bind is refused before it is
/// tried, so a race only matters if the grant check is broken).
fn other_port() -> u16 {
    TcpListener::bind(any_port(V4))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_guest_server_bind_outside_grant_access_denied() {
    let granted = any_port(V4);
    bind_outside_grant("tcp-echo-server", granted, any_port(V6)).await;
    let port = SocketAddr::new(V4, other_port());
    bind_outside_grant("tcp-echo-server", granted, port).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_guest_server_bind_outside_grant_access_denied() {
    let granted = any_port(V4);
    bind_outside_grant("udp-echo-server", granted, any_port(V6)).await;
    let port = SocketAddr::new(V4, other_port());
    bind_outside_grant("udp-echo-server", granted, port).await;
}

/// A server policy of exactly `rules`.
fn policy_of(rules: Vec<Rule>) -> Arc<Policy> {
    Policy::new("server".into(), rules, &UserRules::default(), None)
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_guest_server_ungranted_peer_dropped_silently() {
    // The server may accept only peers on 127.0.0.2; the client is on
    // 127.0.0.1.
    let policy = policy_of(vec![
        Rule::wiring(Op::TcpBind, Target::exact(any_port(V4))),
        Rule::wiring(Op::TcpListen, Target::any_port(V4)),
        Rule::wiring(Op::TcpAccept, Target::any_port(OTHER_LOOPBACK)),
    ]);
    let started = start("tcp-echo-server", any_port(V4), policy.clone()).await;
    let addr = started.listening.expect("the server listens");
    let got = tokio::task::spawn_blocking(move || {
        // The reset may come before `connect_timeout` has even returned.
        let mut conn = TcpStream::connect_timeout(&addr, WAIT).map_err(|e| e.kind())?;
        conn.set_read_timeout(Some(WAIT)).unwrap();
        // The write may already meet the reset; what matters is the reply.
        let _ = conn.write_all(b"hello\n");
        let mut reply = Vec::new();
        let read = conn.read_to_end(&mut reply).map_err(|e| e.kind());
        Ok::<_, ErrorKind>((conn.local_addr().unwrap(), reply, read))
    });
    let got = within("the refused client", got).await.unwrap();
    let outcome = started.stop().await;
    if let Ok((_, reply, read)) = &got {
        assert!(reply.is_empty(), "a refused peer got {reply:?} ({read:?})");
    }
    let report = outcome.result.expect("the server keeps serving");
    let seen = (report.sessions, report.bytes_in);
    assert_eq!(seen, (0, 0), "the guest never saw the peer");
    // The refusal names the peer: exactly, when the client learnt its port.
    let peer = match &got {
        Ok((local, ..)) => local.to_string(),
        Err(_) => "127.0.0.1:".to_string(),
    };
    let refusals = policy.refusals();
    let refusal = refusals
        .iter()
        .find(|r| r.op == Op::TcpAccept && r.target.starts_with(&peer));
    assert!(refusal.is_some_and(|r| r.silent), "{got:?}: {refusals:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_guest_server_ungranted_peer_dropped_silently() {
    let policy = policy_of(vec![
        Rule::wiring(Op::UdpBind, Target::exact(any_port(V4))),
        Rule::wiring(Op::UdpReceive, Target::any_port(OTHER_LOOPBACK)),
        Rule::wiring(Op::UdpSend, Target::Senders),
    ]);
    let started = start("udp-echo-server", any_port(V4), policy.clone()).await;
    let addr = started.listening.expect("the server listens");
    let got = tokio::task::spawn_blocking(move || {
        let socket = UdpSocket::bind(any_port(V4)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        socket.send_to(b"hello", addr).unwrap();
        let reply = socket.recv_from(&mut [0; 64]).map_err(|e| e.kind());
        (socket.local_addr().unwrap(), reply)
    });
    let (local, reply) = within("the refused client", got).await.unwrap();
    let outcome = started.stop().await;
    let nothing = matches!(reply, Err(ErrorKind::WouldBlock | ErrorKind::TimedOut));
    assert!(nothing, "a refused peer got a reply: {reply:?}");
    let report = outcome.result.expect("the server keeps serving");
    assert_eq!(
        (report.sessions, report.bytes_in),
        (0, 0),
        "the guest never saw the peer"
    );
    let refusal = refused(&policy, Op::UdpReceive, local);
    assert!(refusal.is_some_and(|r| r.silent), "{:?}", policy.refusals());
}
