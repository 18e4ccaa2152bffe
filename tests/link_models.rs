//! Tests the simulated network's own link models, beyond the relays' keys:
//! loss in bursts (`loss_burst`, Gilbert–Elliott) counted as runs in the
//! report, and refused by name on the real network, whose relays cannot
//! honour it. (The models' statistics are `sim/tests/burst.rs`.) Every
//! simulated run is made inside `unshare -n` where the machine allows it.

mod common;

use common::*;
use serde_json::Value;

/// Every `loss_bursts` count anywhere in `v`.
fn loss_bursts(v: &Value, out: &mut Vec<u64>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                if k == "loss_bursts" {
                    out.extend(x.as_u64());
                }
                loss_bursts(x, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|x| loss_bursts(x, out)),
        _ => {}
    }
}

#[test]
fn udp_loss_burst_loses_in_runs_and_the_real_network_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let (file, out) = (example_sim("bursty-loss.toml"), dir.path().join("out"));
    let done = socklab_offline(&[
        "lab",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .finish();
    done.assert_code(0);
    let report = std::fs::read_to_string(out.join("report.json")).unwrap();
    let report: Value = serde_json::from_str(&report).unwrap();
    let mut bursts = Vec::new();
    loss_bursts(&report, &mut bursts);
    // Only the bursty link counts runs of losses; the even one has none.
    assert!(bursts.len() == 1 && bursts[0] > 0, "{bursts:?}\n{done}");
    // The relays of the real network have no such model.
    let file = dir.path().join("real.toml");
    std::fs::write(
        &file,
        "[messages]\ncount = 3\n[nodes.s]\nguest = \"udp-echo-server\"\n\
         [nodes.c]\nguest = \"udp-client\"\n[[links]]\nfrom = \"@c\"\nto = \"@s\"\n\
         to_server = { loss_burst = { p = \"5%\", r = \"25%\" } }\n",
    )
    .unwrap();
    let real = socklab(&["lab", file.to_str().unwrap()]).finish();
    assert_one_error_line(&real, 2, &["`loss_burst`", "real network"]);
}
