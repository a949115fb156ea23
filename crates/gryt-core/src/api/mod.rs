//! Everything on the wire of the gryt server API (the Gryt Cloud API v1 and its extensions),
//! written once and used by both the CLI's client and the server.
//!
//! - [`records`]: generations, evolutions, the sync feed, and their conversions to the domain;
//! - [`accounts`]: accounts, API keys, teams and members, whoami;
//! - [`pipeline`]: pipeline runs;
//! - [`batch`]: `POST /api/v1/sync/batch` with its operation names typed ([`BatchOpKind`]);
//! - [`problem`]: the problem+json error body and its typed `code` ([`ErrorCode`]);
//! - [`routes`]: one builder per route, next to the path pattern the server routes on;
//! - [`signing`]: the canonical message an HMAC-signed request signs.
//!
//! Request types are lenient: unknown fields are ignored (the reference client leaks its own
//! bookkeeping such as `sync_status` and `remote_id` into bodies). Response types carry every
//! field the reference client reads plus the extensions (`rev`, `seq`, `deleted`, `project`).
//! See docs/api.md for the routes that use them.

pub mod accounts;
pub mod batch;
pub mod pipeline;
pub mod problem;
pub mod records;
pub mod routes;
pub mod signing;

pub use accounts::*;
pub use batch::{BatchBody, BatchOp, BatchOpKind, BatchRequest, BatchResponse, BatchResult};
pub use pipeline::*;
pub use problem::{ErrorBody, ErrorCode};
pub use records::*;
