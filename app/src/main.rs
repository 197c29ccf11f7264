//! The `ledgerly` command; all of it lives in the `ledgerly` library, which
//! the fuzz targets link too.

use std::process::ExitCode;

fn main() -> ExitCode {
    ledgerly::run()
}
