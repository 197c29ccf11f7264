//! SIGINT and SIGTERM: a stopped run ends on a record boundary.
//!
//! The handlers only record which signal arrived (signal-hook, so no unsafe
//! code of ours). The writers check between records: whatever was written
//! is whole records, the output is flushed, and the process exits with the
//! conventional 128 + signal (130 for SIGINT, 143 for SIGTERM). A second
//! signal while the first is being honoured stops the process at once.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use signal_hook::consts::{SIGINT, SIGTERM};

/// The number of the signal that asked the run to stop (0 while none has),
/// shared with the handlers once they are installed.
static RECEIVED: OnceLock<Arc<AtomicUsize>> = OnceLock::new();

/// Installs the handlers. Without them (unit tests, or if installing
/// fails) a signal keeps its default action.
pub(crate) fn install() {
    let received = Arc::clone(RECEIVED.get_or_init(|| Arc::new(AtomicUsize::new(0))));
    let stopping = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so a second signal finds the flag the first set.
        let _ = signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, Arc::clone(&stopping));
        let _ = signal_hook::flag::register(signal, Arc::clone(&stopping));
        let number = usize::try_from(signal).unwrap_or(0);
        let _ = signal_hook::flag::register_usize(signal, Arc::clone(&received), number);
    }
}

/// The signal that asked the run to stop, if one has.
pub(crate) fn received() -> Option<i32> {
    let signal = RECEIVED.get().map_or(0, |received| received.load(Ordering::Relaxed));
    i32::try_from(signal).ok().filter(|&signal| signal != 0)
}

/// If a signal asked the run to stop: flushes `out` (which holds only
/// whole records) and exits with 128 + the signal. The writers call it
/// between records.
pub(crate) fn stop_if_asked(out: &mut impl Write) {
    if let Some(signal) = received() {
        let _ = out.flush();
        let _ = io::stderr().flush();
        std::process::exit(128 + signal);
    }
}
