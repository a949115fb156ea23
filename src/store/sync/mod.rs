//! The SQL of sync: finding records by their client or server ids, applying the server's
//! copies, the base (last synced copy), conflicts, the journal of pending work and the log.
//! Every function runs inside the caller's transaction.

mod conflicts;
mod evolutions;
mod journal;
mod records;
mod refused;
mod status;

pub use conflicts::*;
pub use evolutions::*;
pub use journal::*;
pub use records::*;
pub use refused::*;
pub use status::*;

use crate::error::Result;
use crate::store::{self, GenerationRecord};
use gryt_core::api as wire;
use gryt_core::merge::{Conflict, GenerationContent};
use gryt_core::GenerationStatus;
use rusqlite::{params, Connection, OptionalExtension};

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}
