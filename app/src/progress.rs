//! What a batch says on stderr: warnings, and a progress line while a long
//! batch runs when (and only when) stderr is a terminal and stdout is not
//! (records on the same screen would be broken up by it).
//!
//! The progress line is one counter redrawn in place a few times a second;
//! a progress-bar crate would add dependencies for a single line of text.

use std::collections::HashSet;
use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::console::Console;

/// How often the progress line is redrawn.
const REDRAW_EVERY: Duration = Duration::from_millis(200);

/// Warnings and progress of one batch on stderr.
pub(crate) struct Diagnostics<W> {
    stderr: W,
    /// Whether to draw a progress line at all.
    progress: bool,
    /// How long to wait before the first drawing and between two.
    interval: Duration,
    /// Whether a progress line is on screen and must be cleared first.
    drawn: bool,
    /// When the line was last drawn, or the batch started.
    last_drawn: Instant,
    warned_tiers: HashSet<String>,
    /// `warning:`, colored or not.
    warning: &'static str,
}

impl Diagnostics<io::Stderr> {
    /// Diagnostics on the process's stderr, with progress only when stderr
    /// is a terminal and stdout is not, and the run is not quiet.
    pub(crate) fn stderr(console: Console) -> Self {
        let stderr = io::stderr();
        let progress = !console.quiet() && stderr.is_terminal() && !io::stdout().is_terminal();
        let mut diagnostics = Diagnostics::new(stderr, progress, REDRAW_EVERY);
        diagnostics.warning = console.warning_prefix();
        diagnostics
    }
}

impl<W: Write> Diagnostics<W> {
    /// Diagnostics on `stderr`; `progress` turns the progress line on, drawn
    /// first after `interval` and then at most once per `interval`, so a
    /// short batch shows none.
    pub(crate) fn new(stderr: W, progress: bool, interval: Duration) -> Self {
        Diagnostics {
            stderr,
            progress,
            interval,
            drawn: false,
            last_drawn: Instant::now(),
            warned_tiers: HashSet::new(),
            warning: "warning:",
        }
    }

    /// Warns about each tier name not warned about before.
    pub(crate) fn unknown_tiers(&mut self, names: &[String]) {
        for name in names {
            if self.warned_tiers.contains(name) {
                continue;
            }
            self.warned_tiers.insert(name.clone());
            self.clear();
            // A warning that cannot be written has nowhere else to go.
            let _ = writeln!(
                self.stderr,
                "{} unknown tier {name:?} applies no discount",
                self.warning
            );
        }
    }

    /// Shows how many invoices are done, at most once per interval.
    pub(crate) fn progress(&mut self, invoices: u64) {
        if !self.progress {
            return;
        }
        let now = Instant::now();
        if now.duration_since(self.last_drawn) < self.interval {
            return;
        }
        self.last_drawn = now;
        self.drawn = true;
        let _ = write!(self.stderr, "\r{}", progress_line(invoices));
        let _ = self.stderr.flush();
    }

    /// Removes the progress line, if one is shown.
    pub(crate) fn clear(&mut self) {
        if self.drawn {
            self.drawn = false;
            let _ = write!(self.stderr, "\r\x1b[2K");
            let _ = self.stderr.flush();
        }
    }

    /// The stderr writer, for tests.
    #[cfg(test)]
    fn into_inner(self) -> W {
        self.stderr
    }
}

/// The text of the progress line.
fn progress_line(invoices: u64) -> String {
    format!("ledgerly: {invoices} invoices priced")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_once_per_unknown_tier_name_in_order() {
        let mut diagnostics = Diagnostics::new(Vec::new(), false, Duration::ZERO);
        diagnostics.unknown_tiers(&["platinum".to_owned(), "Gold".to_owned()]);
        diagnostics.unknown_tiers(&["platinum".to_owned(), "diamond".to_owned()]);
        assert_eq!(
            String::from_utf8(diagnostics.into_inner()).unwrap(),
            "warning: unknown tier \"platinum\" applies no discount\n\
             warning: unknown tier \"Gold\" applies no discount\n\
             warning: unknown tier \"diamond\" applies no discount\n"
        );
    }

    #[test]
    fn tier_names_are_escaped_in_warnings() {
        let mut diagnostics = Diagnostics::new(Vec::new(), false, Duration::ZERO);
        diagnostics.unknown_tiers(&["a\"\x1b".to_owned()]);
        assert_eq!(
            String::from_utf8(diagnostics.into_inner()).unwrap(),
            "warning: unknown tier \"a\\\"\\u{1b}\" applies no discount\n"
        );
    }

    #[test]
    fn no_progress_line_unless_asked() {
        let mut diagnostics = Diagnostics::new(Vec::new(), false, Duration::ZERO);
        diagnostics.progress(10);
        diagnostics.clear();
        assert!(diagnostics.into_inner().is_empty());
    }

    #[test]
    fn progress_is_drawn_then_cleared_before_a_warning() {
        let mut diagnostics = Diagnostics::new(Vec::new(), true, Duration::ZERO);
        diagnostics.progress(10);
        diagnostics.progress(20);
        diagnostics.unknown_tiers(&["platinum".to_owned()]);
        diagnostics.clear();
        assert_eq!(
            String::from_utf8(diagnostics.into_inner()).unwrap(),
            "\rledgerly: 10 invoices priced\rledgerly: 20 invoices priced\r\x1b[2K\
             warning: unknown tier \"platinum\" applies no discount\n"
        );
    }

    #[test]
    fn a_batch_shorter_than_the_interval_shows_no_progress() {
        let mut diagnostics = Diagnostics::new(Vec::new(), true, Duration::from_secs(3600));
        diagnostics.progress(10);
        diagnostics.clear();
        assert!(diagnostics.into_inner().is_empty());
    }
}
