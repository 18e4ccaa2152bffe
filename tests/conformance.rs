//! UDP conformance: the `probe-udp-conformance` guest runs one case per
//! (UDP or name-lookup function, documented error code) of the
//! wasi:sockets 0.2.12 WIT, plus the success cases around them, and the
//! sandbox's refusals under the grants below; every line is held to what the
//! WIT and wasmtime-wasi 48 say.
//!
//! This is the yardstick of the simulated network: [`probe`] runs the same
//! guest on either network, the real one is held to [`EXPECTED`], and the
//! simulated one to the real one, case by case, with only [`INHERENT`]
//! differences allowed (the simulated run inside `unshare -n`, so that it
//! could not reach a real socket even by mistake).

mod common;

use common::*;

/// The grants the probe runs with, and why each is what it is:
/// - bind anywhere on either loopback (ports 0 and explicit ones);
/// - send to either loopback, ports 1024 and up: `send-denied-port` sends
///   to port 9, `send-denied-address` to `127.0.0.2`;
/// - receive from the IPv4 loopback only: `stream-denied-ipv6` (a connect
///   needs both send and receive) and `receive-from-denied-peer-ipv6` (a
///   datagram dropped before the guest sees it) are refused;
/// - look up `localhost`, names under it (the malformed
///   `bad name.localhost` reaches the parser) and the literal
///   `127.0.0.1`; `example.com` is refused;
/// - `--max-sockets 16`, for `create-past-socket-limit`.
const GRANTS: &[&str] = &[
    "--allow",
    "udp-bind=localhost:*",
    "--allow",
    "udp-send=localhost:1024-65535",
    "--allow",
    "udp-receive=127.0.0.1:*",
    "--allow",
    "dns=localhost,*.localhost,127.0.0.1",
    "--max-sockets",
    "16",
];

/// Values that may differ between two correct implementations, each with
/// its reason: a result's `key=value` pair with one of these keys is
/// compared as `key=*` (once the value is checked to be plausible).
const INHERENT: &[(&str, &str)] = &[
    (
        "port",
        "which free port an ephemeral bind gets is the network's choice",
    ),
    (
        "buffer",
        "kernel buffer sizes: the default, the rounding and the ceiling (rmem_max, wmem_max) are the system's",
    ),
    (
        "addresses",
        "what `localhost` resolves to is the machine's /etc/hosts (127.0.0.1, ::1 or both)",
    ),
    (
        "first-call",
        "whether a lookup is still running at the first resolve-next-address is timing",
    ),
];

/// Run `probe-udp-conformance` on `network` under [`GRANTS`] and return its
/// `(case, result)` lines in order.
///
/// `None` is socklab's default, the real network. `Some(name)` passes
/// `--network NAME` to `socklab run` beside the grants, inside `unshare -n`
/// where it can.
///
/// Panics, with everything the guest printed, if it does not exit 0 within
/// [`WAIT`] or prints a line that is not `CASE ok`, `CASE ok:VALUE` or
/// `CASE error:CODE`.
fn probe(network: Option<&str>) -> Vec<(String, String)> {
    let mut args = vec!["run", "probe-udp-conformance"];
    if let Some(network) = network {
        args.extend(["--network", network]);
    }
    args.extend(GRANTS);
    let out = match network {
        Some(_) => socklab_offline(&args).finish(),
        None => socklab(&args).finish(),
    };
    out.assert_code(0);
    out.stdout
        .lines()
        .map(|line| {
            let parsed = line.split_once(' ').filter(|(case, result)| {
                !case.is_empty()
                    && (*result == "ok"
                        || result.starts_with("ok:")
                        || result.starts_with("error:"))
            });
            let Some((case, result)) = parsed else {
                panic!("not a `CASE RESULT` line: {line:?}\n{out}");
            };
            (case.to_string(), result.to_string())
        })
        .collect()
}

/// `result` with each [`INHERENT`] value replaced by `*`, after checking it
/// is a value that key can have; `Err` says why it cannot.
fn normalize(result: &str) -> Result<String, String> {
    let Some((head, value)) = result.split_once(':') else {
        return Ok(result.to_string());
    };
    let mut pairs = Vec::new();
    for pair in value.split(',') {
        let Some((key, v)) = pair.split_once('=') else {
            pairs.push(pair.to_string());
            continue;
        };
        if !INHERENT.iter().any(|&(k, _)| k == key) {
            pairs.push(pair.to_string());
            continue;
        }
        let plausible = match key {
            "port" => v.parse::<u16>().is_ok_and(|p| p != 0),
            "buffer" => v.parse::<u64>().is_ok_and(|b| b > 0),
            "addresses" => !v.is_empty(),
            _ => ["would-block", "ready"].contains(&v),
        };
        if !plausible {
            return Err(format!("`{pair}` is no value `{key}` can have"));
        }
        pairs.push(format!("{key}=*"));
    }
    Ok(format!("{head}:{}", pairs.join(",")))
}

/// Every case in the probe's order, with its result on the real network
/// (wasmtime-wasi 48 on Linux loopback), [`INHERENT`] values as `*`.
///
/// The comments say where each result comes from: the WIT's `# Typical
/// errors` (quoted by code), or wasmtime-wasi 48's source
/// (`src/sockets/udp.rs`, `src/p2/host/udp.rs`, `src/p2/udp.rs`,
/// `src/sockets/ip_name_lookup.rs`) where the WIT leaves a choice or says
#[path = "conformance/expected.rs"]
mod expected;
use expected::EXPECTED;

#[test]
fn real_network_matches_the_wit() {
    let got = probe(None);
    let listing = || {
        got.iter()
            .map(|(case, result)| format!("  {case} {result}\n"))
            .collect::<String>()
    };
    let got_names: Vec<&str> = got.iter().map(|(c, _)| c.as_str()).collect();
    let want_names: Vec<&str> = EXPECTED.iter().map(|&(c, _)| c).collect();
    assert_eq!(
        got_names,
        want_names,
        "the probe's cases, in order; it printed:\n{}",
        listing()
    );
    let mismatches: Vec<String> = got
        .iter()
        .zip(EXPECTED)
        .filter_map(|((case, result), &(_, want))| match normalize(result) {
            Ok(seen) if seen == want => None,
            Ok(seen) => Some(format!("  {case}: expected {want}, got {result} ({seen})")),
            Err(why) => Some(format!("  {case}: {result}: {why}")),
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from the WIT and wasmtime-wasi 48:\n{}\nthe probe printed:\n{}",
        mismatches.len(),
        EXPECTED.len(),
        mismatches.join("\n"),
        listing()
    );
}

#[test]
fn simulated_network_matches_the_real_one_case_by_case() {
    let real = probe(None);
    let simulated = probe(Some("simulated"));
    let mut table = String::from("  case | real | simulated\n");
    let mut differ = Vec::new();
    for (i, (case, on_real)) in real.iter().enumerate() {
        let on_sim = simulated
            .get(i)
            .filter(|(c, _)| c == case)
            .map(|(_, r)| r.as_str());
        table.push_str(&format!(
            "  {case} | {on_real} | {}\n",
            on_sim.unwrap_or("(missing)")
        ));
        let same =
            on_sim.is_some_and(|r| normalize(r).is_ok() && normalize(r) == normalize(on_real));
        if !same {
            differ.push(case.as_str());
        }
    }
    eprintln!("{table}");
    assert_eq!(
        real.len(),
        simulated.len(),
        "the same cases on both networks:\n{table}"
    );
    assert!(
        differ.is_empty(),
        "{} of {} cases differ between the networks beyond the inherent differences: {differ:?}\n{table}",
        differ.len(),
        real.len()
    );
}

#[test]
fn normalize_allows_only_the_inherent_values() {
    assert_eq!(
        normalize("ok:ip=::1,port=40123").as_deref(),
        Ok("ok:ip=::1,port=*")
    );
    assert_eq!(normalize("ok:buffer=212992").as_deref(), Ok("ok:buffer=*"));
    assert_eq!(
        normalize("error:invalid-state").as_deref(),
        Ok("error:invalid-state")
    );
    assert_eq!(
        normalize("ok:len=4,intact=true").as_deref(),
        Ok("ok:len=4,intact=true")
    );
    assert!(
        normalize("ok:ip=127.0.0.1,port=0").is_err(),
        "port 0 is no bound port"
    );
    assert!(normalize("ok:buffer=0").is_err());
    assert!(normalize("ok:first-call=maybe").is_err());
}
