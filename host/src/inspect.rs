//! `socklab inspect`: what a component is, what it could ask for, and what
//! it offers, read from its type without running it.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use wasmtime::component::types::ComponentItem;

use crate::lab::Lab;
use crate::roles::Role;

/// What `inspect` reports.
#[derive(Debug, Serialize)]
pub struct Inspection {
    pub socklab: &'static str,
    pub wasmtime: &'static str,
    pub path: String,
    pub size: u64,
    pub sha256: String,
    /// `tcp-server`, ..., `a wasi:cli command`, or `not a socklab role`.
    pub kind: String,
    /// The imported interfaces: the capabilities it could ask for.
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

/// Inspect the component `spec` (a path or a bundled name).
pub fn inspect(lab: &Lab, spec: &str) -> Result<Inspection> {
    let (path, sha256, component) = lab.compile_only(spec)?;
    let engine = lab.engine();
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
    let kind = if let Some(role) = export_names.iter().find_map(|e| Role::from_export(e)) {
        role.world().to_string()
    } else if export_names
        .iter()
        .any(|e| e.starts_with("wasi:cli/run@0.2"))
    {
        "a wasi:cli command".to_string()
    } else {
        "not a socklab role".to_string()
    };
    Ok(Inspection {
        socklab: crate::report::SOCKLAB_VERSION,
        wasmtime: crate::report::WASMTIME_VERSION,
        size: std::fs::metadata(&path).map_or(0, |m| m.len()),
        path: path.display().to_string(),
        sha256,
        kind,
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
            "{file}: {}\n  path    {}\n  size    {} bytes\n  sha256  {}\n  imports ({}):\n",
            self.kind,
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
