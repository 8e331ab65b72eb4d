//! Small file helpers shared by checkpoints, plots and reports.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, Result};

/// Distinguishes temporary files of concurrent saves within one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically: to a fresh temporary file in the same folder, flushed to disk, then
/// renamed over `path`. A crash or error never leaves a half-written file at `path`, an existing file there
/// stays intact unless the whole write succeeded, and no temporary file is left behind on error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io_err = |action: &'static str| {
        let path = path.to_path_buf();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    };
    let file_name = path.file_name().ok_or_else(|| {
        io_err("write")(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path does not end in a file name",
        ))
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };

    // A fresh name: `.<file>.<pid>.<n>.tmp`; `create_new` refuses to reuse a leftover from a crashed run.
    let mut attempts = 0;
    let (tmp, mut file) = loop {
        attempts += 1;
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut name = std::ffi::OsString::from(".");
        name.push(file_name);
        name.push(format!(".{}.{n}.tmp", std::process::id()));
        let tmp = dir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => break (tmp, file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 100 => continue,
            Err(e) => return Err(io_err("create")(e)),
        }
    };

    let written = file
        .write_all(bytes)
        .map_err(io_err("write"))
        .and_then(|()| file.sync_all().map_err(io_err("write")))
        .and_then(|()| {
            drop(file);
            fs::rename(&tmp, path).map_err(io_err("rename"))
        });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // Make the rename itself durable (best effort: not every platform can sync a directory).
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("rnn-files-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.txt");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "a temp file was left behind"
        );
        // writing into a folder that does not exist fails and touches nothing
        assert!(write_atomic(&dir.join("missing/b.txt"), b"x").is_err());
        // a path that is a directory fails; the directory survives
        assert!(write_atomic(&dir, b"x").is_err());
        assert!(dir.is_dir());
        fs::remove_dir_all(&dir).unwrap();
    }
}
