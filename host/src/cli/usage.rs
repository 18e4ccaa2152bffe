//! Usage errors as one line that names the argument and the cause, built
//! from what clap knows about the error (its kind and context), never from
//! its rendered text.
//!
//! `socklab` alone, or a command without its subcommand, prints the help
//! with the list of commands instead.

use std::ffi::OsString;

use clap::CommandFactory;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use super::args::Cli;

/// What to do with a command line clap refused.
pub enum Refusal {
    /// Help or version asked for: clap prints it and exits 0.
    Shown,
    /// Print this (the help) on stderr and exit 2.
    Help(String),
    /// Print this one line on stderr and exit 2.
    Line(String),
}

/// Explain `e`, an error clap gave for the command line `argv`.
pub fn explain(e: &clap::Error, argv: &[OsString]) -> Refusal {
    let sub = subcommand_of(argv);
    let see = match &sub {
        Some(s) => format!("see `socklab {s} --help`"),
        None => "see `socklab --help`".to_string(),
    };
    let arg = || context(e, ContextKind::InvalidArg).unwrap_or_default();
    let value = || context(e, ContextKind::InvalidValue).unwrap_or_default();
    let line = match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => return Refusal::Shown,
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
            return Refusal::Help(help_of(sub.as_deref()));
        }
        ErrorKind::ValueValidation => {
            let why = std::error::Error::source(e).map_or(String::new(), |s| format!(": {s}"));
            format!("invalid value '{}' for '{}'{why}", value(), arg())
        }
        ErrorKind::InvalidValue if value().is_empty() => {
            format!("'{}' needs a value", arg())
        }
        ErrorKind::InvalidValue => {
            let valid = context(e, ContextKind::ValidValue).unwrap_or_default();
            format!(
                "invalid value '{}' for '{}'; the values it takes: {valid}",
                value(),
                arg()
            )
        }
        ErrorKind::UnknownArgument => {
            let mut line = format!("unexpected argument '{}'", arg());
            if let Some(s) = context(e, ContextKind::SuggestedArg) {
                line.push_str(&format!("; did you mean '{s}'?"));
            }
            line
        }
        ErrorKind::InvalidSubcommand => {
            let mut line = format!(
                "unknown command '{}'",
                context(e, ContextKind::InvalidSubcommand).unwrap_or_default()
            );
            if let Some(s) = context(e, ContextKind::SuggestedSubcommand) {
                line.push_str(&format!("; did you mean '{s}'?"));
            }
            line.push_str(&format!("; the commands are {}", commands().join(", ")));
            line
        }
        ErrorKind::MissingRequiredArgument => {
            format!("missing {}", arg())
        }
        ErrorKind::ArgumentConflict => {
            let prior = context(e, ContextKind::PriorArg).unwrap_or_default();
            format!("'{}' cannot be used with '{prior}'", arg())
        }
        ErrorKind::InvalidUtf8 => invalid_utf8(argv),
        ErrorKind::TooManyValues | ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => {
            format!("wrong number of values for '{}'", arg())
        }
        ErrorKind::NoEquals => format!("'{}' takes its value after `=`", arg()),
        other => match context(e, ContextKind::InvalidArg) {
            Some(arg) => format!("{other} ('{arg}')"),
            None => other.to_string(),
        },
    };
    Refusal::Line(format!("error: {line} ({see})"))
}

/// A context value of `e` as text: lists joined with `, `.
fn context(e: &clap::Error, kind: ContextKind) -> Option<String> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => Some(v.join(", ")),
        ContextValue::StyledStr(s) => Some(s.to_string()),
        ContextValue::StyledStrs(v) => Some(
            v.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ContextValue::Number(n) => Some(n.to_string()),
        ContextValue::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// socklab's commands, as `socklab --help` lists them.
fn commands() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .filter(|c| c.get_name() != "help")
        .map(|c| c.get_name().to_string())
        .collect()
}

/// The first word of `argv` (after the program) that names a command.
fn subcommand_of(argv: &[OsString]) -> Option<String> {
    let names = commands();
    argv.iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .find(|a| names.iter().any(|n| n == a))
        .map(str::to_string)
}

/// The help of `sub`, or of socklab itself, with its list of commands.
fn help_of(sub: Option<&str>) -> String {
    let mut command = Cli::command();
    if let Some(found) = sub.and_then(|s| command.find_subcommand_mut(s)) {
        return found.render_help().to_string();
    }
    command.render_help().to_string()
}

/// Which argument is not UTF-8: its position, and the flag it is the value
/// of when it follows one.
fn invalid_utf8(argv: &[OsString]) -> String {
    let Some(at) = argv.iter().position(|a| a.to_str().is_none()) else {
        return "an argument is not valid UTF-8".to_string();
    };
    let shown = argv[at].to_string_lossy();
    let of = match argv[..at].last().and_then(|a| a.to_str()) {
        Some(flag) if flag.starts_with('-') && at > 1 => format!(" (the value of {flag})"),
        _ => String::new(),
    };
    format!(
        "argument {at}{of} is not valid UTF-8 (`{shown}`); socklab takes its arguments as UTF-8 text"
    )
}
