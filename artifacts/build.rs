//! Builds the guests in `guest/` for `wasm32-wasip2` and writes `guests.rs`:
//! the `GUESTS` list (each guest's name, `about` line and component path)
//! and the `foreach_guest!` macro.
//!
//! The guest set is declared once, in `guest/Cargo.toml`: every member that
//! builds a component (a `cdylib` lib or a bin) is a bundled guest, in the
//! order the members are listed, and its own `Cargo.toml` says the line
//! `socklab guests` shows beside it:
//!
//! ```toml
//! [package.metadata.socklab]
//! about = "answers each datagram to its sender"
//! ```
//!
//! A member that builds no component (the helper crate `common`) is not a
//! guest. A component without an `about`, or an `about` on a crate that
//! builds no component, stops the build with an error naming the file.
//!
//! The guests are compiled by a nested `cargo build` into a target directory
//! of their own (inside `OUT_DIR`), as wasmtime's test-programs do: the outer
//! build holds the lock on the workspace's target directory, and the guests
//! need another target triple anyway.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap();
    let guest_dir = root.join("guest");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let target_dir = out_dir.join("target");

    require_wasm_target();
    let guests = declared_guests(&guest_dir);
    build_guests(&guest_dir, &target_dir, &guests);
    let rust = rust_guests(&target_dir.join("wasm32-wasip2").join("release"), &guests);
    let python = python_guests(&root.join("guest-py/guests.toml"));
    fs::write(out_dir.join("guests.rs"), rust + "\n" + &python).unwrap();

    for file in ["Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", guest_dir.join(file).display());
    }
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
}

/// `cargo build --release --target=wasm32-wasip2` of `guests`, in a target
/// directory of their own.
fn build_guests(guest_dir: &Path, target_dir: &Path, guests: &[Declared]) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--target=wasm32-wasip2")
        .arg("--manifest-path")
        .arg(guest_dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir)
        // Flags meant for the host's target must not leak into the guests'.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_PROFILE_RELEASE_DEBUG");
    for guest in guests {
        cmd.arg("-p").arg(&guest.name);
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
}

/// `GUESTS` and `foreach_guest!` for the components built into `wasm_dir`.
fn rust_guests(wasm_dir: &Path, guests: &[Declared]) -> String {
    let mut list = String::from(
        "/// Every bundled guest, in the order `guest/Cargo.toml` lists them.\n\
         pub const GUESTS: &[Guest] = &[\n",
    );
    let mut each = String::new();
    for guest in guests {
        let path = wasm_dir.join(format!("{}.wasm", guest.stem));
        assert!(
            path.exists(),
            "the guest build did not produce {}",
            path.display()
        );
        list.push_str(&format!(
            "    Guest {{ name: {:?}, about: {:?}, path: {:?} }},\n",
            guest.name,
            guest.about,
            path.display().to_string()
        ));
        each.push_str(&format!(
            "        $mac!({}, {:?});\n",
            guest.name.replace('-', "_"),
            guest.name
        ));
        println!("cargo:rerun-if-changed={}", guest.manifest.display());
        for dep in dep_info(wasm_dir, &guest.stem) {
            println!("cargo:rerun-if-changed={}", dep.display());
        }
    }
    list.push_str("];\n");
    let foreach = format!(
        "/// Calls `$mac!(ident, \"name\")` once for every guest in [`GUESTS`], in\n\
         /// its order: the name as an identifier (dashes become underscores)\n\
         /// and as text. A test that makes one item per guest with it (as\n\
         /// `tests/guests.rs` does) covers a new guest as soon as\n\
         /// `guest/Cargo.toml` declares it.\n\
         #[macro_export]\n\
         macro_rules! foreach_guest {{\n    ($mac:ident) => {{\n{each}    }};\n}}\n"
    );
    list + "\n" + &foreach
}

/// `PYTHON_GUESTS`, from `guest-py/guests.toml` (which `guest-py/build.sh`
/// builds from too): each one's name and `about`.
fn python_guests(path: &Path) -> String {
    println!("cargo:rerun-if-changed={}", path.display());
    let doc = read_manifest(path);
    let mut out = String::from(
        "/// The Python guests `guest-py/guests.toml` declares; `guest-py/build.sh`\n\
         /// builds them, outside the cargo build.\n\
         pub const PYTHON_GUESTS: &[PythonGuest] = &[\n",
    );
    for guest in doc
        .get("guest")
        .and_then(|g| g.as_array())
        .into_iter()
        .flatten()
    {
        let field = |key: &str| {
            guest
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or_else(|| fail(&format!("{}: a [[guest]] has no `{key}`", path.display())))
        };
        out.push_str(&format!(
            "    PythonGuest {{ name: {:?}, about: {:?} }},\n",
            field("name"),
            field("about")
        ));
    }
    out + "];\n"
}

/// A bundled guest, as `guest/` declares it.
struct Declared {
    /// The crate's package name: the name users type.
    name: String,
    /// Its `[package.metadata.socklab] about`, the line `socklab guests` shows.
    about: String,
    /// The component's file name without `.wasm`: a lib's has underscores,
    /// a bin's keeps the package name's dashes.
    stem: String,
    /// The crate's `Cargo.toml`, so that editing its `about` reruns this.
    manifest: PathBuf,
}

/// The bundled guests: the members of `guest/Cargo.toml` that build a
/// component, in the order listed there.
fn declared_guests(guest_dir: &Path) -> Vec<Declared> {
    let workspace_manifest = guest_dir.join("Cargo.toml");
    let workspace = read_manifest(&workspace_manifest);
    let Some(members) = workspace
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
    else {
        fail(&format!(
            "{} has no `[workspace] members` list: it is where the guests are declared",
            workspace_manifest.display()
        ));
    };
    let mut guests = Vec::new();
    for member in members {
        // A glob would make the list depend on what happens to be on disk.
        let Some(member) = member.as_str().filter(|m| !m.contains(['*', '?', '['])) else {
            fail(&format!(
                "{}: list each member by its directory (got {member}), not a glob",
                workspace_manifest.display()
            ));
        };
        guests.extend(declared(&guest_dir.join(member).join("Cargo.toml")));
    }
    guests
}

/// The guest a member's `Cargo.toml` declares, or `None` for a crate that
/// builds no component. Stops the build when the two halves disagree.
fn declared(manifest: &Path) -> Option<Declared> {
    let table = read_manifest(manifest);
    let package = table.get("package");
    let name = package.and_then(|p| p.get("name")).and_then(|n| n.as_str());
    let Some(name) = name.filter(|n| {
        n.starts_with(|c: char| c.is_ascii_lowercase())
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    }) else {
        fail(&format!(
            "{}: a guest's package name is what users type and what \
             `foreach_guest!` makes an identifier of: lower-case letters, \
             digits and dashes, starting with a letter",
            manifest.display()
        ));
    };
    let about = package
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("socklab"))
        .and_then(|s| s.get("about"))
        .and_then(|a| a.as_str());
    match (component_stem(&table, manifest, name), about) {
        (None, None) => None,
        (Some(stem), Some(about)) => Some(Declared {
            name: name.to_string(),
            about: about.to_string(),
            stem,
            manifest: manifest.to_path_buf(),
        }),
        (Some(_), None) => fail(&format!(
            "{}: {name} builds a component, so it is a bundled guest and needs the \
             line `socklab guests` shows for it: add `[package.metadata.socklab]` \
             with `about = \"...\"`",
            manifest.display()
        )),
        (None, Some(_)) => fail(&format!(
            "{}: {name} has an `about` but builds no component; a guest is a \
             `cdylib` (`[lib] crate-type = [\"cdylib\"]`) or a bin",
            manifest.display()
        )),
    }
}

/// The file stem of the one component a crate builds, if it builds one: its
/// `cdylib`, or its bin (`[[bin]]`, or `src/main.rs`). The stem must follow
/// from the package name, since that is how `socklab` finds a guest in
/// `--guest-dir`.
fn component_stem(table: &toml::Table, manifest: &Path, name: &str) -> Option<String> {
    let lib = table.get("lib");
    let cdylib = lib
        .and_then(|l| l.get("crate-type"))
        .and_then(|t| t.as_array())
        .is_some_and(|t| t.iter().any(|t| t.as_str() == Some("cdylib")));
    let lib_name = lib.and_then(|l| l.get("name")).and_then(|n| n.as_str());
    let mut bins: Vec<&str> = table
        .get("bin")
        .and_then(|b| b.as_array())
        .map(|bins| {
            bins.iter()
                .filter_map(|b| b.get("name")?.as_str())
                .collect()
        })
        .unwrap_or_default();
    if bins.is_empty() && manifest.with_file_name("src/main.rs").is_file() {
        bins.push(name);
    }
    let lib_stem = name.replace('-', "_");
    match (cdylib, bins.as_slice()) {
        (false, []) => None,
        (true, []) if lib_name.is_none_or(|l| l == lib_stem) => Some(lib_stem),
        (false, [bin]) if *bin == name => Some(name.to_string()),
        _ => fail(&format!(
            "{}: a guest crate builds one component, a `cdylib` or a bin, named \
             after the package ({name}), so that socklab finds it by that name",
            manifest.display()
        )),
    }
}

/// A `Cargo.toml`, parsed; stops the build with the file's name otherwise.
fn read_manifest(path: &Path) -> toml::Table {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
    text.parse()
        .unwrap_or_else(|e| fail(&format!("{} is not valid TOML: {e}", path.display())))
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

/// The source files a guest was built from, read from cargo's `.d` file
/// beside its component, so that editing a guest rebuilds it.
fn dep_info(wasm_dir: &Path, stem: &str) -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string(wasm_dir.join(format!("{stem}.d"))) else {
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
