//! The pairs `rnn seq2seq` trains and scores on: a generated task (`@reversal`, `@addition`, `@dates`) or
//! a TSV file of `source<TAB>target` lines, split into train, validation and test parts, and the scores
//! of decoded outputs (exact match, token error rate).
//!
//! A TSV's split is by *source*: every line with the same source goes into the same part, so a word with
//! two pronunciations is never trained on with one and tested with the other. The sources are shuffled
//! with a fixed seed (`--split-seed`), the first `--val-frac` of them are the validation part, the next
//! `--test-frac` the test part, the rest the training part. A generated task draws its test and
//! validation pairs first and then training pairs whose sources are in neither, so held-out means unseen.

use std::collections::{BTreeMap, HashSet};

use anyhow::{bail, Result};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// Which part of the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
pub enum Part {
    /// The training pairs.
    Train,
    /// The validation pairs (scored during training; they choose `best.safetensors`).
    Val,
    /// The test pairs (never seen in training).
    Test,
    /// Every pair of the data.
    All,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Train => "train",
            Part::Val => "val",
            Part::Test => "test",
            Part::All => "all",
        })
    }
}

/// How the data is made and split; stored in checkpoints so `eval` can rebuild the same parts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSpec {
    /// `@reversal`, `@addition`, `@dates` or a TSV path.
    pub data: String,
    /// Pairs generated for the training part of a task (ignored for a TSV).
    pub train_size: usize,
    /// Pairs generated for each of the validation and test parts of a task (ignored for a TSV).
    pub held_out_size: usize,
    /// Fraction of a TSV's sources held out for validation.
    pub val_frac: f64,
    /// Fraction of a TSV's sources held out for testing.
    pub test_frac: f64,
    /// Seed of the task's pairs, or of the TSV's shuffle.
    pub split_seed: u64,
}

/// The three parts, as (source, target) string pairs.
pub struct Splits {
    pub train: Vec<(String, String)>,
    pub val: Vec<(String, String)>,
    pub test: Vec<(String, String)>,
    /// A fingerprint of the data (the TSV's bytes, or the task's name and settings).
    pub fingerprint: String,
}

impl Splits {
    /// The pairs of one part.
    pub fn part(&self, part: Part) -> Vec<(String, String)> {
        match part {
            Part::Train => self.train.clone(),
            Part::Val => self.val.clone(),
            Part::Test => self.test.clone(),
            Part::All => [&self.train, &self.val, &self.test]
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
        }
    }
}

/// The generated tasks, by the name `--data @NAME`.
pub const TASKS: [&str; 3] = ["reversal", "addition", "dates"];

impl DataSpec {
    /// Checks the settings (one clear line for each mistake).
    pub fn validate(&self) -> Result<()> {
        let ok = |f: f64| (0.0..0.5).contains(&f) && f > 0.0;
        if !ok(self.val_frac) || !ok(self.test_frac) {
            bail!(
                "--val-frac and --test-frac must be in (0, 0.5), got {} and {}",
                self.val_frac,
                self.test_frac
            );
        }
        if self.train_size == 0 || self.held_out_size == 0 {
            bail!("--train-size and --held-out-size must be at least 1");
        }
        Ok(())
    }

    /// Reads or generates the pairs and splits them.
    pub fn load(&self) -> Result<Splits> {
        self.validate()?;
        if let Some(task) = self.data.strip_prefix('@') {
            return self.generate(task);
        }
        let text = crate::text::read_text(std::path::Path::new(&self.data))?;
        let pairs = parse_tsv(&text, &self.data)?;
        let mut sources: Vec<&str> = pairs.iter().map(|(s, _)| s.as_str()).collect();
        sources.sort_unstable();
        sources.dedup();
        if sources.len() < 3 {
            bail!(
                "--data {}: {} distinct sources are too few to split into train, validation and test parts",
                self.data,
                sources.len()
            );
        }
        sources.shuffle(&mut rnn::init::rng(self.split_seed));
        let n_val = ((sources.len() as f64 * self.val_frac).round() as usize).max(1);
        let n_test = ((sources.len() as f64 * self.test_frac).round() as usize).max(1);
        let part_of: BTreeMap<&str, Part> = sources
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let part = if i < n_val {
                    Part::Val
                } else if i < n_val + n_test {
                    Part::Test
                } else {
                    Part::Train
                };
                (*s, part)
            })
            .collect();
        let pick = |part: Part| -> Vec<(String, String)> {
            pairs
                .iter()
                .filter(|(s, _)| part_of[s.as_str()] == part)
                .cloned()
                .collect()
        };
        let (train, val, test) = (pick(Part::Train), pick(Part::Val), pick(Part::Test));
        if train.is_empty() {
            bail!("--data {}: nothing is left for training after holding out --val-frac and --test-frac", self.data);
        }
        Ok(Splits {
            train,
            val,
            test,
            fingerprint: format!("{:016x}", crate::text::fingerprint(&text)),
        })
    }

    fn generate(&self, task: &str) -> Result<Splits> {
        let make = |n: usize, rng: &mut rnn::init::Rng| -> Vec<(String, String)> {
            use rnn::tasks::seq2seq::{addition, dates, reversal};
            match task {
                "reversal" => reversal(n, 3, 12, "abcdefghijklmnop", rng),
                "addition" => addition(n, 3, rng),
                "dates" => dates(n, rng),
                _ => unreachable!("checked below"),
            }
        };
        if !TASKS.contains(&task) {
            bail!(
                "no generated task `@{task}`: choose one of {}, or give a TSV file of source<TAB>target lines",
                TASKS.map(|t| format!("@{t}")).join(", ")
            );
        }
        let mut rng = rnn::init::rng(self.split_seed);
        let test = make(self.held_out_size, &mut rng);
        let val = make(self.held_out_size, &mut rng);
        let held: HashSet<String> = test.iter().chain(&val).map(|(s, _)| s.clone()).collect();
        let mut train = Vec::with_capacity(self.train_size);
        let mut tries = 0;
        while train.len() < self.train_size {
            tries += 1;
            if tries > 100 {
                bail!(
                    "--data @{task}: cannot draw {} training pairs unseen in the held-out parts; use a smaller --train-size",
                    self.train_size
                );
            }
            let need = self.train_size - train.len();
            train.extend(
                make(need, &mut rng)
                    .into_iter()
                    .filter(|(s, _)| !held.contains(s)),
            );
        }
        Ok(Splits {
            train,
            val,
            test,
            fingerprint: format!(
                "@{task}/{}/{}/{}",
                self.train_size, self.held_out_size, self.split_seed
            ),
        })
    }
}

/// The `source<TAB>target` lines of a TSV (blank lines and lines starting with `#` skipped).
pub fn parse_tsv(text: &str, name: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((src, tgt)) = line.split_once('\t') else {
            bail!(
                "{name}, line {}: expected `source<TAB>target`, found no tab in {:?}",
                i + 1,
                truncate(line)
            );
        };
        if tgt.contains('\t') {
            bail!(
                "{name}, line {}: more than one tab (expected `source<TAB>target`)",
                i + 1
            );
        }
        if src.trim().is_empty() || tgt.trim().is_empty() {
            bail!("{name}, line {}: an empty source or target", i + 1);
        }
        pairs.push((src.to_string(), tgt.to_string()));
    }
    if pairs.is_empty() {
        bail!("{name} has no source<TAB>target lines");
    }
    Ok(pairs)
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

/// The references of each source: sources in first-seen order, each with all its targets.
pub fn group_by_source(pairs: &[(String, String)]) -> Vec<(String, Vec<String>)> {
    let mut order: Vec<(String, Vec<String>)> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (s, t) in pairs {
        match index.get(s) {
            Some(&i) => order[i].1.push(t.clone()),
            None => {
                index.insert(s.clone(), order.len());
                order.push((s.clone(), vec![t.clone()]));
            }
        }
    }
    order
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
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Scores {
    /// Sources scored.
    pub n: usize,
    /// Fraction of sources whose output is one of its references exactly (1 - WER in G2P's terms).
    pub exact: f64,
    /// Σ edit distance to the closest reference / Σ that reference's length, in target symbols (PER
    /// for phonemes, CER for characters).
    pub token_error: f64,
}

/// Scores `outputs[i]` (symbols) against `refs[i]` (each a list of references, symbols).
pub fn score(outputs: &[Vec<String>], refs: &[Vec<Vec<String>>]) -> Scores {
    let mut exact = 0;
    let (mut errors, mut length) = (0usize, 0usize);
    for (out, rs) in outputs.iter().zip(refs) {
        if rs.iter().any(|r| r == out) {
            exact += 1;
        }
        // the closest reference (ties to the shorter one, then the first)
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
        let outputs = vec![w("T AH0 M EY1 T OW2"), w("K AE1 T")];
        let refs = vec![
            vec![w("T AH0 M EY1 T OW2"), w("T AH0 M AA1 T OW2")],
            vec![w("K AA1 T"), w("K AE1 T S")],
        ];
        let s = score(&outputs, &refs);
        assert_eq!(s.n, 2);
        assert_eq!(s.exact, 0.5);
        // word 1: 0 errors over 6; word 2: 1 error, closest reference of length 3 (tie with length 4)
        assert!((s.token_error - 1.0 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn tsv_split_keeps_a_source_in_one_part() {
        let mut text = String::new();
        for i in 0..200 {
            text.push_str(&format!("w{i}\tA {i}\nw{i}\tB {i}\n"));
        }
        let path = std::env::temp_dir().join(format!("rnn-s2s-split-{}.tsv", std::process::id()));
        std::fs::write(&path, &text).unwrap();
        let spec = DataSpec {
            data: path.display().to_string(),
            train_size: 1,
            held_out_size: 1,
            val_frac: 0.1,
            test_frac: 0.1,
            split_seed: 3,
        };
        let s = spec.load().unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(s.train.len() + s.val.len() + s.test.len(), 400);
        assert_eq!((s.val.len(), s.test.len()), (40, 40));
        let src = |v: &[(String, String)]| v.iter().map(|p| p.0.clone()).collect::<HashSet<_>>();
        assert!(src(&s.train).is_disjoint(&src(&s.val)));
        assert!(src(&s.train).is_disjoint(&src(&s.test)));
        assert!(src(&s.val).is_disjoint(&src(&s.test)));
    }

    #[test]
    fn generated_held_out_sources_are_unseen() {
        for task in TASKS {
            let spec = DataSpec {
                data: format!("@{task}"),
                train_size: 3000,
                held_out_size: 200,
                val_frac: 0.1,
                test_frac: 0.1,
                split_seed: 0,
            };
            let s = spec.load().unwrap();
            assert_eq!(s.train.len(), 3000);
            let held: HashSet<&String> = s.val.iter().chain(&s.test).map(|p| &p.0).collect();
            assert!(s.train.iter().all(|p| !held.contains(&p.0)), "{task}");
        }
    }

    #[test]
    fn bad_tsv_lines_are_named() {
        let e = parse_tsv("a\tb\nno tab here\n", "f.tsv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(parse_tsv("\n# comment\n", "f.tsv").is_err());
        assert!(parse_tsv("a\t\n", "f.tsv").is_err());
    }
}
