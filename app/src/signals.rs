//! SIGINT and SIGTERM: a stopped run ends on a record boundary.
//!
//! The handlers only record which signal arrived (signal-hook, so no unsafe
//! code of ours). Output is written in [`writing`] sections, each of whole
//! records. A signal that arrives while no section is open ends the process
//! at once (a watcher thread sees it within 20 ms, even when the run is
//! waiting for input); one that arrives inside a section ends it as the
//! section closes ([`stop_if_asked`]). Either way stdout holds only whole
//! records, and the exit code is the conventional 128 + signal (130 for
//! SIGINT, 143 for SIGTERM). A second signal stops the process at once.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};

/// The number of the signal that asked the run to stop (0 while none has),
/// shared with the handlers once they are installed.
static RECEIVED: OnceLock<Arc<AtomicUsize>> = OnceLock::new();

/// How many [`writing`] sections are open.
static WRITING: AtomicUsize = AtomicUsize::new(0);

/// How often the watcher looks for a signal: the longest a stop waits
/// while the run is idle.
const WATCH_EVERY: Duration = Duration::from_millis(20);

/// Installs the handlers and the watcher. Without them (unit tests, or if
/// installing fails) a signal keeps its default action.
pub(crate) fn install() {
    let shared = Arc::clone(RECEIVED.get_or_init(|| Arc::new(AtomicUsize::new(0))));
    let stopping = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so a second signal finds the flag the first set.
        let _ = signal_hook::flag::register_conditional_shutdown(
            signal,
            128 + signal,
            Arc::clone(&stopping),
        );
        let _ = signal_hook::flag::register(signal, Arc::clone(&stopping));
        let number = usize::try_from(signal).unwrap_or(0);
        let _ = signal_hook::flag::register_usize(signal, Arc::clone(&shared), number);
    }
    let _ = thread::Builder::new().name("signals".to_owned()).spawn(|| {
        loop {
            thread::sleep(WATCH_EVERY);
            if let Some(signal) = received()
                && WRITING.load(Ordering::SeqCst) == 0
            {
                exit(signal);
            }
        }
    });
}

/// The signal that asked the run to stop, if one has.
pub(crate) fn received() -> Option<i32> {
    let signal = RECEIVED
        .get()
        .map_or(0, |received| received.load(Ordering::SeqCst));
    i32::try_from(signal).ok().filter(|&signal| signal != 0)
}

/// Runs `write`, which writes whole records, as a section a signal does
/// not cut: the process stops before it or after it, never inside.
pub(crate) fn writing<T>(write: impl FnOnce() -> T) -> T {
    WRITING.fetch_add(1, Ordering::SeqCst);
    let result = write();
    WRITING.fetch_sub(1, Ordering::SeqCst);
    result
}

/// If a signal asked the run to stop: flushes `out` (which holds only
/// whole records) and exits with 128 + the signal. Called after a
/// [`writing`] section.
pub(crate) fn stop_if_asked(out: &mut impl Write) {
    if let Some(signal) = received() {
        let _ = out.flush();
        exit(signal);
    }
}

fn exit(signal: i32) -> ! {
    let _ = io::stderr().flush();
    std::process::exit(128 + signal)
}
