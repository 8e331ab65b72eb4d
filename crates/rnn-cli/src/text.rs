//! Reading training text: files, bundled corpora, and the checks that turn bad files into one clear line.

use std::path::Path;

use anyhow::{bail, Context, Result};

/// The corpora compiled into the binary (from `data/`, see `data/README.md`), by the name `--data @NAME`.
pub const BUNDLED: [(&str, &str); 3] = [
    ("moby-dick", include_str!("../../../data/moby-dick.txt")),
    ("dinosaurs", include_str!("../../../data/dinosaurs.txt")),
    ("first-names", include_str!("../../../data/first-names.txt")),
];

/// Reads `--data`: a file path, or `@name` for a bundled corpus.
pub fn load(data: &str) -> Result<String> {
    if let Some(name) = data.strip_prefix('@') {
        return match BUNDLED.iter().find(|(n, _)| *n == name) {
            Some((_, text)) => Ok(text.to_string()),
            None => bail!(
                "no bundled corpus `{name}`: choose one of {}",
                BUNDLED
                    .iter()
                    .map(|(n, _)| format!("@{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
    }
    read_text(Path::new(data))
}

/// Reads a UTF-8 text file, refusing missing, empty and binary files with a clear message.
pub fn read_text(path: &Path) -> Result<String> {
    if path.is_dir() {
        bail!(
            "data file {} is a directory, not a text file",
            path.display()
        );
    }
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read data file {}", path.display()))?;
    check_text(&bytes, path)?;
    Ok(String::from_utf8(bytes).expect("checked"))
}

/// Refuses empty, NUL-containing and non-UTF-8 bytes.
pub fn check_text(bytes: &[u8], path: &Path) -> Result<()> {
    if bytes.is_empty() {
        bail!("data file {} is empty", path.display());
    }
    if let Some(i) = bytes.iter().position(|&b| b == 0) {
        bail!(
            "data file {} looks like a binary file (it has a NUL byte at offset {i}); give a UTF-8 text file",
            path.display()
        );
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        bail!(
            "data file {} is not UTF-8 text (invalid byte at offset {}); convert it, e.g. with iconv",
            path.display(),
            e.valid_up_to()
        );
    }
    Ok(())
}

/// A 64-bit FNV-1a hash of the text: lets `--resume` notice that the data file changed.
pub fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}
