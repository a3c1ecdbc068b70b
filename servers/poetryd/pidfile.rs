//! The pid file: how whoever started a daemon finds it again (to stop it
//! with `kill $(cat poetryd.pid)`), and how a second start finds that one
//! is already running.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use mini_twisted::poetry::excerpt;
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
    Ok(match read(path)? {
        None => Found::Nothing,
        Some(text) => judge(&text),
    })
}

/// What a pid file holding `text` says.
fn judge(text: &str) -> Found {
    let Ok(pid) = text.trim().parse::<i32>() else {
        return Found::Stale(format!("it holds no pid (\"{}\")", excerpt(text.trim())));
    };
    if pid <= 0 {
        return Found::Stale(format!("it holds no pid ({pid})"));
    }
    // A server killed without cleaning up leaves its pid behind, and a
    // restarted container hands out the same pids again: the pid may now
    // be this very process, which is no other server.
    if pid as u32 == std::process::id() {
        return Found::Stale(format!("{pid} is this process"));
    }
    match kill(Pid::from_raw(pid), None) {
        // A dead process that nobody has reaped yet still takes signals.
        Ok(()) if is_zombie(pid) => Found::Stale(format!("process {pid} has ended")),
        Ok(()) | Err(Errno::EPERM) => Found::Running(pid),
        Err(_) => Found::Stale(format!("no process {pid} is running")),
    }
}
// ANCHOR_END: check

/// The most of a pid file that is read: a pid is a few digits, and a
/// longer file holds none (nor should a log line quote it all).
const LONGEST_PID_FILE: u64 = 64;

/// The start of the file at `path`, or `None` if there is none. Opened
/// without waiting, so that a named pipe put there cannot hang a start,
/// and refused unless it is a plain file.
fn read(path: &Path) -> io::Result<Option<String>> {
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("it is not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(LONGEST_PID_FILE).read_to_end(&mut bytes)?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Is `pid` a zombie, a process that has ended but not been reaped? Only
/// Linux says, in `/proc`; elsewhere, a process that takes signals lives.
fn is_zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // `PID (NAME) STATE ...`, where the name may hold anything.
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

/// The pid file of the running server: written when it is up, removed when
/// it is dropped, at the end of a clean shutdown.
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's pid to `path`, unless another server has
    /// written its own there since this one started: two servers started
    /// at once both find no pid file, and only one may keep it. A stale
    /// file is replaced.
    pub fn write(path: &Path) -> io::Result<PidFile> {
        // Written whole under a name of its own and then linked into
        // place, so that a reader (the parent waiting for us) never sees
        // half a number, and a file that is there already is never
        // replaced: the link fails instead.
        let partial = beside(path, "partial");
        fs::write(&partial, format!("{}\n", std::process::id()))?;
        let claimed = claim(&partial, path);
        let _ = fs::remove_file(&partial);
        claimed?;
        Ok(PidFile {
            path: path.to_path_buf(),
        })
    }
}

/// Links `partial` to `path`, removing a stale file in the way; fails if
/// a live server's is there.
fn claim(partial: &Path, path: &Path) -> io::Result<()> {
    // Each round either claims, or finds a live server, or removes a
    // stale file; a file that keeps changing under us is a fight to lose.
    for _ in 0..3 {
        match fs::hard_link(partial, path) {
            Ok(()) => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
        let Some(text) = read(path)? else { continue };
        match judge(&text) {
            Found::Running(pid) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("another server (PID {pid}) started meanwhile"),
                ))
            }
            Found::Stale(_) => remove_stale(path, &text)?,
            Found::Nothing => {}
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "it kept changing while this server tried to write it",
    ))
}

/// Removes the stale file at `path` that held `stale`. Two starts may
/// both have found it stale, and the other may have put its own in its
/// place since: the file is first moved aside (which only one start can
/// do), and put back if it is not the stale one after all.
fn remove_stale(path: &Path, stale: &str) -> io::Result<()> {
    let aside = beside(path, "stale");
    match fs::rename(path, &aside) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    }
    if read(&aside)?.as_deref() != Some(stale) {
        let _ = fs::hard_link(&aside, path);
    }
    fs::remove_file(&aside)
}

/// `path` with `.PID.what` added: a name next to it that is this
/// process's alone.
fn beside(path: &Path, what: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(format!(".{}.{what}", std::process::id()));
    PathBuf::from(name)
}

impl Drop for PidFile {
    /// Removes the file if it still names this process: if someone
    /// removed it and another server has written its own since, that one
    /// is not ours to remove.
    fn drop(&mut self) {
        if let Ok(Some(text)) = read(&self.path) {
            if text.trim() == std::process::id().to_string() {
                let _ = fs::remove_file(&self.path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("poetryd-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_live_servers_file_is_never_replaced_and_a_stale_one_is() {
        let dir = scratch("claim");
        let path = dir.join("poetryd.pid");
        // Init is alive: its pid stands for another server that wrote
        // the file while this one was starting.
        fs::write(&path, "1\n").unwrap();
        let refused = PidFile::write(&path).err().expect("a live server's file");
        assert!(refused.to_string().contains("(PID 1) started meanwhile"));
        assert_eq!(fs::read_to_string(&path).unwrap(), "1\n");

        fs::write(&path, "999999999\n").unwrap();
        let written = PidFile::write(&path).expect("a stale file is replaced");
        let ours = format!("{}\n", std::process::id());
        assert_eq!(fs::read_to_string(&path).unwrap(), ours);
        // Nothing is left beside it: no partial file, no stale one.
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["poetryd.pid"]);
        drop(written);
        assert!(!path.exists(), "removed at the end");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_end_removes_the_file_only_if_it_still_names_this_process() {
        let dir = scratch("theirs");
        let path = dir.join("poetryd.pid");
        let written = PidFile::write(&path).unwrap();
        // Someone removed ours, and another server wrote its own.
        fs::write(&path, "1\n").unwrap();
        drop(written);
        assert_eq!(fs::read_to_string(&path).unwrap(), "1\n");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn what_a_pid_file_may_hold() {
        let stale = |text: &str| matches!(judge(text), Found::Stale(_));
        assert!(matches!(judge("1\n"), Found::Running(1)));
        assert!(stale(&format!("{}\n", std::process::id())), "this process");
        for text in ["", "garbage", "-5", "0", " 42abc", "99999999999999999999"] {
            assert!(stale(text), "{text:?}");
        }
        let Found::Stale(why) = judge(&"x".repeat(1000)) else {
            panic!("not stale")
        };
        assert!(why.len() < 100, "a long file is quoted short: {why}");
    }
}
