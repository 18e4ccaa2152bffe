//! The `socklab` binary end to end: bad input exits 2 with one clear line,
//! `demo` and `guests` show what they promise, and `serve` stops by its
//! session limit or on SIGTERM with its report.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::*;
use sha2::{Digest, Sha256};

/// A fresh directory for one test's files, removed when dropped.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Scratch {
        Scratch(tempfile::tempdir().unwrap())
    }

    /// `file` in the directory, as a command-line argument.
    fn path(&self, file: &str) -> String {
        self.0
            .path()
            .join(file)
            .to_str()
            .expect("a UTF-8 temp path")
            .to_string()
    }
}

#[test]
fn cli_serve_missing_file_is_bad_input() {
    let dir = Scratch::new();
    let path = dir.path("no-such-guest.wasm");
    bad_input(&["serve", &path], &[&path, "does not exist"]);
}

#[test]
fn cli_serve_text_file_is_bad_input() {
    let dir = Scratch::new();
    let path = dir.path("notes.txt");
    std::fs::write(&path, "not a guest\n").unwrap();
    bad_input(&["serve", &path], &[&path, "not a WebAssembly"]);
}

#[test]
fn cli_serve_core_module_is_bad_input() {
    let dir = Scratch::new();
    let path = dir.path("core.wasm");
    std::fs::write(&path, b"\0asm\x01\0\0\0").unwrap();
    bad_input(&["serve", &path], &[&path, "core", "component"]);
}

#[test]
fn cli_wrong_role_is_bad_input() {
    bad_input(&["serve", "tcp-client"], &["tcp-client", "server"]);
    let to = ["--to", "127.0.0.1:9"];
    bad_input(
        &["connect", "tcp-echo-server", to[0], to[1]],
        &["tcp-echo-server", "client"],
    );
    let mixed = [
        "exchange",
        "--server",
        "tcp-echo-server",
        "--client",
        "udp-client",
    ];
    bad_input(&mixed, &["TCP", "UDP"]);
    let mixed = [
        "exchange",
        "--server",
        "udp-echo-server",
        "--client",
        "tcp-client",
    ];
    bad_input(&mixed, &["TCP", "UDP"]);
}

#[test]
fn cli_bad_address_is_bad_input() {
    let listen = ["serve", "tcp-echo-server", "--listen", "127.0.0.1:99999"];
    bad_input(&listen, &["127.0.0.1:99999", "IP:PORT"]);
    let to = ["connect", "tcp-client", "--to", "nonsense"];
    bad_input(&to, &["nonsense", "IP:PORT"]);
}

#[test]
fn cli_demo_transcript_shows_both_transports_ok() {
    let out = socklab(&["demo"]).finish();
    out.assert_code(0);
    for want in ["listening on ", "== TCP exchange", "== UDP exchange"] {
        assert!(out.stdout.contains(want), "{want:?} missing: {out}");
    }
    assert_eq!(out.stdout.matches("result: ok").count(), 2, "{out}");
    assert!(!out.stdout.contains("FAILED"), "{out}");
}

/// The version of `package` recorded in the workspace's Cargo.lock.
fn locked_version(package: &str) -> String {
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    let lock = std::fs::read_to_string(lock).unwrap();
    let entry = format!("name = \"{package}\"\nversion = \"");
    let start = lock.find(&entry).expect("the package is locked") + entry.len();
    lock[start..].split('"').next().unwrap().to_string()
}

#[test]
fn cli_demo_json_has_versions_and_guest_hashes() {
    let out = socklab(&["demo", "--json"]).finish();
    out.assert_code(0);
    let report = out.json();
    assert_eq!(report["socklab"], env!("CARGO_PKG_VERSION"), "{out}");
    assert_eq!(report["wasmtime"], locked_version("wasmtime"), "{out}");
    let runs = report["runs"].as_array().expect("runs");
    let transports: Vec<&str> = runs
        .iter()
        .map(|r| r["transport"].as_str().unwrap())
        .collect();
    assert_eq!(transports, ["tcp", "udp"], "{out}");
    let mut names = Vec::new();
    for run in runs {
        for side in ["server", "client"] {
            let guest = &run[side];
            let sha = guest["sha256"].as_str().unwrap_or_else(|| panic!("{out}"));
            let hex64 = sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit());
            assert!(hex64, "{side} sha256 {sha:?}: {out}");
            let file = std::fs::read(guest["path"].as_str().unwrap()).unwrap();
            assert_eq!(sha, socklab::version::hex(&Sha256::digest(file)), "{out}");
            names.push(guest["name"].as_str().unwrap().to_string());
        }
    }
    let bundled = [
        "tcp-echo-server",
        "tcp-client",
        "udp-echo-server",
        "udp-client",
    ];
    assert_eq!(names, bundled, "{out}");
}

#[test]
fn cli_guests_lists_the_four_bundled_guests() {
    let out = socklab(&["guests"]).finish();
    out.assert_code(0);
    let rows: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .skip(1) // the header
        .map(|l| l.split_whitespace().collect())
        .collect();
    for row in &rows {
        // Name, role, transport, path; anything after is a description.
        let [_, role, transport, path, ..] = row[..] else {
            panic!("a row of name, role, transport, path: {out}")
        };
        assert!(["server", "client", "command"].contains(&role), "{out}");
        assert!(["tcp", "udp", "any"].contains(&transport), "{out}");
        assert!(
            path.ends_with(".wasm") && Path::new(path).is_file(),
            "{out}"
        );
    }
    let listed: Vec<[&str; 3]> = rows.iter().map(|r| [r[0], r[1], r[2]]).collect();
    for want in [
        ["tcp-echo-server", "server", "tcp"],
        ["tcp-client", "client", "tcp"],
        ["udp-echo-server", "server", "udp"],
        ["udp-client", "client", "udp"],
        ["tcp-std-echo-server", "server", "tcp"],
        ["net-command", "command", "any"],
    ] {
        assert!(listed.contains(&want), "{want:?} missing: {out}");
    }
}

/// One TCP session from a native client: send a line, read it back, and
/// return the connection (dropping it closes the session).
fn tcp_session(addr: SocketAddr, line: &str) -> TcpStream {
    let mut conn = TcpStream::connect_timeout(&addr, WAIT).unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    conn.write_all(line.as_bytes()).unwrap();
    let mut reply = String::new();
    BufReader::new(&conn).read_line(&mut reply).unwrap();
    assert_eq!(reply, line, "the echo");
    conn
}

#[test]
fn tcp_guest_server_native_client_max_sessions_1_exits_0() {
    let args = ["serve", "tcp-echo-server", "--max-sessions", "1", "--json"];
    let mut server = socklab(&args);
    let addr = server.listening_addr();
    drop(tcp_session(addr, "only one\n"));
    // No signal: the session limit alone must end the process.
    let out = server.finish();
    out.assert_code(0);
    let report = out.json();
    let served = &report["runs"][0]["server"]["served"];
    assert_eq!(served["sessions"], 1, "{out}");
    assert_eq!(served["bytes_in"], 9, "{out}");
}

#[test]
fn tcp_guest_server_sigterm_stops_with_report() {
    let mut open = None;
    let (served, out) = serve_until_sigterm(&["tcp-echo-server", "--listen", "[::1]:0"], |addr| {
        assert!(addr.is_ipv6(), "listening on {addr}");
        // One session closed, then one still open when the signal comes.
        drop(tcp_session(addr, "first\n"));
        open = Some(tcp_session(addr, "second\n"));
    });
    drop(open);
    assert!(out.stderr.contains("stopping"), "{out}");
    assert_eq!(served["sessions"], 2, "both were accepted: {out}");
    assert_eq!(served["bytes_in"], 13, "{out}");
    assert_eq!(served["bytes_out"], 13, "{out}");
}

#[test]
fn udp_guest_server_sigterm_stops_with_report() {
    let (served, out) = serve_until_sigterm(&["udp-echo-server"], echo_three_datagrams);
    assert_eq!(served["sessions"], 3, "{out}");
    assert_eq!(served["bytes_in"], 11, "{out}");
}

#[test]
fn tcp_guest_server_sigterm_right_after_listening_still_reports() {
    // Whoever reads `listening on` may signal at once, so the handler must be
    // in place before the line. Eight servers at once load the machine enough
    // that a handler installed late loses the race; each one's `kill` waits
    // ready in a shell, so the signal follows the line within a pipe write.
    for round in 0..10 {
        let mut servers: Vec<(Proc, Child)> = (0..8)
            .map(|_| {
                let server = socklab(&["serve", "tcp-echo-server", "--json"]);
                let script = format!("read go && kill -TERM {}", server.pid());
                let kill = Command::new("sh")
                    .args(["-c", &script])
                    .stdin(Stdio::piped())
                    .spawn();
                (server, kill.expect("running sh"))
            })
            .collect();
        for (server, kill) in &mut servers {
            server.listening_addr();
            writeln!(kill.stdin.take().unwrap(), "go").unwrap();
        }
        for (server, mut kill) in servers {
            let out = server.finish();
            let _ = kill.wait();
            out.assert_code(0);
            let served = &out.json()["runs"][0]["server"]["served"];
            assert_eq!(served["sessions"], 0, "round {round}: {out}");
        }
    }
}

#[test]
fn cli_guests_lists_without_compiling() {
    // Listing reads each file's names: compiling every guest (the Python
    // ones are whole interpreters) took CI's `guests` past 30 s. A compile
    // would leave an entry in the compiled-component cache.
    let cache = tempfile::tempdir().unwrap();
    let mut command = socklab_command(&["guests"]);
    command.env("XDG_CACHE_HOME", cache.path());
    let out = spawn(&mut command).finish();
    out.assert_code(0);
    assert!(out.stdout.lines().count() > 6, "{out}");
    let entries = |dir: &Path| std::fs::read_dir(dir).map_or(0, |d| d.count());
    let socklab_cache = cache.path().join("socklab");
    assert_eq!(entries(&socklab_cache), 0, "`guests` compiled\n{out}");
    // The same command with a compile first does leave one, so the check
    // above can fail.
    let mut command = socklab_command(&["inspect", "udp-client"]);
    command.env("XDG_CACHE_HOME", cache.path());
    spawn(&mut command).finish().assert_code(0);
    assert!(
        std::fs::read_dir(cache.path().join("socklab"))
            .unwrap()
            .next()
            .is_some()
    );
}

#[test]
fn cli_every_command_prints_one_json_document_with_json() {
    let echo = UdpSocket::bind(any_port(V4)).unwrap();
    let to = echo.local_addr().unwrap().to_string();
    let echoer = peer("a native UDP echo", move || {
        echo.set_read_timeout(Some(WAIT)).unwrap();
        let mut buf = [0; 2048];
        for _ in 0..3 {
            let (n, from) = echo.recv_from(&mut buf).unwrap();
            echo.send_to(&buf[..n], from).unwrap();
        }
    });
    let lab_out = tempfile::tempdir().unwrap();
    let lab_out = lab_out.path().display().to_string();
    let baseline = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/baseline.toml");
    let baseline = baseline.display().to_string();
    let commands: [&[&str]; 8] = [
        &["demo"],
        &["guests"],
        &["inspect", "udp-client"],
        &["run", "net-command", "--", "echo", "hi"],
        &["serve", "probe-udp", "--param", "op=bind"],
        &["connect", "udp-client", "--to", &to],
        &[
            "exchange",
            "--server",
            "udp-echo-server",
            "--client",
            "udp-client",
        ],
        &["lab", &baseline, "--count", "2", "--out", &lab_out],
    ];
    for args in commands {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = socklab(&all).finish();
        out.assert_code(0);
        let doc = out.json();
        assert_eq!(doc["socklab"], env!("CARGO_PKG_VERSION"), "{args:?}: {out}");
    }
    echoer.join();
    // `run --json` keeps the command's own output for the document.
    let out = socklab(&["--json", "run", "net-command", "--", "echo", "hi"]).finish();
    assert_eq!(out.json()["stdout"]["text"], "hi \n", "{out}");
}

#[test]
fn cli_a_guests_stdout_is_shown_under_it() {
    let args = [
        "serve",
        "probe-udp",
        "--param",
        "op=bind",
        "--param",
        "say=hello from the guest",
    ];
    let out = socklab(&args).finish();
    out.assert_code(0);
    assert!(
        out.stdout.contains("stdout | hello from the guest"),
        "{out}"
    );
    let mut json = vec!["--json"];
    json.extend_from_slice(&args);
    let out = socklab(&json).finish();
    assert_eq!(
        out.json()["runs"][0]["server"]["stdout"],
        "hello from the guest\n",
        "{out}"
    );
}

#[test]
fn cli_guests_lists_the_python_guests_once_built() {
    // Stand-ins with the Python guests' names: listing finds them by name in
    // $SOCKLAB_PY_GUEST_DIR and reads their role from their exports.
    let dir = tempfile::tempdir().unwrap();
    let guests = socklab(&["--json", "guests"]).finish().json();
    let path_of = |name: &str| {
        guests["guests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .and_then(|g| g["path"].as_str())
            .unwrap()
            .to_string()
    };
    std::fs::copy(path_of("tcp-client"), dir.path().join("py-tcp-client.wasm")).unwrap();
    let mut command = socklab_command(&["guests"]);
    command.env("SOCKLAB_PY_GUEST_DIR", dir.path());
    let out = spawn(&mut command).finish();
    out.assert_code(0);
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with("py-tcp-client "))
        .unwrap_or_else(|| panic!("py-tcp-client is not listed: {out}"));
    let words: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&words[1..3], ["client", "tcp"], "{out}");
    assert_eq!(words[4], "python", "{out}");
}
