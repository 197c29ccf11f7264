//! Ledgerly's billing service: prices an invoice and collects it through a
//! payment gateway, exactly once. This crate is a stub until its issue lands.
