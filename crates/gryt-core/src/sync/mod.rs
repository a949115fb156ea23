//! The sync planner: pure decisions of a pull and a push, taken from facts the caller loads
//! (the local record, the holders of the versions involved, pending journal entries,
//! conflicts) and returned as steps or outcomes the caller applies. No I/O here: the CLI
//! loads the facts from its store, applies the steps in one transaction and talks to the
//! server through its client. Every sync bug the model test found is a named case in the
//! tables of this module's tests (docs/reliability.md lists them).

pub mod pull;
pub mod push;

pub mod conflict;
pub mod local;
pub mod status;

pub use conflict::{ConflictCause, ConflictItem, NotApplied, PromotedHere};
pub use status::SyncStatus;
