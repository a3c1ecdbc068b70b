//! The pid file: how whoever started a daemon finds it again (to stop it
//! with `kill $(cat poetryd.pid)`), and how a second start finds that one
//! is already running.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

/// What is at the pid file's path before we start.
pub enum Found {
    /// No file: the way is clear.
    Nothing,
    /// A file naming a process that is alive: another server, probably ours.
    Running(i32),
    /// A file naming no live process (it died without cleaning up), or
    /// holding no pid at all: it may be replaced.
    Stale(String),
}

// ANCHOR: check
/// Looks at `path`. A process is alive if a signal could be sent to it:
/// `kill(pid, 0)` sends nothing, and fails with `ESRCH` when there is no
/// such process (and with `EPERM` when there is one we may not signal,
/// which is alive all the same).
pub fn check(path: &Path) -> io::Result<Found> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Found::Nothing),
        Err(error) => return Err(error),
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return Ok(Found::Stale(format!("it holds no pid ({:?})", text.trim())));
    };
    if pid <= 0 {
        return Ok(Found::Stale(format!("it holds no pid ({pid})")));
    }
    match kill(Pid::from_raw(pid), None) {
        Ok(()) | Err(Errno::EPERM) => Ok(Found::Running(pid)),
        Err(_) => Ok(Found::Stale(format!("no process {pid} is running"))),
    }
}
// ANCHOR_END: check

/// The pid file of the running server: written when it is up, removed when
/// it is dropped, at the end of a clean shutdown.
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's pid to `path`, replacing what was there.
    pub fn write(path: &Path) -> io::Result<PidFile> {
        // Written whole under another name and then renamed, so that a
        // reader (the parent waiting for us) never sees half a number.
        let partial = path.with_extension("pid.partial");
        fs::write(&partial, format!("{}\n", std::process::id()))?;
        fs::rename(&partial, path)?;
        Ok(PidFile {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
