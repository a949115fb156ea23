//! The handlers, by resource. Each reads its request (see [`crate::extract`]), runs one
//! use case of [`crate::logic`] or [`crate::accounts`] inside [`crate::app::App`]'s
//! transaction wrapper, and returns the answer or the refusal.

use crate::error::{ApiError, Resp};

/// What every handler returns: the answer, or why the request is refused.
pub type Answer = Result<Resp, ApiError>;

pub mod accounts;
pub mod api_keys;
pub mod evolutions;
pub mod generations;
pub mod health;
pub mod metrics;
pub mod pipeline_runs;
pub mod sync;
pub mod teams;
