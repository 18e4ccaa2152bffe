//! Where guests are found: a path, or the name of a bundled guest looked up
//! in `--guest-dir`, then `$SOCKLAB_GUEST_DIR`, then where the build put it
//! (and the Python guests once `guest-py/build.sh` has built them).

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::bad_input;

/// Where bundled guests are looked up before the build's own.
#[derive(Debug, Clone, Default)]
pub struct GuestDirs {
    /// `--guest-dir`.
    pub first: Option<PathBuf>,
}

impl GuestDirs {
    /// `--guest-dir` (checked to be a directory), and `$SOCKLAB_GUEST_DIR`
    /// checked likewise.
    pub fn new(first: Option<PathBuf>) -> Result<GuestDirs> {
        if let Some(dir) = first.as_ref().filter(|d| !d.is_dir()) {
            bad_input!(
                "--guest-dir {} is not a directory; give the directory that holds the guest components",
                dir.display()
            );
        }
        if let Some(dir) = env_guest_dir().filter(|d| !d.is_dir()) {
            bad_input!(
                "SOCKLAB_GUEST_DIR={} is not a directory; set it to the directory that holds the guest components, or unset it",
                dir.display()
            );
        }
        Ok(GuestDirs { first })
    }

    /// The bundled guests that can be found, with their paths: the Rust ones
    /// the build made, then the Python ones once `guest-py/build.sh` has
    /// made them.
    pub fn bundled(&self) -> Vec<(Bundled, PathBuf)> {
        let rust = socklab_artifacts::GUESTS.iter().map(|g| Bundled {
            name: g.name,
            about: g.about,
            language: "rust",
        });
        let python = socklab_artifacts::PYTHON_GUESTS.iter().map(|g| Bundled {
            name: g.name,
            about: g.about,
            language: "python",
        });
        rust.chain(python)
            .filter_map(|g| self.find_bundled(g.name).map(|p| (g, p)))
            .collect()
    }

    /// The name a guest is known by and its file: `spec` itself if it looks
    /// like a path or names an existing file, else a bundled guest.
    pub fn resolve(&self, spec: &str) -> Result<(String, PathBuf)> {
        let as_path = Path::new(spec);
        let looks_like_path = spec.contains(std::path::MAIN_SEPARATOR)
            || spec.contains('/')
            || spec.ends_with(".wasm");
        if looks_like_path || as_path.is_file() {
            if !as_path.exists() {
                bad_input!(
                    "guest file {spec} does not exist; give a path to a component or a bundled name from `socklab guests`"
                );
            }
            let name = as_path
                .file_stem()
                .map_or(spec.to_string(), |s| s.to_string_lossy().into_owned());
            return Ok((name, as_path.to_path_buf()));
        }
        match self.find_bundled(spec) {
            Some(path) => Ok((spec.to_string(), path)),
            None => bad_input!(
                "no guest named {spec}: it is not a file and not a bundled guest; run `socklab guests` to list them"
            ),
        }
    }

    fn find_bundled(&self, name: &str) -> Option<PathBuf> {
        let file = format!("{}.wasm", name.replace('-', "_"));
        let dirs = [self.first.clone(), env_guest_dir()];
        for dir in dirs.into_iter().flatten() {
            for candidate in [dir.join(&file), dir.join(format!("{name}.wasm"))] {
                if candidate.is_file() {
                    return Some(candidate);
                }
            }
        }
        let built = socklab_artifacts::GUESTS
            .iter()
            .find(|g| g.name == name)
            .map(|g| PathBuf::from(g.path))
            .filter(|p| p.is_file());
        built.or_else(|| {
            socklab_artifacts::PYTHON_GUESTS
                .iter()
                .find(|g| g.name == name)?;
            python_guest_dirs()
                .into_iter()
                .map(|d| d.join(format!("{name}.wasm")))
                .find(|p| p.is_file())
        })
    }
}

/// A guest `socklab guests` lists.
#[derive(Clone, Copy, Debug)]
pub struct Bundled {
    /// The name users type.
    pub name: &'static str,
    /// One line on what it does.
    pub about: &'static str,
    /// What it is written in: `rust` or `python`.
    pub language: &'static str,
}

/// Where the Python guests are looked for: `$SOCKLAB_PY_GUEST_DIR`, then
/// `guest-py/` in the target directory the build used (where
/// `guest-py/build.sh` writes them by default).
fn python_guest_dirs() -> Vec<PathBuf> {
    let env = std::env::var_os("SOCKLAB_PY_GUEST_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from);
    // The build's guests live in TARGET/PROFILE/build/socklab-artifacts-*/...
    let target = socklab_artifacts::GUESTS.first().and_then(|g| {
        let path = Path::new(g.path);
        let build = path
            .ancestors()
            .find(|a| a.file_name().is_some_and(|n| n == "build"))?;
        Some(build.parent()?.parent()?.join("guest-py"))
    });
    env.into_iter().chain(target).collect()
}

/// `$SOCKLAB_GUEST_DIR`, when set and not empty.
fn env_guest_dir() -> Option<PathBuf> {
    std::env::var_os("SOCKLAB_GUEST_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}
