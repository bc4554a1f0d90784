//! The `plaza` binary's exact entry point, built inside this package so the end-to-end tests can
//! spawn it by path (`CARGO_BIN_EXE_plaza-under-test`).

fn main() -> std::process::ExitCode {
    plaza_host::cli::main()
}
