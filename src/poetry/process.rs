//! What the load generator and the benchmarks ask the kernel about a
//! process (Parts 11 and 22): the unit of its CPU times, and room for the
//! thousands of connections it opens.

use std::process::Command;

/// `getconf CLK_TCK`: the unit of the CPU times in `/proc/PID/stat`, which
/// the load generator and the benchmarks read; 100 (the value on every
/// common Linux) if it cannot be asked.
pub fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100)
}

/// Raises this process's soft limit on open files to `needed`, when it is
/// lower and the hard limit allows; the children it starts inherit it. A
/// default soft limit of 1,024 is too small for a thousand connections
/// and what a program needs besides them.
///
/// # Errors
///
/// When the hard limit is below `needed` (only root can raise it), or the
/// limit cannot be read or set.
pub fn raise_open_files_limit(needed: u64) -> Result<(), String> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)
        .map_err(|error| format!("cannot read the limit on open files: {error}"))?;
    if soft >= needed {
        return Ok(());
    }
    if hard < needed {
        return Err(format!(
            "{needed} open files are needed, and the hard limit is {hard} (only root can raise it)"
        ));
    }
    setrlimit(Resource::RLIMIT_NOFILE, needed, hard)
        .map_err(|error| format!("cannot raise the limit on open files to {needed}: {error}"))
}
