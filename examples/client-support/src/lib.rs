//! What the example clients (`switchyard-tftp`, `-chat`, `-files`, `-bulk`) share, so
//! that a user types a server the same way to each and sees the same progress bar.
//!
//! It depends on no part of Switchyard: clients never link the runtime, and a client
//! needs nothing here that a server has.

pub mod addr;
pub mod progress;
