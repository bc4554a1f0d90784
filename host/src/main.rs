//! The `plaza` binary.

fn main() -> std::process::ExitCode {
    plaza_host::cli::main()
}
