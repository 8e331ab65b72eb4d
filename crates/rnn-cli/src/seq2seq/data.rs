//! The pairs `rnn seq2seq` trains and scores on: a generated task (`@reversal`, `@addition`, `@dates`) or
//! a TSV file of `source<TAB>target` lines, split into train, validation and test parts (reading,
//! splitting and scoring are `rnn::tasks::pairs`).
//!
//! A TSV's split is by *source*: every line with the same source goes into the same part, so a word with
//! two pronunciations is never trained on with one and tested with the other. The sources are shuffled
//! with a fixed seed (`--split-seed`), the first `--val-frac` of them are the validation part, the next
//! `--test-frac` the test part, the rest the training part. A generated task draws its test and
//! validation pairs first and then training pairs whose sources are in neither, so held-out means unseen.

use std::collections::HashSet;

use anyhow::{bail, Context, Result};
use rnn::tasks::pairs::split_by_source;
pub use rnn::tasks::pairs::{group_by_source, parse_tsv, score, Scores};
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
        let parts = split_by_source(&pairs, self.val_frac, self.test_frac, self.split_seed)
            .with_context(|| format!("--data {}", self.data))?;
        Ok(Splits {
            train: parts.train,
            val: parts.val,
            test: parts.test,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
