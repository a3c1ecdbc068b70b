//! A log file that rotates, as twistd's does: once writing a line would
//! take it past a million bytes, `poetryd.log` becomes `poetryd.log.1`
//! (the older ones moving up to `.2`, `.3`, ...) and a new `poetryd.log`
//! begins. Nothing is ever deleted: that is the administrator's choice.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The size at which the log rotates.
pub const ROTATE_AT: u64 = 1_000_000;

pub struct LogFile {
    path: PathBuf,
    file: File,
    size: u64,
    limit: u64,
}

impl LogFile {
    /// Opens `path` for appending, creating it if need be.
    pub fn open(path: &Path) -> io::Result<LogFile> {
        LogFile::with_limit(path, ROTATE_AT)
    }

    pub fn with_limit(path: &Path, limit: u64) -> io::Result<LogFile> {
        let file = append(path)?;
        let size = file.metadata()?.len();
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            size,
            limit,
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
        fs::rename(&self.path, self.numbered(1))?;
        self.file = append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Write for LogFile {
    /// The formatter writes each entry in one call, so an entry is never
    /// split between two files.
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.size > 0 && self.size + bytes.len() as u64 > self.limit {
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
}
