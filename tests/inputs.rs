//! Nothing a user types can sink socklab: files that are not regular files
//! or are too large, values that cannot mean what they say, and errors that
//! must name their cause. Each case is one line on stderr and exit 2, with a
//! memory watch on the process (killed past a ceiling) for the inputs that
//! once filled the machine.

mod common;

use std::path::Path;

use common::*;

/// Run socklab on `args` under a memory watch: bad input on one line that
/// mentions each of `mentions`. Returns the peak resident memory.
fn refused_within_memory(args: &[&str], mentions: &[&str]) -> u64 {
    let proc = socklab(args);
    let watch = MemoryWatch::start(proc.pid(), MEMORY_CEILING);
    let out = proc.finish();
    let peak = watch.peak();
    assert_one_error_line(&out, 2, mentions);
    peak
}

/// An experiment file in a scratch directory (kept alive by the caller).
fn experiment(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.toml");
    std::fs::write(&path, text).unwrap();
    let path = path.display().to_string();
    (dir, path)
}

/// A UDP pair with `messages` given to the client (a TOML value), and a
/// link with `both` impairments.
fn udp_pair(messages: &str, both: &str) -> String {
    format!(
        "[nodes.s]\nguest = \"udp-echo-server\"\n[nodes.c]\nguest = \"udp-client\"\nmessages = {messages}\n\
         [[links]]\nfrom = \"@c\"\nto = \"@s\"\nboth = {both}\n"
    )
}

#[test]
fn inputs_devices_fifos_and_huge_files_are_refused_within_memory() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let fifo_arg = fifo.display().to_string();
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    // A sparse file past the component cap: nothing is read from it.
    let huge = dir.path().join("huge.wasm");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(300 << 20)
        .unwrap();
    let huge_arg = huge.display().to_string();
    let (_x, zero_messages) = experiment(&udp_pair("{ file = \"/dev/zero\" }", "{}"));
    let (_y, many) = experiment(&udp_pair("{ count = 1000000000 }", "{}"));
    let mut worst = (0, String::new());
    for (args, mentions) in [
        (
            vec!["serve", "/dev/zero"],
            vec!["/dev/zero", "character device", "regular file"],
        ),
        (
            vec!["inspect", "/dev/zero"],
            vec!["/dev/zero", "character device"],
        ),
        (
            vec!["inspect", "/dev/urandom"],
            vec!["/dev/urandom", "character device"],
        ),
        (
            vec!["lab", "/dev/zero"],
            vec!["/dev/zero", "character device"],
        ),
        (
            vec!["lab", "/dev/urandom"],
            vec!["/dev/urandom", "character device"],
        ),
        (vec!["lab", &fifo_arg], vec!["FIFO", "regular file"]),
        (vec!["run", &fifo_arg], vec!["FIFO"]),
        (vec!["serve", &huge_arg], vec!["larger than 256MiB"]),
        (
            vec!["lab", &zero_messages],
            vec!["x.toml:5:", "field `file`", "/dev/zero", "character device"],
        ),
        (
            vec!["lab", &many],
            vec!["x.toml:5:", "field `count`", "1000000000", "1 to 1000000"],
        ),
    ] {
        let peak = refused_within_memory(&args, &mentions);
        if peak > worst.0 {
            worst = (peak, format!("{args:?}"));
        }
    }
    eprintln!(
        "worst peak resident memory: {} MiB ({})",
        worst.0 >> 20,
        worst.1
    );
}

#[test]
fn inputs_experiments_too_big_in_all_are_refused() {
    let (_d, path) = experiment(
        &udp_pair("{ count = 10000 }", "{}").replace("messages =", "instances = 1000\nmessages ="),
    );
    refused_within_memory(
        &["lab", &path],
        &["10000000 messages in all", "more than the 1000000"],
    );
    let (_d, path) = experiment(&udp_pair("{ count = 2, size = 70000 }", "{}"));
    refused_within_memory(&["lab", &path], &["70000 bytes", "UDP datagram", "65507"]);
}

#[test]
fn inputs_values_that_cannot_mean_what_they_say_are_refused() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = silent.local_addr().unwrap().to_string();
    let big = "x".repeat(70_000);
    let connect = |extra: &[&str]| {
        let mut args = vec!["connect", "udp-client", "--to", &to];
        args.extend_from_slice(extra);
        args.iter().map(|a| a.to_string()).collect::<Vec<_>>()
    };
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            vec![
                "connect".into(),
                "udp-client".into(),
                "--to".into(),
                "127.0.0.1:0".into(),
            ],
            vec!["--to", "port 0"],
        ),
        (
            connect(&["--cpu-limit", "1ns"]),
            vec!["`1ns`", "resolution of 10ms"],
        ),
        (
            connect(&["--memory-limit", "100GiB"]),
            vec!["`100GiB`", "4GiB"],
        ),
        (
            connect(&["--message", &big]),
            vec!["--message 1", "70000 bytes", "65507"],
        ),
        (
            vec![
                "serve".into(),
                "tcp-echo-server".into(),
                "--max-sessions".into(),
                "0".into(),
            ],
            vec!["--max-sessions", "from 1"],
        ),
        (
            vec!["--guest-dir".into(), "/no/such/dir".into(), "guests".into()],
            vec!["--guest-dir /no/such/dir", "not a directory"],
        ),
    ];
    let mut failed = Vec::new();
    for (args, mentions) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = socklab(&args).finish();
        if std::panic::catch_unwind(|| assert_one_error_line(&out, 2, mentions)).is_err() {
            failed.push(format!("{:?}:\n{out}", &args[..args.len().min(5)]));
        }
    }
    let out = spawn(socklab_command(&["guests"]).env("SOCKLAB_GUEST_DIR", "/no/such/dir")).finish();
    assert_one_error_line(
        &out,
        2,
        &["SOCKLAB_GUEST_DIR=/no/such/dir", "not a directory"],
    );
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn inputs_a_bare_probability_and_a_percentage_mean_one_thing_each() {
    // `30` is neither a probability nor written as a percentage: refused
    // with both spellings as the hint; `0.3` and "30%" both run.
    let (_d, path) = experiment(&udp_pair("{ count = 1 }", "{ loss = 30 }"));
    refused_within_memory(
        &["lab", &path],
        &["x.toml:9:", "field `loss`", "\"30%\"", "0.3"],
    );
    let (_d, path) = experiment(&udp_pair("{ count = 1 }", "{ loss = \"130%\" }"));
    refused_within_memory(&["lab", &path], &["field `loss`", "0% to 100%"]);
    for loss in ["0.3", "\"30%\""] {
        let (dir, path) = experiment(&udp_pair("{ count = 4 }", &format!("{{ loss = {loss} }}")));
        let out_dir = dir.path().join("out").display().to_string();
        let out = socklab(&["--json", "lab", &path, "--out", &out_dir]).finish();
        out.assert_code(0);
        let report = out.json();
        let loss_seen = report["clients"][0]["relay_stats"]["to_server"]["lost"].as_u64();
        assert!(loss_seen.is_some(), "{out}");
    }
}

#[test]
fn inputs_errors_name_the_argument_the_line_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let header_only = dir.path().join("header.wasm");
    std::fs::write(&header_only, b"\0asm\x0d\0\x01\0").unwrap();
    let cut = dir.path().join("cut.wasm");
    let tcp_client = std::fs::read(bundled("tcp-client")).unwrap();
    std::fs::write(&cut, &tcp_client[..tcp_client.len() / 2]).unwrap();
    let (header_arg, cut_arg) = (header_only.display().to_string(), cut.display().to_string());
    let (_a, repeats) = experiment(&format!("repeats = 0\n{}", udp_pair("{ count = 1 }", "{}")));
    let (_b, no_nodes) = experiment("name = \"nothing\"\nseed = 1\n");
    let (_c, count0) = experiment(&udp_pair("{ count = 0 }", "{}"));
    let cases: [(&[&str], &[&str]); 8] = [
        (
            &["serve", "tcp-echo-server", "--max-sessions", "-1"],
            &["--max-sessions", "`-1` is negative"],
        ),
        (
            &[
                "connect",
                "tcp-client",
                "--to",
                "[::1]:9",
                "--allow",
                "tcp-connect=::1",
            ],
            &["--allow", "brackets", "[::1]"],
        ),
        (&["serve", &header_arg], &["empty component", "cut short"]),
        (
            &["serve", &cut_arg],
            &["not a valid component", "cut short"],
        ),
        (
            &["lab", &repeats],
            &["x.toml:1:", "field `repeats`", "1 to 1000"],
        ),
        (&["lab", &no_nodes], &["x.toml", "no nodes", "[nodes.NAME]"]),
        (&["lab", &count0], &["x.toml:5:", "field `count`", "`0`"]),
        (&["frob"], &["unknown command 'frob'", "serve", "lab"]),
    ];
    let mut failed = Vec::new();
    for (args, mentions) in cases {
        let out = socklab(args).finish();
        if std::panic::catch_unwind(|| assert_one_error_line(&out, 2, mentions)).is_err() {
            failed.push(format!("{args:?}:\n{out}"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    // A truncated file must not be blamed on a missing field.
    let out = socklab(&["lab", &no_nodes]).finish();
    assert!(!out.stderr.contains("field `name`"), "{out}");
}

#[test]
fn inputs_invalid_utf8_names_its_argument() {
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"127.0.0.1:\xff");
    let out = spawn(
        std::process::Command::new(env!("CARGO_BIN_EXE_socklab"))
            .args(["connect", "tcp-client", "--to"])
            .arg(bad),
    )
    .finish();
    assert_one_error_line(
        &out,
        2,
        &["argument 4", "the value of --to", "not valid UTF-8"],
    );
}

#[test]
fn inputs_socklab_alone_lists_its_commands() {
    let out = socklab(&[]).finish();
    out.assert_code(2);
    for command in [
        "demo", "serve", "connect", "exchange", "lab", "guests", "run", "bench", "inspect",
    ] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.trim_start().starts_with(command)),
            "{command} not listed: {out}"
        );
    }
    assert!(!out.stderr.contains("panicked"), "{out}");
}

/// The path of a bundled guest, as `socklab guests` finds it.
fn bundled(name: &str) -> String {
    let out = socklab(&["guests"]).finish();
    out.stdout
        .lines()
        .find_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            (words.first() == Some(&name)).then(|| words[3].to_string())
        })
        .filter(|p| Path::new(p).is_file())
        .unwrap_or_else(|| panic!("{name} is not listed: {out}"))
}
