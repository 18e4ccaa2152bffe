//! Tests the grant rules one decision at a time: every socket operation
//! allowed, left unlisted and denied over an allow, on IPv4 and IPv6, each
//! made by a real probe guest through WASI and checked both in what the guest
//! saw and in the audit file; then CIDR blocks, port ranges, name patterns
//! and the silent drops of peers the guest never sees.

mod common;

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use common::sandbox::*;
use serde_json::Value;

const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);
/// A connect (`tcp`) or a datagram (`udp`) from a probe to a native peer on
/// `peer`, under `allow` and `deny` (besides the wildcard bind either makes
/// first); `decided` is the rule the audit must name.
async fn target_case<S>(transport: &str, peer: IpAddr, allow: &[S], deny: &[S], decided: &str)
where
    S: AsRef<str>,
{
    target_case_of("probe-tcp", transport, peer, allow, deny, decided).await;
}

/// [`target_case`] with `tcp_probe` as the TCP probe (`probe-tcp` on WASI
/// 0.2, `wasi03-probe-tcp` on 0.3).
async fn target_case_of<S>(
    tcp_probe: &'static str,
    transport: &str,
    peer: IpAddr,
    allow: &[S],
    deny: &[S],
    decided: &str,
) where
    S: AsRef<str>,
{
    let native = Native::bind(transport, peer);
    let to = native.addr();
    assert!((1024..65000).contains(&to.port()), "{to}");
    let fill = |rules: &[S]| {
        rules
            .iter()
            .map(|r| with_port(r.as_ref(), to.port()))
            .collect()
    };
    let (mut allow, deny, decided): (Vec<_>, Vec<_>, _) =
        (fill(allow), fill(deny), with_port(decided, to.port()));
    allow.push(format!("{transport}-bind={}:0", lit(peer).1));
    let label = format!("{transport} to {to} allow {allow:?} deny {deny:?}");
    let (probe, op, step) = match transport {
        "tcp" => (tcp_probe, "tcp-connect", "connect"),
        _ => ("probe-udp", "udp-send", "send"),
    };
    let params = [("op", step.to_string()), ("target", to.to_string())];
    let listen = SocketAddr::new(peer, 0);
    let probed = start_probe(probe, &label, listen, &params, rules(&allow, &deny))
        .await
        .finish()
        .await;
    let allowed = decided.starts_with("allow: ");
    assert_saw(&label, &probed, allowed, step);
    assert_eq!(
        native.saw_anything(),
        allowed,
        "{label}: did the native peer see it?"
    );
    assert_audit(&label, &probed.audit, op, &to.to_string(), &decided);
}

/// One operation, one family, one verdict: a real probe makes the call, a
/// native peer on loopback plays the other side where there is one.
async fn op_case(op: &'static str, ip: IpAddr, verdict: Verdict) {
    op_case_of("probe-tcp", op, ip, verdict).await;
}

/// [`op_case`] with `tcp_probe` making the TCP calls.
async fn op_case_of(tcp_probe: &'static str, op: &'static str, ip: IpAddr, verdict: Verdict) {
    let label = format!("{tcp_probe}: {op} {ip} {verdict:?}");
    let lo = lit(ip).0;
    let listen = SocketAddr::new(ip, 0);
    // Receive names only the first sender: the second is a sentinel.
    let senders = [listen; 2].map(|at| UdpSocket::bind(at).unwrap());
    let rule = match op {
        "udp-receive" => format!("{op}={}", senders[0].local_addr().unwrap()),
        _ => format!("{op}={lo}:*"),
    };
    let (mut allow, deny, decided) = verdict.rules(&rule);
    let allowed = verdict == Verdict::Allow;
    let (probe, step) = match op {
        "tcp-connect" | "udp-send" => {
            let (allow, deny, decided) = verdict.rules(&format!("{op}={lo}:{{P}}"));
            return target_case_of(tcp_probe, &op[..3], ip, &allow, &deny, &decided).await;
        }
        "tcp-bind" => (tcp_probe, "bind"),
        "udp-bind" => ("probe-udp", "bind"),
        "tcp-listen" => (tcp_probe, "listen"),
        "tcp-accept" => (tcp_probe, "accept"),
        "udp-receive" => ("probe-udp", "receive"),
        _ => unreachable!("{op}"),
    };
    // The steps before the one under test are always allowed.
    allow.extend(match op {
        "tcp-listen" => vec![format!("tcp-bind={lo}:*")],
        "tcp-accept" => vec![format!("tcp-bind,tcp-listen={lo}:*")],
        "udp-receive" => vec![format!("udp-bind={lo}:*")],
        _ => vec![],
    });
    let params = [("op", step.to_string()), ("wait-ms", "60000".into())];
    let p = start_probe(probe, &label, listen, &params, rules(&allow, &deny)).await;
    let target = match op {
        "tcp-bind" | "udp-bind" => format!("{lo}:0"),
        // Refused at listen, the probe never says its port.
        "tcp-listen" => p.listening.map_or(format!("{lo}:*"), |a| a.to_string()),
        "tcp-accept" => {
            // An accepted connection is closed by the probe (EOF); a refused
            // one is reset by the host before the guest sees it.
            let (from, read) = connect_and_read(ip, p.addr()).await;
            let closed = allowed.then_some(0).ok_or(ErrorKind::ConnectionReset);
            assert_eq!(read, closed, "{label}: what the native client read");
            from.to_string()
        }
        _ => {
            // The sentinel's datagram is refused: by then the one queued
            // before it has been dealt with.
            let [sender, sentinel] = senders;
            sender.send_to(b"a", p.addr()).unwrap();
            sentinel.send_to(b"b", p.addr()).unwrap();
            p.refused_at_least(if allowed { 1 } else { 2 }).await;
            sender.local_addr().unwrap().to_string()
        }
    };
    let mut probed = p.finish().await;
    assert_saw(&label, &probed, allowed, step);
    if op == "udp-receive" {
        let sentinel = |l: &Value| l["op"] == op && l["target"] != target.as_str();
        probed.audit.retain(|l| !sentinel(l));
    }
    assert_audit(&label, &probed.audit, op, &target, &decided);
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_every_op_allowed_unlisted_and_denied_on_v4_and_v6() {
    let mut cases = Vec::new();
    for op in socklab::grants::Op::ALL.map(|op| op.name()) {
        for ip in [V4, V6] {
            for verdict in [Verdict::Allow, Verdict::Unlisted, Verdict::Deny] {
                cases.push((format!("{op} {ip} {verdict:?}"), op_case(op, ip, verdict)));
            }
        }
    }
    assert_eq!(cases.len(), 7 * 2 * 3);
    run_cases("operation x verdict x family", cases).await;
}

/// The TCP operations again, made by the WASI 0.3 probe: wasmtime-wasi's
/// 0.3 sockets consult the same policy, and the audit reads the same.
#[tokio::test(flavor = "multi_thread")]
async fn grants_tcp_ops_on_a_wasi03_probe_allowed_unlisted_and_denied_on_v4_and_v6() {
    let mut cases = Vec::new();
    for op in ["tcp-bind", "tcp-listen", "tcp-accept", "tcp-connect"] {
        for ip in [V4, V6] {
            for verdict in [Verdict::Allow, Verdict::Unlisted, Verdict::Deny] {
                let case = op_case_of("wasi03-probe-tcp", op, ip, verdict);
                cases.push((format!("wasi03 {op} {ip} {verdict:?}"), case));
            }
        }
    }
    assert_eq!(cases.len(), 4 * 2 * 3);
    run_cases("WASI 0.3 TCP operation x verdict x family", cases).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_cidr_blocks_port_ranges_and_deny_over_allow() {
    type Row = (
        &'static str,
        IpAddr,
        &'static [&'static str],
        &'static [&'static str],
        &'static str,
    );
    #[rustfmt::skip]
    let table: [Row; 20] = [
        ("tcp", OTHER_LOOPBACK, &["tcp-connect=127.0.0.0/8"], &[], "allow: tcp-connect=127.0.0.0/8:*"),
        ("udp", OTHER_LOOPBACK, &["udp-send=127.0.0.0/8:*"], &[], "allow: udp-send=127.0.0.0/8:*"),
        ("tcp", OTHER_LOOPBACK, &["tcp-connect=127.0.0.0/31"], &[], NONE),
        ("tcp", V4, &["tcp-connect=127.0.0.0/31"], &[], "allow: tcp-connect=127.0.0.0/31:*"),
        ("tcp", V4, &["tcp-connect=10.0.0.0/8"], &[], NONE),
        ("tcp", V6, &["tcp-connect=[::1]/128"], &[], "allow: tcp-connect=[::1]:*"),
        ("udp", V6, &["udp-send=[::]/127"], &[], "allow: udp-send=[::]/127:*"),
        ("tcp", V6, &["tcp-connect=[::2]/127"], &[], NONE),
        ("tcp", V4, &["tcp-connect=127.0.0.1:{P-1}-{P+1}"], &[], "allow: tcp-connect=127.0.0.1:{P-1}-{P+1}"),
        ("udp", V4, &["udp-send=127.0.0.1:{P}-{P+9}"], &[], "allow: udp-send=127.0.0.1:{P}-{P+9}"),
        ("tcp", V4, &["tcp-connect=127.0.0.1:{P+1}-{P+9}"], &[], NONE),
        ("udp", V4, &["udp-send=127.0.0.1:{P+1}-{P+9}"], &[], NONE),
        ("tcp", V4, &["tcp-connect=127.0.0.1:{P}"], &[], "allow: tcp-connect=127.0.0.1:{P}"),
        ("tcp", V6, &["tcp-connect=[::1]:{P}-{P}"], &[], "allow: tcp-connect=[::1]:{P}"),
        ("tcp", V6, &["tcp-connect=[::1]:1-{P-1}"], &[], NONE),
        ("tcp", V6, &["tcp-connect=localhost"], &[], "allow: tcp-connect=localhost:*"),
        ("tcp", OTHER_LOOPBACK, &["tcp-connect=localhost"], &[], NONE),
        ("tcp", V4, &["tcp-connect=127.0.0.1:{P}"], &["tcp-connect=127.0.0.0/8"], "deny: tcp-connect=127.0.0.0/8:*"),
        ("udp", V6, &["*=*"], &["udp-send=localhost:{P}"], "deny: udp-send=localhost:{P}"),
        ("tcp", V4, &["tcp=*"], &["tcp-connect,udp-send=127.0.0.1:{P-1}-{P+1}"], "deny: tcp-connect,udp-send=127.0.0.1:{P-1}-{P+1}"),
    ];
    let cases = table
        .into_iter()
        .map(|(transport, peer, allow, deny, decided)| {
            let name = format!("{transport} to {peer} allow {allow:?} deny {deny:?}");
            (name, async move {
                target_case(transport, peer, allow, deny, decided).await
            })
        })
        .collect();
    run_cases("blocks, ranges and deny over allow", cases).await;
}

/// Look up `localhost` (never an external name) under `allow` and `deny`.
async fn dns_case(allow: &[&str], deny: &[&str], decided: &str) {
    let label = format!("dns allow {allow:?} deny {deny:?}");
    let own = |r: &[&str]| r.iter().map(|r| r.to_string()).collect::<Vec<_>>();
    let params = [("op", "dns".to_string()), ("name", "localhost".to_string())];
    let listen = SocketAddr::new(V4, 0);
    let p = start_probe(
        "probe-tcp",
        &label,
        listen,
        &params,
        rules(&own(allow), &own(deny)),
    );
    let probed = p.await.finish().await;
    let allowed = decided.starts_with("allow: ");
    match &probed.result {
        Ok(found) => assert!(
            allowed && *found >= 1,
            "{label}: resolved {found} address(es)"
        ),
        Err(e) => assert!(!allowed && e == "dns: access-denied", "{label}: {e}"),
    }
    assert_audit(&label, &probed.audit, "dns", "localhost", decided);
    assert_eq!(probed.audit.len(), 1, "{label}: only the lookup is decided");
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_dns_name_patterns() {
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
            (name, async move { dns_case(allow, deny, decided).await })
        })
        .collect();
    run_cases("dns name patterns", cases).await;
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
async fn grants_udp_datagram_from_another_loopback_dropped_silently() {
    let allow = ["udp-bind,udp-receive=127.0.0.1".to_string()];
    let params = [
        ("op", "receive".to_string()),
        ("wait-ms", "60000".to_string()),
    ];
    let listen = SocketAddr::new(V4, 0);
    let p = start_probe(
        "probe-udp",
        "silent receive",
        listen,
        &params,
        rules(&allow, &[]),
    )
    .await;
    // An allowed datagram first, so that the count below means something;
    // the refusal of the second is the sign that the first was taken.
    let allowed = UdpSocket::bind(SocketAddr::new(V4, 0)).unwrap();
    let refused = UdpSocket::bind(SocketAddr::new(OTHER_LOOPBACK, 0)).unwrap();
    allowed.send_to(b"from 127.0.0.1", p.addr()).unwrap();
    refused.send_to(b"from 127.0.0.2", p.addr()).unwrap();
    p.refused_at_least(1).await;
    let probed = p.finish().await;
    assert_eq!(
        probed.result,
        Ok(1),
        "only 127.0.0.1 got through: {}",
        probed.stderr
    );
    let (refused, allowed) = (refused.local_addr().unwrap(), allowed.local_addr().unwrap());
    let deny = decisions(&probed.audit, "deny", "udp-receive", &refused.to_string());
    assert_eq!(
        deny.len(),
        1,
        "one deny line for {refused}: {:#?}",
        probed.audit
    );
    assert_eq!(
        (&deny[0]["silent"], &deny[0]["rule"]),
        (&true.into(), &NONE.into())
    );
    let allow = decisions(&probed.audit, "allow", "udp-receive", &allowed.to_string());
    assert_eq!(
        allow.len(),
        1,
        "one allow line for {allowed}: {:#?}",
        probed.audit
    );
    assert_eq!(allow[0]["count"], 1);
}
