//! Files and directories that hold account data or secrets (the data directory, backups, the
//! admin token, plugin artifacts) are readable by their owner only, from creation on: a mode set
//! afterwards leaves a window, and an error ignored there leaves the file open to everyone.

use std::fs::OpenOptions;
use std::path::Path;

/// Makes files these options create owner-only (`0600` on Unix; other systems keep their default).
pub fn file(opts: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

/// Creates `dir` and its missing parents, each new one owner-only (`0700` on Unix).
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}
