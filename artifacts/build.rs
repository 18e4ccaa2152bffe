//! Builds the guests in `guest/` for `wasm32-wasip2` and writes `guests.rs`,
//! which names each component's path.
//!
//! The guests are compiled by a nested `cargo build` into a target directory
//! of their own (inside `OUT_DIR`), as wasmtime's test-programs do: the outer
//! build holds the lock on the workspace's target directory, and the guests
//! need another target triple anyway.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every guest crate under `guest/` that is a component (the helper crate
/// `common` is not), with the one line `socklab guests` shows beside it. The
/// host reads each one's role from its exports.
const GUESTS: &[(&str, &str)] = &[
    (
        "tcp-echo-server",
        "echoes bytes as they arrive; many clients at once (wasi:sockets poll loop)",
    ),
    (
        "tcp-client",
        "sends each message as a line on one connection, reads line replies",
    ),
    ("udp-echo-server", "answers each datagram to its sender"),
    (
        "udp-client",
        "one datagram per message; a reply not in time is lost",
    ),
    (
        "tcp-std-echo-server",
        "echo with std::net: one client at a time; stopped by cancellation",
    ),
    ("tcp-std-client", "the TCP client with std::net"),
    (
        "udp-std-echo-server",
        "UDP echo with std::net; stopped by cancellation",
    ),
    ("udp-std-client", "the UDP client with std::net"),
    (
        "tcp-upper-server",
        "answers each line in upper case (std::net); stopped by cancellation",
    ),
    (
        "hostile-escape",
        "test guest: tries to bind, connect and send outside its grant",
    ),
    (
        "hostile-spin",
        "test guest: spins forever without calling the host",
    ),
    ("hostile-alloc", "test guest: allocates memory without end"),
    ("hostile-sockets", "test guest: opens sockets without end"),
    ("hostile-trap", "test guest: panics with a message"),
    (
        "probe-tcp",
        "test guest: makes the one TCP or DNS call its parameters name",
    ),
    (
        "probe-udp",
        "test guest: makes the one UDP call its parameters name",
    ),
    (
        "probe-command",
        "test guest: a wasi:cli command making the raw socket call its arguments name",
    ),
    (
        "wasi020-command",
        "a wasi:cli command built against the WASI 0.2.0 WIT; for `socklab run`",
    ),
    (
        "net-command",
        "a plain wasi:cli command (std): echo, tcp, udp, ping, read, exit; for `socklab run`",
    ),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap();
    let guest_dir = root.join("guest");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let target_dir = out_dir.join("target");

    require_wasm_target();

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--target=wasm32-wasip2")
        .arg("--manifest-path")
        .arg(guest_dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target_dir)
        // Flags meant for the host's target must not leak into the guests'.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_PROFILE_RELEASE_DEBUG");
    for (name, _) in GUESTS {
        cmd.arg("-p").arg(name);
    }
    let status = cmd
        .status()
        .expect("failed to run cargo to build the guests");
    if !status.success() {
        panic!(
            "building the guests in {} failed (see the errors above)",
            guest_dir.display()
        );
    }

    let wasm_dir = target_dir.join("wasm32-wasip2").join("release");
    let mut generated = String::new();
    generated.push_str("/// Every bundled guest, as built from `guest/`.\n");
    generated.push_str("pub const GUESTS: &[Guest] = &[\n");
    for (name, about) in GUESTS {
        // A library component's file name has underscores; a command's
        // (a bin) keeps its dashes.
        let lib = wasm_dir.join(format!("{}.wasm", name.replace('-', "_")));
        let path = if lib.exists() {
            lib
        } else {
            wasm_dir.join(format!("{name}.wasm"))
        };
        assert!(
            path.exists(),
            "the guest build did not produce {}",
            path.display()
        );
        generated.push_str(&format!(
            "    Guest {{ name: {name:?}, about: {about:?}, path: {:?} }},\n",
            path.display().to_string()
        ));
        for dep in dep_info(&wasm_dir, name) {
            println!("cargo:rerun-if-changed={}", dep.display());
        }
    }
    generated.push_str("];\n");
    fs::write(out_dir.join("guests.rs"), generated).unwrap();

    println!(
        "cargo:rerun-if-changed={}",
        guest_dir.join("Cargo.toml").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        guest_dir.join("Cargo.lock").display()
    );
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
}

/// Make sure the `wasm32-wasip2` standard library is there before the guests
/// are built. `rust-toolchain.toml` lists the target, but rustup adds a
/// toolchain's targets only when it installs the toolchain, so a toolchain
/// installed before lacks it. With rustup at hand (cargo run through its
/// proxy), install the target and say so in a warning; without it, stop at
/// once with the one line that says what to do, as cargo's first error.
fn require_wasm_target() {
    if wasm_target_installed() {
        return;
    }
    let Some((rustup, toolchain)) = rustup() else {
        fail(
            "the wasm32-wasip2 target is not installed, so socklab's guests cannot be built: \
             install it for this Rust toolchain (with rustup: `rustup target add wasm32-wasip2`) and build again",
        );
    };
    println!(
        "cargo::warning=the wasm32-wasip2 target was missing from toolchain {toolchain}; \
         installing it with `rustup target add wasm32-wasip2 --toolchain {toolchain}` (socklab's guests are built for it)"
    );
    let added = Command::new(&rustup)
        .args(["target", "add", "wasm32-wasip2", "--toolchain", &toolchain])
        .status();
    match added {
        Ok(status) if status.success() && wasm_target_installed() => {}
        Ok(status) => fail(&format!(
            "`rustup target add wasm32-wasip2 --toolchain {toolchain}` failed ({status}); \
             run it yourself (is the network reachable?) and build again"
        )),
        Err(e) => fail(&format!(
            "cannot run {} to install the wasm32-wasip2 target ({e}); \
             run `rustup target add wasm32-wasip2` yourself and build again",
            rustup.display()
        )),
    }
}

/// Whether the compiler's sysroot holds the `wasm32-wasip2` standard library.
fn wasm_target_installed() -> bool {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    // A compiler that cannot say where its sysroot is: let the guest build
    // itself say what is wrong.
    sysroot.is_none_or(|s| s.join("lib/rustlib/wasm32-wasip2/lib").is_dir())
}

/// The `rustup` that runs this build and the toolchain it picked, when cargo
/// was started through rustup's proxy (which sets `RUSTUP_TOOLCHAIN`).
fn rustup() -> Option<(PathBuf, String)> {
    let toolchain = env::var("RUSTUP_TOOLCHAIN")
        .ok()
        .filter(|t| !t.is_empty())?;
    let mut dirs: Vec<PathBuf> = env::var_os("PATH")
        .map(|p| env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(home).join("bin"));
    }
    let rustup = dirs
        .into_iter()
        .map(|d| d.join("rustup"))
        .find(|p| p.is_file())?;
    Some((rustup, toolchain))
}

/// Fail the build with `message` as cargo's error line.
fn fail(message: &str) -> ! {
    println!("cargo::error={message}");
    std::process::exit(1);
}

/// The source files a guest was built from, read from cargo's `.d` file, so
/// that editing a guest rebuilds it.
fn dep_info(wasm_dir: &Path, name: &str) -> Vec<PathBuf> {
    let lib = wasm_dir.join(format!("{}.d", name.replace('-', "_")));
    let bin = wasm_dir.join(format!("{name}.d"));
    let Ok(text) = fs::read_to_string(&lib).or_else(|_| fs::read_to_string(&bin)) else {
        return Vec::new();
    };
    let Some((_, deps)) = text.split_once(": ") else {
        return Vec::new();
    };
    deps.split_whitespace()
        .filter(|p| !p.contains("/.cargo/registry/") && !p.contains("/rustlib/"))
        .map(PathBuf::from)
        .collect()
}
