//! The payment gateway trait and its test-mode fake. This crate is a stub
//! until its issue lands.
