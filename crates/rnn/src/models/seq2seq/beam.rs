//! Decoding a trained [`Seq2Seq`]: greedy decoding and beam search with length normalisation.
//!
//! The model gives every output sequence y (ended by `<eos>`) a log-probability
//!
//! ```text
//! (10.8)  log P(y | x) = Σ_t log p_t[y_t]
//! ```
//!
//! Greedy decoding takes the most likely token at each step. Beam search keeps the k best prefixes
//! (by log P) at each step: every live prefix is extended by every token, the k best candidates survive,
//! those that end in `<eos>` move to the finished list and the others stay live. It stops when no prefix
//! is live or after `max_len` steps; prefixes still live then are returned too, marked unended. With
//! k = 1 it is greedy decoding; with k at least the number of candidates of every step it looks at every
//! sequence of up to `max_len` tokens, so it is exhaustive search.
//!
//! log P only falls as a sequence grows, so comparing finished sequences of different lengths by log P
//! favours short ones. The finished list is ranked by a length-normalised score instead,
//!
//! ```text
//! (10.9)  score(y) = log P(y | x) / |y|^α
//! (10.10) score(y) = log P(y | x) / lp(y),   lp(y) = ((5 + |y|) / 6)^α      (GNMT, Wu et al. 2016)
//! ```
//!
//! where |y| counts the generated tokens *including* the final `<eos>` (so it is never 0). α = 0 is no
//! normalisation, α = 1 the mean log-probability per token; the default is α = 0.7, near the 0.6 to 0.7
//! Wu et al. found best for translation. Within one step every candidate has the same length, so the
//! choice of the k survivors does not depend on α; only the ranking of finished hypotheses does.
//!
//! Every token can be chosen, the specials included: the model has learned not to emit `<pad>` or
//! `<sos>`, and forbidding nothing keeps the reported log P equal to teacher forcing's (10.8).

use ndarray::{Array2, Axis};

use super::decoder::select_states;
use super::tokens::{EOS, SOS};
use super::Seq2Seq;

/// How finished hypotheses of different lengths are compared (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LengthPenalty {
    /// score = log P / |y|^α (10.9); α = 0 ranks by log P.
    Power(f64),
    /// score = log P / ((5 + |y|) / 6)^α (10.10), GNMT's.
    Gnmt(f64),
}

impl Default for LengthPenalty {
    /// `Power(0.7)`.
    fn default() -> Self {
        LengthPenalty::Power(0.7)
    }
}

impl LengthPenalty {
    /// The normalised score of a sequence of `len` tokens (`<eos>` included) with log-probability `log_prob`.
    pub fn score(self, log_prob: f64, len: usize) -> f64 {
        let n = len as f64;
        match self {
            // (10.9) score = log P / |y|^α
            LengthPenalty::Power(alpha) => log_prob / n.powf(alpha),
            // (10.10) score = log P / ((5 + |y|) / 6)^α
            LengthPenalty::Gnmt(alpha) => log_prob / ((5.0 + n) / 6.0).powf(alpha),
        }
    }
}

/// Beam-search settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BeamConfig {
    /// k, the number of prefixes kept at each step (≥ 1).
    pub width: usize,
    /// The most tokens a hypothesis may have, `<eos>` included (≥ 1).
    pub max_len: usize,
    /// How finished hypotheses are ranked.
    pub length_penalty: LengthPenalty,
}

impl BeamConfig {
    /// Width k and maximum length, with the default length penalty ([`LengthPenalty::Power`]`(0.7)`).
    pub fn new(width: usize, max_len: usize) -> Self {
        BeamConfig {
            width,
            max_len,
            length_penalty: LengthPenalty::default(),
        }
    }
}

/// One decoded output sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct Hypothesis {
    /// The tokens, without `<sos>` and without the final `<eos>`.
    pub tokens: Vec<usize>,
    /// log P(tokens, then `<eos>` if ended | source) (10.8).
    pub log_prob: f64,
    /// The length-normalised score the hypotheses are ranked by.
    pub score: f64,
    /// Whether the sequence ended with `<eos>` (false: it reached `max_len` first).
    pub ended: bool,
}

impl Hypothesis {
    /// |y|: the number of generated tokens, the final `<eos>` included.
    pub fn len(&self) -> usize {
        self.tokens.len() + usize::from(self.ended)
    }

    /// True if nothing was generated (not even `<eos>`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A greedy decoding: the hypothesis and, with attention, its weights `(T_out, T_src)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Greedy {
    /// The decoded sequence (its score uses the default length penalty).
    pub hypothesis: Hypothesis,
    /// α_{t,s} for each generated token (row t) over the source (column s); `None` without attention.
    pub attention: Option<Array2<f64>>,
}

/// The index of the first largest entry.
fn argmax(row: ndarray::ArrayView1<'_, f64>) -> usize {
    (0..row.len()).fold(0, |best, k| if row[k] > row[best] { k } else { best })
}

impl Seq2Seq {
    /// Greedy decoding of one source sequence (ids without `<sos>`/`<eos>`), at most `max_len` tokens.
    pub fn greedy(&self, src: &[usize], max_len: usize) -> Greedy {
        let (ids, lengths) = super::tokens::pad_batch(&[src.to_vec()]);
        let enc = self.encode(ids.view(), &lengths);
        let mut states = enc.init.clone();
        let (mut tokens, mut log_prob, mut ended) = (Vec::new(), 0.0, false);
        let mut alphas = Vec::new();
        let mut prev = SOS;
        for _ in 0..max_len {
            let (logits, next, cache) = self.step(&[prev], &states, enc.memory.as_ref());
            if let Some(a) = cache.attention_weights() {
                alphas.push(a);
            }
            let lp = crate::loss::log_softmax(logits.view()); // (1, V)
            let y = argmax(lp.row(0));
            // (10.8) log P accumulates log p_t[y_t]
            log_prob += lp[[0, y]];
            states = next;
            if y == EOS {
                ended = true;
                break;
            }
            tokens.push(y);
            prev = y;
        }
        let attention = (!alphas.is_empty()).then(|| {
            let mut a = Array2::zeros((alphas.len(), src.len()));
            for (t, row) in alphas.iter().enumerate() {
                a.row_mut(t).assign(row);
            }
            a
        });
        let len = tokens.len() + usize::from(ended);
        let score = LengthPenalty::default().score(log_prob, len.max(1));
        Greedy {
            hypothesis: Hypothesis {
                tokens,
                log_prob,
                score,
                ended,
            },
            attention,
        }
    }

    /// Beam search for one source sequence (see the module documentation). Returns every finished
    /// hypothesis (and those still live at `max_len`, unended), best score first: the n-best list.
    ///
    /// # Panics
    /// If `width` or `max_len` is 0, or the source is empty.
    pub fn beam_search(&self, src: &[usize], config: &BeamConfig) -> Vec<Hypothesis> {
        assert!(
            config.width >= 1 && config.max_len >= 1,
            "beam_search: width and max_len must be at least 1, got {config:?}"
        );
        let (ids, lengths) = super::tokens::pad_batch(&[src.to_vec()]);
        let enc = self.encode(ids.view(), &lengths);
        // ANCHOR: beam_loop
        let mut states = enc.init.clone(); // one row per live prefix
        let mut live: Vec<(Vec<usize>, f64)> = vec![(Vec::new(), 0.0)];
        let mut finished: Vec<Hypothesis> = Vec::new();
        let penalty = config.length_penalty;
        for step in 0..config.max_len {
            let prev: Vec<usize> = live
                .iter()
                .map(|(t, _)| t.last().copied().unwrap_or(SOS))
                .collect();
            let memory = enc.memory.as_ref().map(|m| m.select(&vec![0; live.len()]));
            let (logits, next, _) = self.step(&prev, &states, memory.as_ref());
            // log p_t for every live prefix                                     (live, V)
            let lp = crate::loss::log_softmax(logits.view());
            // every extension of every live prefix, in (prefix, token) order
            let mut candidates: Vec<(f64, usize, usize)> = Vec::with_capacity(lp.len());
            for (i, row) in lp.axis_iter(Axis(0)).enumerate() {
                for (v, &l) in row.iter().enumerate() {
                    // (10.8) log P(prefix, v) = log P(prefix) + log p_t[v]
                    candidates.push((live[i].1 + l, i, v));
                }
            }
            // the k best by log P (a stable sort: ties keep the (prefix, token) order, as greedy's argmax)
            candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
            candidates.truncate(config.width);
            let last_step = step + 1 == config.max_len;
            let (mut rows, mut next_live) = (Vec::new(), Vec::new());
            for (log_prob, i, v) in candidates {
                let mut tokens = live[i].0.clone();
                if v == EOS {
                    let score = penalty.score(log_prob, tokens.len() + 1);
                    finished.push(Hypothesis {
                        tokens,
                        log_prob,
                        score,
                        ended: true,
                    });
                    continue;
                }
                tokens.push(v);
                if last_step {
                    let score = penalty.score(log_prob, tokens.len());
                    finished.push(Hypothesis {
                        tokens,
                        log_prob,
                        score,
                        ended: false,
                    });
                } else {
                    rows.push(i);
                    next_live.push((tokens, log_prob));
                }
            }
            if next_live.is_empty() {
                break;
            }
            states = select_states(&next, &rows);
            live = next_live;
        }
        // ANCHOR_END: beam_loop
        finished.sort_by(|a, b| b.score.total_cmp(&a.score));
        finished
    }
}
