//! `gryt server` without the rest of the CLI (for trying the server alone):
//!
//!     cargo run -p gryt-server --example serve -- --listen 127.0.0.1:0 --database sqlite:/tmp/g.db
use clap::Parser;
use std::io::Write;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: gryt_server::cli::ServerArgs,
}

fn main() {
    let cli = Cli::parse();
    let code = match gryt_server::cli::run(cli.args) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "Error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}
