//! An error in an experiment file, rendered as one line that names the
//! file, the line and the field; and the parse that makes them.

use std::ops::Range;
use std::path::Path;

use super::FileDoc;

/// An error in an experiment file, at a place in it.
#[derive(Debug)]
pub struct FileError {
    /// What is wrong, in words.
    pub message: String,
    /// Where in the file, when known.
    pub span: Option<Range<usize>>,
}

impl FileError {
    /// An error at `span`.
    pub fn at(span: Range<usize>, message: impl Into<String>) -> FileError {
        FileError {
            message: message.into(),
            span: Some(span),
        }
    }

    /// One line: `FILE:LINE: field `key`: message`.
    pub fn render(&self, path: &Path, text: &str) -> String {
        let message = self.message.replace('\n', " ");
        let Some(span) = &self.span else {
            return format!("{}: {message}", path.display());
        };
        let start = span.start.min(text.len());
        let line_no = text[..start].matches('\n').count() + 1;
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        // The key nearest before the error on its line: `loss` in
        // `both = { loss = "130%" }`.
        let before = &text[line_start..start];
        let before = if before.trim().is_empty() {
            text[line_start..].lines().next().unwrap_or("")
        } else {
            before
        };
        let field = before.rsplit_once('=').and_then(|(keys, _)| {
            let key = keys
                .trim_end()
                .rsplit(|c: char| c.is_whitespace() || c == '{' || c == ',')
                .next()?;
            (!key.is_empty() && !key.starts_with('[')).then_some(key)
        });
        match field {
            Some(key) if !message.contains(&format!("`{key}`")) => {
                format!("{}:{line_no}: field `{key}`: {message}", path.display())
            }
            _ => format!("{}:{line_no}: {message}", path.display()),
        }
    }
}

/// Parse the text of an experiment file.
pub fn parse(text: &str) -> Result<FileDoc, FileError> {
    toml::from_str::<FileDoc>(text).map_err(|e| FileError {
        message: e.message().trim().to_string(),
        span: e.span(),
    })
}
