//! The routes of the gryt server API the CLI calls. They are defined once, in gryt-core's
//! `api::routes` (each builder beside the path pattern the server routes on, a unit test
//! there checking they match); the client uses them from here. No `/api/v1/` path is
//! written anywhere in the CLI's sources (a unit test in src/layering.rs checks it).

pub use gryt_core::api::routes::*;
