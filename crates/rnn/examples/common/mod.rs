//! Helpers shared by chapter 12's examples (`mod common;` in each): where the committed fixtures are, a
//! scratch folder for the files a run writes, and how differences from another framework are printed. Not an example itself: Cargo builds only the files
//! directly in `examples/` and folders with a `main.rs`.

// Each example uses the helpers it needs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ndarray::Array3;

/// A file of `tests/fixtures/`, wherever the program is run from.
pub fn fixture(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(file)
}

/// A new folder `rnn-{tag}-{process id}` in the system's temporary folder, for this run's files.
pub fn scratch_dir(tag: &str) -> rnn::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("rnn-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| rnn::Error::Io {
        action: "create",
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

/// Removes a folder made by [`scratch_dir`] and everything in it.
pub fn remove_scratch(dir: &Path) -> rnn::Result<()> {
    std::fs::remove_dir_all(dir).map_err(|source| rnn::Error::Io {
        action: "remove",
        path: dir.to_path_buf(),
        source,
    })
}

/// "below 1e-14" for a difference at rounding level, the number itself otherwise: the last bits of such
/// differences depend on the CPU's rounding and the order of its sums, so the printed text must not.
pub fn bound(d: f64) -> String {
    if d < 1e-14 {
        "below 1e-14".to_string()
    } else {
        format!("{d:.1e}")
    }
}

/// max |a - b| over every element.
pub fn max_abs_diff(a: &Array3<f64>, b: &Array3<f64>) -> f64 {
    (a - b).iter().fold(0.0, |m, d| m.max(d.abs()))
}
