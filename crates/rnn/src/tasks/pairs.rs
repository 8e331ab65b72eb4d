//! String pairs for sequence-to-sequence models from files: reading a TSV of `source<TAB>target` lines,
//! splitting it into parts by source, grouping the references of each source, and scoring decoded outputs
//! (exact match and token error rate, the word and phoneme error rates of grapheme-to-phoneme work).
//!
//! A split is by *source*: every pair with the same source lands in the same part, so a word with two
//! pronunciations is never trained on with one and tested with the other. A source with several targets
//! (a word with several pronunciations) counts as right when the output is any of them, and its token
//! errors are counted against the closest one, as is usual for pronouncing dictionaries.
//!
//! ```
//! use rnn::tasks::pairs::{group_by_source, parse_tsv, score, split_by_source};
//! let pairs = parse_tsv("read\tR IY D\nread\tR EH D\ncat\tK AE T\ndog\tD AO G\n", "demo.tsv").unwrap();
//! let parts = split_by_source(&pairs, 0.34, 0.34, 0).unwrap();
//! assert_eq!(parts.train.len() + parts.val.len() + parts.test.len(), 4);
//! let groups = group_by_source(&pairs);
//! assert_eq!(groups[0], ("read".to_string(), vec!["R IY D".to_string(), "R EH D".to_string()]));
//! let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
//! let s = score(&[words("R EH D")], &[vec![words("R IY D"), words("R EH D")]]);
//! assert_eq!((s.exact, s.token_error), (1.0, 0.0));
//! ```

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// (source, target) pairs of strings.
pub type Pairs = Vec<(String, String)>;

/// The `source<TAB>target` lines of a TSV text (blank lines and lines starting with `#` skipped); `name`
/// (the file's name) is used in the messages. [`Error::BadData`] names the first bad line.
pub fn parse_tsv(text: &str, name: &str) -> Result<Pairs> {
    let bad = |line: usize, why: String| Error::BadData(format!("{name}, line {line}: {why}"));
    let mut pairs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((src, tgt)) = line.split_once('\t') else {
            let start: String = line.chars().take(60).collect();
            return Err(bad(
                i + 1,
                format!("expected `source<TAB>target`, found no tab in {start:?}"),
            ));
        };
        if tgt.contains('\t') {
            return Err(bad(
                i + 1,
                "more than one tab (expected `source<TAB>target`)".into(),
            ));
        }
        if src.trim().is_empty() || tgt.trim().is_empty() {
            return Err(bad(i + 1, "an empty source or target".into()));
        }
        pairs.push((src.to_string(), tgt.to_string()));
    }
    if pairs.is_empty() {
        return Err(Error::BadData(format!(
            "{name} has no source<TAB>target lines"
        )));
    }
    Ok(pairs)
}

/// Training, validation and test pairs.
#[derive(Clone, Debug, PartialEq)]
pub struct Parts {
    /// The training pairs.
    pub train: Pairs,
    /// The validation pairs.
    pub val: Pairs,
    /// The test pairs.
    pub test: Pairs,
}

/// Splits `pairs` by source: the distinct sources, sorted, are shuffled with `seed`; the first
/// `val_frac` of them (rounded, at least one) go to validation, the next `test_frac` to test, the rest
/// to training. Pairs keep their order within each part. [`Error::NotEnoughData`] with fewer than 3
/// distinct sources or nothing left for training.
pub fn split_by_source(
    pairs: &[(String, String)],
    val_frac: f64,
    test_frac: f64,
    seed: u64,
) -> Result<Parts> {
    let mut sources: Vec<&str> = pairs.iter().map(|(s, _)| s.as_str()).collect();
    sources.sort_unstable();
    sources.dedup();
    if sources.len() < 3 {
        return Err(Error::NotEnoughData(format!(
            "{} distinct sources are too few to split into train, validation and test parts",
            sources.len()
        )));
    }
    sources.shuffle(&mut crate::init::rng(seed));
    let n_val = ((sources.len() as f64 * val_frac).round() as usize).max(1);
    let n_test = ((sources.len() as f64 * test_frac).round() as usize).max(1);
    const TRAIN: u8 = 0;
    const VAL: u8 = 1;
    const TEST: u8 = 2;
    let part_of: BTreeMap<&str, u8> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let part = if i < n_val {
                VAL
            } else if i < n_val + n_test {
                TEST
            } else {
                TRAIN
            };
            (*s, part)
        })
        .collect();
    let pick = |part: u8| -> Pairs {
        pairs
            .iter()
            .filter(|(s, _)| part_of[s.as_str()] == part)
            .cloned()
            .collect()
    };
    let parts = Parts {
        train: pick(TRAIN),
        val: pick(VAL),
        test: pick(TEST),
    };
    if parts.train.is_empty() {
        return Err(Error::NotEnoughData(
            "nothing is left for training after holding out the validation and test parts".into(),
        ));
    }
    Ok(parts)
}

/// The references of each source: sources in first-seen order, each with all its targets in order.
pub fn group_by_source(pairs: &[(String, String)]) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (s, t) in pairs {
        match index.get(s.as_str()) {
            Some(&i) => groups[i].1.push(t.clone()),
            None => {
                index.insert(s, groups.len());
                groups.push((s.clone(), vec![t.clone()]));
            }
        }
    }
    groups
}

/// Levenshtein distance between two symbol sequences (insertions, deletions, substitutions cost 1).
pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(x != y))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Scores of decoded outputs against their references.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Sources scored.
    pub n: usize,
    /// Fraction of sources whose output is one of its references exactly (1 - WER in G2P's terms).
    pub exact: f64,
    /// Σ edit distance to the closest reference / Σ that reference's length, in target symbols (PER for
    /// phonemes, CER for characters).
    pub token_error: f64,
}

/// Scores `outputs[i]` (symbols) against `refs[i]` (its references, as symbols). The closest reference
/// is the one at the smallest edit distance, ties going to the shorter one, then the first.
///
/// # Panics
/// If a source has no reference.
pub fn score(outputs: &[Vec<String>], refs: &[Vec<Vec<String>>]) -> Scores {
    let mut exact = 0;
    let (mut errors, mut length) = (0usize, 0usize);
    for (out, rs) in outputs.iter().zip(refs) {
        exact += usize::from(rs.iter().any(|r| r == out));
        let (d, len) = rs
            .iter()
            .map(|r| (edit_distance(out, r), r.len()))
            .min()
            .expect("every source has a reference");
        errors += d;
        length += len;
    }
    let n = outputs.len();
    Scores {
        n,
        exact: exact as f64 / n.max(1) as f64,
        token_error: errors as f64 / length.max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn edit_distances() {
        let d = |a: &str, b: &str| {
            edit_distance(
                &a.chars().collect::<Vec<_>>(),
                &b.chars().collect::<Vec<_>>(),
            )
        };
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("abc", ""), 3);
        assert_eq!(d("flaw", "lawn"), 2);
        assert_eq!(d("same", "same"), 0);
    }

    #[test]
    fn scores_use_the_closest_reference() {
        let w = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let outputs = vec![w("T AH M EY T OW"), w("K AE T")];
        let refs = vec![
            vec![w("T AH M EY T OW"), w("T AH M AA T OW")],
            vec![w("K AA T"), w("K AE T S")],
        ];
        let s = score(&outputs, &refs);
        assert_eq!(s.n, 2);
        assert_eq!(s.exact, 0.5);
        // word 1: 0 errors over 6; word 2: 1 error, the closest reference of length 3 (tie with length 4)
        assert!((s.token_error - 1.0 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn a_source_stays_in_one_part() {
        let pairs: Pairs = (0..200)
            .flat_map(|i| {
                [
                    (format!("w{i}"), format!("A {i}")),
                    (format!("w{i}"), format!("B {i}")),
                ]
            })
            .collect();
        let p = split_by_source(&pairs, 0.1, 0.1, 3).unwrap();
        assert_eq!(p.train.len() + p.val.len() + p.test.len(), 400);
        assert_eq!((p.val.len(), p.test.len()), (40, 40));
        let src = |v: &Pairs| v.iter().map(|x| x.0.clone()).collect::<HashSet<_>>();
        assert!(src(&p.train).is_disjoint(&src(&p.val)));
        assert!(src(&p.train).is_disjoint(&src(&p.test)));
        assert!(src(&p.val).is_disjoint(&src(&p.test)));
        assert_eq!(p, split_by_source(&pairs, 0.1, 0.1, 3).unwrap());
        assert_ne!(p, split_by_source(&pairs, 0.1, 0.1, 4).unwrap());
        assert!(split_by_source(&pairs[..4], 0.1, 0.1, 0).is_err());
    }

    #[test]
    fn bad_tsv_lines_are_named() {
        let e = parse_tsv("a\tb\nno tab here\n", "f.tsv")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("f.tsv, line 2:"), "{e}");
        assert!(parse_tsv("\n# comment\n", "f.tsv").is_err());
        assert!(parse_tsv("a\t\n", "f.tsv").is_err());
        assert!(parse_tsv("a\tb\tc\n", "f.tsv").is_err());
    }
}
