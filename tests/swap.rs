//! Swapping a guest never rebuilds the host: with the `socklab` binary
//! already built, write a brand-new guest whose replies carry a random
//! token, compile it, run it with that same binary, and check the binary's
//! SHA-256 did not change.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use sha2::{Digest, Sha256};

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The source of a new TCP server guest that answers each line with
/// `TOKEN line`. Written with std::net, as a newcomer might.
fn guest_source(token: &str) -> String {
    format!(
        r#"
use std::io::{{BufRead, BufReader, Write}};
use std::net::TcpListener;
use socklab_guest::types::{{ServerConfig, ServerReport}};

socklab_guest::role!("socklab:lab/tcp-server");

struct Server;

impl exports::socklab::lab::tcp_server_role::Guest for Server {{
    fn serve(config: ServerConfig) -> Result<ServerReport, String> {{
        let listener = TcpListener::bind(socklab_guest::to_std(config.listen)).map_err(|e| e.to_string())?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        socklab_guest::host::listening(socklab_guest::from_std(local));
        let mut report = ServerReport {{ sessions: 0, bytes_in: 0, bytes_out: 0 }};
        for conn in listener.incoming() {{
            let conn = conn.map_err(|e| e.to_string())?;
            report.sessions += 1;
            let mut lines = BufReader::new(&conn);
            let mut line = String::new();
            while matches!(lines.read_line(&mut line), Ok(n) if n > 0) {{
                let reply = format!("{token} {{line}}");
                if (&conn).write_all(reply.as_bytes()).is_err() {{ break; }}
                line.clear();
            }}
        }}
        Ok(report)
    }}
}}

export!(Server);
"#
    )
}

/// Write the crate of a new guest answering with `token` at
/// `SCRATCH/guest/swapped`, beside `SCRATCH/wit` (the repo's WIT), so the
/// `role!` macro's `../../wit` finds the contract. Its directory.
fn write_crate(scratch: &Path, repo: &Path, token: &str) -> PathBuf {
    // <scratch>/wit -> the repo's WIT, and the crate at <scratch>/guest/swapped,
    // so the `role!` macro's `../../wit` finds the contract.
    let krate = scratch.join("guest").join("swapped");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::os::unix::fs::symlink(repo.join("wit"), scratch.join("wit")).unwrap();
    std::fs::write(
        krate.join("Cargo.toml"),
        format!(
            r#"[package]
name = "swapped"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib"]

[dependencies]
wit-bindgen = "0.61"
socklab-guest = {{ path = "{}" }}

[workspace]

[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
debug = false
strip = "debuginfo"
"#,
            repo.join("guest/common").display()
        ),
    )
    .unwrap();
    std::fs::copy(repo.join("guest/Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    std::fs::write(krate.join("src/lib.rs"), guest_source(token)).unwrap();

    krate
}

/// Build the crate at `krate` for wasm32-wasip2: its component.
fn build(krate: &Path) -> PathBuf {
    // Reuse the bundled guests' target directory: their dependencies are
    // already compiled there, so only the new crate builds.
    let target = socklab_artifacts::build_dir()
        .and_then(|d| d.parent()?.parent())
        .expect("the bundled guests' target directory")
        .to_path_buf();
    let built = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--offline",
            "--target",
            "wasm32-wasip2",
        ])
        .current_dir(krate)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("running cargo");
    assert!(
        built.status.success(),
        "building the new guest:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );

    target.join("wasm32-wasip2/release/swapped.wasm")
}

#[test]
fn swap_new_guest_runs_without_rebuilding_the_host() {
    let bin = Path::new(env!("CARGO_BIN_EXE_socklab"));
    let before = sha256(bin);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let token = format!(
        "tok{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );

    let scratch = tempfile::tempdir().unwrap();
    let wasm = build(&write_crate(scratch.path(), &repo, &token));

    let out = socklab(&[
        "--no-cache",
        "exchange",
        "--server",
        wasm.to_str().unwrap(),
        "--client",
        "tcp-client",
        "--message",
        "hello",
        "--message",
        "swap",
        "--json",
    ])
    .finish();
    out.assert_code(0);
    let report = out.json();
    let replies: Vec<Vec<u8>> = client_messages(&report)
        .iter()
        .map(|m| payload(&m["reply"]).expect("a reply"))
        .collect();
    assert_eq!(
        replies,
        vec![
            format!("{token} hello\n").into_bytes(),
            format!("{token} swap\n").into_bytes()
        ],
        "the new guest's replies carry its token: {out}"
    );
    assert_eq!(
        sha256(bin),
        before,
        "the socklab binary is byte for byte the same"
    );
}
