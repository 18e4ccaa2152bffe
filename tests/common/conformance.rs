//! What the conformance tests share (`tests/conformance.rs` for UDP and
//! name lookups, `tests/conformance_tcp.rs` for TCP): running a probe that
//! prints `CASE RESULT` lines on either network, allow-listing the values
//! that may differ between correct implementations, holding the real
//! network to a table of expectations, and comparing the simulated network
//! to the real one case by case.

use super::{socklab, socklab_offline};

/// A value that may differ between two correct implementations: a result's
/// `key=value` pair with this key is compared as `key=*`, once the value is
/// checked to be one the key can have.
pub struct Inherent {
    /// The key as the probe prints it (`port`, `buffer`, ...).
    pub key: &'static str,
    /// Why two implementations may differ here.
    pub why: &'static str,
    /// Whether `value` is one this key can have at all (port 0 is no bound
    /// port, a buffer of 0 bytes no buffer).
    pub plausible: fn(&str) -> bool,
}

/// A port a bind gave: 1 to 65535.
pub fn a_port(v: &str) -> bool {
    v.parse::<u16>().is_ok_and(|p| p != 0)
}

/// A buffer size: more than 0 bytes.
pub fn a_buffer(v: &str) -> bool {
    v.parse::<u64>().is_ok_and(|b| b > 0)
}

/// A first call that had to wait, or did not.
pub fn a_timing(v: &str) -> bool {
    ["would-block", "ready"].contains(&v)
}

/// Run the bundled probe `guest` on `network` under `grants` and return its
/// `(case, result)` lines in order.
///
/// `None` is socklab's default, the real network. `Some(name)` passes
/// `--network NAME` to `socklab run` beside the grants, inside `unshare -n`
/// where it can.
///
/// Panics, with everything the guest printed, if it does not exit 0 within
/// the harness's deadline or prints a line that is not `CASE ok`,
/// `CASE ok:VALUE` or `CASE error:CODE`.
pub fn probe(guest: &str, grants: &[&str], network: Option<&str>) -> Vec<(String, String)> {
    let mut args = vec!["run", guest];
    if let Some(network) = network {
        args.extend(["--network", network]);
    }
    args.extend(grants);
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

/// `result` with each `inherent` value replaced by `*`, after checking it
/// is a value that key can have; `Err` says why it cannot.
pub fn normalize(result: &str, inherent: &[Inherent]) -> Result<String, String> {
    let Some((head, value)) = result.split_once(':') else {
        return Ok(result.to_string());
    };
    let mut pairs = Vec::new();
    for pair in value.split(',') {
        let Some((key, v)) = pair.split_once('=') else {
            pairs.push(pair.to_string());
            continue;
        };
        let Some(allowed) = inherent.iter().find(|i| i.key == key) else {
            pairs.push(pair.to_string());
            continue;
        };
        if !(allowed.plausible)(v) {
            return Err(format!("`{pair}` is no value `{key}` can have"));
        }
        pairs.push(format!("{key}=*"));
    }
    Ok(format!("{head}:{}", pairs.join(",")))
}

/// Assert that `got` has `expected`'s cases in its order, each with its
/// expected result once `inherent` values are `*`; the failure lists every
/// case that differs and everything the probe printed.
pub fn assert_matches_expected(
    got: &[(String, String)],
    expected: &[(&str, &str)],
    inherent: &[Inherent],
) {
    let listing = || {
        got.iter()
            .map(|(case, result)| format!("  {case} {result}\n"))
            .collect::<String>()
    };
    let got_names: Vec<&str> = got.iter().map(|(c, _)| c.as_str()).collect();
    let want_names: Vec<&str> = expected.iter().map(|&(c, _)| c).collect();
    assert_eq!(
        got_names,
        want_names,
        "the probe's cases, in order; it printed:\n{}",
        listing()
    );
    let mismatches: Vec<String> = got
        .iter()
        .zip(expected)
        .filter_map(
            |((case, result), &(_, want))| match normalize(result, inherent) {
                Ok(seen) if seen == want => None,
                Ok(seen) => Some(format!("  {case}: expected {want}, got {result} ({seen})")),
                Err(why) => Some(format!("  {case}: {result}: {why}")),
            },
        )
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from the WIT and wasmtime-wasi 48:\n{}\nthe probe printed:\n{}",
        mismatches.len(),
        expected.len(),
        mismatches.join("\n"),
        listing()
    );
}

/// Assert that `simulated` has `real`'s cases, each with the same result
/// once `inherent` values are `*`; prints the two side by side either way.
pub fn assert_same_case_by_case(
    real: &[(String, String)],
    simulated: &[(String, String)],
    inherent: &[Inherent],
) {
    let norm = |r: &str| normalize(r, inherent);
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
        let same = on_sim.is_some_and(|r| norm(r).is_ok() && norm(r) == norm(on_real));
        if !same {
            differ.push(case.as_str());
        }
    }
    for allowed in inherent {
        table.push_str(&format!(
            "  (`{}=` may differ: {})\n",
            allowed.key, allowed.why
        ));
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
