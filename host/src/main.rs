//! The `plaza` binary.

// sled allocates and frees a node copy on nearly every write, and glibc's allocator spent about
// 15% of the inbound path's instructions on it (callgrind); mimalloc does the same work in less.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    plaza_host::cli::main()
}
