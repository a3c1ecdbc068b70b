//! What the benchmarks need to run their children: a guard that kills a
//! child whichever way a run ends, and the placement of the programs on
//! the CPUs (`taskset`), so that a server and what loads it do not take
//! turns on one CPU. Shared by `benches/servers.rs` and `benches/clients.rs`.

use std::ffi::OsString;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How the programs are placed on the CPUs.
pub struct Placement {
    pub cpus: usize,
    pub pinned: bool,
}

impl Placement {
    pub fn find() -> Placement {
        let cpus = thread::available_parallelism().map_or(1, |n| n.get());
        let taskset_works = Command::new("taskset")
            .args(["-c", "0", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        Placement {
            cpus,
            pinned: cpus >= 2 && taskset_works,
        }
    }

    /// `program args...`, behind `taskset -c CPU` when pinning.
    pub fn command(&self, cpu: u32, program_and_args: &[OsString]) -> Command {
        let mut command = if self.pinned {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpu.to_string());
            command.args(program_and_args);
            command
        } else {
            let mut command = Command::new(&program_and_args[0]);
            command.args(&program_and_args[1..]);
            command
        };
        command.stdin(Stdio::null());
        command
    }
}

/// A child process, killed when dropped: whichever way a run ends, early
/// return or panic, no server is left running.
pub struct Guard(pub Child);

impl Guard {
    /// Waits up to `limit` for the child to exit by itself; its exit code,
    /// or `None` if it had to be killed (or was killed by a signal).
    pub fn wait_for(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            match self.0.try_wait() {
                Ok(Some(status)) => return status.code(),
                Ok(None) => thread::sleep(Duration::from_millis(10)),
                Err(_) => break,
            }
        }
        None
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
