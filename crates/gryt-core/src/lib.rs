//! gryt's domain: versions, change ids, generations, evolutions, the rules that bind
//! them and the wire types shared by the CLI and the server.
//!
//! This crate does no I/O: no database, network, clock, randomness or environment.
//! Callers pass in times and ids; the rules are pure functions, so the server and the
//! CLI enforce exactly the same ones.

pub mod api;
pub mod change;
pub mod error;
pub mod evolution;
pub mod gate;
pub mod generation;
pub mod limits;
pub mod merge;
pub mod sync;
pub mod version;

pub use change::{Change, ChangeId, ChangeType};
pub use error::{CoreError, ErrorKind};
pub use evolution::{EvolutionStatus, RcTag};
pub use gate::{gate, ChangeProof, GateReport, Named, NamedProblem, Proof, Target};
pub use generation::{GenerationSpec, GenerationStatus};
pub use version::Version;
