//! The `ledgerly` command. A stub until the CLI issue lands.

fn main() {}
