//! Data: character vocabularies and truncated-BPTT batching (the synthetic sequence tasks are in
//! [`crate::tasks`]).
//!
//! ```
//! use rnn::data::{Vocab, TbpttBatches};
//! let text = "hello world";
//! let vocab = Vocab::from_text(text);
//! let ids = vocab.encode(text).unwrap();
//! assert_eq!(vocab.decode(&ids), text);
//! // 2 parallel streams, chunks of 3 steps: inputs and next-character targets, both (T, B)
//! let batches = TbpttBatches::new(&ids, 2, 3).unwrap();
//! let (x, y) = batches.chunk(0);
//! assert_eq!(x.dim(), (3, 2));
//! assert_eq!(y[[0, 0]], x[[1, 0]]); // the target is the next input
//! ```

use std::collections::BTreeMap;

use ndarray::{Array2, Array3};
use serde::{Deserialize, Serialize};

use crate::init::Rng;
use crate::{Error, Result};

/// The character used for unknown characters when a vocabulary reserves one.
pub const UNKNOWN: char = '\u{FFFD}';

/// A character vocabulary: sorted distinct characters, each with an id.
///
/// Unknown characters are explicit: [`Vocab::encode`] refuses them with [`Error::UnknownChar`], while
/// [`Vocab::encode_lossy`] maps them to [`UNKNOWN`] if the vocabulary reserves it
/// ([`Vocab::with_unknown`]).
/// Serialised as its list of characters (a JSON string array).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "Vec<char>", from = "Vec<char>")]
pub struct Vocab {
    chars: Vec<char>,
    index: BTreeMap<char, usize>,
}

impl From<Vec<char>> for Vocab {
    fn from(chars: Vec<char>) -> Self {
        Vocab::from_chars(chars)
    }
}

impl From<Vocab> for Vec<char> {
    fn from(v: Vocab) -> Self {
        v.chars
    }
}

impl Vocab {
    /// The vocabulary of all characters in `text`, sorted by code point.
    pub fn from_text(text: &str) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Self::from_chars(chars)
    }

    /// A vocabulary from an explicit character list (kept in the given order; duplicates are removed).
    pub fn from_chars(chars: Vec<char>) -> Self {
        let mut seen = BTreeMap::new();
        let mut kept = Vec::with_capacity(chars.len());
        for c in chars {
            if let std::collections::btree_map::Entry::Vacant(slot) = seen.entry(c) {
                slot.insert(kept.len());
                kept.push(c);
            }
        }
        Vocab {
            chars: kept,
            index: seen,
        }
    }

    /// Adds the [`UNKNOWN`] character (if absent), so that [`Vocab::encode_lossy`] can map unseen characters.
    pub fn with_unknown(mut self) -> Self {
        if !self.index.contains_key(&UNKNOWN) {
            self.index.insert(UNKNOWN, self.chars.len());
            self.chars.push(UNKNOWN);
        }
        self
    }

    /// Number of characters V.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// True if the vocabulary has no characters.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The characters, in id order.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// The id of `c`, if known.
    pub fn id(&self, c: char) -> Option<usize> {
        self.index.get(&c).copied()
    }

    /// The character with id `i` (panics if out of range).
    pub fn char(&self, i: usize) -> char {
        self.chars[i]
    }

    /// Encodes `text`; the first character outside the vocabulary is an error naming it and its position.
    pub fn encode(&self, text: &str) -> Result<Vec<usize>> {
        text.chars()
            .enumerate()
            .map(|(position, ch)| {
                self.id(ch).ok_or(Error::UnknownChar {
                    ch,
                    position,
                    size: self.len(),
                })
            })
            .collect()
    }

    /// Encodes `text`, mapping unknown characters to [`UNKNOWN`]; an error if the vocabulary has no
    /// [`UNKNOWN`] and an unknown character occurs.
    pub fn encode_lossy(&self, text: &str) -> Result<Vec<usize>> {
        match self.id(UNKNOWN) {
            Some(unk) => Ok(text.chars().map(|c| self.id(c).unwrap_or(unk)).collect()),
            None => self.encode(text),
        }
    }

    /// Decodes ids back to text.
    pub fn decode(&self, ids: &[usize]) -> String {
        ids.iter().map(|&i| self.chars[i]).collect()
    }
}

/// Splits `ids` into a training part and a validation part (the last `val_fraction` of the data).
pub fn split_train_val(ids: &[usize], val_fraction: f64) -> Result<(&[usize], &[usize])> {
    if !(0.0..1.0).contains(&val_fraction) {
        return Err(Error::Config(format!(
            "validation fraction must be in [0, 1), got {val_fraction}"
        )));
    }
    let n_val = (ids.len() as f64 * val_fraction).round() as usize;
    let split = ids.len() - n_val;
    if split < 2 || (val_fraction > 0.0 && n_val < 2) {
        return Err(Error::NotEnoughData(format!(
            "{} tokens cannot be split into training and validation parts of at least 2 tokens each",
            ids.len()
        )));
    }
    Ok(ids.split_at(split))
}

// ANCHOR: tbptt_batches
/// Truncated-BPTT batches: the token stream cut into B parallel streams, each read in chunks of T steps.
///
/// Stream b reads tokens `[b·L, (b+1)·L)` with L = ⌊(N-1)/B⌋, so chunk k of every stream continues exactly
/// where chunk k-1 stopped: carry the final hidden state from one chunk into the next.
#[derive(Clone, Debug)]
pub struct TbpttBatches {
    streams: Array2<usize>, // (B, L + 1)
    seq_len: usize,
}

impl TbpttBatches {
    /// Batches over `ids` with `batch` streams and chunks of `seq_len` steps.
    pub fn new(ids: &[usize], batch: usize, seq_len: usize) -> Result<Self> {
        if batch == 0 || seq_len == 0 {
            return Err(Error::Config(
                "batch size and sequence length must be at least 1".into(),
            ));
        }
        let len = ids.len().saturating_sub(1) / batch;
        if len < seq_len {
            return Err(Error::NotEnoughData(format!(
                "{} tokens give {batch} streams of {len} steps, fewer than one chunk of {seq_len}",
                ids.len()
            )));
        }
        let streams = Array2::from_shape_fn((batch, len + 1), |(b, i)| ids[b * len + i]);
        Ok(TbpttBatches { streams, seq_len })
    }
    // ANCHOR_END: tbptt_batches

    /// Number of full chunks per pass over the data.
    pub fn num_chunks(&self) -> usize {
        (self.streams.ncols() - 1) / self.seq_len
    }

    /// Characters (B·T) in one chunk.
    pub fn chars_per_chunk(&self) -> usize {
        self.streams.nrows() * self.seq_len
    }

    // ANCHOR: tbptt_chunk
    /// Chunk `k`: `(inputs, targets)`, both `(T, B)`; targets are the inputs shifted by one step.
    pub fn chunk(&self, k: usize) -> (Array2<usize>, Array2<usize>) {
        assert!(
            k < self.num_chunks(),
            "chunk {k} out of range ({} chunks)",
            self.num_chunks()
        );
        let start = k * self.seq_len;
        let x = Array2::from_shape_fn((self.seq_len, self.streams.nrows()), |(t, b)| {
            self.streams[[b, start + t]]
        });
        let y = Array2::from_shape_fn((self.seq_len, self.streams.nrows()), |(t, b)| {
            self.streams[[b, start + t + 1]]
        });
        (x, y)
    }
    // ANCHOR_END: tbptt_chunk
}

/// The adding problem; moved to [`crate::tasks::adding_problem`], which this calls.
#[deprecated(note = "moved to rnn::tasks::adding_problem")]
pub fn adding_problem(t_len: usize, batch: usize, rng: &mut Rng) -> (Array3<f64>, Vec<f64>) {
    crate::tasks::adding_problem(t_len, batch, rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_characters_are_explicit() {
        let v = Vocab::from_text("abc");
        match v.encode("abx") {
            Err(Error::UnknownChar {
                ch: 'x',
                position: 2,
                size: 3,
            }) => {}
            other => panic!("expected UnknownChar, got {other:?}"),
        }
        assert!(
            v.encode_lossy("abx").is_err(),
            "no UNKNOWN reserved: lossy must refuse too"
        );
        let v = v.with_unknown();
        assert_eq!(
            v.decode(&v.encode_lossy("abx").unwrap()),
            format!("ab{UNKNOWN}")
        );
    }

    #[test]
    fn vocab_round_trips_through_json() {
        let v = Vocab::from_text("hello, wörld");
        let back: Vocab = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(back, v);
        assert_eq!(back.encode("wörld").unwrap(), v.encode("wörld").unwrap());
    }

    #[test]
    fn chunks_continue_each_stream() {
        let ids: Vec<usize> = (0..23).collect();
        let b = TbpttBatches::new(&ids, 2, 4).unwrap(); // L = 11: streams 0..=11 and 11..=22
        assert_eq!(b.num_chunks(), 2);
        let (x0, y0) = b.chunk(0);
        let (x1, _) = b.chunk(1);
        assert_eq!(x0.column(0).to_vec(), vec![0, 1, 2, 3]);
        assert_eq!(x0.column(1).to_vec(), vec![11, 12, 13, 14]);
        assert_eq!(y0.column(1).to_vec(), vec![12, 13, 14, 15]);
        assert_eq!(
            x1.column(0).to_vec(),
            vec![4, 5, 6, 7],
            "chunk 1 must continue stream 0"
        );
        assert!(TbpttBatches::new(&ids, 4, 10).is_err());
    }

    #[test]
    fn split_refuses_tiny_data() {
        let ids: Vec<usize> = (0..100).collect();
        let (tr, va) = split_train_val(&ids, 0.1).unwrap();
        assert_eq!((tr.len(), va.len()), (90, 10));
        assert!(split_train_val(&ids[..3], 0.1).is_err());
        assert!(split_train_val(&ids, 1.5).is_err());
    }
}
