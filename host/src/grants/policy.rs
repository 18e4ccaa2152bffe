//! One guest's policy: the allow and deny rules it runs under, the check
//! made for every socket use and name lookup, and the record of each
//! decision (refusals one by one, allowed uses counted).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use super::audit::{Audit, Decision, now_secs};
use super::op::{Op, Refusal};
use super::rules::{Origin, Rule};
use crate::roles::Transport;

/// The rules one guest runs under, besides the wiring's.
#[derive(Clone, Debug, Default)]
pub struct UserRules {
    /// `--allow` rules.
    pub allow: Vec<Rule>,
    /// `--deny` rules.
    pub deny: Vec<Rule>,
}

/// Refusals kept in memory per guest; the audit file gets all of them.
const MAX_KEPT_REFUSALS: usize = 1_000;

/// The decisions made for one guest.
#[derive(Default, Debug)]
struct Decisions {
    refused: Vec<Refusal>,
    refused_total: u64,
    /// Allowed uses, counted per operation, target and deciding rule. The
    /// keys stay unformatted: this is counted on every datagram, and the
    /// text is wanted only once, when the audit file is written.
    allowed: HashMap<(Op, Subject, Decider), u64>,
    /// Peers a datagram was received from (for [`Target::Senders`](super::rules::Target::Senders)).
    senders: HashSet<SocketAddr>,
}

/// One guest's grants and the decisions made under them.
#[derive(Debug)]
pub struct Policy {
    /// Who the guest is, for the audit: `client tcp-client`.
    pub guest: String,
    allow: Vec<Rule>,
    deny: Vec<Rule>,
    audit: Option<Arc<Audit>>,
    decisions: Mutex<Decisions>,
}

impl Policy {
    /// A policy of the wiring's grants plus the user's rules.
    pub fn new(
        guest: String,
        wiring: Vec<Rule>,
        user: &UserRules,
        audit: Option<Arc<Audit>>,
    ) -> Arc<Policy> {
        let mut allow = wiring;
        allow.extend(user.allow.iter().cloned());
        Arc::new(Policy {
            guest,
            allow,
            deny: user.deny.clone(),
            audit,
            decisions: Mutex::default(),
        })
    }

    /// A policy of the wiring's grants alone (one of [`wiring`](super::wiring)'s), no
    /// user rules and no audit: for a guest wired by a program.
    pub fn wiring_only(guest: &str, wiring: Vec<Rule>) -> Arc<Policy> {
        Policy::new(guest.into(), wiring, &UserRules::default(), None)
    }

    /// The rules in force, as the transcript shows them: `wiring: ...`,
    /// `allow: ...`, `deny: ...`.
    pub fn describe(&self) -> Vec<String> {
        self.allow
            .iter()
            .chain(&self.deny)
            .map(|r| format!("{}: {r}", origin_label(r)))
            .collect()
    }

    /// Whether any rule could allow a name lookup (so the lookup interface
    /// is worth switching on at all).
    pub fn allows_any_name(&self) -> bool {
        self.allow.iter().any(|r| r.dns)
    }

    /// Whether any allow rule names an operation of `transport`, so that a
    /// socket of it could ever be used.
    pub fn allows_transport(&self, transport: Transport) -> bool {
        self.allow
            .iter()
            .flat_map(|r| &r.ops)
            .any(|op| op.transport() == Some(transport))
    }

    /// Decide one socket use, and record the decision.
    pub fn check(&self, op: Op, addr: SocketAddr) -> bool {
        let mut decisions = self.decisions.lock().unwrap();
        let senders = |a: SocketAddr| decisions.senders.contains(&a);
        let mut decider = decide(&self.allow, &self.deny, |r| r.matches(op, addr, senders));
        if decider == Decider::NoRule
            && let Some(rule) = implied_bind(&self.allow, op, addr)
        {
            decider = Decider::Implied(rule);
        }
        let allowed = self.record(&mut decisions, op, Subject::Addr(addr), decider);
        if allowed && op == Op::UdpReceive {
            decisions.senders.insert(addr);
        }
        allowed
    }

    /// Decide one name lookup, and record the decision.
    pub fn check_name(&self, name: &str) -> bool {
        let mut decisions = self.decisions.lock().unwrap();
        let decider = decide(&self.allow, &self.deny, |r| r.matches_name(name));
        self.record(&mut decisions, Op::Dns, Subject::Name(name.into()), decider)
    }

    /// Count an allowed use, or record a refused one; whether it was allowed.
    fn record(&self, decisions: &mut Decisions, op: Op, target: Subject, decider: Decider) -> bool {
        if decider.allows() {
            *decisions.allowed.entry((op, target, decider)).or_default() += 1;
            return true;
        }
        let rule = self.explain(decider);
        self.refused(decisions, op, target.to_string(), rule);
        false
    }

    /// Record one refusal: kept (the first thousand), counted, and written
    /// to the audit file at once.
    fn refused(&self, decisions: &mut Decisions, op: Op, target: String, rule: String) {
        let refusal = Refusal {
            time: now_secs(),
            op,
            target,
            rule,
            silent: op.silent(),
        };
        if let Some(audit) = &self.audit {
            audit.write(&Decision::refused(&self.guest, &refusal));
        }
        decisions.refused_total += 1;
        if decisions.refused.len() < MAX_KEPT_REFUSALS {
            decisions.refused.push(refusal);
        }
    }

    /// Record a refusal decided outside the rules (a guest creating a socket
    /// of a transport its role does not have).
    pub fn refuse(&self, op: Op, target: String, rule: String) {
        let mut decisions = self.decisions.lock().unwrap();
        self.refused(&mut decisions, op, target, rule);
    }

    /// The deciding rule as the audit and the transcript show it:
    /// `wiring: udp-send=...`, `deny: ...`, `implied by allow: ...`.
    fn explain(&self, decider: Decider) -> String {
        let labelled = |rule: &Rule| format!("{}: {rule}", origin_label(rule));
        match decider {
            Decider::Allow(i) => labelled(&self.allow[i]),
            Decider::Deny(i) => labelled(&self.deny[i]),
            Decider::Implied(i) => format!("implied by {}", labelled(&self.allow[i])),
            Decider::NoRule => NO_RULE.to_string(),
        }
    }

    /// Refusals so far, oldest first (the first thousand).
    pub fn refusals(&self) -> Vec<Refusal> {
        self.decisions.lock().unwrap().refused.clone()
    }

    /// How many uses were refused in all.
    pub fn refused_total(&self) -> u64 {
        self.decisions.lock().unwrap().refused_total
    }

    /// Write the allowed uses, aggregated, to the audit file. Called once the
    /// guest has finished.
    pub fn flush_allowed(&self) {
        let Some(audit) = &self.audit else { return };
        let decisions = self.decisions.lock().unwrap();
        // In the order of operation, target and rule, as text.
        let mut lines: BTreeMap<(Op, String, String), u64> = BTreeMap::new();
        for ((op, target, decider), count) in &decisions.allowed {
            let key = (*op, target.to_string(), self.explain(*decider));
            *lines.entry(key).or_default() += count;
        }
        for ((op, target, rule), count) in &lines {
            audit.write(&Decision::allowed(&self.guest, *op, target, rule, *count));
        }
    }
}

/// Why a use nobody allowed was refused.
const NO_RULE: &str = "no rule allows it";

/// The bind a connect or a first send performs by itself (the wildcard
/// address, port 0) gives nothing on its own, so a rule that allows
/// connecting (TCP) or sending (UDP) anywhere allows it too: then
/// `--allow tcp-connect=ADDR` is enough for a client. An explicit deny
/// still wins.
fn implied_bind(allow: &[Rule], op: Op, addr: SocketAddr) -> Option<usize> {
    let needs = match op {
        Op::TcpBind => Op::TcpConnect,
        Op::UdpBind => Op::UdpSend,
        _ => return None,
    };
    if !addr.ip().is_unspecified() || addr.port() != 0 {
        return None;
    }
    allow.iter().position(|r| r.ops.contains(&needs))
}

fn origin_label(rule: &Rule) -> &'static str {
    match rule.origin {
        Origin::Wiring => "wiring",
        Origin::Allow => "allow",
        Origin::Deny => "deny",
    }
}

/// Which rule decided a use: an index into the policy's rules, so that
/// deciding costs no text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Decider {
    /// Allowed by `allow[i]` (a wiring or an `--allow` rule).
    Allow(usize),
    /// Refused by `deny[i]`.
    Deny(usize),
    /// An implicit bind, allowed by `allow[i]` (see [`implied_bind`]).
    Implied(usize),
    /// Refused: no rule allows it.
    NoRule,
}

impl Decider {
    fn allows(self) -> bool {
        matches!(self, Decider::Allow(_) | Decider::Implied(_))
    }
}

/// Deny wins over allow.
fn decide(allow: &[Rule], deny: &[Rule], covers: impl Fn(&Rule) -> bool) -> Decider {
    if let Some(i) = deny.iter().position(&covers) {
        return Decider::Deny(i);
    }
    allow
        .iter()
        .position(covers)
        .map_or(Decider::NoRule, Decider::Allow)
}

/// What one use was of (a refusal's and an audit line's `target`): an
/// address, or a name looked up. Not a rule's [`Target`](super::rules::Target), which may cover
/// many of these.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Subject {
    Addr(SocketAddr),
    Name(String),
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Addr(SocketAddr::V4(a)) => write!(f, "{a}"),
            Subject::Addr(SocketAddr::V6(a)) => write!(f, "[{}]:{}", a.ip(), a.port()),
            Subject::Name(name) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grants::rules::parse;

    fn rule(text: &str, origin: Origin) -> Rule {
        parse(text, origin).unwrap()
    }

    /// The allowed lines of the audit file `policy` writes, as JSON values.
    fn allowed_lines(policy: &Policy, path: &std::path::Path) -> Vec<serde_json::Value> {
        policy.flush_allowed();
        policy.audit.as_ref().unwrap().flush();
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|l| l["decision"] == "allow")
            .collect()
    }

    #[test]
    fn allowed_uses_are_counted_per_target_and_rule_and_written_as_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let user = UserRules {
            allow: vec![
                rule("udp-send=127.0.0.1:9", Origin::Allow),
                rule("dns=*", Origin::Allow),
            ],
            deny: vec![rule("udp-send=127.0.0.1:7", Origin::Deny)],
        };
        let wiring = vec![rule("udp-receive=*", Origin::Wiring)];
        let policy = Policy::new(
            "client c".into(),
            wiring,
            &user,
            Some(Audit::create(&path).unwrap()),
        );
        let (a, b): (SocketAddr, SocketAddr) =
            ("127.0.0.1:9".parse().unwrap(), "[::1]:5".parse().unwrap());
        for _ in 0..3 {
            assert!(policy.check(Op::UdpSend, a));
        }
        assert!(policy.check(Op::UdpReceive, b));
        assert!(policy.check(Op::UdpBind, "0.0.0.0:0".parse().unwrap()));
        assert!(policy.check_name("example.test"));
        assert!(!policy.check(Op::UdpSend, "127.0.0.1:7".parse().unwrap()));
        assert!(!policy.check(Op::TcpConnect, a));

        let refusals = policy.refusals();
        let refused: Vec<_> = refusals
            .iter()
            .map(|r| (r.target.as_str(), r.rule.as_str()))
            .collect();
        assert_eq!(
            refused,
            [
                ("127.0.0.1:7", "deny: udp-send=127.0.0.1:7"),
                ("127.0.0.1:9", NO_RULE)
            ]
        );
        let lines = allowed_lines(&policy, &path);
        let allowed: Vec<_> = lines
            .iter()
            .map(|l| {
                (
                    l["op"].as_str().unwrap(),
                    l["target"].as_str().unwrap(),
                    l["rule"].as_str().unwrap(),
                    l["count"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            allowed,
            [
                (
                    "udp-bind",
                    "0.0.0.0:0",
                    "implied by allow: udp-send=127.0.0.1:9",
                    1
                ),
                ("udp-send", "127.0.0.1:9", "allow: udp-send=127.0.0.1:9", 3),
                ("udp-receive", "[::1]:5", "wiring: udp-receive=*:*", 1),
                ("dns", "example.test", "allow: dns=*", 1),
            ]
        );
    }
}
