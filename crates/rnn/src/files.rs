//! Small file helpers shared by checkpoints, plots and reports.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Writes `bytes` to `path` atomically: to a temporary file in the same folder, flushed to disk, then renamed
/// over `path`. A crash or error never leaves a half-written file at `path`, and an existing file there stays
/// intact unless the whole write succeeded.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |action: &'static str, p: &Path| {
        let path = p.to_path_buf();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}-{}", std::process::id(), unique()));
    let result = (|| {
        let mut f = fs::File::create(&tmp).map_err(io("write", &tmp))?;
        f.write_all(bytes).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("write", &tmp))?;
        fs::rename(&tmp, path).map_err(io("rename", path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A number unique within this process, for temporary file names.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
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
