//! Turning a guest file into a compiled component of a known role, and every
//! way that can fail: not a regular file, too large, not WebAssembly, a core
//! module, a damaged or empty component, no socklab role, an import socklab
//! does not offer. Each failure is a [`BadInput`](crate::error::BadInput)
//! naming the file and what to do.

use std::path::{Path, PathBuf};

use anyhow::Result;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::{Component, InstancePre};

use super::state::GuestState;
use crate::bad_input;
use crate::input::{MAX_COMPONENT, read_capped};
use crate::roles::{Role, Wasi};
use crate::version::hex;

/// A guest ready to instantiate.
pub struct Guest {
    /// What the user named it: a bundled name or the file's stem.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// SHA-256 of the component file, hex.
    pub sha256: String,
    /// Its role, from its exports.
    pub role: Role,
    /// The WASI version it is written against, from its socket imports.
    pub wasi: Wasi,
    /// Pre-instantiated against the runtime's imports.
    pub pre: InstancePre<GuestState>,
}

/// A component file read and checked, not yet compiled.
pub struct GuestFile {
    /// Its file.
    pub path: PathBuf,
    /// SHA-256 of the file, hex: the key of every compiled copy of it.
    pub sha256: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Read `path` (a regular file under the cap) and check its header.
pub fn read(path: &Path) -> Result<GuestFile> {
    let bytes = match read_capped(path, MAX_COMPONENT, "a guest component") {
        Ok(bytes) => bytes,
        Err(e) => bad_input!("guest {} {e}", path.display()),
    };
    check_component_header(path, &bytes)?;
    Ok(GuestFile {
        path: path.to_path_buf(),
        sha256: hex(&Sha256::digest(&bytes)),
        bytes,
    })
}

/// Compile `file`: a component wasmtime refuses is named with wasmtime's
/// whole reason.
pub fn compile(engine: &Engine, file: &GuestFile) -> Result<Component> {
    match Component::new(engine, &file.bytes) {
        Ok(c) => Ok(c),
        Err(e) => bad_input!(
            "guest {} is not a valid component: {}; if it was cut short (a partial copy or download), build or copy it again",
            file.path.display(),
            format!("{e:#}").replace('\n', " ")
        ),
    }
}

/// The names of `component`'s exports.
pub fn export_names(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect()
}

/// The socklab role `component` (of WASI version `wasi`) exports, or why it
/// has none.
pub fn role_of(engine: &Engine, path: &Path, component: &Component, wasi: Wasi) -> Result<Role> {
    let exports = export_names(engine, component);
    if let Some((role, written_for)) = exports.iter().find_map(|e| Role::from_versioned_export(e)) {
        if written_for != wasi {
            bad_input!(
                "guest {} exports a {written_for} {role} role but imports the sockets of {wasi}; build it against {}",
                path.display(),
                match written_for {
                    Wasi::P2 => "wit/worlds.wit",
                    Wasi::P3 => "wit/p3/worlds.wit",
                }
            );
        }
        return Ok(role);
    }
    if exports.is_empty() && component.component_type().imports(engine).len() == 0 {
        bad_input!(
            "guest {} is an empty component (it imports and exports nothing): is the file cut short? Build or copy it again",
            path.display()
        );
    }
    let list = if exports.is_empty() {
        "nothing".to_string()
    } else {
        exports.join(", ")
    };
    bad_input!(
        "guest {} is not a socklab role: it exports {list}; a guest must export one of \
         socklab:lab/{{tcp-server,tcp-client,udp-server,udp-client}}-role@0.1.x (see wit/roles.wit) \
         or, on WASI 0.3, the same roles @0.2.x (wit/p3/roles.wit)",
        path.display()
    );
}

/// Tell apart a component, a core module and anything else by the header:
/// `\0asm`, then a version word (1 for a core module) and a layer (1 for a
/// component).
fn check_component_header(path: &Path, bytes: &[u8]) -> Result<()> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        bad_input!(
            "guest {} is not a WebAssembly file (it does not start with \\0asm); give a component built for wasm32-wasip2",
            path.display()
        );
    }
    let layer = u16::from_le_bytes([bytes[6], bytes[7]]);
    if layer == 0 {
        bad_input!(
            "guest {} is a core WebAssembly module (a WASI preview 1 program, say), not a component; build it for wasm32-wasip2 (or wrap it with `wasm-tools component new --adapt`)",
            path.display()
        );
    }
    Ok(())
}
