//! Which WASI a component is written against, read from the names of its
//! imports and exports before it is compiled (each version has its own
//! engine, and a 0.3 component does not even validate on the 0.2 one).
//!
//! The `wasi:sockets` imports decide: all `0.2.x` is WASI 0.2, all `0.3.0`
//! is WASI 0.3. The `wasi:cli`, `wasi:io` and other 0.2.x imports that
//! Rust's std brings into a 0.3 guest are served either way. A component
//! without socket imports is 0.3 when it exports or imports anything of
//! WASI 0.3 (`wasi:cli/run@0.3.0`, `socklab:lab/...@0.2.0`). A version
//! socklab does not serve, or sockets of both versions, is bad input: one
//! line naming the import and the versions socklab serves.

use std::path::Path;

use anyhow::Result;
use wasmparser::{Parser, Payload};

use crate::bad_input;
use crate::roles::{Role, Wasi};

/// The versions socklab serves, as its errors name them.
pub const SERVED: &str = "0.2.x (0.2.0 to 0.2.12) and 0.3.0";

/// The WASI version of the component `bytes` (the file `path`). A file
/// wasmparser cannot read is taken for 0.2: compiling it then says what is
/// wrong with it, in wasmtime's words.
pub fn version_of(path: &Path, bytes: &[u8]) -> Result<Wasi> {
    let Some((imports, exports)) = names(bytes) else {
        return Ok(Wasi::P2);
    };
    let mut p2_sockets = None;
    let mut p3_sockets = None;
    for name in imports.iter().chain(&exports) {
        let Some((interface, version)) = name.split_once('@') else {
            continue;
        };
        if !interface.starts_with("wasi:") {
            continue;
        }
        let wasi = match served(version) {
            Some(wasi) => wasi,
            None => bad_input!(
                "guest {} imports {name}: socklab serves WASI {SERVED}",
                path.display()
            ),
        };
        if interface.starts_with("wasi:sockets/") {
            match wasi {
                Wasi::P2 => p2_sockets.get_or_insert(name),
                Wasi::P3 => p3_sockets.get_or_insert(name),
            };
        }
    }
    match (p2_sockets, p3_sockets) {
        (Some(a), Some(b)) => bad_input!(
            "guest {} mixes WASI versions: it imports {a} and {b}; socklab serves one version of wasi:sockets per guest, WASI {SERVED}",
            path.display()
        ),
        (Some(_), None) => Ok(Wasi::P2),
        (None, Some(_)) => Ok(Wasi::P3),
        (None, None) => Ok(by_other_names(&imports, &exports)),
    }
}

/// The version a WASI interface's `version` belongs to, if socklab serves it.
fn served(version: &str) -> Option<Wasi> {
    let mut parts = version.splitn(3, '.');
    let (major, minor, patch) = (parts.next()?, parts.next()?, parts.next()?);
    match (major, minor) {
        ("0", "2") if patch.parse::<u32>().is_ok() => Some(Wasi::P2),
        ("0", "3") if patch == "0" => Some(Wasi::P3),
        _ => None,
    }
}

/// A component without socket imports: 0.3 if a role export is of the 0.3
/// package or anything of WASI 0.3 is named, else 0.2.
fn by_other_names(imports: &[String], exports: &[String]) -> Wasi {
    if let Some((_, wasi)) = exports.iter().find_map(|e| Role::from_versioned_export(e)) {
        return wasi;
    }
    let is_p3 = |n: &String| {
        n.starts_with("wasi:") && n.split_once('@').and_then(|(_, v)| served(v)) == Some(Wasi::P3)
    };
    if imports.iter().chain(exports).any(is_p3) {
        Wasi::P3
    } else {
        Wasi::P2
    }
}

/// The component's own (outermost) import and export names; `None` if the
/// bytes do not parse.
pub fn names(bytes: &[u8]) -> Option<(Vec<String>, Vec<String>)> {
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    // Nested modules and components start with their own `Version` and
    // close with their own `End`; only depth 1 is the component itself.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.ok()? {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    imports.push(import.ok()?.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    exports.push(export.ok()?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Some((imports, exports))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_versions() {
        assert_eq!(served("0.2.0"), Some(Wasi::P2));
        assert_eq!(served("0.2.12"), Some(Wasi::P2));
        assert_eq!(served("0.3.0"), Some(Wasi::P3));
        assert_eq!(served("0.3.1"), None);
        assert_eq!(served("0.3.0-rc-2025-09-16"), None);
        assert_eq!(served("0.4.0"), None);
        assert_eq!(served("1"), None);
    }
}
