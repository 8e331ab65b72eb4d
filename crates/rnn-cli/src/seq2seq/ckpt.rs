//! Checkpoints of `rnn seq2seq train`: the model's tensors and vocabularies as `Seq2Seq::save` writes
//! them (so `Seq2Seq::load` reads the file), plus the optimiser state (`optim.*`) and a config holding
//! the format, the training settings and the progress.

use std::path::Path;

use anyhow::{bail, Context, Result};
use ndarray::{ArrayD, ArrayViewD};
use rnn::checkpoint::{self, Checkpoint};
use rnn::models::seq2seq::tokens::Vocab;
use rnn::models::seq2seq::Seq2Seq;
use rnn::params::Parameters;

use super::train::{Progress, TrainArgs};

/// Identifies checkpoints written by `rnn seq2seq train`.
pub const FORMAT: &str = "rnn-cli/seq2seq/1";

/// What a checkpoint is written from.
pub struct Saved<'a> {
    pub model: &'a Seq2Seq,
    pub src_vocab: &'a Vocab,
    pub tgt_vocab: &'a Vocab,
    pub optim: Vec<(String, ArrayD<f64>)>,
    pub args: &'a TrainArgs,
    pub progress: &'a Progress,
}

impl Saved<'_> {
    /// Writes the checkpoint atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut config = self
            .model
            .checkpoint_config(Some((self.src_vocab, self.tgt_vocab)))?;
        config["format"] = FORMAT.into();
        config["train"] = serde_json::to_value(self.args)?;
        config["progress"] = serde_json::to_value(self.progress)?;
        let mut tensors: Vec<(String, ArrayViewD<'_, f64>)> = self.model.params();
        tensors.extend(
            self.optim
                .iter()
                .map(|(n, t)| (format!("optim.{n}"), t.view())),
        );
        checkpoint::save(path, &tensors, Some(&config))
            .with_context(|| format!("cannot save checkpoint {}", path.display()))
    }
}

/// A checkpoint read back.
pub struct Loaded {
    pub model: Seq2Seq,
    pub src_vocab: Vocab,
    pub tgt_vocab: Vocab,
    pub optim: Vec<(String, ArrayD<f64>)>,
    pub args: TrainArgs,
    pub progress: Progress,
}

/// Reads a checkpoint of `rnn seq2seq train`; one clear error for anything else.
pub fn load(path: &Path) -> Result<Loaded> {
    if !path.exists() {
        bail!("checkpoint {} does not exist", path.display());
    }
    let corrupt = |reason: String| -> anyhow::Error {
        rnn::Error::CorruptCheckpoint {
            path: path.to_path_buf(),
            reason,
        }
        .into()
    };
    let mut ckpt = Checkpoint::load(path)?;
    let config = ckpt.config.clone().unwrap_or(serde_json::Value::Null);
    if config.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        let hint = if config.get("model").is_some() {
            " (it is a character model: use `rnn sample` or `rnn eval`)"
        } else {
            ""
        };
        return Err(corrupt(format!(
            "it was not written by `rnn seq2seq train` (no format {FORMAT:?} in its config){hint}"
        )));
    }
    let optim = ckpt.take_prefix("optim.");
    let (model, vocabs) = Seq2Seq::load(path)?;
    let Some((src_vocab, tgt_vocab)) = vocabs else {
        return Err(corrupt("it has no vocabularies".into()));
    };
    let args: TrainArgs = serde_json::from_value(config["train"].clone())
        .map_err(|e| corrupt(format!("its training settings are unreadable ({e})")))?;
    let progress: Progress = serde_json::from_value(config["progress"].clone())
        .map_err(|e| corrupt(format!("its progress record is unreadable ({e})")))?;
    Ok(Loaded {
        model,
        src_vocab,
        tgt_vocab,
        optim,
        args,
        progress,
    })
}
