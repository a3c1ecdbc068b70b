//! Every program that takes a poem file refuses, at start, one it cannot
//! serve: a directory, a named pipe (which would block whoever opens it), a
//! device, a file it may not read, a file that is not there. Each says what
//! is wrong and exits with a usage error, promptly and without a panic.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use assert_cmd::cargo::cargo_bin;

use common::{dead_port, run_bounded, running_as_root};

/// A program that checks a poem file has no reason to take longer than
/// this; one that opens a named pipe would wait forever.
const PROMPT: Duration = Duration::from_secs(10);

/// The user and group that own nothing: the unreadable case runs as them
/// when the test runs as root, since root reads any file.
const NOBODY: u32 = 65534;

/// The programs that serve or check a poem file, and their binaries.
fn programs() -> [(&'static str, &'static Path); 6] {
    [
        ("slowpoetry", cargo_bin!("slowpoetry")),
        ("slowpoetry-reactor", cargo_bin!("slowpoetry-reactor")),
        ("slowpoetry-tokio", cargo_bin!("slowpoetry-tokio")),
        ("fastpoetry", cargo_bin!("fastpoetry")),
        ("fastpoetry-tokio", cargo_bin!("fastpoetry-tokio")),
        ("poetry-load", cargo_bin!("poetry-load")),
    ]
}

/// The command line that gives `program` the poem `file`.
fn command(binary: &Path, program: &str, file: &Path) -> Command {
    let mut command = Command::new(binary);
    if program == "poetry-load" {
        // A dead port: if the check let the file through, the run would
        // end in refused connections, not in the message we look for.
        command
            .arg(dead_port().to_string())
            .args(["--max-connections", "1", "--poem"])
            .arg(file);
    } else {
        command.args(["--port", "0"]).arg(file);
    }
    command
}

/// A scratch folder that any user may enter, so that the unreadable poem in
/// it is refused because of its own mode, not because of the way to it.
/// Under the system's temporary folder: cargo's target folder may be closed
/// to other users.
struct OpenFolder(PathBuf);

impl OpenFolder {
    fn new(name: &str) -> OpenFolder {
        let dir = std::env::temp_dir().join(format!("mini-twisted-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        OpenFolder(dir)
    }
}

impl Drop for OpenFolder {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs `command` as `nobody` when we are root, as ourselves otherwise.
fn as_unprivileged(command: &mut Command, root: bool) -> &mut Command {
    if root {
        command.uid(NOBODY).gid(NOBODY);
    }
    command
}

/// The program's binary, where the unprivileged user can run it: as built
/// if it may, or else a copy in `folder`.
fn runnable_binary(program: &str, built: &Path, folder: &Path, root: bool) -> PathBuf {
    let runs = as_unprivileged(Command::new(built).arg("--help"), root)
        .output()
        .is_ok_and(|output| output.status.success());
    if runs {
        return built.to_path_buf();
    }
    let copy = folder.join(program);
    fs::copy(built, &copy).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    copy
}

/// Checks, as the user the program will run as, that `file` exists and
/// cannot be read: otherwise the unreadable case would test nothing.
fn assert_unreadable_to_them(file: &Path, root: bool) {
    let mut check = Command::new("sh");
    check
        .args(["-c", r#"test -e "$1" && ! test -r "$1""#, "sh"])
        .arg(file);
    let status = as_unprivileged(&mut check, root).status().unwrap();
    assert!(
        status.success(),
        "cannot make {} unreadable for the program's user",
        file.display()
    );
}

/// Runs `command` and checks that it refused promptly with a usage error
/// whose message contains every one of `expected`.
fn assert_refused(program: &str, case: &str, command: &mut Command, expected: &[&str]) {
    let output = run_bounded(command, PROMPT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let what = format!("{program}, {case}");
    assert_eq!(output.status.code(), Some(2), "{what}: {output:?}");
    for part in expected {
        assert!(stderr.contains(part), "{what}: no {part:?} in {stderr:?}");
    }
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("Serving"),
        "{what}: it started serving"
    );
}

#[test]
fn files_that_are_not_poems_are_refused_at_start() {
    let folder = OpenFolder::new("not-poems");
    let dir = folder.0.join("poem-dir");
    fs::create_dir(&dir).unwrap();
    let fifo = folder.0.join("poem.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo failed");
    let missing = folder.0.join("absent.txt");

    let cases: [(&str, &Path, &[&str]); 4] = [
        ("a directory", &dir, &["is a directory", "poem-dir"]),
        ("a named pipe", &fifo, &["named pipe", "poem.fifo"]),
        (
            "a device",
            Path::new("/dev/null"),
            &["is a device", "/dev/null"],
        ),
        (
            "a missing file",
            &missing,
            &["No such file: ", "absent.txt"],
        ),
    ];
    for (program, binary) in programs() {
        for (case, file, expected) in cases {
            let mut command = command(binary, program, file);
            assert_refused(program, case, &mut command, expected);
        }
    }
}

#[test]
fn an_unreadable_file_is_refused_with_the_reason() {
    let root = running_as_root();
    let folder = OpenFolder::new("unreadable");
    let locked = folder.0.join("locked.txt");
    fs::copy("poetry/science.txt", &locked).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    assert_unreadable_to_them(&locked, root);

    for (program, built) in programs() {
        let binary = runnable_binary(program, built, &folder.0, root);
        let mut command = command(&binary, program, &locked);
        as_unprivileged(&mut command, root);
        assert_refused(
            program,
            "an unreadable file",
            &mut command,
            &["cannot read ", "locked.txt", "Permission denied"],
        );
    }
}
