//! Wire types shared by the CLI and the server (the Gryt Cloud API v1 and its extensions).
