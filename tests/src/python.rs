//! Real Python SDKs as test peers: a virtualenv under the target directory with
//! `tests/python/requirements.txt` installed, made on first use.
//!
//! `cargo test --workspace` must work on a fresh machine, so the tests make the environment
//! themselves instead of relying on something installed by hand. Test binaries run in parallel:
//! a file lock makes the first one build the environment and the others wait for it; a marker
//! holding the requirements' text makes a changed requirements file rebuild it.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::WORKSPACE_DIR;

/// The Python interpreter of the peers' virtualenv, ready to `import wechatpy`.
pub fn python() -> PathBuf {
    let requirements_path = Path::new(WORKSPACE_DIR).join("tests/python/requirements.txt");
    let requirements = std::fs::read_to_string(&requirements_path).expect("requirements.txt");
    let target = crate::plaza_bin()
        .parent()
        .and_then(Path::parent)
        .expect("target directory")
        .to_path_buf();
    let env = target.join("pyenv");
    let python = env.join("bin/python");
    let marker = env.join("plaza-requirements.txt");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(target.join("pyenv.lock"))
        .expect("pyenv lock file");
    let _guard = Locked::new(&lock);
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(requirements.as_str())
        && python.exists()
    {
        return python;
    }
    let _ = std::fs::remove_dir_all(&env);
    run(Command::new(system_python()).args(["-m", "venv"]).arg(&env));
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements_path));
    std::fs::write(&marker, &requirements).expect("write pyenv marker");
    python
}

/// Runs a Python script (path relative to `tests/python/`) with the peers' interpreter and
/// returns its standard output; panics with its standard error when it fails.
pub fn run_script(script: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(python())
        .arg(Path::new(WORKSPACE_DIR).join("tests/python").join(script))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{script} {args:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn system_python() -> &'static str {
    if Command::new("python3").arg("--version").output().is_ok() {
        "python3"
    } else {
        "python"
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An exclusive lock on a file, released on drop.
struct Locked<'a>(&'a File);

impl<'a> Locked<'a> {
    fn new(file: &'a File) -> Self {
        file.lock().expect("lock pyenv");
        Locked(file)
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}
