//! Decoding a seq2seq model: beam search with k = 1 is greedy decoding; an exhaustive beam finds what
//! brute-force search over every sequence finds; every reported log-probability is the one teacher
//! forcing computes for the same tokens.

use rnn::models::seq2seq::tokens::EOS;
use rnn::models::seq2seq::{BeamConfig, Hypothesis, LengthPenalty, Seq2Seq};

mod common;
use common::{cases, V};

#[test]
fn beam_of_width_one_is_greedy() {
    for m in cases() {
        for src in [vec![4, 5, 6], vec![6], vec![5, 5, 4, 6, 4]] {
            let g = m.greedy(&src, 8).hypothesis;
            let b = m.beam_search(&src, &BeamConfig::new(1, 8));
            assert_eq!(b.len(), 1);
            assert_eq!(b[0].tokens, g.tokens);
            assert_eq!(b[0].ended, g.ended);
            assert!((b[0].log_prob - g.log_prob).abs() < 1e-12);
        }
    }
}

/// Every sequence the model can produce in at most `max_len` steps: the ones ended by `<eos>` (fewer than
/// `max_len` tokens before it) and the ones cut off at `max_len` tokens, each with its log-probability by
/// teacher forcing and its score.
fn brute_force(m: &Seq2Seq, src: &[usize], max_len: usize, lp: LengthPenalty) -> Vec<Hypothesis> {
    let non_eos: Vec<usize> = (0..V).filter(|&v| v != EOS).collect();
    let mut prefixes: Vec<Vec<usize>> = vec![Vec::new()];
    let mut out = Vec::new();
    for len in 0..=max_len {
        for p in &prefixes {
            let ended = len < max_len;
            let log_prob = m.sequence_log_prob(src, p, ended);
            let n = p.len() + usize::from(ended);
            out.push(Hypothesis {
                tokens: p.clone(),
                log_prob,
                score: lp.score(log_prob, n),
                ended,
            });
        }
        prefixes = prefixes
            .iter()
            .flat_map(|p| {
                non_eos.iter().map(move |&v| {
                    let mut q = p.clone();
                    q.push(v);
                    q
                })
            })
            .collect();
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

#[test]
fn an_exhaustive_beam_is_brute_force_search_and_its_scores_are_teacher_forcings() {
    let max_len = 3;
    // enough for every candidate of every step: V·(V-1)^(max_len-1)
    let width = V * (V - 1).pow(max_len as u32 - 1);
    for lp in [
        LengthPenalty::Power(0.0),
        LengthPenalty::default(),
        LengthPenalty::Gnmt(0.6),
    ] {
        for m in cases() {
            let src = [4, 6, 5];
            let config = BeamConfig {
                width,
                max_len,
                length_penalty: lp,
            };
            let beam = m.beam_search(&src, &config);
            let brute = brute_force(&m, &src, max_len, lp);
            assert_eq!(beam.len(), brute.len(), "every sequence is found");
            for (b, f) in beam.iter().zip(&brute) {
                assert_eq!((&b.tokens, b.ended), (&f.tokens, f.ended));
                assert!((b.log_prob - f.log_prob).abs() < 1e-10);
                assert!((b.score - f.score).abs() < 1e-10);
            }
        }
    }
}

#[test]
fn reported_scores_are_log_probabilities_by_teacher_forcing() {
    for m in cases() {
        let src = [5, 4, 6, 6];
        let config = BeamConfig::new(4, 6);
        let beam = m.beam_search(&src, &config);
        assert!(!beam.is_empty());
        for h in &beam {
            let lp = m.sequence_log_prob(&src, &h.tokens, h.ended);
            assert!((h.log_prob - lp).abs() < 1e-10, "{} vs {lp}", h.log_prob);
            assert!((h.score - config.length_penalty.score(lp, h.len())).abs() < 1e-10);
        }
        for w in beam.windows(2) {
            assert!(w[0].score >= w[1].score, "best first");
        }
        // greedy decoding's attention weights: one distribution over the source per generated token
        let greedy = m.greedy(&src, 6);
        if let Some(a) = greedy.attention {
            assert_eq!(a.ncols(), src.len());
            for row in a.rows() {
                assert!((row.sum() - 1.0).abs() < 1e-12);
            }
        }
    }
}
