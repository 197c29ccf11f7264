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

/// How many distinct unknown tier names are warned about by name.
pub(crate) const MAX_WARNED_TIERS: usize = 20;

/// How much of an unknown tier name a warning shows.
const MAX_SHOWN_NAME: usize = 64;

/// The name as a warning shows it: quoted and escaped, cut after
/// [`MAX_SHOWN_NAME`] characters with its full length said.
fn shown_name(name: &str) -> String {
    let count = name.chars().count();
    if count <= MAX_SHOWN_NAME {
        return format!("{name:?}");
    }
    let cut: String = name.chars().take(MAX_SHOWN_NAME).collect();
    format!("{cut:?}… ({count} characters)")
}

/// A fixed hash of a whole name: the same name is warned about once,
/// without keeping its text.
fn name_key(name: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(name)
}

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
    /// The names warned about, by a hash of the whole name (at most
    /// [`MAX_WARNED_TIERS`] of them, however long the names are).
    warned_tiers: HashSet<u64>,
    /// Invoices whose unknown tier name was past the cap.
    unshown_invoices: u64,
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
            unshown_invoices: 0,
            warning: "warning:",
        }
    }

    /// Warns about each unknown tier name not warned about before, with how
    /// many invoices had it: the first [`MAX_WARNED_TIERS`] names each get a
    /// warning (a long name cut to [`MAX_SHOWN_NAME`] characters); the
    /// invoices of any other name are counted for one last warning
    /// ([`Diagnostics::finish`]), so neither memory nor stderr grows with
    /// the number of distinct names.
    pub(crate) fn unknown_tiers(&mut self, names: &[(String, u64)]) {
        for (name, invoices) in names {
            let key = name_key(name);
            if self.warned_tiers.contains(&key) {
                continue;
            }
            if self.warned_tiers.len() >= MAX_WARNED_TIERS {
                self.unshown_invoices = self.unshown_invoices.saturating_add(*invoices);
                continue;
            }
            self.warned_tiers.insert(key);
            self.clear();
            // A warning that cannot be written has nowhere else to go.
            let _ = writeln!(
                self.stderr,
                "{} unknown tier {} applies no discount",
                self.warning,
                shown_name(name)
            );
        }
    }

    /// Ends the run's diagnostics: clears the progress line and says how
    /// many invoices had an unknown tier name that was not shown.
    pub(crate) fn finish(&mut self) {
        self.clear();
        if self.unshown_invoices > 0 {
            let _ = writeln!(
                self.stderr,
                "{} {} more invoice(s) had unknown tier names beyond the first {MAX_WARNED_TIERS} shown; each applied no discount",
                self.warning, self.unshown_invoices
            );
            self.unshown_invoices = 0;
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
        diagnostics.unknown_tiers(&[("platinum".to_owned(), 1), ("Gold".to_owned(), 1)]);
        diagnostics.unknown_tiers(&[("platinum".to_owned(), 3), ("diamond".to_owned(), 1)]);
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
        diagnostics.unknown_tiers(&[("a\"\x1b".to_owned(), 1)]);
        assert_eq!(
            String::from_utf8(diagnostics.into_inner()).unwrap(),
            "warning: unknown tier \"a\\\"\\u{1b}\" applies no discount\n"
        );
    }

    #[test]
    fn no_progress_line_unless_asked_or_for_a_batch_shorter_than_the_interval() {
        for (case, asked, interval) in [
            ("no_progress_line_unless_asked", false, Duration::ZERO),
            (
                "a_batch_shorter_than_the_interval_shows_no_progress",
                true,
                Duration::from_secs(3600),
            ),
        ] {
            let mut diagnostics = Diagnostics::new(Vec::new(), asked, interval);
            diagnostics.progress(10);
            diagnostics.clear();
            assert!(diagnostics.into_inner().is_empty(), "{case}");
        }
    }

    #[test]
    fn progress_is_drawn_then_cleared_before_a_warning() {
        let mut diagnostics = Diagnostics::new(Vec::new(), true, Duration::ZERO);
        diagnostics.progress(10);
        diagnostics.progress(20);
        diagnostics.unknown_tiers(&[("platinum".to_owned(), 1)]);
        diagnostics.clear();
        assert_eq!(
            String::from_utf8(diagnostics.into_inner()).unwrap(),
            "\rledgerly: 10 invoices priced\rledgerly: 20 invoices priced\r\x1b[2K\
             warning: unknown tier \"platinum\" applies no discount\n"
        );
    }

    #[test]
    fn warnings_stop_at_twenty_names_and_count_the_invoices_of_the_rest() {
        let mut diagnostics = Diagnostics::new(Vec::new(), false, Duration::ZERO);
        let names: Vec<(String, u64)> = (0..25).map(|n| (format!("t{n}"), 2)).collect();
        diagnostics.unknown_tiers(&names);
        diagnostics.unknown_tiers(&[("t0".to_owned(), 5), ("t24".to_owned(), 1)]);
        diagnostics.finish();
        let text = String::from_utf8(diagnostics.into_inner()).unwrap();
        assert_eq!(text.lines().count(), 21, "{text}");
        assert!(text.contains("\"t19\"") && !text.contains("\"t20\""));
        assert!(text.ends_with("warning: 11 more invoice(s) had unknown tier names beyond the first 20 shown; each applied no discount\n"), "{text}");
    }

    #[test]
    fn a_long_tier_name_is_cut_in_its_warning() {
        let mut diagnostics = Diagnostics::new(Vec::new(), false, Duration::ZERO);
        diagnostics.unknown_tiers(&[("x".repeat(1000), 1)]);
        let text = String::from_utf8(diagnostics.into_inner()).unwrap();
        assert_eq!(
            text,
            format!(
                "warning: unknown tier {:?}… (1000 characters) applies no discount\n",
                "x".repeat(64)
            )
        );
    }
}
