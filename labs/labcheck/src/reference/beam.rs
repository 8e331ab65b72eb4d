//! Greedy decoding and beam search over a next-token function (lab 13), with one slip switched on: the
//! answers the classic decoding mistakes give. Without a slip they are `rnn::models::seq2seq`'s
//! `Seq2Seq::greedy` and `Seq2Seq::beam_search` (the unit tests in `lab13` check it).

use ndarray::Array1;
use rnn::models::seq2seq::Hypothesis;
use rnn::models::seq2seq::tokens::EOS;

/// A single change of greedy decoding or beam search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeSlip {
    /// The right decoder (the checks take it from the library; the unit tests compare).
    #[cfg_attr(not(test), allow(dead_code))]
    None,
    /// score = log P: α ignored.
    NoNormalisation,
    /// score = log P / (number of tokens without `<eos>`)^α.
    LenWithoutEos,
    /// A hypothesis that emits `<eos>` is recorded as finished but also stays in the beam, `<eos>` appended,
    /// and is extended further.
    KeepFinished,
    /// `<eos>` is a token like any other: nothing finishes before max_len.
    NeverFinish,
    /// Each live hypothesis's extensions sorted on their own, concatenated, the first k kept (no ranking over
    /// all candidates): every survivor extends the first hypothesis.
    PerHypothesisFirstK,
    /// Each live hypothesis keeps its own k best extensions: the beam grows to k², k³, ...
    PerHypothesisKeepAll,
    /// One step more than max_len.
    MaxLenPlusOne,
    /// One step fewer than max_len.
    MaxLenMinusOne,
    /// The hypotheses still live after max_len steps are dropped.
    DropUnended,
    /// The n-best list ranked by log P instead of the score.
    RankByLogProb,
    /// Stops as soon as k hypotheses have finished.
    StopAtKFinished,
}

/// The score of `log_prob` for a hypothesis of `tokens` tokens (without `<eos>`), ended or not.
fn score(log_prob: f64, tokens: usize, ended: bool, alpha: f64, slip: DecodeSlip) -> f64 {
    let len = tokens + usize::from(ended && slip != DecodeSlip::LenWithoutEos);
    match slip {
        DecodeSlip::NoNormalisation => log_prob,
        // (10.9) score = log P / |y|^α
        _ => log_prob / (len as f64).powf(alpha),
    }
}

/// The index of the first largest entry.
fn argmax(row: &Array1<f64>) -> usize {
    (0..row.len()).fold(0, |best, k| if row[k] > row[best] { k } else { best })
}

/// Greedy decoding with one slip (the slips that apply: normalisation, |y|, never finishing, max_len).
pub fn greedy(
    next: &dyn Fn(&[usize]) -> Array1<f64>,
    max_len: usize,
    alpha: f64,
    slip: DecodeSlip,
) -> Hypothesis {
    let steps = match slip {
        DecodeSlip::MaxLenPlusOne => max_len + 1,
        DecodeSlip::MaxLenMinusOne => max_len.saturating_sub(1),
        _ => max_len,
    };
    let (mut tokens, mut log_prob, mut ended) = (Vec::new(), 0.0, false);
    for _ in 0..steps {
        let lp = next(&tokens);
        let y = argmax(&lp);
        // (10.8) log P accumulates log p_t[y_t]
        log_prob += lp[y];
        if y == EOS && slip != DecodeSlip::NeverFinish {
            ended = true;
            break;
        }
        tokens.push(y);
    }
    Hypothesis {
        score: score(log_prob, tokens.len(), ended, alpha, slip),
        tokens,
        log_prob,
        ended,
    }
}

/// Beam search of width `width` with one slip.
pub fn beam(
    next: &dyn Fn(&[usize]) -> Array1<f64>,
    width: usize,
    max_len: usize,
    alpha: f64,
    slip: DecodeSlip,
) -> Vec<Hypothesis> {
    let steps = match slip {
        DecodeSlip::MaxLenPlusOne => max_len + 1,
        DecodeSlip::MaxLenMinusOne => max_len.saturating_sub(1),
        _ => max_len,
    };
    let mut live: Vec<(Vec<usize>, f64)> = vec![(Vec::new(), 0.0)];
    let mut finished: Vec<Hypothesis> = Vec::new();
    let hyp = |tokens: Vec<usize>, log_prob: f64, ended: bool| Hypothesis {
        score: score(log_prob, tokens.len(), ended, alpha, slip),
        tokens,
        log_prob,
        ended,
    };
    for step in 0..steps {
        // every extension of every live prefix, in (prefix, token) order
        let mut candidates: Vec<(f64, usize, usize)> = Vec::new();
        for (i, (prefix, lp_prefix)) in live.iter().enumerate() {
            let lp = next(prefix);
            let mut mine: Vec<(f64, usize, usize)> = lp
                .iter()
                .enumerate()
                // (10.8) log P(prefix, v) = log P(prefix) + log p_t[v]
                .map(|(v, &l)| (lp_prefix + l, i, v))
                .collect();
            if matches!(
                slip,
                DecodeSlip::PerHypothesisFirstK | DecodeSlip::PerHypothesisKeepAll
            ) {
                mine.sort_by(|a, b| b.0.total_cmp(&a.0));
                mine.truncate(width);
            }
            candidates.extend(mine);
        }
        match slip {
            DecodeSlip::PerHypothesisFirstK => candidates.truncate(width),
            DecodeSlip::PerHypothesisKeepAll => {}
            _ => {
                candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
                candidates.truncate(width);
            }
        }
        let last_step = step + 1 == steps;
        let mut next_live = Vec::new();
        for (log_prob, i, v) in candidates {
            let mut tokens = live[i].0.clone();
            if v == EOS && slip != DecodeSlip::NeverFinish {
                finished.push(hyp(tokens.clone(), log_prob, true));
                if slip != DecodeSlip::KeepFinished {
                    continue;
                }
            }
            tokens.push(v);
            if last_step {
                if slip != DecodeSlip::DropUnended {
                    finished.push(hyp(tokens, log_prob, false));
                }
            } else {
                next_live.push((tokens, log_prob));
            }
        }
        if next_live.is_empty() || (slip == DecodeSlip::StopAtKFinished && finished.len() >= width)
        {
            break;
        }
        live = next_live;
    }
    if slip == DecodeSlip::RankByLogProb {
        finished.sort_by(|a, b| b.log_prob.total_cmp(&a.log_prob));
    } else {
        finished.sort_by(|a, b| b.score.total_cmp(&a.score));
    }
    finished
}
