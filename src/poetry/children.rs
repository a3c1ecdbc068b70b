//! Programs that start other programs (the showcase, `poetry-servers`):
//! finding the programs beside them, starting servers and learning their
//! ports, and stopping every child however the parent ends.
//!
//! Promise: a child started through [`Children`] is killed and reaped by
//! [`Children::kill_all`], which is safe to call from a signal handler's
//! thread, from an error path, or twice.

use std::env;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// How long a child that closed its output may take to exit before we stop
/// waiting for its status.
const EXIT_LIMIT: Duration = Duration::from_secs(2);

/// A server started by [`Children::start_server`].
pub struct Started {
    /// Its process id, as [`Children::exited`] reports it.
    pub pid: u32,
    /// The port it said it serves on.
    pub port: u16,
    /// Its output after the first line, for as long as it runs. Dropped,
    /// the lines are drained unread, so that the server never blocks on a
    /// full pipe.
    pub lines: Receiver<String>,
}

/// Every child process we started, so that any exit path can stop them.
/// Cheap to clone: the clones share one list.
#[derive(Clone)]
pub struct Children(Arc<Mutex<Vec<Child>>>);

impl Default for Children {
    /// An empty list, whose children are also killed if a closed stdout
    /// ends the program (see [`crate::log::on_quiet_exit`]).
    fn default() -> Children {
        let children = Children(Arc::default());
        let list = Arc::downgrade(&children.0);
        crate::log::on_quiet_exit(move || {
            let Some(list) = list.upgrade() else { return };
            // Not `lock`: the code that panicked may hold the list.
            if let Ok(mut list) = list.try_lock() {
                // Killed and reaped: a killed child nobody waits for
                // lingers as a zombie wherever init does not reap.
                for child in list.iter_mut() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            };
        });
        children
    }
}

impl Children {
    /// The list, even if a thread panicked while holding it: the children
    /// in it still need stopping.
    fn list(&self) -> MutexGuard<'_, Vec<Child>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Kills and reaps every child still running, and forgets them all.
    pub fn kill_all(&self) {
        for mut child in self.list().drain(..) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts `command` with its stdout piped to us, keeps the child, and
    /// returns its process id and its output lines (see [`line_reader`]).
    ///
    /// # Errors
    ///
    /// A message naming the program when it cannot be started.
    pub fn spawn(&self, command: &mut Command) -> Result<(u32, Receiver<String>), String> {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", program_name(command)))?;
        let lines = line_reader(child.stdout.take());
        let pid = child.id();
        self.list().push(child);
        Ok((pid, lines))
    }

    /// Starts a server and waits, at most `limit`, for the port at the end
    /// of its first line (`Serving poetry/x.txt on port 10000.`).
    ///
    /// # Errors
    ///
    /// A message when the server cannot start, stops before it serves (its
    /// own message on stderr says why, such as a port already taken), or
    /// says nothing in time.
    pub fn start_server(&self, command: &mut Command, limit: Duration) -> Result<Started, String> {
        let name = program_name(command);
        let (pid, lines) = self.spawn(command)?;
        let first = match lines.recv_timeout(limit) {
            Ok(first) => first,
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!("{name} did not say which port it serves on"))
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(match self.wait_for_exit(pid) {
                    Some(status) => format!("{name} stopped before serving ({status})"),
                    None => format!("{name} closed its output before serving"),
                })
            }
        };
        let port = first
            .trim_end_matches('.')
            .rsplit(' ')
            .next()
            .and_then(|port| port.parse().ok())
            .ok_or_else(|| format!("cannot find a port in {name}'s line {first:?}"))?;
        Ok(Started { pid, port, lines })
    }

    /// Waits for the child `pid` to exit and forgets it; true on success.
    ///
    /// # Errors
    ///
    /// When waiting fails, which only a child we do not own can cause.
    pub fn wait_for(&self, pid: u32) -> Result<bool, String> {
        let mut child = {
            let mut children = self.list();
            let Some(index) = children.iter().position(|child| child.id() == pid) else {
                return Ok(false);
            };
            children.remove(index)
        };
        // Waited for outside the lock, so that `kill_all` (on Ctrl-C) is
        // never held up by a child that takes its time.
        let status = child.wait().map_err(|error| error.to_string())?;
        Ok(status.success())
    }

    /// The first child found to have exited, with its status, forgotten.
    /// Never blocks.
    pub fn exited(&self) -> Option<(u32, ExitStatus)> {
        let mut children = self.list();
        let index = children
            .iter_mut()
            .position(|child| matches!(child.try_wait(), Ok(Some(_))))?;
        let mut child = children.remove(index);
        let status = child.try_wait().ok().flatten()?;
        Some((child.id(), status))
    }

    /// Waits, at most [`EXIT_LIMIT`], for the child `pid` to exit; its
    /// status, once it is forgotten.
    fn wait_for_exit(&self, pid: u32) -> Option<ExitStatus> {
        let deadline = Instant::now() + EXIT_LIMIT;
        while Instant::now() < deadline {
            {
                let mut children = self.list();
                let index = children.iter().position(|child| child.id() == pid)?;
                if let Ok(Some(status)) = children[index].try_wait() {
                    // Reaped already: `wait` only returns the same status.
                    let _ = children.remove(index).wait();
                    return Some(status);
                }
            }
            thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

/// The program a command runs, by its file name, for messages.
fn program_name(command: &Command) -> String {
    let program = Path::new(command.get_program());
    program
        .file_name()
        .unwrap_or(program.as_os_str())
        .to_string_lossy()
        .into_owned()
}

/// Reads a child's output on a thread, one line per message, so that the
/// caller can wait for a line with a time limit. The channel closes when
/// the child closes its output (at exit, usually).
pub fn line_reader(output: Option<impl Read + Send + 'static>) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    if let Some(output) = output {
        thread::spawn(move || {
            for line in BufReader::new(output).lines() {
                let Ok(line) = line else { break };
                // Once nobody listens any more, keep draining but drop the lines.
                let _ = sender.send(line);
            }
        });
    }
    receiver
}

/// Finds the folder that holds `programs`: the folder of the running
/// program. Under `cargo run` only the running program is sure to be
/// built, so unless `no_build`, the same cargo is asked to build the
/// others first (quick when they are up to date).
///
/// # Errors
///
/// When the build fails or a program is still missing afterwards.
pub fn sibling_programs(programs: &[&str], no_build: bool) -> Result<PathBuf, String> {
    let exe = env::current_exe().map_err(|error| format!("cannot find myself: {error}"))?;
    let dir = exe
        .parent()
        .ok_or("cannot find the folder of the programs")?
        .to_path_buf();
    let cargo = env::var_os("CARGO");
    if let (false, Some(cargo)) = (no_build, cargo) {
        let mut build = Command::new(cargo);
        build
            .arg("build")
            .arg("--quiet")
            .arg("--manifest-path")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
        if dir.ends_with("release") {
            build.arg("--release");
        }
        for program in programs {
            build.args(["--bin", program]);
        }
        let status = build
            .status()
            .map_err(|error| format!("cannot run cargo build: {error}"))?;
        if !status.success() {
            return Err("cargo build failed".to_string());
        }
    }
    for program in programs {
        if !dir.join(program).is_file() {
            return Err(format!(
                "{program} is not built in {}: run `cargo build` first",
                dir.display()
            ));
        }
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_that_stops_before_serving_is_reported() {
        let children = Children::default();
        let mut command = Command::new("sh");
        command.args(["-c", "exit 3"]);
        let Err(error) = children.start_server(&mut command, Duration::from_secs(10)) else {
            panic!("a server that exits at once was taken as started");
        };
        assert!(error.starts_with("sh stopped before serving"), "{error}");
        assert!(error.contains('3'), "{error}");
        children.kill_all();
    }

    #[test]
    fn the_port_comes_from_the_first_line_and_kill_all_stops_the_rest() {
        let children = Children::default();
        let mut command = Command::new("sh");
        command.args(["-c", "echo 'Serving x on port 4242.'; exec sleep 30"]);
        let server = children
            .start_server(&mut command, Duration::from_secs(10))
            .unwrap();
        assert_eq!(server.port, 4242);
        assert!(children.exited().is_none());
        children.kill_all();
        assert!(children.list().is_empty());
    }
}
