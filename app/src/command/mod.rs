//! The commands of the reference-book workflow: `rates`, `sample` and
//! `diff`. Each module owns its clap `Args` and its `run`.

pub(crate) mod diff;
pub(crate) mod rates;
pub(crate) mod sample;
