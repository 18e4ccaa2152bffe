//! Every bundled guest is run by some test.
//!
//! `foreach_guest!` makes one test here per guest that `guest/Cargo.toml`
//! declares (`run_by_a_test::tcp_echo_server`, ...), so a new guest gets its
//! test without an edit here, and that test fails until a file in `tests/`
//! runs the guest. A run lists every such guest, one failed test each.
//!
//! # What counts as running a guest
//!
//! A file runs a guest when its Rust source names the guest in a string
//! literal: the literal is the name (`"tcp-client"`, `guest("tcp-client")`,
//! `["serve", "tcp-client", ...]`), or holds it between double quotes (a lab
//! file written as a raw string: `guest = "tcp-upper-server"`). Names in
//! comments (doc comments too) do not count, nor a longer name that contains
//! it (`"tcp-client-x"`), nor a name inside other text (`"see tcp-client"`).
//! Every `.rs` file under `tests/` is read, helpers included, except this
//! one. What it cannot see: a test that names a guest and then never loads
//! it (an `#[ignore]`d test, a helper nobody calls).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One test per bundled guest, named after it.
mod run_by_a_test {
    macro_rules! run_by_a_test {
        ($ident:ident, $name:literal) => {
            #[test]
            fn $ident() {
                super::assert_run_by_a_test($name);
            }
        };
    }
    socklab_artifacts::foreach_guest!(run_by_a_test);
}

#[test]
fn foreach_guest_names_every_guest_in_order() {
    let mut named: Vec<(&str, &str)> = Vec::new();
    macro_rules! collect {
        ($ident:ident, $name:literal) => {
            named.push((stringify!($ident), $name));
        };
    }
    socklab_artifacts::foreach_guest!(collect);
    let listed: Vec<&str> = socklab_artifacts::GUESTS.iter().map(|g| g.name).collect();
    let names: Vec<&str> = named.iter().map(|&(_, name)| name).collect();
    assert_eq!(names, listed);
    for (ident, name) in named {
        assert_eq!(ident, name.replace('-', "_"));
    }
}

#[test]
fn scan_counts_a_literal_that_is_the_name() {
    let src = r#"let c = guest("some-guest"); socklab(&["serve", "other-guest"]);"#;
    assert!(names(src, "some-guest"));
    assert!(names(src, "other-guest"));
}

#[test]
fn scan_counts_a_quoted_name_inside_a_raw_string() {
    let src = "let lab = r#\"\n[server]\nguest = \"some-guest\"\n\"#;";
    assert!(names(src, "some-guest"));
    let escaped = r#"let json = "{\"guest\": \"some-guest\"}";"#;
    assert!(names(escaped, "some-guest"));
}

#[test]
fn scan_skips_comments_longer_names_and_other_text() {
    for src in [
        "// runs \"some-guest\"\nfn f() {}",
        "/// \"some-guest\"\nfn f() {}",
        "/* outer /* \"some-guest\" */ still a comment \"some-guest\" */",
        r#"let x = "some-guest-x";"#,
        r#"let x = "see some-guest";"#,
        "let some_guest = 1;",
    ] {
        assert!(!names(src, "some-guest"), "counted in: {src}");
    }
}

#[test]
fn scan_is_not_misled_by_chars_and_lifetimes() {
    // A `'"'` is no string's start; a lifetime is no char's.
    let src = r#"fn f<'a>(x: &'a str) -> char { let q = '"'; let e = '\''; "some-guest"; q }"#;
    assert_eq!(
        string_literals(src),
        ["some-guest"],
        "the literals of: {src}"
    );
    assert!(!names(r#"let q = '"'; // "some-guest""#, "some-guest"));
}

/// Fail unless some file under `tests/` runs `guest` (see the module doc).
fn assert_run_by_a_test(guest: &str) {
    let runners: Vec<&Path> = test_sources()
        .iter()
        .filter(|(_, literals)| literals.iter().any(|l| is_named(l, guest)))
        .map(|(path, _)| path.as_path())
        .collect();
    assert!(
        !runners.is_empty(),
        "the bundled guest `{guest}` is run by no test: no .rs file under {} names it in a \
         string (as \"{guest}\"). Add a test that runs it, or take it out of guest/Cargo.toml's \
         members.",
        tests_dir().display()
    );
}

/// Whether string literal `literal` names `guest`: it is the name, or holds
/// it between double quotes.
fn is_named(literal: &str, guest: &str) -> bool {
    literal == guest || literal.contains(&format!("\"{guest}\""))
}

/// Whether Rust source `src` names `guest`, for the tests of the scan.
fn names(src: &str, guest: &str) -> bool {
    string_literals(src).iter().any(|l| is_named(l, guest))
}

/// The top-level `tests/` directory.
fn tests_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests");
    dir.canonicalize().unwrap_or(dir)
}

/// Every `.rs` file under `tests/` but this one, with its string literals,
/// read once per run.
fn test_sources() -> &'static [(PathBuf, Vec<String>)] {
    static SOURCES: OnceLock<Vec<(PathBuf, Vec<String>)>> = OnceLock::new();
    SOURCES.get_or_init(|| {
        let mut files = Vec::new();
        rust_files(&tests_dir(), &mut files);
        assert!(
            !files.is_empty(),
            "no .rs files under {}",
            tests_dir().display()
        );
        files
            .into_iter()
            .filter_map(|path| {
                let src = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
                // This file names no guest for real, only test text.
                (src != include_str!("guests.rs")).then(|| (path, string_literals(&src)))
            })
            .collect()
    })
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The string literals of Rust source `src` (plain, byte and raw), in order,
/// with `\"` and `\\` unescaped; comments and char literals are skipped.
fn string_literals(src: &str) -> Vec<String> {
    let s = src.as_bytes();
    let mut literals = Vec::new();
    let mut i = 0;
    while i < s.len() {
        i = match s[i] {
            b'/' if s.get(i + 1) == Some(&b'/') => s[i..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(s.len(), |n| i + n),
            b'/' if s.get(i + 1) == Some(&b'*') => block_comment_end(s, i),
            b'"' => {
                let (literal, end) = quoted(s, i + 1);
                literals.push(literal);
                end
            }
            b'r' if raw_prefix(s, i) => {
                let hashes = s[i + 1..].iter().take_while(|&&b| b == b'#').count();
                if s.get(i + 1 + hashes) == Some(&b'"') {
                    let (literal, end) = raw(s, i + 2 + hashes, hashes);
                    literals.push(literal);
                    end
                } else {
                    i + 1
                }
            }
            b'\'' => char_end(s, i),
            _ => i + 1,
        };
    }
    literals
}

/// Whether the `r` at `i` starts a raw string's prefix (`r`, `br`, `cr`)
/// rather than ending an identifier.
fn raw_prefix(s: &[u8], i: usize) -> bool {
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let start = s[..i].iter().rposition(|&b| !ident(b)).map_or(0, |p| p + 1);
    matches!(&s[start..i], b"" | b"b" | b"c")
}

/// A plain string's text from `start` (after its `"`), and the index after
/// its closing `"`.
fn quoted(s: &[u8], start: usize) -> (String, usize) {
    let mut text = Vec::new();
    let mut i = start;
    while i < s.len() && s[i] != b'"' {
        if s[i] == b'\\' && matches!(s.get(i + 1), Some(b'"' | b'\\')) {
            i += 1;
        } else if s[i] == b'\\' && i + 1 < s.len() {
            text.push(s[i]);
            i += 1;
        }
        text.push(s[i]);
        i += 1;
    }
    (String::from_utf8_lossy(&text).into_owned(), i + 1)
}

/// A raw string's text from `start` (after its `"`), closed by `"` and
/// `hashes` `#`s, and the index after them.
fn raw(s: &[u8], start: usize, hashes: usize) -> (String, usize) {
    let mut i = start;
    while i < s.len() {
        if s[i] == b'"'
            && s[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&b| b == b'#')
                .count()
                == hashes
        {
            return (
                String::from_utf8_lossy(&s[start..i]).into_owned(),
                i + 1 + hashes,
            );
        }
        i += 1;
    }
    (String::from_utf8_lossy(&s[start..]).into_owned(), s.len())
}

/// The index after the block comment at `i`, nested ones included.
fn block_comment_end(s: &[u8], mut i: usize) -> usize {
    let mut depth = 0;
    while i < s.len() {
        if s[i..].starts_with(b"/*") {
            depth += 1;
            i += 2;
        } else if s[i..].starts_with(b"*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    s.len()
}

/// The index after the char literal at `i` (`'x'`, `'\n'`, `'\''`), or after
/// the `'` alone when it starts a lifetime or a label.
fn char_end(s: &[u8], i: usize) -> usize {
    if s.get(i + 1) == Some(&b'\\') {
        // Skip the escaped char, then find the closing quote.
        return s[i + 3..]
            .iter()
            .position(|&b| b == b'\'')
            .map_or(s.len(), |n| i + 3 + n + 1);
    }
    // One char, however many bytes its UTF-8 takes, then the closing quote.
    let width = match s.get(i + 1) {
        Some(&b) if b >= 0xf0 => 4,
        Some(&b) if b >= 0xe0 => 3,
        Some(&b) if b >= 0xc0 => 2,
        _ => 1,
    };
    if s.get(i + 1 + width) == Some(&b'\'') {
        i + 2 + width
    } else {
        i + 1
    }
}
