//! Layered configuration and the process environment, read in this one module.
//!
//! Layers, lowest first: built-in defaults, the global file
//! (`$GRYT_CONFIG_DIR/config`, else `<user config dir>/gryt/config`), the repository's
//! `.gryt/config`, then `GRYT_*` environment variables. The repository is shared: its layer
//! holds only the shared keys (`gryt_url`, `team`, `project`, `execution_mode`); who you are
//! and your credentials are personal and never come from it.
//!
//! Secrets live only in `<config dir>/credentials` (mode 0600, never in the repository),
//! bound to the server they were stored for: `gryt cloud login` stores them under
//! `servers:` keyed by the server's normalised origin and base path, and they are sent only
//! to that server. Unbound credentials (the top-level `password`/`api_key_secret` of older
//! versions, `api_key_secret` written by `gryt config --global api_key_secret -`, and
//! `GRYT_API_KEY_*`/`GRYT_PASSWORD` from the environment) go only to the user's own server:
//! the global `gryt_url` or `GRYT_URL`, never to a URL only the repository names. No
//! password is ever written: `gryt config password VALUE` is refused.
//!
//! - `env.rs`: the process environment, the working directory and the wall clock: the only
//!   reads of them in the CLI (clippy.toml's `disallowed-methods`, turned on in lib.rs,
//!   allowed on those functions alone).
//! - `keys.rs`: the keys gryt knows, where a value came from, validation, project names.
//! - `url.rs`: server URLs: the key credentials are bound to, user information stripped or
//!   masked.
//! - `layered.rs`: [`Config`], the layers merged, HTTP limits, config files.
//! - `credentials.rs`: the credentials file and the credentials sent to a server.

mod credentials;
mod env;
mod keys;
mod layered;
mod url;

pub use credentials::*;
pub use env::*;
pub use keys::*;
pub use layered::*;
pub use url::*;
