//! Records the wasmtime version from `Cargo.lock` so every report can say
//! which runtime ran the guests.

use std::path::Path;

fn main() {
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let version = wasmtime_version(&lock).unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=SOCKLAB_WASMTIME_VERSION={version}");
}

/// The version of the `wasmtime` package `lock` pins, if it can be read.
fn wasmtime_version(lock: &Path) -> Option<String> {
    let lock: toml::Table = std::fs::read_to_string(lock).ok()?.parse().ok()?;
    lock.get("package")?
        .as_array()?
        .iter()
        .find(|p| p.get("name").and_then(|n| n.as_str()) == Some("wasmtime"))?
        .get("version")?
        .as_str()
        .map(str::to_string)
}
