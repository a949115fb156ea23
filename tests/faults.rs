//! Faults between the CLI and the server, and bad input on the client's side (issue 5):
//! the shared fault-injecting proxy (`tests/support/`) between the real `gryt` binary and a
//! real `gryt_server::TestServer` (lost answers after commit, resets mid-body, stalls past the
//! client's timeout, 503 storms with and without `Retry-After`), a scripted fake server
//! for garbage answers, and a table of bad local inputs (config files, arguments, contract
//! files, database files). Each bad input must end with a clear `Error: ...`, its documented
//! exit code, no panic, and nothing changed.
//!
//! One integration test binary: every file under `tests/faults/` is a module listed here,
//! and `every_test_file_is_registered` fails when one is forgotten.

mod faults {
    pub mod harness;

    mod bad_answers;
    mod bad_local_input;
    mod client_limits;
    mod compression;
    mod dropped_response;
    mod in_flight;
    mod reset_and_stall;
    mod retry_after;
    mod storm;
}

mod support;

#[test]
fn every_test_file_is_registered() {
    support::registration::assert_every_file_registered(include_str!("faults.rs"), "faults");
}
