//! Token vocabularies for sequence-to-sequence models, and padded teacher-forcing batches.
//!
//! A [`Vocab`] maps symbols to ids. The first four ids are special, the same in every vocabulary:
//!
//! | id | symbol  | meaning |
//! |----|---------|---------|
//! | 0  | `<pad>` | fills the end of shorter sequences in a batch (never a real token) |
//! | 1  | `<sos>` | start of sequence: the decoder's first input |
//! | 2  | `<eos>` | end of sequence: the decoder's last target, and where decoding stops |
//! | 3  | `<unk>` | any symbol not seen when the vocabulary was built |
//!
//! Symbols are characters ([`Split::Chars`], the default) or whitespace-separated words such as the
//! phonemes of a pronouncing dictionary, `K AE1 T` ([`Split::Whitespace`]).
//!
//! ```
//! use rnn::models::seq2seq::tokens::{Split, Vocab, EOS, UNK};
//! let chars = Vocab::build(["abc", "cab"], Split::Chars);
//! assert_eq!(chars.len(), 4 + 3);
//! assert_eq!(chars.encode("cax"), vec![6, 4, UNK]);
//! assert_eq!(chars.decode(&[6, 4, EOS, 5]), "ca"); // decoding stops at <eos>
//! let phones = Vocab::build(["K AE1 T", "T AE1 K"], Split::Whitespace);
//! assert_eq!(phones.decode(&phones.encode("K AE1 T")), "K AE1 T");
//! ```

use std::collections::HashMap;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// The id of `<pad>`.
pub const PAD: usize = 0;
/// The id of `<sos>` (start of sequence).
pub const SOS: usize = 1;
/// The id of `<eos>` (end of sequence).
pub const EOS: usize = 2;
/// The id of `<unk>` (unknown symbol).
pub const UNK: usize = 3;
/// The special symbols, in id order.
pub const SPECIALS: [&str; 4] = ["<pad>", "<sos>", "<eos>", "<unk>"];

/// How a string is cut into symbols.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Split {
    /// Every Unicode scalar value is a symbol (spaces included).
    #[default]
    Chars,
    /// Symbols are separated by whitespace; decoding joins them with one space.
    Whitespace,
}

/// A vocabulary: the four specials, then every symbol of the texts it was built from, sorted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocab {
    /// The symbols, by id (`symbols[0] == "<pad>"`, ...).
    symbols: Vec<String>,
    /// How strings are cut into symbols.
    split: Split,
    /// symbol → id
    index: HashMap<String, usize>,
}

impl Vocab {
    /// A vocabulary of every symbol in `texts`, after the specials, in sorted order (so the ids do not
    /// depend on the order of the texts).
    pub fn build<S: AsRef<str>>(texts: impl IntoIterator<Item = S>, split: Split) -> Self {
        let mut seen: Vec<String> = Vec::new();
        for text in texts {
            seen.extend(symbols_of(text.as_ref(), split).map(str::to_string));
        }
        seen.sort();
        seen.dedup();
        seen.retain(|s| !SPECIALS.contains(&s.as_str()));
        let symbols = SPECIALS.iter().map(|s| s.to_string()).chain(seen).collect();
        Self::from_symbols(symbols, split)
    }

    /// A vocabulary with exactly these symbols by id; the first four must be [`SPECIALS`].
    ///
    /// # Panics
    /// If the first four symbols are not the specials, or a symbol occurs twice.
    pub fn from_symbols(symbols: Vec<String>, split: Split) -> Self {
        assert!(
            symbols.len() >= 4 && symbols[..4].iter().zip(SPECIALS).all(|(a, b)| a == b),
            "Vocab::from_symbols: the first four symbols must be {SPECIALS:?}, got {:?}",
            &symbols[..symbols.len().min(4)]
        );
        let index: HashMap<String, usize> = symbols
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i))
            .collect();
        assert_eq!(
            index.len(),
            symbols.len(),
            "Vocab::from_symbols: a symbol occurs twice"
        );
        Vocab {
            symbols,
            split,
            index,
        }
    }

    /// The vocabulary's JSON form, `{"symbols": [...], "split": "Chars"}` (for checkpoint configs).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "symbols": self.symbols, "split": self.split })
    }

    /// Reads [`Vocab::to_json`]; [`crate::Error::Config`] if it is not a vocabulary.
    pub fn from_json(value: &serde_json::Value) -> crate::Result<Self> {
        #[derive(Deserialize)]
        struct Raw {
            symbols: Vec<String>,
            split: Split,
        }
        let raw: Raw = serde_json::from_value(value.clone())
            .map_err(|e| crate::Error::Config(format!("not a vocabulary ({e})")))?;
        if raw.symbols.len() < 4 || raw.symbols[..4].iter().zip(SPECIALS).any(|(a, b)| a != b) {
            return Err(crate::Error::Config(format!(
                "a vocabulary must start with {SPECIALS:?}"
            )));
        }
        Ok(Self::from_symbols(raw.symbols, raw.split))
    }

    /// The number of ids, specials included (the embedding's and the output layer's V).
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// True if the vocabulary holds only the specials.
    pub fn is_empty(&self) -> bool {
        self.symbols.len() == SPECIALS.len()
    }

    /// How this vocabulary cuts strings.
    pub fn split(&self) -> Split {
        self.split
    }

    /// The symbol of an id (`None` if out of range).
    pub fn symbol(&self, id: usize) -> Option<&str> {
        self.symbols.get(id).map(String::as_str)
    }

    /// The id of a symbol, `<unk>` if it is not in the vocabulary.
    pub fn id(&self, symbol: &str) -> usize {
        self.index.get(symbol).copied().unwrap_or(UNK)
    }

    /// The ids of a text's symbols (no `<sos>` or `<eos>` added); unknown symbols become `<unk>`.
    pub fn encode(&self, text: &str) -> Vec<usize> {
        symbols_of(text, self.split).map(|s| self.id(s)).collect()
    }

    /// The text of a sequence of ids: stops at the first `<eos>`, skips `<pad>` and `<sos>`, writes
    /// `<unk>` (and any out-of-range id as `<unk>`) as it is.
    pub fn decode(&self, ids: &[usize]) -> String {
        let words = ids
            .iter()
            .take_while(|&&id| id != EOS)
            .filter(|&&id| id != PAD && id != SOS)
            .map(|&id| self.symbol(id).unwrap_or(SPECIALS[UNK]));
        match self.split {
            Split::Chars => words.collect(),
            Split::Whitespace => words.collect::<Vec<_>>().join(" "),
        }
    }
}

/// The symbols of `text` under `split`.
fn symbols_of(text: &str, split: Split) -> Box<dyn Iterator<Item = &str> + '_> {
    match split {
        Split::Chars => Box::new(
            text.char_indices()
                .map(move |(i, c)| &text[i..i + c.len_utf8()]),
        ),
        Split::Whitespace => Box::new(text.split_whitespace()),
    }
}

/// Sequences of ids padded with `<pad>` into a time-major `(T_max, B)` array, and their lengths.
///
/// ```
/// let (ids, lengths) = rnn::models::seq2seq::tokens::pad_batch(&[vec![5, 6, 7], vec![8]]);
/// assert_eq!(ids, ndarray::array![[5, 8], [6, 0], [7, 0]]);
/// assert_eq!(lengths, [3, 1]);
/// ```
pub fn pad_batch(seqs: &[Vec<usize>]) -> (Array2<usize>, Vec<usize>) {
    let lengths: Vec<usize> = seqs.iter().map(Vec::len).collect();
    let t_max = lengths.iter().copied().max().unwrap_or(0);
    let mut ids = Array2::from_elem((t_max, seqs.len()), PAD); // (T, B)
    for (b, s) in seqs.iter().enumerate() {
        for (t, &id) in s.iter().enumerate() {
            ids[[t, b]] = id;
        }
    }
    (ids, lengths)
}

/// A padded batch for teacher forcing: sources, and targets as decoder inputs and outputs.
///
/// For a target `y_1 .. y_n` the decoder reads `<sos> y_1 .. y_n` and must predict `y_1 .. y_n <eos>`:
/// n + 1 real steps (`tgt_lengths[b]`). Everything after a row's length is `<pad>`.
#[derive(Clone, Debug, PartialEq)]
pub struct Seq2SeqBatch {
    /// `(T_src, B)`: source ids, `<pad>` after each row's length.
    pub src: Array2<usize>,
    /// `(B)`: real source steps per row (each ≥ 1).
    pub src_lengths: Vec<usize>,
    /// `(T_tgt, B)`: decoder inputs, `<sos>` then the target.
    pub tgt_in: Array2<usize>,
    /// `(T_tgt, B)`: decoder targets, the target then `<eos>`.
    pub tgt_out: Array2<usize>,
    /// `(B)`: real decoder steps per row, the target's length + 1.
    pub tgt_lengths: Vec<usize>,
}

impl Seq2SeqBatch {
    /// The batch of source and target id sequences (without `<sos>`/`<eos>`; they are added here).
    ///
    /// ```
    /// use rnn::models::seq2seq::tokens::{Seq2SeqBatch, EOS, PAD, SOS};
    /// let batch = Seq2SeqBatch::new(&[vec![4, 5], vec![6]], &[vec![7], vec![8, 9]]);
    /// assert_eq!(batch.tgt_in, ndarray::array![[SOS, SOS], [7, 8], [PAD, 9]]);
    /// assert_eq!(batch.tgt_out, ndarray::array![[7, 8], [EOS, 9], [PAD, EOS]]);
    /// assert_eq!(batch.tgt_lengths, [2, 3]);
    /// ```
    ///
    /// # Panics
    /// If the numbers of sources and targets differ, the batch is empty, or a source is empty.
    pub fn new(src: &[Vec<usize>], tgt: &[Vec<usize>]) -> Self {
        assert_eq!(
            src.len(),
            tgt.len(),
            "Seq2SeqBatch::new: {} sources but {} targets",
            src.len(),
            tgt.len()
        );
        assert!(!src.is_empty(), "Seq2SeqBatch::new: an empty batch");
        assert!(
            src.iter().all(|s| !s.is_empty()),
            "Seq2SeqBatch::new: every source needs at least one symbol"
        );
        let (src_ids, src_lengths) = pad_batch(src);
        let inputs: Vec<Vec<usize>> = tgt
            .iter()
            .map(|y| std::iter::once(SOS).chain(y.iter().copied()).collect())
            .collect();
        let outputs: Vec<Vec<usize>> = tgt
            .iter()
            .map(|y| y.iter().copied().chain(std::iter::once(EOS)).collect())
            .collect();
        let (tgt_in, tgt_lengths) = pad_batch(&inputs);
        let (tgt_out, _) = pad_batch(&outputs);
        Seq2SeqBatch {
            src: src_ids,
            src_lengths,
            tgt_in,
            tgt_out,
            tgt_lengths,
        }
    }

    /// The batch of string pairs, encoded with the two vocabularies.
    pub fn from_pairs<S: AsRef<str>, T: AsRef<str>>(
        pairs: &[(S, T)],
        src_vocab: &Vocab,
        tgt_vocab: &Vocab,
    ) -> Self {
        let src: Vec<Vec<usize>> = pairs
            .iter()
            .map(|(s, _)| src_vocab.encode(s.as_ref()))
            .collect();
        let tgt: Vec<Vec<usize>> = pairs
            .iter()
            .map(|(_, t)| tgt_vocab.encode(t.as_ref()))
            .collect();
        Self::new(&src, &tgt)
    }

    /// Batch size B.
    pub fn batch(&self) -> usize {
        self.src_lengths.len()
    }

    /// The number of real target tokens (the loss's denominator): Σ_b `tgt_lengths[b]`.
    pub fn num_target_tokens(&self) -> usize {
        self.tgt_lengths.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specials_first_unknowns_and_json() {
        let v = Vocab::build(["K AE1 T", "D AO1 G"], Split::Whitespace);
        assert_eq!(v.symbol(0), Some("<pad>"));
        assert_eq!(v.symbol(4), Some("AE1"));
        assert_eq!(v.encode("K ZZ T"), vec![v.id("K"), UNK, v.id("T")]);
        assert_eq!(v.decode(&v.encode("K ZZ T")), "K <unk> T");
        let back = Vocab::from_json(&v.to_json()).unwrap();
        assert_eq!(back, v);
        assert_eq!(back.id("G"), v.id("G"));
        assert!(
            Vocab::from_json(&serde_json::json!({"symbols": ["a"], "split": "Chars"})).is_err()
        );
        let c = Vocab::build(["héllo"], Split::Chars);
        assert_eq!(c.decode(&c.encode("hé")), "hé");
    }
}
