//! gryt-server
