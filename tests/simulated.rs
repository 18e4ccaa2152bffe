//! Tests `--network simulated`: the same bundled guests, unmodified, on
//! socklab's simulated network. Every simulated run here is made inside
//! `unshare -n` (a network namespace with no interface up) where the
//! machine allows it, so it could not reach a real socket even by mistake.
//!
//! Covered here: every UDP server (Rust and Python) with every UDP client on
//! IPv4 and IPv6; audits that repeat byte for byte in simulated time; the
//! seed's ports; the fuel CPU limit; the commands and flags the simulated
//! network refuses; every TCP server with every TCP client on IPv4 and
//! IPv6, `--max-connections` on a TCP server, a `run` guest's connect
//! refused by a RST or by its grants, the Python TCP client, and `demo`'s
//! two exchanges.
//! The lab on the simulated network is in `simulated_lab.rs`.

mod common;

use common::*;
use serde_json::Value;

/// `socklab --json ARGS... --network simulated`, offline, to its end.
fn simulated(args: &[&str]) -> Finished {
    let mut all = vec!["--json", "--network", "simulated"];
    all.extend_from_slice(args);
    socklab_offline(&all).finish()
}

#[test]
fn simulated_every_udp_server_with_every_udp_client_both_families() {
    let messages = tricky_datagrams();
    for server in ["udp-echo-server", "udp-std-echo-server"] {
        for client in ["udp-client", "udp-std-client"] {
            for listen in ["127.0.0.1:0", "[::1]:0"] {
                let mut args = vec![
                    "exchange", "--server", server, "--client", client, "--listen", listen,
                    "--expect", "echo",
                ];
                let texts: Vec<String> = messages
                    .iter()
                    .filter(|m| std::str::from_utf8(m).is_ok())
                    .map(|m| String::from_utf8(m.clone()).unwrap())
                    .collect();
                for t in &texts {
                    args.extend(["--message", t]);
                }
                let out = simulated(&args);
                out.assert_code(0);
                let report = out.json();
                let sent: Vec<Vec<u8>> = texts.iter().map(|t| t.clone().into_bytes()).collect();
                assert_replies(&report, &sent, <[u8]>::to_vec);
                let listening = report["runs"][0]["server"]["listening"]
                    .as_str()
                    .unwrap_or("");
                let ipv6 = listen.starts_with('[');
                assert!(
                    listening.starts_with(if ipv6 { "[fd00::" } else { "10.0." }),
                    "{server} listens on its node's own address: {out}"
                );
                assert!(
                    report["runs"][0]["server"]["path"].is_null(),
                    "simulated reports name guests by name and sha256: {out}"
                );
            }
        }
    }
}

#[test]
fn simulated_audit_is_in_simulated_time_and_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let audit = |name: &str| {
        let path = dir.path().join(name);
        let path_arg = path.display().to_string();
        let out = simulated(&[
            "--audit",
            &path_arg,
            "exchange",
            "--server",
            "udp-echo-server",
            "--client",
            "udp-client",
            "--client-deny",
            "udp-send=*",
            "--seed",
            "9",
        ]);
        out.assert_code(1);
        assert!(out.stdout.contains("access-denied"), "{out}");
        std::fs::read_to_string(path).unwrap()
    };
    let (first, second) = (audit("a.jsonl"), audit("b.jsonl"));
    assert_eq!(first, second, "the audit of one seed repeats");
    let lines: Vec<Value> = first
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["time"], 0.0, "{first}");
    assert!(
        lines
            .iter()
            .any(|l| l["decision"] == "deny" && l["op"] == "udp-send"),
        "{first}"
    );
}

#[test]
fn simulated_cpu_limit_is_fuel() {
    let out = simulated(&["run", "--cpu-limit", "1s", "net-command", "--", "spin"]);
    out.assert_code(3);
    assert!(out.stderr.contains("--cpu-limit 1s"), "{out}");
    // One second of simulated CPU: its fuel at 1 ns a unit plus 500 ns per
    // host call (its loop calls the host too).
    let usage = &out.json()["usage"];
    let n = |key: &str| {
        usage[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{usage}\n{out}"))
    };
    let cpu = n("cpu_micros");
    assert!((999_000..=1_001_000).contains(&cpu), "{usage}\n{out}");
    assert_eq!((n("fuel") + n("host_calls") * 500) / 1000, cpu, "{usage}");
    assert!(out.stderr.contains("used cpu 1.0"), "{out}");
}

#[test]
fn simulated_seed_chooses_ports() {
    let port = |seed: &str| {
        let out = simulated(&[
            "exchange",
            "--server",
            "udp-echo-server",
            "--client",
            "udp-client",
            "--seed",
            seed,
        ]);
        out.assert_code(0);
        out.json()["runs"][0]["server"]["listening"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(port("1"), port("1"));
    assert_ne!(port("1"), port("2"));
}

#[test]
fn simulated_every_tcp_server_with_every_tcp_client_both_families() {
    let sent: Vec<Vec<u8>> = vec![b"hello".to_vec(), b"Mixed Case 42".to_vec()];
    // No Python TCP server is bundled (guest-py has py-tcp-client only).
    for server in ["tcp-echo-server", "tcp-std-echo-server", "tcp-upper-server"] {
        for client in ["tcp-client", "tcp-std-client"] {
            for listen in ["127.0.0.1:0", "[::1]:0"] {
                let mut args = vec![
                    "exchange", "--server", server, "--client", client, "--listen", listen,
                ];
                let upper = server == "tcp-upper-server";
                args.extend(["--expect", if upper { "any" } else { "echo" }]);
                for m in &sent {
                    args.extend(["--message", std::str::from_utf8(m).unwrap()]);
                }
                let out = simulated(&args);
                assert_eq!(out.code, Some(0), "{client} -> {server} on {listen}: {out}");
                let report = out.json();
                assert_replies(&report, &sent, |m| {
                    framed(&if upper {
                        m.to_ascii_uppercase()
                    } else {
                        m.to_vec()
                    })
                });
                let listening = report["runs"][0]["server"]["listening"]
                    .as_str()
                    .unwrap_or("");
                let ipv6 = listen.starts_with('[');
                assert!(
                    listening.starts_with(if ipv6 { "[fd00::" } else { "10.0." }),
                    "{server} listens on its node's own address: {out}"
                );
            }
        }
    }
}

#[test]
fn simulated_tcp_max_connections_closes_the_connection_past_it() {
    let out = simulated(&[
        "exchange",
        "--server",
        "tcp-echo-server",
        "--client",
        "tcp-client",
        "--message",
        "ping",
        "--max-connections",
        "0",
    ]);
    out.assert_code(3);
    let report = out.json();
    let limits = &report["runs"][0]["server"]["limits"];
    assert_eq!(limits[0]["limit"], "max-connections", "{out}");
    assert_eq!(limits[0]["count"], 1, "{out}");
    assert_eq!(client_messages(&report)[0]["status"], "closed", "{out}");
}

#[test]
fn simulated_run_tcp_guest_connects_under_its_grants() {
    let granted = socklab_offline(&[
        "--network",
        "simulated",
        "run",
        "--allow",
        "tcp-connect=*:*",
        "--allow",
        "tcp-bind=*:*",
        "net-command",
        "--",
        "tcp",
        "127.0.0.1:9",
    ])
    .finish();
    granted.assert_code(1);
    let all = format!("{}{}", granted.stdout, granted.stderr);
    assert!(
        all.contains("Connection refused"),
        "a RST from the closed port: {granted}"
    );
    let denied = socklab_offline(&[
        "--network",
        "simulated",
        "run",
        "net-command",
        "--",
        "tcp",
        "127.0.0.1:9",
    ])
    .finish();
    let all = format!("{}{}", denied.stdout, denied.stderr);
    assert!(
        all.contains("Permission denied"),
        "no tcp-connect grant: {denied}"
    );
}

#[test]
fn simulated_demo_runs_tcp_and_udp() {
    let demo = simulated(&["demo"]);
    demo.assert_code(0);
    let runs = demo.json()["runs"].as_array().cloned().unwrap_or_default();
    assert_eq!(runs.len(), 2, "the TCP and the UDP exchange: {demo}");
    assert!(!demo.stderr.contains("left out"), "{demo}");
}

#[test]
fn simulated_refuses_what_it_cannot_mean() {
    for (args, says) in [
        (
            vec!["--network", "simulated", "serve", "udp-echo-server"],
            "real network",
        ),
        (
            vec![
                "--network",
                "simulated",
                "connect",
                "udp-client",
                "--to",
                "127.0.0.1:9",
            ],
            "real network",
        ),
        (
            vec!["--network", "simulated", "bench", "--quick"],
            "measures the real network",
        ),
        (
            vec![
                "exchange",
                "--server",
                "udp-echo-server",
                "--client",
                "udp-client",
                "--seed",
                "1",
            ],
            "--seed",
        ),
        (vec!["--events", "/dev/null", "demo"], "--events"),
    ] {
        assert_one_error_line(&socklab(&args).finish(), 2, &[says]);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("real.toml");
    std::fs::write(
        &file,
        "network = \"real\"\n[nodes.s]\nguest = \"udp-echo-server\"\n[nodes.c]\nguest = \"udp-client\"\n\
         [[links]]\nfrom = \"@c\"\nto = \"@s\"\n",
    )
    .unwrap();
    let file = file.display().to_string();
    assert_one_error_line(
        &socklab(&["--network", "simulated", "lab", &file]).finish(),
        2,
        &[":1:", "network", "--network says simulated"],
    );
    // --pcap is the simulation's own capture there: an unwritable one is
    // found out before anything runs.
    let sim_file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/sim/udp-loss.toml")
        .display()
        .to_string();
    let out = dir.path().join("out").display().to_string();
    let nowhere = dir.path().join("no/such/dir/x.pcap").display().to_string();
    assert_one_error_line(
        &socklab(&[
            "--network",
            "simulated",
            "lab",
            &sim_file,
            "--out",
            &out,
            "--pcap",
            &nowhere,
        ])
        .finish(),
        2,
        &["--pcap FILE", "cannot create"],
    );
}

#[test]
fn simulated_python_udp_server_runs_unchanged() {
    let Some(server) = common::python::py_guest(common::python::PY_UDP_SERVER) else {
        return;
    };
    let args = [
        "--json",
        "--network",
        "simulated",
        "exchange",
        "--server",
        &server,
        "--client",
        "udp-client",
        "--expect",
        "echo",
        "--message",
        "ping",
        "--message",
        "h\u{e9}llo",
    ];
    // The simulated engine's settings differ, so the first run compiles the
    // 18 MB component afresh (about half a minute on two cores).
    let out = socklab_offline(&args).finish_within(common::python::COMPILE_WAIT);
    out.assert_code(0);
    let sent = [b"ping".to_vec(), "h\u{e9}llo".as_bytes().to_vec()];
    assert_replies(&out.json(), &sent, <[u8]>::to_vec);
}

#[test]
fn simulated_python_tcp_client_runs_unchanged() {
    let Some(client) = common::python::py_guest(common::python::PY_TCP_CLIENT) else {
        return;
    };
    let args = [
        "--json",
        "--network",
        "simulated",
        "exchange",
        "--server",
        "tcp-echo-server",
        "--client",
        &client,
        "--listen",
        "[::1]:0",
        "--expect",
        "echo",
        "--message",
        "ping",
    ];
    // The first run compiles the 18 MB component afresh, as above.
    let out = socklab_offline(&args).finish_within(common::python::COMPILE_WAIT);
    out.assert_code(0);
    assert_replies(&out.json(), &[b"ping".to_vec()], framed);
}
