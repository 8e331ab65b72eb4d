//! Beam search for the character model: the most probable continuations of a prime, instead of a sample.
//!
//! Sampling (`CharLm::sample`) draws each character from the model's distribution, so every run with
//! another seed gives another text. Beam search looks for the continuation of exactly `n` characters that
//! the model finds most probable as a whole: it keeps the `width` best prefixes at every step, extends each
//! by every character of the vocabulary, and keeps the `width` best of those, scored by their
//! log-probability, the sum (10.8) of the log-probabilities of their characters. Every hypothesis has the
//! same length, so no length penalty is needed (there is no `<eos>`). Width 1 is greedy decoding
//! (`sample` at temperature 0); a width as large as the number of sequences is an exhaustive search.
//!
//! ```
//! use rnn::data::Vocab;
//! use rnn::models::char_lm::{CharLm, CharLmConfig};
//!
//! let vocab = Vocab::from_text("abc\n");
//! let model = CharLm::new(CharLmConfig::new("gru", vocab, 0, 8, 1, 0.0), &mut rnn::init::rng(0)).unwrap();
//! let best = model.beam_search("ab", 5, 3).unwrap();
//! assert_eq!(best.len(), 3);
//! assert!(best[0].log_prob >= best[1].log_prob && best[1].log_prob >= best[2].log_prob);
//! assert_eq!(best[0].text.chars().count(), 5);
//! ```

use ndarray::Array2;

use super::char_lm::CharLm;
use crate::cells::State;
use crate::{Error, Result};

/// One continuation found by [`CharLm::beam_search`].
#[derive(Clone, Debug, PartialEq)]
pub struct CharHypothesis {
    /// The generated characters (the prime not included).
    pub text: String,
    /// log P(text | prime) under the model (10.8), in nats.
    pub log_prob: f64,
}

/// A prefix kept by the beam: its characters, log-probability, the logits of its next character and the
/// recurrent states after it.
struct Prefix {
    ids: Vec<usize>,
    log_prob: f64,
    logits: Vec<f64>,
    states: Vec<State>,
}

impl CharLm {
    /// The `width` most probable continuations of `n` characters after `prime` (at most `width`; fewer
    /// when fewer sequences exist), best first, by beam search.
    ///
    /// An empty prime starts from a newline, as [`CharLm::sample`] does, and from the vocabulary's first
    /// character when it has no newline (`sample` would draw one at random; beam search is deterministic).
    /// Ties between equal log-probabilities go to the earlier prefix and then the lower character id, so
    /// the result never depends on anything but the model. Characters of `prime` outside the vocabulary
    /// are an [`Error::UnknownChar`]; a width of 0 is an [`Error::Config`].
    pub fn beam_search(&self, prime: &str, n: usize, width: usize) -> Result<Vec<CharHypothesis>> {
        if width == 0 {
            return Err(Error::Config("the beam width must be at least 1".into()));
        }
        let vocab = &self.config.vocab;
        let mut ids = vocab.encode(prime)?;
        if ids.is_empty() {
            ids.push(vocab.id('\n').unwrap_or(0));
        }
        let mut states = self.zero_states(1);
        let mut logits = Vec::new();
        for &id in &ids {
            (logits, states) = self.step(id, &states);
        }
        let mut beam = vec![Prefix {
            ids: Vec::new(),
            log_prob: 0.0,
            logits,
            states,
        }];
        for _ in 0..n {
            // every extension of every prefix: (log-probability, prefix, character)
            let mut candidates = Vec::with_capacity(beam.len() * vocab.len());
            for (b, prefix) in beam.iter().enumerate() {
                let z = Array2::from_shape_vec((1, prefix.logits.len()), prefix.logits.clone())
                    .expect("one row of logits"); // (1, V)
                let lp = crate::loss::log_softmax(z.view()); // (1, V)
                for (c, &l) in lp.row(0).iter().enumerate() {
                    // (10.8) log P(y_1..y_t | prime) = log P(y_1..y_{t-1} | prime) + log p_t[y_t]
                    candidates.push((prefix.log_prob + l, b, c));
                }
            }
            // best first; ties to the earlier prefix, then the lower character id
            candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
            candidates.truncate(width);
            beam = candidates
                .into_iter()
                .map(|(log_prob, b, c)| {
                    let parent = &beam[b];
                    let (logits, states) = self.step(c, &parent.states);
                    let mut ids = parent.ids.clone();
                    ids.push(c);
                    Prefix {
                        ids,
                        log_prob,
                        logits,
                        states,
                    }
                })
                .collect();
        }
        Ok(beam
            .into_iter()
            .map(|p| CharHypothesis {
                text: p.ids.iter().map(|&c| vocab.char(c)).collect(),
                log_prob: p.log_prob,
            })
            .collect())
    }

    /// log P(`text` | `prime`) under the model (10.8), in nats, by stepping through `text` (the prime
    /// starts as in [`CharLm::beam_search`]). The number beam search reports for a hypothesis.
    pub fn continuation_log_prob(&self, prime: &str, text: &str) -> Result<f64> {
        let vocab = &self.config.vocab;
        let mut ids = vocab.encode(prime)?;
        if ids.is_empty() {
            ids.push(vocab.id('\n').unwrap_or(0));
        }
        let mut states = self.zero_states(1);
        let mut logits = Vec::new();
        for &id in &ids {
            (logits, states) = self.step(id, &states);
        }
        let mut total = 0.0;
        for c in vocab.encode(text)? {
            let z = Array2::from_shape_vec((1, logits.len()), logits.clone()).expect("one row"); // (1, V)
                                                                                                 // (10.8) log P(y | prime) = Σ_t log p_t[y_t]
            total += crate::loss::log_softmax(z.view())[[0, c]];
            (logits, states) = self.step(c, &states);
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Vocab;
    use crate::models::char_lm::CharLmConfig;

    fn model(cell: &str, text: &str, seed: u64) -> CharLm {
        let config = CharLmConfig::new(cell, Vocab::from_text(text), 0, 6, 2, 0.0);
        CharLm::new(config, &mut crate::init::rng(seed)).unwrap()
    }

    #[test]
    fn width_one_is_greedy_sampling() {
        for cell in ["rnn_tanh", "lstm", "gru"] {
            let m = model(cell, "abcd\n", 3);
            let beam = m.beam_search("ab", 12, 1).unwrap();
            let greedy = m.sample("ab", 12, 0.0, None, 0).unwrap();
            assert_eq!(beam.len(), 1);
            assert_eq!(format!("ab{}", beam[0].text), greedy, "{cell}");
        }
    }

    #[test]
    fn scores_are_the_models_log_probabilities() {
        let m = model("lstm", "xyz\n", 1);
        for h in m.beam_search("", 7, 4).unwrap() {
            let lp = m.continuation_log_prob("", &h.text).unwrap();
            assert!((lp - h.log_prob).abs() < 1e-12, "{} {lp}", h.log_prob);
        }
    }

    #[test]
    fn exhaustive_beam_equals_brute_force() {
        // 3 characters, 4 steps: 81 sequences; a beam of 81 keeps every prefix, so it is exact
        let m = model("gru", "abc", 5);
        let n = 4;
        let chars: Vec<char> = "abc".chars().collect();
        let mut all = Vec::new();
        for code in 0..3usize.pow(n as u32) {
            let text: String = (0..n)
                .map(|i| chars[(code / 3usize.pow(i as u32)) % 3])
                .collect();
            all.push((m.continuation_log_prob("a", &text).unwrap(), text));
        }
        all.sort_by(|a, b| b.0.total_cmp(&a.0));
        let beam = m.beam_search("a", n, 81).unwrap();
        assert_eq!(beam.len(), 81);
        for (h, (lp, text)) in beam.iter().zip(&all) {
            assert!((h.log_prob - lp).abs() < 1e-12);
            assert_eq!(&h.text, text);
        }
        // and a narrow beam never finds anything better than the exact best
        let narrow = m.beam_search("a", n, 2).unwrap();
        assert!(narrow[0].log_prob <= all[0].0 + 1e-12);
    }

    #[test]
    fn bad_input_is_an_error() {
        let m = model("gru", "abc", 0);
        assert!(matches!(m.beam_search("a", 3, 0), Err(Error::Config(_))));
        assert!(matches!(
            m.beam_search("q", 3, 2),
            Err(Error::UnknownChar { .. })
        ));
    }
}
