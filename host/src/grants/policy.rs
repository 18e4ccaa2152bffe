//! One guest's policy: the allow and deny rules it runs under, the check
//! made for every socket use and name lookup, and the record of each
//! decision (refusals one by one, allowed uses counted).

use std::collections::{BTreeMap, HashSet};
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
    /// Allowed uses, counted per operation, target and deciding rule.
    allowed: BTreeMap<(Op, String, String), u64>,
    /// Peers a datagram was received from (for [`Target::Senders`]).
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
        let label = |r: &Rule| match r.origin {
            Origin::Wiring => "wiring",
            Origin::Allow => "allow",
            Origin::Deny => "deny",
        };
        self.allow
            .iter()
            .chain(&self.deny)
            .map(|r| format!("{}: {r}", label(r)))
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
        let mut verdict = decide(&self.allow, &self.deny, |r| r.matches(op, addr, senders));
        if verdict.as_ref().is_err_and(|rule| rule == NO_RULE) {
            verdict = implied_bind(&self.allow, op, addr).ok_or_else(|| NO_RULE.to_string());
        }
        let target = show_addr(addr);
        let allowed = self.record(&mut decisions, op, target, verdict);
        if allowed && op == Op::UdpReceive {
            decisions.senders.insert(addr);
        }
        allowed
    }

    /// Decide one name lookup, and record the decision.
    pub fn check_name(&self, name: &str) -> bool {
        let mut decisions = self.decisions.lock().unwrap();
        let verdict = decide(&self.allow, &self.deny, |r| r.matches_name(name));
        self.record(&mut decisions, Op::Dns, name.to_string(), verdict)
    }

    fn record(
        &self,
        decisions: &mut Decisions,
        op: Op,
        target: String,
        verdict: Result<String, String>,
    ) -> bool {
        match verdict {
            Ok(rule) => {
                *decisions.allowed.entry((op, target, rule)).or_default() += 1;
                true
            }
            Err(rule) => {
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
                false
            }
        }
    }

    /// Record a refusal decided outside the rules (a guest creating a socket
    /// of a transport its role does not have).
    pub fn refuse(&self, op: Op, target: String, rule: String) {
        let mut decisions = self.decisions.lock().unwrap();
        self.record(&mut decisions, op, target, Err(rule));
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
        for ((op, target, rule), count) in &decisions.allowed {
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
fn implied_bind(allow: &[Rule], op: Op, addr: SocketAddr) -> Option<String> {
    let needs = match op {
        Op::TcpBind => Op::TcpConnect,
        Op::UdpBind => Op::UdpSend,
        _ => return None,
    };
    if !addr.ip().is_unspecified() || addr.port() != 0 {
        return None;
    }
    let rule = allow.iter().find(|r| r.ops.contains(&needs))?;
    Some(format!("implied by {}: {rule}", origin_label(rule)))
}

fn origin_label(rule: &Rule) -> &'static str {
    match rule.origin {
        Origin::Wiring => "wiring",
        Origin::Allow => "allow",
        Origin::Deny => "deny",
    }
}

/// Deny wins over allow: `Ok(allowing rule)` or `Err(refusing rule)`.
fn decide(allow: &[Rule], deny: &[Rule], covers: impl Fn(&Rule) -> bool) -> Result<String, String> {
    if let Some(rule) = deny.iter().find(|r| covers(r)) {
        return Err(format!("deny: {rule}"));
    }
    match allow.iter().find(|r| covers(r)) {
        Some(rule) if rule.origin == Origin::Wiring => Ok(format!("wiring: {rule}")),
        Some(rule) => Ok(format!("allow: {rule}")),
        None => Err(NO_RULE.to_string()),
    }
}

fn show_addr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}
