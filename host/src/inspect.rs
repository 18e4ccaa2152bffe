//! `socklab inspect`: what a component is, what it could ask for, and what
//! it offers, read from its type without running it.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use wasmtime::component::types::ComponentItem;

use crate::roles::{Role, Side, Transport, Wasi};
use crate::runtime::{Compiled, Runtime};
use crate::version::{SOCKLAB_VERSION, WASMTIME_VERSION};

/// What `inspect` reports.
#[derive(Debug, Serialize)]
pub struct Inspection {
    /// socklab's version.
    pub socklab: &'static str,
    /// The wasmtime version that read it.
    pub wasmtime: &'static str,
    /// The component file.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// `tcp-server`, ..., `a wasi:cli command`, or `not a socklab role`.
    pub kind: Kind,
    /// The WASI version it is written against (`0.2`, `0.3`), from its
    /// socket imports (or, without any, its other WASI names).
    pub wasi: Wasi,
    /// The imported interfaces: the capabilities it could ask for.
    pub imports: Vec<String>,
    /// The exported interfaces and functions.
    pub exports: Vec<String>,
}

/// What a component is, from its exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One of the four socklab roles.
    Role(Role),
    /// A `wasi:cli` command (`socklab run`).
    Command,
    /// Neither.
    NotARole,
}

impl Kind {
    /// What a component with these export names is.
    pub fn of_exports<S: AsRef<str>>(exports: &[S]) -> Kind {
        let names = || exports.iter().map(AsRef::as_ref);
        if let Some((role, _)) = names().find_map(Role::from_versioned_export) {
            Kind::Role(role)
        } else if names()
            .any(|e| e.starts_with("wasi:cli/run@0.2") || e.starts_with("wasi:cli/run@0.3"))
        {
            Kind::Command
        } else {
            Kind::NotARole
        }
    }

    /// As `inspect` and the JSON say it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Role(role) => role.world(),
            Kind::Command => "a wasi:cli command",
            Kind::NotARole => "not a socklab role",
        }
    }

    /// `socklab guests`' role and transport columns: `server`/`client`/
    /// `command`/`none`, `tcp`/`udp`/`any`/`-`.
    pub fn columns(self) -> (&'static str, &'static str) {
        match self {
            Kind::Role(role) => (
                match role.side {
                    Side::Server => "server",
                    Side::Client => "client",
                },
                match role.transport {
                    Transport::Tcp => "tcp",
                    Transport::Udp => "udp",
                },
            ),
            Kind::Command => ("command", "any"),
            Kind::NotARole => ("none", "-"),
        }
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Inspect the component `spec` (a path or a bundled name).
pub fn inspect(runtime: &Runtime, spec: &str) -> Result<Inspection> {
    let Compiled {
        path,
        sha256,
        component,
        wasi,
        ..
    } = runtime.compile(spec)?;
    let engine = component.engine();
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(engine)
        .map(|(name, item)| describe(name, &item.ty))
        .collect();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, item)| describe(name, &item.ty))
        .collect();
    let export_names: Vec<&str> = ty.exports(engine).map(|(name, _)| name).collect();
    let kind = Kind::of_exports(&export_names);
    Ok(Inspection {
        socklab: SOCKLAB_VERSION,
        wasmtime: WASMTIME_VERSION,
        size: std::fs::metadata(&path).map_or(0, |m| m.len()),
        path: path.display().to_string(),
        sha256,
        kind,
        wasi,
        imports,
        exports,
    })
}

fn describe(name: &str, item: &ComponentItem) -> String {
    let what = match item {
        ComponentItem::ComponentInstance(_) => "",
        ComponentItem::ComponentFunc(_) | ComponentItem::CoreFunc(_) => " (function)",
        ComponentItem::Resource(_) => " (resource)",
        _ => " (other)",
    };
    format!("{name}{what}")
}

impl Inspection {
    /// The readable form.
    pub fn text(&self) -> String {
        let file = Path::new(&self.path)
            .file_name()
            .map_or(self.path.clone(), |f| f.to_string_lossy().into_owned());
        let mut out = format!(
            "{file}: {}\n  wasi    {}\n  path    {}\n  size    {} bytes\n  sha256  {}\n  imports ({}):\n",
            self.kind.name(),
            self.wasi.name(),
            self.path,
            self.size,
            self.sha256,
            self.imports.len()
        );
        for i in &self.imports {
            out.push_str(&format!("    {i}\n"));
        }
        out.push_str(&format!("  exports ({}):\n", self.exports.len()));
        for e in &self.exports {
            out.push_str(&format!("    {e}\n"));
        }
        out
    }
}
