//! Tests the simulated network's own link models, beyond the relays' keys,
//! through `socklab lab` and the examples that teach them: loss in bursts
//! (`loss_burst`), a delay `distribution` that keeps a flow's order,
//! `corrupt`ion the receiver's checksum drops, `queue_bytes` and `mtu`;
//! each counted in the report and named by the lesson, and each refused by
//! name on the real network, whose relays cannot honour it. (The models'
//! statistics are `sim/tests/burst.rs` and `sim/tests/models.rs`.) Every
//! simulated run is made inside `unshare -n` where the machine allows it.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn udp_loss_burst_loses_in_runs_and_the_real_network_refuses_it() {
    let (done, report, _) = sim_example("bursty-loss.toml");
    let dir = tempfile::tempdir().unwrap();
    // Only the bursty link counts runs of losses; the even one has none.
    let bursts =
        |name: &str| client(&report, name)["relay_stats"]["to_server"]["loss_bursts"].as_u64();
    assert!(bursts("bursty-client").is_some_and(|n| n > 0), "{done}");
    assert_eq!(bursts("even-client"), None, "left out when 0: {done}");
    let lesson = report["lessons"][0].as_str().unwrap();
    assert!(
        lesson.contains("(loss_burst: ") && lesson.contains("(bursty-client "),
        "{lesson}"
    );
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

/// `socklab lab` of the simulated example `name` inside `unshare -n`: the
/// run, its report and its lesson lines.
fn sim_example(name: &str) -> (Finished, Value, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let (file, out) = (example_sim(name), dir.path().join("out"));
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
    let lessons = report["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    (done, report, lessons)
}

/// A client's count of `what` (`lost`, `reordered`, ...) over its fates.
fn fates_of(report: &Value, client: &str, what: &str) -> usize {
    report["fates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["client"] == client)
        .filter(|f| f["fate"] == what || f[what] == true)
        .count()
}

/// The sum of link stat `key` over every client's link, both directions.
fn stat(report: &Value, key: &str) -> u64 {
    report["clients"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| {
            [
                &c["relay_stats"]["to_server"],
                &c["relay_stats"]["to_client"],
            ]
        })
        .map(|d| d[key].as_u64().unwrap_or(0))
        .sum()
}

#[test]
fn udp_a_delay_distribution_keeps_the_order_that_plain_jitter_breaks() {
    let (done, report, lessons) = sim_example("jitter-order.toml");
    let plain = fates_of(&report, "netem-client", "reordered");
    let ordered = fates_of(&report, "ordered-client", "reordered");
    assert!(plain > 10 && ordered == 0, "{plain} vs {ordered}\n{done}");
    let want = format!("reordered (netem-client {plain}, ordered-client 0)");
    assert!(lessons[0].contains(&want), "{lessons:?}");
}

#[test]
fn udp_tcp_corruption_is_dropped_by_the_checksum_lost_by_udp_and_repaired_by_tcp() {
    let (done, report, lessons) = sim_example("corruption.toml");
    assert!(stat(&report, "corrupted") > 0, "{done}");
    assert_eq!(
        stat(&report, "lost"),
        0,
        "corruption is not counted as loss"
    );
    let udp_lost = fates_of(&report, "udp-client", "lost");
    assert!(udp_lost > 0, "{done}");
    assert_eq!(
        fates_of(&report, "udp-client", "late"),
        0,
        "a damaged reply never arrived"
    );
    assert_eq!(fates_of(&report, "tcp-client", "answered"), 100, "{done}");
    assert!(
        lessons[0].contains("receiver's checksum dropped them"),
        "{lessons:?}"
    );
    assert!(
        lessons[1].contains("and TCP sent each again"),
        "{lessons:?}"
    );
}

#[test]
fn udp_datagrams_over_the_mtu_are_lost_more_often() {
    let (done, report, lessons) = sim_example("mtu-fragments.toml");
    let (big, small) = (
        fates_of(&report, "big-client", "lost"),
        fates_of(&report, "small-client", "lost"),
    );
    // 1 - 0.95^6 = 26% against 1 - 0.95^2 = 10% of 200.
    assert!(big > 2 * small && small > 5, "{big} vs {small}\n{done}");
    assert!(stat(&report, "fragmented") > 300, "{done}");
    assert!(
        lessons[0].contains("over the MTU crossed as fragments"),
        "{lessons:?}"
    );
}

#[test]
fn tcp_a_queue_smaller_than_its_window_drops_at_the_tail() {
    let (done, report, lessons) = sim_example("small-queue.toml");
    let by_link = |name: &str| {
        let c = client(&report, name);
        c["relay_stats"]["to_server"]["rate_dropped"]
            .as_u64()
            .unwrap()
            + c["relay_stats"]["to_client"]["rate_dropped"]
                .as_u64()
                .unwrap()
    };
    assert!(by_link("small-queue-client") > 0, "{done}");
    assert_eq!(by_link("big-queue-client"), 0, "{done}");
    assert_eq!(figures(&report, "tcp")["answered"], 20, "{done}");
    assert!(
        lessons[0].contains("dropped by the rate limit"),
        "{lessons:?}"
    );
}

#[test]
fn udp_each_simulated_only_key_is_refused_on_the_real_network_and_checked_on_the_simulated() {
    let dir = tempfile::tempdir().unwrap();
    let file = |network: &str, table: &str| {
        let path = dir.path().join("experiment.toml");
        std::fs::write(
            &path,
            format!(
                "network = \"{network}\"\n[messages]\ncount = 3\n[nodes.s]\nguest = \"udp-echo-server\"\n\
                 [nodes.c]\nguest = \"udp-client\"\n[[links]]\nfrom = \"@c\"\nto = \"@s\"\n\
                 to_server = {{ {table} }}\n"
            ),
        )
        .unwrap();
        path
    };
    for (key, table) in [
        ("distribution", "delay = \"5ms\", distribution = \"normal\""),
        ("corrupt", "corrupt = \"1%\""),
        ("queue_bytes", "rate = \"1MiB/s\", queue_bytes = \"4KiB\""),
        ("mtu", "mtu = 1500"),
    ] {
        let path = file("real", table);
        let real = socklab(&["lab", path.to_str().unwrap()]).finish();
        assert_one_error_line(&real, 2, &[&format!("`{key}`"), "real network"]);
    }
    for (table, says) in [
        (
            "distribution = \"gamma\"",
            &[
                "`distribution`",
                "fixed, uniform, normal, pareto",
                "`gamma`",
            ][..],
        ),
        (
            "delay = \"5ms\", jitter = \"1ms\", distribution = \"fixed\"",
            &["`fixed`", "`jitter`"],
        ),
        (
            "distribution = \"pareto\"",
            &["`pareto`", "`delay`", "`jitter`"],
        ),
        ("queue_bytes = \"4KiB\"", &["`queue_bytes`", "`rate`"]),
        ("mtu = 100", &["mtu"]),
    ] {
        let path = file("simulated", table);
        let sim = socklab_offline(&["lab", path.to_str().unwrap()]).finish();
        assert_one_error_line(&sim, 2, says);
    }
}
