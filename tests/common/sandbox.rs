//! The sandbox tests' fixtures (`grant_matrix`, `hostile`, `sandbox_cli`):
//! probe guests run under rules of the test's choosing with an audit file
//! of their own, on either network ([`Net`]), a loop that runs a table of
//! cases and reports every failing one; the peers they reach are in
//! `peers`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use socklab::grants::audit::Audit;
use socklab::grants::rules::{self, Origin};
use socklab::grants::{Policy, UserRules};
use socklab::limits::Limits;
use socklab::roles::bindings::socklab::lab::types::{ServerConfig, ServerReport};
use socklab::runtime::state::Sandbox;
use socklab::runtime::tasks::{self, Task};
use socklab::runtime::{Guest, Outcome, ServerWires, call};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::{WAIT, guest, lab, sim_guest, sim_lab, within};

/// A second loopback address, for a peer the rules do not name.
pub const OTHER_LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// `--allow` and `--deny` rules, parsed as the command line parses them.
pub fn rules(allow: &[String], deny: &[String]) -> UserRules {
    let parse = |text: &String, origin| {
        rules::parse(text, origin).unwrap_or_else(|e| panic!("rule {text}: {e}"))
    };
    UserRules {
        allow: allow.iter().map(|t| parse(t, Origin::Allow)).collect(),
        deny: deny.iter().map(|t| parse(t, Origin::Deny)).collect(),
    }
}

/// An audit file of one's own, in a directory removed on drop.
pub struct AuditFile {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub audit: Arc<Audit>,
}

impl AuditFile {
    pub fn new() -> AuditFile {
        let dir = tempfile::tempdir().expect("a scratch directory");
        let path = dir.path().join("audit.jsonl");
        let audit = Audit::create(&path).expect("creating the audit file");
        AuditFile {
            _dir: dir,
            path,
            audit,
        }
    }
}

/// Every line of the JSON Lines audit file at `path`, parsed.
pub fn read_audit(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("reading the audit file");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line {l:?}: {e}")))
        .collect()
}

/// The audit lines deciding `op` on `target` as `decision` (`allow`/`deny`).
pub fn decisions<'a>(lines: &'a [Value], decision: &str, op: &str, target: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["decision"] == decision && l["op"] == op && l["target"] == target)
        .collect()
}

/// A probe guest serving under a policy of the test's making.
pub struct Probe {
    /// Where it said it listens; `None` if it returned first.
    pub listening: Option<SocketAddr>,
    pub policy: Arc<Policy>,
    pub audit: AuditFile,
    stop: watch::Sender<bool>,
    task: Task<Outcome<ServerReport>>,
}

/// What a probe did: its sessions or its error, its stderr, its audit lines.
pub struct Probed {
    pub result: Result<u64, String>,
    pub stderr: String,
    pub audit: Vec<Value>,
}

/// Where a probe runs: on the real loopback, or on a node of a simulation
/// (the case's code then runs inside that simulation's `Sim::block_on`).
#[derive(Clone)]
pub enum Net {
    Real,
    Simulated(socklab_sim::Node),
}

impl Net {
    /// The bundled guest `name`, compiled for this network's engine.
    fn guest(&self, name: &str) -> Arc<Guest> {
        match self {
            Net::Real => guest(name),
            Net::Simulated(_) => sim_guest(name),
        }
    }
}

/// Start the probe guest `name` (label `label` in the audit) on `listen`
/// with `params`, under `rules` and no wiring grants at all, and wait until
/// it listens or returns.
pub async fn start_probe(
    name: &str,
    label: &str,
    listen: SocketAddr,
    params: &[(&str, String)],
    rules: UserRules,
) -> Probe {
    start_probe_on(&Net::Real, name, label, listen, params, rules).await
}

/// [`start_probe`] on `net`.
pub async fn start_probe_on(
    net: &Net,
    name: &str,
    label: &str,
    listen: SocketAddr,
    params: &[(&str, String)],
    rules: UserRules,
) -> Probe {
    let audit = AuditFile::new();
    let policy = Policy::new(label.into(), Vec::new(), &rules, Some(audit.audit.clone()));
    let (stop, stop_rx) = watch::channel(false);
    let (listening_tx, listening_rx) = oneshot::channel();
    let config = ServerConfig {
        listen: listen.into(),
        max_sessions: None,
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    };
    let wires = ServerWires {
        stop: stop_rx,
        listening: listening_tx,
    };
    let guest = net.guest(name);
    let (runtime, node) = match net {
        Net::Real => (lab(), None),
        Net::Simulated(node) => (sim_lab(), Some(node.clone())),
    };
    let sandbox = Sandbox {
        label: label.into(),
        transport: Some(guest.role.transport),
        policy: policy.clone(),
        limits: Limits::default(),
        verbose: false,
        node,
    };
    let task =
        tasks::spawn(async move { call::serve(&runtime, &guest, config, sandbox, wires).await });
    // The sender lives in the guest's store: an error means it returned
    // without listening.
    let listening = within(&format!("{label} to listen or return"), listening_rx)
        .await
        .ok();
    Probe {
        listening,
        policy,
        audit,
        stop,
        task,
    }
}

impl Probe {
    /// The address it listens on; fails the test if it never listened.
    pub fn addr(&self) -> SocketAddr {
        self.listening
            .unwrap_or_else(|| panic!("{} never listened", self.policy.guest))
    }

    /// Wait until at least `n` uses have been refused. Refusals the guest
    /// never sees (a dropped datagram) have no other sign.
    /// Bounded in count as well as in real time, so that it ends on the
    /// simulated network too, where each sleep is simulated time.
    pub async fn refused_at_least(&self, n: u64) {
        const STEP: Duration = Duration::from_millis(2);
        let deadline = Instant::now() + WAIT;
        for _ in 0..WAIT.as_millis() / STEP.as_millis() {
            if self.policy.refused_total() >= n {
                return;
            }
            if Instant::now() > deadline {
                break;
            }
            tasks::sleep(STEP).await;
        }
        assert!(
            self.policy.refused_total() >= n,
            "{}: {} refusal(s) after {WAIT:?}, expected {n}: {:?}",
            self.policy.guest,
            self.policy.refused_total(),
            self.policy.refusals()
        );
    }

    /// Ask it to stop, collect its outcome, and read its audit file.
    pub async fn finish(self) -> Probed {
        let _ = self.stop.send(true);
        let label = self.policy.guest.clone();
        let outcome = within(&format!("{label} to return"), self.task)
            .await
            .expect("the probe's task");
        self.policy.flush_allowed();
        self.audit.audit.flush();
        Probed {
            result: outcome
                .result
                .map(|r| r.sessions)
                .map_err(|e| e.to_string()),
            stderr: outcome.stderr,
            audit: read_audit(&self.audit.path),
        }
    }
}

/// Run every case at once, each under twice [`WAIT`] (so that its own waits
/// say what they waited for), and fail listing every case
/// that failed (not just the first); print how many ran.
pub async fn run_cases<F>(table: &str, cases: Vec<(String, F)>)
where
    F: Future<Output = ()> + Send + 'static,
{
    let total = cases.len();
    let running: Vec<(String, JoinHandle<()>)> = cases
        .into_iter()
        .map(|(name, case)| {
            let what = name.clone();
            let case = tokio::time::timeout(2 * WAIT, case);
            let timed = async move { case.await.unwrap_or_else(|_| panic!("{what}: timed out")) };
            (name, tokio::spawn(timed))
        })
        .collect();
    let mut failed = Vec::new();
    for (name, handle) in running {
        if let Err(e) = handle.await {
            let why = e
                .try_into_panic()
                .map_or_else(|e| e.to_string(), panic_text);
            failed.push(format!("- {name}: {why}"));
        }
    }
    eprintln!("{table}: {total} cases, {} failed", failed.len());
    assert!(
        failed.is_empty(),
        "{table}: {} of {total} cases failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// What a panic said.
pub fn panic_text(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

// The grant matrix's verdicts and its checks of what a probe saw and the
// audit said.

pub const NONE: &str = "no rule allows it";

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    /// An `--allow` rule names the use.
    Allow,
    /// Only the steps before it are allowed; no rule names the use.
    Unlisted,
    /// The same rule is allowed and denied: deny wins.
    Deny,
}

impl Verdict {
    /// The allow and deny rules that give this verdict on `rule`, and the
    /// rule the audit must then name.
    pub fn rules(self, rule: &str) -> (Vec<String>, Vec<String>, String) {
        let own = vec![rule.to_string()];
        match self {
            Verdict::Allow => (own, vec![], format!("allow: {rule}")),
            Verdict::Unlisted => (vec![], vec![], NONE.to_string()),
            Verdict::Deny => (own.clone(), own, format!("deny: {rule}")),
        }
    }
}

/// The loopback of `ip`'s family as rules write it, and its wildcard.
pub fn lit(ip: IpAddr) -> (&'static str, &'static str) {
    match ip {
        IpAddr::V4(_) => ("127.0.0.1", "0.0.0.0"),
        IpAddr::V6(_) => ("[::1]", "[::]"),
    }
}

/// Assert the one audit line about `op` on `target` (`ADDR:*`: a port the
/// kernel chose): a use allowed once by `decided`, or refused by it, silently
/// for accept and receive.
pub fn assert_audit(label: &str, lines: &[Value], op: &str, target: &str, decided: &str) {
    let all = format!("{label}: audit:\n{lines:#?}");
    let about: Vec<&Value> = lines.iter().filter(|l| l["op"] == op).collect();
    assert_eq!(about.len(), 1, "one line about {op}: {all}");
    let line = about[0];
    let shown = line["target"].as_str().unwrap_or_default();
    let (ip, any_port) = (target.strip_suffix(":*"), shown.rsplit_once(':'));
    match (ip, any_port) {
        (Some(ip), Some((a, p))) => assert!(a == ip && p != "0", "{all}"),
        _ => assert_eq!(shown, target, "{all}"),
    }
    assert_eq!(line["guest"], label, "{all}");
    assert_eq!(line["rule"], decided, "{all}");
    let (decision, key, value) = match decided.starts_with("allow: ") {
        true => ("allow", "count", Value::from(1)),
        false => (
            "deny",
            "silent",
            matches!(op, "tcp-accept" | "udp-receive").into(),
        ),
    };
    assert_eq!(line["decision"], decision, "{all}");
    assert_eq!(line[key], value, "{all}");
    // Seconds since 1970 on the real network, since the simulation began on
    // the simulated one.
    let time = line["time"].as_f64();
    let plausible = match tasks::simulated() {
        true => time.is_some_and(|t| (0.0..WAIT.as_secs_f64()).contains(&t)),
        false => time.is_some_and(|t| t > 1e9),
    };
    assert!(plausible, "{all}");
}

/// Assert what the guest saw: one success, `access-denied` at `step`, or
/// for accept and receive (refused silently) nothing at all.
pub fn assert_saw(label: &str, probed: &Probed, allowed: bool, step: &str) {
    let want = match (allowed, step) {
        (true, _) => Ok(1),
        (false, "accept" | "receive") => Ok(0),
        (false, _) => Err(format!("{step}: access-denied")),
    };
    assert_eq!(probed.result, want, "{label}: {}", probed.stderr);
}

/// `{P}`, `{P-1}`, `{P+1}` and `{P+9}` in a rule, around the peer's port.
pub fn with_port(text: &str, port: u16) -> String {
    let around = |d: i32| (i32::from(port) + d).to_string();
    text.replace("{P}", &port.to_string())
        .replace("{P-1}", &around(-1))
        .replace("{P+1}", &around(1))
        .replace("{P+9}", &around(9))
}
