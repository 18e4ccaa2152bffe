//! `socklab run`: an ordinary wasi:cli command gets its args, env and
//! directories, nothing on the network until a rule allows it, and its exit
//! status; a socklab role or a core module is bad input.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;

use common::*;

/// A fresh directory for one test's files, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("socklab-run-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn run_command_gets_args_and_env() {
    let out = socklab(&[
        "--no-cache",
        "run",
        "net-command",
        "--env",
        "GREETING=hi",
        "--",
        "echo",
        "hello",
        "lab",
    ])
    .finish();
    out.assert_code(0);
    assert_eq!(out.stdout, "hello lab hi\n", "{out}");
}

#[test]
fn run_command_failure_is_socklabs_exit_code() {
    socklab(&["--no-cache", "run", "net-command", "--", "exit", "7"])
        .finish()
        .assert_code(1);
    socklab(&["--no-cache", "run", "net-command", "--", "exit", "0"])
        .finish()
        .assert_code(0);
}

#[test]
fn run_command_tcp_refused_until_allowed() {
    let listener = TcpListener::bind(any_port(V4)).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    listener.set_nonblocking(true).unwrap();

    // Nothing granted: the connect is refused and the listener sees nothing.
    let denied = socklab(&[
        "--no-cache",
        "run",
        "net-command",
        "--",
        "tcp",
        &addr,
        "hello",
    ])
    .finish();
    assert_ne!(denied.code, Some(0), "{denied}");
    assert!(
        denied.stderr.contains("connect"),
        "the program reports its failed connect: {denied}"
    );
    assert!(
        denied.stderr.contains("refused 1 network use"),
        "socklab reports the refusal: {denied}"
    );
    assert!(
        listener
            .accept()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "no connection may arrive"
    );

    // Allowed: the program reaches the server (one line, upper-cased back).
    listener.set_nonblocking(false).unwrap();
    let server = peer("upper-case server", move || {
        let (conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(WAIT)).unwrap();
        let mut line = String::new();
        BufReader::new(&conn).read_line(&mut line).unwrap();
        (&conn).write_all(line.to_uppercase().as_bytes()).unwrap();
        line
    });
    let rule = format!("tcp-connect={addr}");
    let allowed = socklab(&[
        "--no-cache",
        "run",
        "net-command",
        "--allow",
        &rule,
        "--",
        "tcp",
        &addr,
        "hello",
    ])
    .finish();
    allowed.assert_code(0);
    assert_eq!(allowed.stdout, "HELLO\n", "{allowed}");
    assert_eq!(server.join(), "hello\n");
}

#[test]
fn run_command_reads_only_granted_directories() {
    let dir = Scratch::new("dir");
    std::fs::write(dir.0.join("f.txt"), "file data\n").unwrap();
    let grant = format!("{}::/data", dir.0.display());
    let out = socklab(&[
        "--no-cache",
        "run",
        "net-command",
        "--dir",
        &grant,
        "--",
        "read",
        "/data/f.txt",
    ])
    .finish();
    out.assert_code(0);
    assert_eq!(out.stdout, "file data\n", "{out}");
    let denied = socklab(&[
        "--no-cache",
        "run",
        "net-command",
        "--",
        "read",
        "/data/f.txt",
    ])
    .finish();
    assert_ne!(denied.code, Some(0), "no --dir, no file: {denied}");
}

#[test]
fn run_command_rejects_roles_and_core_modules() {
    let role = socklab(&["--no-cache", "run", "tcp-client"]).finish();
    role.assert_code(2);
    assert!(role.stderr.contains("not a wasi:cli command"), "{role}");
    assert_eq!(role.stderr.lines().count(), 1, "{role}");

    let dir = Scratch::new("core");
    let core = dir.0.join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let out = socklab(&["--no-cache", "run", core.to_str().unwrap()]).finish();
    out.assert_code(2);
    assert!(out.stderr.contains("core WebAssembly module"), "{out}");
}

#[test]
fn run_command_built_against_wasi_0_2_0_runs() {
    // Its world is WASI 0.2.0; the host ships 0.2.12.
    let inspected = socklab(&["--no-cache", "inspect", "wasi020-command", "--json"]).finish();
    inspected.assert_code(0);
    let report = inspected.json();
    let exports: Vec<&str> = report["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(exports, ["wasi:cli/run@0.2.0"], "{inspected}");
    let imports: Vec<&str> = report["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(!imports.is_empty(), "{inspected}");
    for import in &imports {
        let version = import.rsplit_once('@').map(|(_, v)| v).unwrap_or("");
        let minor: u32 = version
            .strip_prefix("0.2.")
            .and_then(|p| p.parse().ok())
            .unwrap_or(u32::MAX);
        assert!(
            minor < 12,
            "{import} is an older WASI 0.2 minor version than the host's 0.2.12: {inspected}"
        );
    }

    let out = socklab(&[
        "--no-cache",
        "run",
        "wasi020-command",
        "--env",
        "GREETING=hi",
        "--",
        "a",
        "b",
    ])
    .finish();
    out.assert_code(0);
    assert_eq!(out.stdout, "wasi 0.2.0 command: a b hi\n", "{out}");
    socklab(&["--no-cache", "run", "wasi020-command", "--", "fail"])
        .finish()
        .assert_code(1);
}

#[test]
fn run_command_importing_what_socklab_lacks_names_it() {
    // A command that imports wasi:http, which socklab does not provide.
    let component = wat::parse_str(
        r#"(component
            (import "wasi:http/types@0.2.0" (instance
                (export "fields" (type (sub resource)))))
            (core module $m (func (export "run") (result i32) i32.const 0))
            (core instance $i (instantiate $m))
            (func $run (result (result)) (canon lift (core func $i "run")))
            (instance $run-instance (export "run" (func $run)))
            (export "wasi:cli/run@0.2.0" (instance $run-instance)))"#,
    )
    .expect("a valid component");
    let dir = Scratch::new("http");
    let path = dir.0.join("needs-http.wasm");
    std::fs::write(&path, component).unwrap();
    let out = socklab(&["--no-cache", "run", path.to_str().unwrap()]).finish();
    out.assert_code(2);
    assert!(
        out.stderr.contains("wasi:http/types@0.2.0"),
        "the error names the import: {out}"
    );
    assert_eq!(out.stderr.lines().count(), 1, "{out}");
    assert!(!out.stderr.contains("panicked"), "{out}");
}

#[test]
fn run_command_ungranted_transport_refused_at_socket_creation_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let mut failed = Vec::new();
    for (transport, other, op) in [("tcp", "udp", "tcp-bind"), ("udp", "tcp", "udp-bind")] {
        for family in ["ipv4", "ipv6"] {
            let audit = dir.path().join(format!("{transport}-{family}.jsonl"));
            let audit_arg = audit.display().to_string();
            // Only the other transport is allowed: creating this one fails.
            let refused = socklab(&[
                "--audit",
                &audit_arg,
                "run",
                "probe-command",
                "--allow",
                &format!("{other}=*"),
                "--",
                "create",
                transport,
                family,
            ])
            .finish();
            let said = format!("create-{transport}-socket: access-denied");
            let lines = std::fs::read_to_string(&audit).unwrap_or_default();
            let audited = lines.lines().any(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["decision"] == "deny"
                    && v["op"] == op
                    && v["target"] == "(socket creation)"
                    && v["rule"] == format!("no rule allows any {} use", transport.to_uppercase())
            });
            if refused.code != Some(1) || !refused.stdout.contains(&said) || !audited {
                failed.push(format!(
                    "{transport} {family} refused: {refused}\n--- audit:\n{lines}"
                ));
            }
            // Allowed: created.
            let allowed = socklab(&[
                "run",
                "probe-command",
                "--allow",
                &format!("{transport}=*"),
                "--",
                "create",
                transport,
                family,
            ])
            .finish();
            if allowed.code != Some(0) || !allowed.stdout.contains("created") {
                failed.push(format!("{transport} {family} allowed: {allowed}"));
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn run_command_trap_keeps_its_cause() {
    // A send larger than WASI permits: the host traps the guest.
    let oversend = |verbose: &[&str]| {
        let mut args = verbose.to_vec();
        args.extend([
            "run",
            "probe-command",
            "--allow",
            "udp=*",
            "--",
            "oversend",
            "127.0.0.1:9",
        ]);
        socklab(&args).finish()
    };
    let out = oversend(&[]);
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("trapped: unpermitted: argument exceeds permitted size"),
        "{out}"
    );
    assert!(
        !out.stderr.contains("wasm backtrace"),
        "-v shows the backtrace, not the line: {out}"
    );
    let verbose = oversend(&["-v"]);
    assert!(verbose.stderr.contains("wasm backtrace"), "{verbose}");
    assert!(
        verbose
            .stderr
            .contains("unpermitted: argument exceeds permitted size"),
        "{verbose}"
    );
}
