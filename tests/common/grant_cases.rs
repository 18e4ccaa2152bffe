//! The grant matrix's cases (`grant_matrix`): one use by a real probe guest
//! under rules of the case's making, checked in what the guest saw, what its
//! peer saw and what the audit says, then summed up as one [`Observed`] line
//! with the network's own choices (ports, the peers' addresses) written as
//! their roles, so that a case run on both networks can be compared;
//! [`on_both_networks`] does that for a table of cases.

use std::future::Future;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, mpsc};

use serde_json::Value;

use super::sandbox::*;
use super::{V4, WAIT};

/// What one case came to: the guest's result, whether its peer saw the
/// use, and the audit's lines about the use (decision, target, rule,
/// silent, count), with `{peer}`, `{sender}` and `{P}` for what the network
/// chose.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed(pub String);

/// [`Observed`] of `probed`: `result` as the case words it, `saw` for a
/// case with a peer, the audit lines about `op`; each of `names` (an
/// address and its role) and then `port` (the peer's, with its neighbours)
/// replaced by its role.
fn observe(
    probed: &Probed,
    result: String,
    op: &str,
    saw: Option<bool>,
    names: &[(String, &str)],
    port: Option<u16>,
) -> Observed {
    let unname = |text: &str| {
        let mut text = names
            .iter()
            .fold(text.to_string(), |t, (addr, role)| t.replace(addr, role));
        if let Some(p) = port {
            for (d, role) in [(9, "{P+9}"), (1, "{P+1}"), (-1, "{P-1}"), (0, "{P}")] {
                text = text.replace(&(i32::from(p) + d).to_string(), role);
            }
        }
        text
    };
    let lines: Vec<String> = probed
        .audit
        .iter()
        .filter(|l| l["op"] == op)
        .map(|l| {
            let field = |k: &str| unname(&l[k].to_string());
            format!(
                "{} {op} target={} rule={} silent={} count={}",
                field("decision"),
                field("target"),
                field("rule"),
                field("silent"),
                field("count"),
            )
        })
        .collect();
    let saw = saw.map_or(String::new(), |s| format!(" peer-saw={s}"));
    Observed(format!("{result}{saw} audit: {}", lines.join("; ")))
}

/// The guest's result as a case words it: its sessions, or its error.
fn worded(probed: &Probed) -> String {
    match &probed.result {
        Ok(n) => format!("ok({n})"),
        Err(e) => format!("error({e})"),
    }
}

/// A connect (`tcp`) or a datagram (`udp`) from a probe to a peer on
/// `peer` (of `net`), under `allow` and `deny` (besides the wildcard bind
/// either makes first); `decided` is the rule the audit must name.
/// `tcp_probe` makes the TCP calls (`probe-tcp` on WASI 0.2,
/// `wasi03-probe-tcp` on 0.3).
pub async fn target_case_of<S>(
    net: &Net,
    tcp_probe: &'static str,
    transport: &str,
    peer: IpAddr,
    allow: &[S],
    deny: &[S],
    decided: &str,
) -> Observed
where
    S: AsRef<str>,
{
    let native = Native::bind(net, transport, peer);
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
    let probed = start_probe_on(net, probe, &label, listen, &params, rules(&allow, &deny))
        .await
        .finish()
        .await;
    let allowed = decided.starts_with("allow: ");
    assert_saw(&label, &probed, allowed, step);
    let saw = native.saw_anything().await;
    assert_eq!(saw, allowed, "{label}: did the peer see it?");
    assert_audit(&label, &probed.audit, op, &to.to_string(), &decided);
    let names = [(to.to_string(), "{peer}")];
    observe(
        &probed,
        worded(&probed),
        op,
        Some(saw),
        &names,
        Some(to.port()),
    )
}

/// One operation, one family, one verdict: a real probe (`tcp_probe` for
/// the TCP calls) makes the call, a peer on `ip`'s loopback of `net` plays
/// the other side where there is one.
pub async fn op_case_of(
    net: &Net,
    tcp_probe: &'static str,
    op: &'static str,
    ip: IpAddr,
    verdict: Verdict,
) -> Observed {
    let label = format!("{tcp_probe}: {op} {ip} {verdict:?}");
    let lo = lit(ip).0;
    let listen = SocketAddr::new(ip, 0);
    if let "tcp-connect" | "udp-send" = op {
        let (allow, deny, decided) = verdict.rules(&format!("{op}={lo}:{{P}}"));
        return target_case_of(net, tcp_probe, &op[..3], ip, &allow, &deny, &decided).await;
    }
    // Receive names only the first sender: the second is a sentinel.
    let senders = (op == "udp-receive").then(|| [(); 2].map(|()| Native::bind(net, "udp", ip)));
    let rule = match &senders {
        Some([sender, _]) => format!("{op}={}", sender.addr()),
        None => format!("{op}={lo}:*"),
    };
    let (mut allow, deny, decided) = verdict.rules(&rule);
    let allowed = verdict == Verdict::Allow;
    let (probe, step) = match op {
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
    let p = start_probe_on(net, probe, &label, listen, &params, rules(&allow, &deny)).await;
    let target = match (op, &senders) {
        ("tcp-bind" | "udp-bind", _) => format!("{lo}:0"),
        // Refused at listen, the probe never says its port.
        ("tcp-listen", _) => p.listening.map_or(format!("{lo}:*"), |a| a.to_string()),
        ("tcp-accept", _) => {
            // An accepted connection is closed by the probe (EOF); a refused
            // one is reset by the host before the guest sees it.
            let (from, read) = connect_and_read_on(net, ip, p.addr()).await;
            let closed = allowed.then_some(0).ok_or(ErrorKind::ConnectionReset);
            assert_eq!(read, closed, "{label}: what the native client read");
            from.to_string()
        }
        (_, Some([sender, sentinel])) => {
            // The sentinel's datagram is refused: by then the one queued
            // before it has been dealt with.
            sender.send_to(b"a", p.addr());
            sentinel.send_to(b"b", p.addr());
            p.refused_at_least(if allowed { 1 } else { 2 }).await;
            sender.addr().to_string()
        }
        _ => unreachable!("{op}"),
    };
    let mut probed = p.finish().await;
    assert_saw(&label, &probed, allowed, step);
    if op == "udp-receive" {
        let sentinel = |l: &Value| l["op"] == op && l["target"] != target.as_str();
        probed.audit.retain(|l| !sentinel(l));
    }
    assert_audit(&label, &probed.audit, op, &target, &decided);
    // The address of a receive's sender, a listener or an accepted client
    // is the network's choice: each is written as its role.
    let role = match op {
        "udp-receive" => Some("{sender}"),
        "tcp-accept" => Some("{client}"),
        "tcp-listen" => Some("{listener}"),
        _ => None,
    };
    let names: Vec<(String, &str)> = role
        .into_iter()
        .flat_map(|role| {
            let shown = probed.audit.iter().filter(|l| l["op"] == op);
            let shown: Vec<String> = shown
                .filter_map(|l| l["target"].as_str().map(String::from))
                .collect();
            shown.into_iter().map(move |t| (t, role))
        })
        .collect();
    observe(&probed, worded(&probed), op, None, &names, None)
}

/// Look up `localhost` (never an external name) under `allow` and `deny`.
pub async fn dns_case(net: &Net, allow: &[&str], deny: &[&str], decided: &str) -> Observed {
    let label = format!("dns allow {allow:?} deny {deny:?}");
    let own = |r: &[&str]| r.iter().map(|r| r.to_string()).collect::<Vec<_>>();
    let params = [("op", "dns".to_string()), ("name", "localhost".to_string())];
    let listen = SocketAddr::new(V4, 0);
    let rules = rules(&own(allow), &own(deny));
    let p = start_probe_on(net, "probe-tcp", &label, listen, &params, rules);
    let probed = p.await.finish().await;
    let allowed = decided.starts_with("allow: ");
    let result = match &probed.result {
        Ok(found) => {
            assert!(
                allowed && *found >= 1,
                "{label}: resolved {found} address(es)"
            );
            // How many addresses `localhost` has is the machine's.
            "ok(found)".to_string()
        }
        Err(e) => {
            assert!(!allowed && e == "dns: access-denied", "{label}: {e}");
            worded(&probed)
        }
    };
    assert_audit(&label, &probed.audit, "dns", "localhost", decided);
    assert_eq!(probed.audit.len(), 1, "{label}: only the lookup is decided");
    observe(&probed, result, "dns", None, &[], None)
}

/// A datagram from an address the rules do not name (`127.0.0.2`) is
/// dropped before the guest sees it, and the audit says so, silently; one
/// from `127.0.0.1` just before it gets through.
pub async fn udp_silent_drop_case(net: &Net) -> Observed {
    let allow = ["udp-bind,udp-receive=127.0.0.1".to_string()];
    let params = [
        ("op", "receive".to_string()),
        ("wait-ms", "60000".to_string()),
    ];
    let listen = SocketAddr::new(V4, 0);
    let p = start_probe_on(
        net,
        "probe-udp",
        "silent receive",
        listen,
        &params,
        rules(&allow, &[]),
    )
    .await;
    // An allowed datagram first, so that the count below means something;
    // the refusal of the second is the sign that the first was taken.
    let allowed = Native::bind(net, "udp", V4);
    let refused = Native::bind(net, "udp", OTHER_LOOPBACK);
    allowed.send_to(b"from 127.0.0.1", p.addr());
    refused.send_to(b"from 127.0.0.2", p.addr());
    p.refused_at_least(1).await;
    let probed = p.finish().await;
    let all = format!("{:#?}", probed.audit);
    assert_eq!(
        probed.result,
        Ok(1),
        "only 127.0.0.1 got through: {}",
        probed.stderr
    );
    let (refused, allowed) = (refused.addr().to_string(), allowed.addr().to_string());
    let deny = decisions(&probed.audit, "deny", "udp-receive", &refused);
    assert_eq!(deny.len(), 1, "one deny line for {refused}: {all}");
    assert_eq!(
        (&deny[0]["silent"], &deny[0]["rule"]),
        (&true.into(), &NONE.into())
    );
    let allow = decisions(&probed.audit, "allow", "udp-receive", &allowed);
    assert_eq!(allow.len(), 1, "one allow line for {allowed}: {all}");
    assert_eq!(allow[0]["count"], 1);
    let names = [(refused, "{refused}"), (allowed, "{allowed}")];
    observe(&probed, worded(&probed), "udp-receive", None, &names, None)
}

/// A case that can run on either network.
pub type Case = Arc<dyn Fn(Net) -> Pin<Box<dyn Future<Output = Observed> + Send>> + Send + Sync>;

/// `f` as a [`Case`].
pub fn case<F, Fut>(f: F) -> Case
where
    F: Fn(Net) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Observed> + Send + 'static,
{
    Arc::new(move |net| Box::pin(f(net)))
}

/// Run every case on the real network (all at once) and on the simulated
/// one (each on a node of a simulation of its own), print both results side
/// by side, and fail listing every case that failed on either network or
/// came to something different on the two.
pub async fn on_both_networks(table: &str, cases: Vec<(String, Case)>) {
    let tokio = tokio::runtime::Handle::current();
    let runs: Vec<_> = cases
        .iter()
        .map(|(_, case)| {
            let real = tokio::spawn(tokio::time::timeout(2 * WAIT, case(Net::Real)));
            let (case, tokio) = (case.clone(), tokio.clone());
            let sim = tokio::task::spawn_blocking(move || on_sim(case, tokio));
            (real, sim)
        })
        .collect();
    let mut listing = format!("{table}: case | real | simulated\n");
    let mut failed = Vec::new();
    for ((name, _), (real, sim)) in cases.iter().zip(runs) {
        let real = match real.await {
            Ok(Ok(seen)) => Ok(seen),
            Ok(Err(_)) => Err(format!("timed out after {:?}", 2 * WAIT)),
            Err(e) => Err(e
                .try_into_panic()
                .map_or_else(|e| e.to_string(), panic_text)),
        };
        let sim = sim.await.unwrap_or_else(|e| Err(e.to_string()));
        let shown = |r: &Result<Observed, String>| match r {
            Ok(seen) => seen.0.clone(),
            Err(why) => format!("FAILED: {why}"),
        };
        listing.push_str(&format!("- {name} | {} | {}\n", shown(&real), shown(&sim)));
        match (&real, &sim) {
            (Ok(a), Ok(b)) if a == b => {}
            (Ok(_), Ok(_)) => failed.push(format!("- {name}: the networks differ")),
            _ => failed.push(format!("- {name}: {} | {}", shown(&real), shown(&sim))),
        }
    }
    eprintln!("{listing}");
    eprintln!(
        "{table}: {} cases on both networks, {} failed",
        cases.len(),
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "{table}: {} of {} cases failed or differ:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}

/// Run `case` on a node called `probe` of a fresh simulation (seed 1), on
/// a thread of its own with `tokio` entered (wasmtime-wasi's stdio may
/// reach for it). A panic, a stall or a run past twice [`WAIT`] of real
/// time is a failure, with why.
fn on_sim(case: Case, tokio: tokio::runtime::Handle) -> Result<Observed, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _tokio = tokio.enter();
        let run = catch_unwind(AssertUnwindSafe(|| {
            let mut sim = socklab_sim::Sim::new(1);
            let node = sim.handle().add_node("probe");
            sim.block_on(case(Net::Simulated(node)))
        }));
        let _ = tx.send(run);
    });
    match rx.recv_timeout(2 * WAIT) {
        Ok(Ok(Ok(seen))) => Ok(seen),
        Ok(Ok(Err(stalled))) => Err(stalled.to_string()),
        Ok(Err(panic)) => Err(panic_text(panic)),
        Err(_) => Err(format!("no end within {:?} of real time", 2 * WAIT)),
    }
}
