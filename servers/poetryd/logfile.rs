//! A log file that rotates, as twistd's does: once writing a line would
//! take it past a million bytes, `poetryd.log` becomes `poetryd.log.1`
//! (the older ones moving up to `.2`, `.3`, ...) and a new `poetryd.log`
//! begins. Nothing is ever deleted: that is the administrator's choice.
//!
//! The log may also be a device (`--logfile /dev/null`), which is never
//! rotated: renaming `/dev/null` would be a disaster. Anything else (a
//! folder, a named pipe) is refused.

use std::fs::{self, File, FileType, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// The size at which the log rotates.
pub const ROTATE_AT: u64 = 1_000_000;

pub struct LogFile {
    path: PathBuf,
    file: File,
    size: u64,
    limit: u64,
    /// Only a plain file is rotated.
    rotates: bool,
}

impl LogFile {
    /// Opens `path` for appending, creating it if need be.
    pub fn open(path: &Path) -> io::Result<LogFile> {
        LogFile::with_limit(path, ROTATE_AT)
    }

    pub fn with_limit(path: &Path, limit: u64) -> io::Result<LogFile> {
        let file = append(path)?;
        let metadata = file.metadata()?;
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            size: metadata.len(),
            limit,
            rotates: metadata.is_file(),
        })
    }

    /// `poetryd.log.N` for `n` = N.
    fn numbered(&self, n: u32) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        let mut highest = 0;
        while self.numbered(highest + 1).exists() {
            highest += 1;
        }
        for n in (1..=highest).rev() {
            fs::rename(self.numbered(n), self.numbered(n + 1))?;
        }
        match fs::rename(&self.path, self.numbered(1)) {
            // Someone moved the log away already: a new one begins.
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            renamed => renamed?,
        }
        self.file = append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// Opens `path` for appending, creating it if need be, if it is a plain
/// file or a device. The check comes first because opening a named pipe
/// that nobody reads waits until someone does, perhaps forever; it comes
/// again on the file opened, in case the path changed in between.
pub fn append(path: &Path) -> io::Result<File> {
    if let Ok(metadata) = fs::metadata(path) {
        loggable(metadata.file_type())?;
    }
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    loggable(file.metadata()?.file_type())?;
    Ok(file)
}

fn loggable(kind: FileType) -> io::Result<()> {
    let what = if kind.is_file() || kind.is_char_device() {
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a named pipe (FIFO)"
    } else {
        "not a regular file"
    };
    Err(io::Error::other(format!("it is {what}, not a log file")))
}

impl Write for LogFile {
    /// The formatter writes each entry in one call, so an entry is never
    /// split between two files.
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.rotates && self.size > 0 && self.size + bytes.len() as u64 > self.limit {
            self.rotate()?;
        }
        let written = self.file.write(bytes)?;
        self.size += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_rotates_before_a_write_would_pass_the_limit_and_keeps_the_old_ones() {
        let dir = std::env::temp_dir().join(format!("poetryd-log-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("poetryd.log");
        let mut log = LogFile::with_limit(&path, 10).unwrap();
        for line in ["one 1\n", "two 2\n", "three\n", "four4\n"] {
            log.write_all(line.as_bytes()).unwrap();
        }
        let read = |name: &str| fs::read_to_string(dir.join(name)).unwrap();
        assert_eq!(read("poetryd.log"), "four4\n");
        assert_eq!(read("poetryd.log.1"), "three\n");
        assert_eq!(read("poetryd.log.2"), "two 2\n");
        assert_eq!(read("poetryd.log.3"), "one 1\n");
        // Reopened, it goes on where it was.
        let mut again = LogFile::with_limit(&path, 10).unwrap();
        again.write_all(b"five\n").unwrap();
        assert_eq!(read("poetryd.log.1"), "four4\n");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_device_is_written_but_never_rotated() {
        let mut log = LogFile::with_limit(Path::new("/dev/null"), 10).unwrap();
        for _ in 0..3 {
            log.write_all(b"longer than the limit\n").unwrap();
        }
        if Path::new("/dev/null.1").exists() {
            // Run as root, the old code renamed the device: put it back.
            let _ = fs::rename("/dev/null.1", "/dev/null");
            panic!("/dev/null was rotated");
        }
        assert!(Path::new("/dev/null").exists());
    }

    #[test]
    fn a_folder_or_a_named_pipe_is_refused_without_waiting_for_a_reader() {
        let dir = std::env::temp_dir().join(format!("poetryd-log-kinds-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("fifo.log");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo failed");
        // Nobody reads the pipe: an open that waits would wait forever, so
        // it is tried on a thread, and a reader set it free if need be.
        let (sender, opened) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            let _ = sender.send(LogFile::open(&path).err().map(|e| e.to_string()));
        });
        let waited = std::time::Duration::from_secs(10);
        let Ok(refused) = opened.recv_timeout(waited) else {
            let _reader = std::fs::File::open(&fifo);
            panic!("opening a named pipe as the log waited for a reader");
        };
        let refused = refused.expect("a pipe is refused");
        assert!(refused.contains("named pipe"), "{refused}");
        let refused = LogFile::open(&dir).err().expect("a folder is refused");
        assert!(refused.to_string().contains("a directory"), "{refused}");
        let _ = fs::remove_dir_all(&dir);
    }
}
