//! How the process speaks on stderr, as the top-level flags say: notices
//! only without `--quiet`, `error:` and `warning:` in color only when
//! `--color` (and `NO_COLOR`, and whether stderr is a terminal) allow it.

use std::fmt::Display;
use std::io::{self, Write};

/// `error:` in bold red, as cargo and ripgrep color it.
const ERROR_COLORED: &str = "\x1b[1;31merror:\x1b[0m";
/// `warning:` in bold yellow.
const WARNING_COLORED: &str = "\x1b[1;33mwarning:\x1b[0m";

/// The stderr settings of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Console {
    quiet: bool,
    color: bool,
}

impl Console {
    /// Settings given outright.
    pub(crate) fn new(quiet: bool, color: bool) -> Console {
        Console { quiet, color }
    }

    /// Whether notices are left out.
    pub(crate) fn quiet(self) -> bool {
        self.quiet
    }

    /// The prefix of an error message.
    pub(crate) fn error_prefix(self) -> &'static str {
        if self.color { ERROR_COLORED } else { "error:" }
    }

    /// The prefix of a warning.
    pub(crate) fn warning_prefix(self) -> &'static str {
        if self.color {
            WARNING_COLORED
        } else {
            "warning:"
        }
    }

    /// Writes a notice (not a warning: something the user may want to
    /// know, never something wrong) to `stderr`, unless quiet.
    pub(crate) fn notice(self, stderr: &mut impl Write, message: impl Display) {
        if !self.quiet {
            // A notice that cannot be written has nowhere else to go.
            let _ = writeln!(stderr, "{message}");
        }
    }

    /// Writes `warning: message` to the process's stderr, quiet or not:
    /// something a cron job's log must show.
    pub(crate) fn warning(self, message: impl Display) {
        let _ = writeln!(io::stderr(), "{} {message}", self.warning_prefix());
    }

    /// Writes `error: message` to the process's stderr.
    pub(crate) fn error(self, message: impl Display) {
        // If stderr is gone too, the exit code is all that is left.
        let _ = writeln!(io::stderr(), "{} {message}", self.error_prefix());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_leaves_notices_out() {
        let mut stderr = Vec::new();
        Console::new(true, false).notice(&mut stderr, "sandbox");
        assert!(stderr.is_empty());
        Console::new(false, false).notice(&mut stderr, "sandbox");
        assert_eq!(stderr, b"sandbox\n");
        assert!(Console::new(true, false).quiet());
        assert!(!Console::new(false, true).quiet());
    }

    #[test]
    fn prefixes_are_colored_only_when_color_is_on() {
        assert_eq!(Console::new(false, false).error_prefix(), "error:");
        assert_eq!(Console::new(false, false).warning_prefix(), "warning:");
        assert_eq!(
            Console::new(false, true).error_prefix(),
            "\x1b[1;31merror:\x1b[0m"
        );
        assert_eq!(
            Console::new(false, true).warning_prefix(),
            "\x1b[1;33mwarning:\x1b[0m"
        );
    }
}
