//! Configuration errors. Each names the variable (or env-file line), the
//! rejected value and what would have been accepted, so an operator can fix
//! ecs.config from the message alone.

use std::fmt;

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A variable holds a value outside what it accepts.
    #[error("{variable}={value:?}: expected {expected}")]
    Invalid {
        variable: &'static str,
        value: String,
        expected: String,
    },
    /// Like `Invalid`, for variables holding secrets: the value is never echoed.
    #[error("{variable}=<redacted>: expected {expected}")]
    InvalidSecret {
        variable: &'static str,
        expected: String,
    },
    /// One of a pair of variables that only make sense together is set.
    #[error("{set} is set but {missing} is not: set both or neither")]
    Incomplete {
        set: &'static str,
        missing: &'static str,
    },
    /// No region anywhere: not set, and no EC2 instance identity document
    /// (off EC2, or AWS_EC2_METADATA_DISABLED) to take it from.
    #[error(
        "AWS_DEFAULT_REGION is not set (nor AWS_REGION) and EC2 instance metadata gave no region \
         (not on EC2, or AWS_EC2_METADATA_DISABLED): expected a region such as us-west-2"
    )]
    MissingRegion,
    /// A line of the env file that is not `KEY=VALUE`.
    #[error("line {line}: {problem}")]
    EnvFile {
        line: usize,
        problem: EnvFileProblem,
    },
    /// Several of the above; all are reported at once so one edit fixes all.
    #[error("{}", DisplayMany(.0))]
    Multiple(Vec<ConfigError>),
}

impl ConfigError {
    /// The individual errors, whether or not they were grouped.
    pub fn errors(&self) -> Vec<&ConfigError> {
        match self {
            ConfigError::Multiple(all) => all.iter().collect(),
            single => vec![single],
        }
    }

    /// The variable this error is about, if it is about a single one.
    pub fn variable(&self) -> Option<&'static str> {
        match self {
            ConfigError::Invalid { variable, .. } | ConfigError::InvalidSecret { variable, .. } => {
                Some(variable)
            }
            ConfigError::Incomplete { set, .. } => Some(set),
            ConfigError::MissingRegion => Some("AWS_DEFAULT_REGION"),
            ConfigError::EnvFile { .. } | ConfigError::Multiple(_) => None,
        }
    }
}

/// What is wrong with one env-file line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvFileProblem {
    #[error("expected KEY=VALUE, found no '='")]
    MissingEquals,
    #[error(
        "invalid variable name {0:?}: expected letters, digits and underscores, not starting with a digit"
    )]
    InvalidKey(String),
    #[error("unterminated {0} quote in value")]
    UnterminatedQuote(&'static str),
    #[error("unexpected text after the closing quote")]
    TextAfterQuote,
}

struct DisplayMany<'a>(&'a [ConfigError]);

impl fmt::Display for DisplayMany<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} configuration errors:", self.0.len())?;
        for e in self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

/// A value that was accepted but changed, as the Go agent does (e.g. a stop
/// timeout below its minimum is raised to the minimum). Returned to the caller
/// to log, since this module does no I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub variable: &'static str,
    pub value: String,
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}: {}", self.variable, self.value, self.message)
    }
}
