//! Saving and loading a [`Seq2Seq`] (and, optionally, its two vocabularies) through [`crate::checkpoint`].
//!
//! The checkpoint's JSON config is `{"seq2seq": {"encoder": <RnnConfig JSON>, "src_vocab": .., "tgt_vocab":
//! .., "embedding_dim": .., "attention": A or null, "vocabs": {"src": .., "tgt": ..} (optional)}}`; the
//! tensors carry the names of [`crate::params::Parameters::params`].

use std::path::Path;

use super::tokens::Vocab;
use super::{Seq2Seq, Seq2SeqConfig};
use crate::checkpoint::{Checkpoint, RnnConfig};
use crate::{Error, Result};

impl Seq2SeqConfig {
    /// The configuration as stored in checkpoints (without vocabularies).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "encoder": self.encoder_config().to_json(),
            "src_vocab": self.src_vocab,
            "tgt_vocab": self.tgt_vocab,
            "embedding_dim": self.embedding_dim,
            "attention": self.attention,
        })
    }

    /// Reads [`Seq2SeqConfig::to_json`]; [`Error::Config`] naming what is missing or wrong.
    pub fn from_json(value: &serde_json::Value) -> Result<Self> {
        let bad = |m: String| Error::Config(format!("seq2seq configuration: {m}"));
        let field = |key: &str| value.get(key).ok_or_else(|| bad(format!("no `{key}`")));
        let count = |key: &str| -> Result<usize> {
            field(key)?
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| bad(format!("`{key}` is not a whole number")))
        };
        let enc = RnnConfig::from_json(field("encoder")?)?;
        let attention = match value.get("attention") {
            None | Some(serde_json::Value::Null) => None,
            Some(_) => Some(count("attention")?),
        };
        let config = Seq2SeqConfig {
            cell: enc.cell,
            src_vocab: count("src_vocab")?,
            tgt_vocab: count("tgt_vocab")?,
            embedding_dim: count("embedding_dim")?,
            hidden_size: enc.hidden_size,
            num_layers: enc.num_layers,
            bidirectional: enc.bidirectional,
            attention,
        };
        if enc.input_size != config.embedding_dim {
            return Err(bad(format!(
                "the encoder reads {} features but the embedding has {}",
                enc.input_size, config.embedding_dim
            )));
        }
        config.validate()?;
        Ok(config)
    }

    /// Every way `self` (a checkpoint's) differs from `other` (a model's), in words.
    pub fn differences(&self, other: &Seq2SeqConfig) -> Vec<String> {
        let mut out = Vec::new();
        let mut diff = |what: &str, a: String, b: String| {
            if a != b {
                out.push(format!("{what}: the checkpoint has {a}, the model {b}"));
            }
        };
        diff("cell", self.cell.describe(), other.cell.describe());
        diff(
            "source vocabulary",
            self.src_vocab.to_string(),
            other.src_vocab.to_string(),
        );
        diff(
            "target vocabulary",
            self.tgt_vocab.to_string(),
            other.tgt_vocab.to_string(),
        );
        diff(
            "embedding size",
            self.embedding_dim.to_string(),
            other.embedding_dim.to_string(),
        );
        diff(
            "hidden size",
            self.hidden_size.to_string(),
            other.hidden_size.to_string(),
        );
        diff(
            "layers",
            self.num_layers.to_string(),
            other.num_layers.to_string(),
        );
        let dirs = |c: &Seq2SeqConfig| {
            if c.bidirectional {
                "a bidirectional encoder"
            } else {
                "a unidirectional encoder"
            }
            .to_string()
        };
        diff("encoder", dirs(self), dirs(other));
        let att = |c: &Seq2SeqConfig| match c.attention {
            Some(a) => format!("attention of size {a}"),
            None => "no attention".to_string(),
        };
        diff("attention", att(self), att(other));
        out
    }
}

impl Seq2Seq {
    /// Saves the model as a checkpoint, atomically, with the vocabularies if given (so a program can
    /// decode strings from the file alone).
    pub fn save(&self, path: &Path, vocabs: Option<(&Vocab, &Vocab)>) -> Result<()> {
        let config = self.checkpoint_config(vocabs)?;
        crate::checkpoint::save_params(path, self, Some(&config))
    }

    /// The JSON config [`Seq2Seq::save`] writes, `{"seq2seq": {..., "vocabs": {"src", "tgt"}}}`, for a
    /// program that saves more tensors beside the model's (an optimiser's state, say) with
    /// [`crate::checkpoint::save`]. [`Error::Config`] if the vocabularies' sizes are not the model's.
    pub fn checkpoint_config(&self, vocabs: Option<(&Vocab, &Vocab)>) -> Result<serde_json::Value> {
        let mut config = self.config().to_json();
        if let Some((src, tgt)) = vocabs {
            if src.len() != self.config().src_vocab || tgt.len() != self.config().tgt_vocab {
                return Err(Error::Config(format!(
                    "the vocabularies have {} and {} symbols, the model {} and {}",
                    src.len(),
                    tgt.len(),
                    self.config().src_vocab,
                    self.config().tgt_vocab
                )));
            }
            config["vocabs"] = serde_json::json!({ "src": src.to_json(), "tgt": tgt.to_json() });
        }
        Ok(serde_json::json!({ "seq2seq": config }))
    }

    /// Loads a model saved by [`Seq2Seq::save`] or by `rnn seq2seq train` (whose optimiser state
    /// `optim.*` is skipped), and its vocabularies if they were saved. Errors name the file and what is
    /// wrong ([`Error::CorruptCheckpoint`] for a file that is not a seq2seq checkpoint, the checkpoint
    /// errors for tensors that do not fit the config).
    pub fn load(path: &Path) -> Result<(Seq2Seq, Option<(Vocab, Vocab)>)> {
        let mut ckpt = Checkpoint::load(path)?;
        ckpt.take_prefix("optim.");
        let corrupt = |reason: String| Error::CorruptCheckpoint {
            path: path.to_path_buf(),
            reason,
        };
        let value = ckpt
            .config
            .as_ref()
            .and_then(|c| c.get("seq2seq"))
            .ok_or_else(|| corrupt("it has no seq2seq configuration (`seq2seq`)".into()))?;
        let config = Seq2SeqConfig::from_json(value).map_err(|e| corrupt(e.to_string()))?;
        let vocabs = match value.get("vocabs") {
            None => None,
            Some(v) => {
                let read = |key: &str| {
                    v.get(key)
                        .ok_or_else(|| corrupt(format!("its vocabularies have no `{key}`")))
                        .and_then(|x| Vocab::from_json(x).map_err(|e| corrupt(e.to_string())))
                };
                Some((read("src")?, read("tgt")?))
            }
        };
        let mut model = Seq2Seq::new(&config, &mut crate::init::rng(0))?;
        ckpt.load_into(&mut model)?;
        Ok((model, vocabs))
    }

    /// [`Seq2Seq::load`], refusing a checkpoint whose configuration is not `expected` with
    /// [`Error::WrongModel`], which lists every difference.
    pub fn load_expecting(
        path: &Path,
        expected: &Seq2SeqConfig,
    ) -> Result<(Seq2Seq, Option<(Vocab, Vocab)>)> {
        let (model, vocabs) = Seq2Seq::load(path)?;
        let diffs = model.config().differences(expected);
        if !diffs.is_empty() {
            return Err(Error::WrongModel {
                path: path.to_path_buf(),
                reason: diffs.join("; "),
            });
        }
        Ok((model, vocabs))
    }
}
