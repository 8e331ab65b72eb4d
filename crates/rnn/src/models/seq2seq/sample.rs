//! Sampling from a trained [`Seq2Seq`]: the decoder draws its next token from its own distribution
//! instead of taking the most likely one, so one source gives many different outputs.
//!
//! Greedy decoding and beam search ([`super::beam`]) return *the* most probable output for a source. When
//! the source is a fixed vector that many outputs share (a label, an image's features: chapter 10's
//! one-to-many shape), that single output is not what is wanted; a draw from P(y | x) is. Each step runs
//! the decoder on the token it drew last,
//!
//! ```text
//! (10.3)  s_t = f_dec(E_tgt[y_{t-1}], s_{t-1})          (y_0 = <sos>, s_0 from the encoder and the bridge)
//! (10.4)  z_t = W_out s_t + b_out
//! (3.10)  y_t ~ p_τ,   p_τ[v] ∝ exp(z_t[v] / τ)
//! ```
//!
//! (with attention, the step of (11.4)) until it draws `<eos>` or has drawn `max_len` tokens. The log-probability it reports is the model's,
//! at temperature 1, whatever τ was used to draw:
//!
//! ```text
//! (10.8)  log P(y | x) = Σ_t log softmax(z_t)[y_t]
//! ```
//!
//! so it is what [`Seq2Seq::sequence_log_prob`] (teacher forcing) computes for the same tokens. τ = 0 is
//! greedy decoding, as in the character model's sampler ([`crate::models::char_lm::CharLm::sample`]).
//!
//! ```
//! use rnn::cells::CellKind;
//! use rnn::models::seq2seq::{Seq2Seq, Seq2SeqConfig};
//!
//! let model = Seq2Seq::new(&Seq2SeqConfig::new(CellKind::Lstm, 6, 9, 4, 5), &mut rnn::init::rng(0)).unwrap();
//! let mut rng = rnn::init::rng(1);
//! let h = model.sample(&[4], 0.8, 12, &mut rng).unwrap();
//! assert!(h.tokens.len() <= 12);
//! assert!((h.log_prob - model.sequence_log_prob(&[4], &h.tokens, h.ended)).abs() < 1e-10);
//! assert!(model.sample(&[4], -1.0, 12, &mut rng).is_err());
//! ```

use super::beam::{Hypothesis, LengthPenalty};
use super::tokens::{EOS, SOS};
use super::Seq2Seq;
use crate::init::Rng;
use crate::{Error, Result};

impl Seq2Seq {
    // ANCHOR: sample
    /// Draws one output sequence for `src` (ids without `<sos>`/`<eos>`) at temperature `temperature`:
    /// at most `max_len` tokens, fewer if `<eos>` is drawn (see the module documentation).
    ///
    /// The returned [`Hypothesis`] holds the tokens (without `<eos>`), whether `<eos>` ended them, their
    /// log-probability under the model at temperature 1 (10.8), and the score of the default length
    /// penalty, as [`Seq2Seq::greedy`] reports it. τ = 0 takes the most likely token at each step, which
    /// is [`Seq2Seq::greedy`]'s output, and draws nothing from `rng`; every τ > 0 draws one number from
    /// `rng` per token, so the same generator state gives the same sequence.
    ///
    /// [`Error::Config`] unless `temperature` is a finite number ≥ 0 (the rule of
    /// [`crate::models::char_lm::CharLm::sample`]).
    ///
    /// # Panics
    /// If `src` is empty (as [`Seq2Seq::greedy`]).
    pub fn sample(
        &self,
        src: &[usize],
        temperature: f64,
        max_len: usize,
        rng: &mut Rng,
    ) -> Result<Hypothesis> {
        if !(temperature >= 0.0 && temperature.is_finite()) {
            return Err(Error::Config(format!(
                "temperature must be a finite number ≥ 0, got {temperature}"
            )));
        }
        let (ids, lengths) = super::tokens::pad_batch(&[src.to_vec()]);
        // the fixed vector: the decoder's initial states s_0, from the encoder and the bridge (10.2)
        let enc = self.encode(ids.view(), &lengths);
        let mut states = enc.init.clone();
        let (mut tokens, mut log_prob, mut ended) = (Vec::new(), 0.0, false);
        let mut prev = SOS;
        for _ in 0..max_len {
            // (10.3), (10.4) one decoder step on the token drawn last: the logits z_t   (1, V)
            let (logits, next, _) = self.step(&[prev], &states, enc.memory.as_ref());
            let z: Vec<f64> = logits.row(0).to_vec(); // (V)
            let y = if temperature == 0.0 {
                crate::sample::greedy(&z)
            } else {
                // (3.10) y_t ~ softmax(z_t / τ)
                crate::sample::sample(&z, temperature, None, rng)
            };
            // (10.8) log P accumulates log p_t[y_t], the model's probability at τ = 1
            let lp = crate::loss::log_softmax(logits.view()); // (1, V)
            log_prob += lp[[0, y]];
            states = next;
            if y == EOS {
                ended = true;
                break;
            }
            tokens.push(y);
            prev = y;
        }
        let len = tokens.len() + usize::from(ended);
        let score = LengthPenalty::default().score(log_prob, len.max(1));
        Ok(Hypothesis {
            tokens,
            log_prob,
            score,
            ended,
        })
    }
    // ANCHOR_END: sample
}
