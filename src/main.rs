//! gryt: contract-based releases. The binary is a thin shell around the library
//! (src/lib.rs): it runs the command line and exits with the documented exit code.

fn main() {
    std::process::exit(gryt::run());
}
