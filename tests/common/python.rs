//! The Python guests (`guest-py/`, built by `guest-py/build.sh`): where
//! they are, compiled into socklab's cache once per test binary, or a loud
//! skip when they were not built (a failure under `CI`).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

/// The Python TCP client (`guest-py/tcp_client/app.py`).
pub const PY_TCP_CLIENT: &str = "py-tcp-client";
/// The Python UDP echo server (`guest-py/udp_server/app.py`).
pub const PY_UDP_SERVER: &str = "py-udp-echo-server";

/// How long compiling a Python component may take. CPython makes each one
/// about 18 MB, which Cranelift compiles in about 6 s on two cores; the
/// first test compiles both into socklab's cache so the others start warm.
pub const COMPILE_WAIT: Duration = Duration::from_secs(180);

/// Where `guest-py/build.sh` put the components.
pub fn py_guest_dir() -> PathBuf {
    match std::env::var_os("SOCKLAB_PY_GUEST_DIR") {
        Some(dir) => PathBuf::from(dir),
        // target/<profile>/socklab -> target/guest-py, wherever the target
        // directory is.
        None => PathBuf::from(env!("CARGO_BIN_EXE_socklab"))
            .parent()
            .and_then(|profile| profile.parent())
            .expect("the socklab binary lives in <target>/<profile>/")
            .join("guest-py"),
    }
}

/// The path of the Python guest `name`, compiled into socklab's cache; or
/// `None` (after a loud `SKIPPED`) when it was not built and `CI` is unset.
pub fn py_guest(name: &str) -> Option<String> {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let dir = py_guest_dir();
    let ready = READY.get_or_init(|| {
        let paths = [PY_TCP_CLIENT, PY_UDP_SERVER].map(|n| dir.join(format!("{n}.wasm")));
        if let Some(missing) = paths.iter().find(|p| !p.is_file()) {
            return Err(format!(
                "the Python guest {} is missing; build the Python guests with \
                 `guest-py/build.sh {}` (it installs componentize-py from PyPI)",
                missing.display(),
                dir.display()
            ));
        }
        for path in &paths {
            warm(path.to_str().expect("a UTF-8 path"));
        }
        Ok(())
    });
    match ready {
        Ok(()) => Some(dir.join(format!("{name}.wasm")).display().to_string()),
        Err(why) if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) => {
            panic!("CI is set and {why}")
        }
        Err(why) => {
            // Straight to the stderr handle, not `eprintln!`, which the test
            // harness captures: a skip must show in a plain `cargo test`.
            let test = std::thread::current().name().unwrap_or("?").to_string();
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: {why}; set CI to make this fail"
            );
            None
        }
    }
}

/// `socklab inspect PATH`, which compiles the component into socklab's
/// cache; fails the test if that does not finish within [`COMPILE_WAIT`].
fn warm(path: &str) {
    let child = Command::new(env!("CARGO_BIN_EXE_socklab"))
        .args(["inspect", path])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting socklab inspect");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(COMPILE_WAIT) {
        Ok(Ok(out)) => assert!(
            out.status.success(),
            "socklab inspect {path}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Ok(Err(e)) => panic!("socklab inspect {path}: {e}"),
        Err(_) => {
            // SAFETY: kill(2) on the child we spawned, which has not been
            // reaped (its waiter is still blocked).
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("socklab inspect {path} did not compile it within {COMPILE_WAIT:?}");
        }
    }
}
