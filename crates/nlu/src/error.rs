//! Errors of the library. Operators' files produce [`Problem`]s that name the file,
//! the line and what to fix; everything else is an [`Error`] variant.

use std::fmt;
use std::path::PathBuf;

/// One thing wrong in an operator's file, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, as the operator knows it (e.g. `intents/stock.toml`).
    pub file: String,
    /// 1-based line, or 0 when the problem is about the file as a whole.
    pub line: usize,
    /// What is wrong, and where possible how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(f, "{}: {}", self.file, self.message)
        }
    }
}

/// A list of problems, reported together so an operator fixes them in one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl Problems {
    /// Records a problem.
    pub fn push(&mut self, file: &str, line: usize, message: impl Into<String>) {
        self.0.push(Problem {
            file: file.to_string(),
            line,
            message: message.into(),
        });
    }
    /// True when nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Errors of the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Operators' files (intents, replies, aliases) are invalid.
    #[error("{count} problem(s) in the intent and reply files:\n{problems}", count = .problems.0.len())]
    Files {
        /// Every problem found.
        problems: Problems,
    },
    /// The configuration could not be read or has invalid values.
    #[error("configuration: {0}")]
    Config(String),
    /// A folder or file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// What was being read.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A folder named on the command line is missing.
    #[error("{}: no such folder of {what} files", path.display())]
    NoFolder {
        /// The folder.
        path: PathBuf,
        /// `intent` or `reply`.
        what: &'static str,
    },
    /// The example index could not be built.
    #[error("building the example index: {0}")]
    Index(#[from] tantivy::TantivyError),
}

/// Result with the library's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// 1-based line of a byte offset in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
