//! The one error type callers branch on: bad input, which exits with code 2.
//!
//! Everything else is an `anyhow::Error` with context naming the guest, the
//! file and the operation; `main` only needs to tell "the user must change
//! the command" (2) from "the run itself went wrong" (1).

use std::fmt;

/// Input the user must fix: a missing file, a file that is not a component,
/// a component of the wrong role, an address that does not parse. The text
/// is one line that says what was wrong and what to do.
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Return early with a [`BadInput`] built like `format!`.
#[macro_export]
macro_rules! bad_input {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::error::BadInput(format!($($arg)*))))
    };
}
