//! The grant matrix's cases (`grant_matrix`): one use by a real probe guest
//! under rules of the case's making, checked in what the guest saw, what its
//! peer saw and what the audit says, then summed up as one [`Observed`] line
//! with the network's own choices (ports, the peers' addresses) written as
//! their roles, so that a case run on both networks can be compared
//! (`networks` does that for a table of cases).

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};

use serde_json::Value;

use super::V4;
use super::peers::*;
use super::sandbox::*;

/// Which probes make a case's calls: WASI 0.2's (`probe-tcp`,
/// `probe-udp`) or WASI 0.3's (`wasi03-probe-tcp`, `wasi03-probe-udp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probes {
    /// `probe-tcp` and `probe-udp`.
    Wasi02,
    /// `wasi03-probe-tcp` and `wasi03-probe-udp`.
    Wasi03,
}

impl Probes {
    /// The probe for `transport` (`tcp` or `udp`).
    pub fn of(self, transport: &str) -> &'static str {
        match (self, transport) {
            (Probes::Wasi02, "tcp") => "probe-tcp",
            (Probes::Wasi02, _) => "probe-udp",
            (Probes::Wasi03, "tcp") => "wasi03-probe-tcp",
            (Probes::Wasi03, _) => "wasi03-probe-udp",
        }
    }
}

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
/// `probes` make the calls.
pub async fn target_case_of<S>(
    net: &Net,
    probes: Probes,
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
    let (op, step) = match transport {
        "tcp" => ("tcp-connect", "connect"),
        _ => ("udp-send", "send"),
    };
    let probe = probes.of(transport);
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

/// One operation, one family, one verdict: a real probe (one of `probes`)
/// makes the call, a peer on `ip`'s loopback of `net` plays
/// the other side where there is one.
pub async fn op_case_of(
    net: &Net,
    probes: Probes,
    op: &'static str,
    ip: IpAddr,
    verdict: Verdict,
) -> Observed {
    let label = format!("{}: {op} {ip} {verdict:?}", probes.of(&op[..3]));
    let lo = lit(ip).0;
    let listen = SocketAddr::new(ip, 0);
    if let "tcp-connect" | "udp-send" = op {
        let (allow, deny, decided) = verdict.rules(&format!("{op}={lo}:{{P}}"));
        return target_case_of(net, probes, &op[..3], ip, &allow, &deny, &decided).await;
    }
    // Receive names only the first sender: the second is a sentinel.
    let senders = (op == "udp-receive").then(|| [(); 2].map(|()| Native::bind(net, "udp", ip)));
    let rule = match &senders {
        Some([sender, _]) => format!("{op}={}", sender.addr()),
        None => format!("{op}={lo}:*"),
    };
    let (mut allow, deny, decided) = verdict.rules(&rule);
    let allowed = verdict == Verdict::Allow;
    let (step, before) = step_for(op, lo);
    let probe = probes.of(&op[..3]);
    allow.extend(before);
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
    observe(
        &probed,
        worded(&probed),
        op,
        None,
        &chosen_names(&probed, op),
        None,
    )
}

/// The targets of the audit's lines about `op` that the network chose (a
/// receive's sender, a listener, an accepted client), each with its role.
fn chosen_names(probed: &Probed, op: &str) -> Vec<(String, &'static str)> {
    let role = match op {
        "udp-receive" => "{sender}",
        "tcp-accept" => "{client}",
        "tcp-listen" => "{listener}",
        _ => return Vec::new(),
    };
    probed
        .audit
        .iter()
        .filter(|l| l["op"] == op)
        .filter_map(|l| l["target"].as_str().map(|t| (t.to_string(), role)))
        .collect()
}

/// The step a probe names for `op`, and the rules that allow the steps
/// before it (always allowed).
fn step_for(op: &str, lo: &str) -> (&'static str, Vec<String>) {
    match op {
        "tcp-bind" | "udp-bind" => ("bind", vec![]),
        "tcp-listen" => ("listen", vec![format!("tcp-bind={lo}:*")]),
        "tcp-accept" => ("accept", vec![format!("tcp-bind,tcp-listen={lo}:*")]),
        "udp-receive" => ("receive", vec![format!("udp-bind={lo}:*")]),
        _ => unreachable!("{op}"),
    }
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
pub async fn udp_silent_drop_case(net: &Net, probes: Probes) -> Observed {
    let allow = ["udp-bind,udp-receive=127.0.0.1".to_string()];
    let params = [
        ("op", "receive".to_string()),
        ("wait-ms", "60000".to_string()),
    ];
    let listen = SocketAddr::new(V4, 0);
    let p = start_probe_on(
        net,
        probes.of("udp"),
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
