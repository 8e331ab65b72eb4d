//! Lab 13: greedy decoding and beam search with length normalisation (10.9), over a next-token function,
//! checked against `rnn::models::seq2seq::Seq2Seq::{greedy, beam_search}` on small random models, against
//! brute force on a tiny vocabulary, and against teacher forcing (`Seq2Seq::sequence_log_prob`, (10.8)).

use std::cell::RefCell;
use std::collections::HashMap;

use ndarray::{Array1, Axis};
use rnn::cells::CellKind;
use rnn::models::seq2seq::tokens::{EOS, Seq2SeqBatch};
use rnn::models::seq2seq::{BeamConfig, Hypothesis, LengthPenalty, Seq2Seq, Seq2SeqConfig};
use rnn::params::Parameters;

use crate::reference::{DecodeSlip, beam as ref_beam, greedy as ref_greedy};
use crate::report::{EXACT, Tol, check_scalar, fail, run as run_learner};

const LAB_NORM: &str = "lab 13 · length_normalised";
const LAB_GREEDY: &str = "lab 13 · greedy";
const LAB_BEAM: &str = "lab 13 · beam_search";

/// The name of the mistake where the score is log P, α ignored.
pub const NO_NORMALISATION: &str = "forgetting length normalisation (score = log P)";
/// The name of the mistake where |y| leaves out the final `<eos>`.
pub const LEN_WITHOUT_EOS: &str = "counting |y| without the final <eos>";
/// The name of the mistake where a hypothesis that emitted `<eos>` stays in the beam and is extended.
pub const KEEP_FINISHED: &str = "keeping finished hypotheses in the beam (expanding past <eos>)";
/// The name of the greedy mistake where decoding goes on after `<eos>`.
pub const NOT_STOPPING: &str = "not stopping at <eos>";
/// The name of the mistake where the k survivors are chosen per hypothesis.
pub const PER_HYPOTHESIS: &str = "taking the top k per hypothesis instead of over all candidates";
/// The name of the mistake where one step too many or too few is run.
pub const OFF_BY_ONE: &str = "off-by-one max_len";
/// The name of the mistake where the hypotheses still live at max_len are dropped.
pub const DROP_UNENDED: &str = "dropping the hypotheses still live at max_len";
/// The name of the mistake where the n-best list is ranked by log P.
pub const RANK_BY_LOGP: &str = "ranking the n-best list by log P instead of the score";
/// The name of the mistake where the search stops once k hypotheses have finished.
pub const STOP_AT_K: &str = "stopping as soon as k hypotheses have finished";

const NO_NORMALISATION_FIX: &str = "Rank finished hypotheses by score = log P / |y|^α (10.9), not by log P: log P only \
     falls as a sequence grows, so without the division short sequences win. Call your length_normalised.";
const LEN_FIX: &str = "|y| counts the generated tokens *including* the final <eos> (`Hypothesis::len()`: tokens.len() \
     + 1 if ended), so it is never 0; an unended hypothesis has |y| = tokens.len().";
const KEEP_FIX: &str = "A candidate whose token is <eos> is finished: push it to the finished list (its tokens without \
     the <eos>, ended = true) and `continue`, so it is NOT among the live prefixes of the next step.";
const NOT_STOPPING_FIX: &str = "At the first <eos>: add its log-probability, set ended = true and `break`; the <eos> \
     itself is not pushed into tokens.";
const PER_HYPOTHESIS_FIX: &str = "Collect the extensions of every live prefix into ONE list (live × V candidates, each \
     with log P(prefix) + log p[v] (10.8)), sort that whole list by log P and keep its k best: the k survivors may \
     all extend one prefix and none another.";
const OFF_BY_ONE_FIX: &str = "max_len counts the generated tokens, <eos> included: at most max_len steps, `for step in \
     0..max_len`, and at the last step (step + 1 == max_len) the survivors that did not emit <eos> are finished, \
     unended.";
const DROP_FIX: &str = "At the last step the survivors that did not emit <eos> join the finished list too, with \
     ended = false and |y| = tokens.len(): the n-best list holds them.";
const RANK_FIX: &str =
    "Sort the finished list by the length-normalised score (10.9), best (largest) first.";
const STOP_FIX: &str = "This lab's beam search (like the library's) goes on while any prefix is live: stop only when \
     every survivor of a step emitted <eos> (nothing is live), or after max_len steps.";
const BEAM_HINT: &str = "At each step: every live prefix × every token is a candidate with log P(prefix) + log p[v] \
     (10.8); sort all candidates by log P (best first) and keep k. A survivor ending in <eos> is finished (score \
     (10.9) with |y| = tokens + 1); the others are live, or finished unended at the last step. Stop when nothing \
     is live or after max_len steps; return the finished list sorted by score.";

/// The learner's length normalisation: `(log_prob, len, alpha) -> score`.
pub trait LengthNormalised: Fn(f64, usize, f64) -> f64 {}
impl<F: Fn(f64, usize, f64) -> f64> LengthNormalised for F {}

/// The learner's greedy decoder (the next-token function gives the log-probabilities `(V)` of the token after
/// a prefix of generated tokens, without `<sos>`): `(next, max_len, alpha) -> hypothesis`.
pub trait GreedyDecoder: Fn(&dyn Fn(&[usize]) -> Array1<f64>, usize, f64) -> Hypothesis {}
impl<F: Fn(&dyn Fn(&[usize]) -> Array1<f64>, usize, f64) -> Hypothesis> GreedyDecoder for F {}

/// The learner's beam search: `(next, width, max_len, alpha) -> n-best list`, best score first.
pub trait BeamDecoder:
    Fn(&dyn Fn(&[usize]) -> Array1<f64>, usize, usize, f64) -> Vec<Hypothesis>
{
}
impl<F: Fn(&dyn Fn(&[usize]) -> Array1<f64>, usize, usize, f64) -> Vec<Hypothesis>> BeamDecoder
    for F
{
}

/// A small random model whose next-token distributions are peaked enough for beams to differ from greedy
/// decoding, and sources to decode.
pub struct TestModel {
    /// What the messages call it.
    pub name: &'static str,
    /// The model.
    pub model: Seq2Seq,
    /// Source id sequences (no specials).
    pub sources: Vec<Vec<usize>>,
}

/// A model built from `config` with seed `seed`, its weights scaled by `scale`, and `eos_bias` added to the
/// output bias of `<eos>` (so that some hypotheses end early and some run to max_len).
fn model(config: &Seq2SeqConfig, seed: u64, scale: f64, eos_bias: f64) -> Seq2Seq {
    let mut m = Seq2Seq::new(config, &mut rnn::init::rng(seed)).expect("a valid test config");
    for (_, mut p) in m.params_mut() {
        p.mapv_inplace(|v| v * scale);
    }
    m.out.bias[EOS] += eos_bias;
    m
}

/// The test models: a GRU without attention, and an LSTM with a bidirectional encoder and attention.
pub fn test_models() -> Vec<TestModel> {
    vec![
        TestModel {
            name: "GRU encoder-decoder",
            model: model(
                &Seq2SeqConfig::new(CellKind::Gru, 8, 9, 4, 6),
                1301,
                3.0,
                0.5,
            ),
            sources: vec![vec![4, 5, 6], vec![7, 4], vec![5, 5, 6, 7, 4]],
        },
        TestModel {
            name: "LSTM with attention",
            model: model(
                &Seq2SeqConfig::new(CellKind::Lstm, 8, 9, 4, 5)
                    .bidirectional(true)
                    .attention(Some(4)),
                1302,
                3.0,
                0.5,
            ),
            sources: vec![vec![6, 4, 7], vec![4], vec![7, 7, 5, 6]],
        },
    ]
}

/// The tiny model (V = 5: the four specials and one symbol) for the exhaustive search.
pub fn tiny_model() -> TestModel {
    TestModel {
        name: "GRU with V = 5",
        model: model(
            &Seq2SeqConfig::new(CellKind::Gru, 6, 5, 3, 4),
            1303,
            2.0,
            0.0,
        ),
        sources: vec![vec![4, 5], vec![5]],
    }
}

/// The model's next-token function for `src` (by teacher forcing on the prefix; memoised): the
/// log-probabilities `(V)` of the token after `prefix`.
pub fn next_log_probs(model: &Seq2Seq, src: &[usize]) -> impl Fn(&[usize]) -> Array1<f64> {
    let memo: RefCell<HashMap<Vec<usize>, Array1<f64>>> = RefCell::new(HashMap::new());
    let model = model.clone();
    let src = src.to_vec();
    move |prefix: &[usize]| {
        if let Some(lp) = memo.borrow().get(prefix) {
            return lp.clone();
        }
        let batch = Seq2SeqBatch::new(std::slice::from_ref(&src), &[prefix.to_vec()]);
        let (logits, _) = model.forward(&batch); // (T_tgt, 1, V)
        let last = logits.index_axis(Axis(0), prefix.len()); // (1, V)
        let lp = rnn::loss::log_softmax(last).row(0).to_owned(); // (V)
        memo.borrow_mut().insert(prefix.to_vec(), lp.clone());
        lp
    }
}

/// Every sequence of at most `max_len` tokens (ended by `<eos>`, or `max_len` tokens without one), its log P
/// by teacher forcing (10.8) and score (10.9), best score first.
pub fn brute_force(model: &Seq2Seq, src: &[usize], max_len: usize, alpha: f64) -> Vec<Hypothesis> {
    let v = model.out.out_features();
    let symbols: Vec<usize> = (0..v).filter(|&t| t != EOS).collect();
    let mut prefixes: Vec<Vec<usize>> = vec![Vec::new()];
    let mut out = Vec::new();
    for len in 0..=max_len {
        for p in &prefixes {
            let ended = len < max_len;
            let log_prob = model.sequence_log_prob(src, p, ended);
            let n = p.len() + usize::from(ended);
            out.push(Hypothesis {
                tokens: p.clone(),
                log_prob,
                score: LengthPenalty::Power(alpha).score(log_prob, n),
                ended,
            });
        }
        prefixes = prefixes
            .iter()
            .flat_map(|p| {
                symbols.iter().map(move |&s| {
                    let mut q = p.clone();
                    q.push(s);
                    q
                })
            })
            .collect();
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

/// `true` if the two numbers are equal to rounding (or both the same infinity).
fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= EXACT.atol + EXACT.rtol * b.abs()
}

/// `true` if the two hypotheses are the same sequence, equally ended, with the same log P and score.
fn same_hyp(a: &Hypothesis, b: &Hypothesis) -> bool {
    a.tokens == b.tokens
        && a.ended == b.ended
        && close(a.log_prob, b.log_prob)
        && close(a.score, b.score)
}

/// `true` if the two n-best lists are the same, hypothesis by hypothesis.
pub fn same_list(a: &[Hypothesis], b: &[Hypothesis]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_hyp(x, y))
}

/// "1 hypothesis", "3 hypotheses".
fn count(n: usize) -> String {
    if n == 1 {
        "1 hypothesis".into()
    } else {
        format!("{n} hypotheses")
    }
}

/// One hypothesis on one line.
fn show(h: &Hypothesis) -> String {
    let end = if h.ended { " <eos>" } else { " (unended)" };
    format!(
        "{:?}{end}  log P {:.10}  score {:.10}",
        h.tokens, h.log_prob, h.score
    )
}

/// Up to 8 hypotheses, one per line, indented.
fn show_list(hs: &[Hypothesis]) -> String {
    let mut s: String = hs
        .iter()
        .take(8)
        .enumerate()
        .map(|(i, h)| format!("\n      #{i} {}", show(h)))
        .collect();
    if hs.len() > 8 {
        s.push_str(&format!("\n      ... and {} more", hs.len() - 8));
    }
    s
}

/// A classic mistake with the n-best list it gives on the same input.
type ListMistake = (&'static str, &'static str, Vec<Hypothesis>);

/// `Err(message)` unless `got` is `want`; names the first of `mistakes` whose list `got` is (and that is not
/// the right list).
fn compare_lists(
    what: &str,
    got: &[Hypothesis],
    want: &[Hypothesis],
    mistakes: &[ListMistake],
    hint: &str,
) -> Result<(), String> {
    if same_list(got, want) {
        return Ok(());
    }
    let first = (0..got.len().max(want.len()))
        .find(|&i| match (got.get(i), want.get(i)) {
            (Some(g), Some(w)) => !same_hyp(g, w),
            _ => true,
        })
        .unwrap_or(0);
    let mut msg = format!(
        "{what} is wrong: expected {}, got {}; the first difference is #{first}.\n    expected:{}\n    \
         got:{}",
        count(want.len()),
        count(got.len()),
        show_list(want),
        show_list(got)
    );
    if got.iter().any(|h| h.tokens.contains(&EOS)) {
        msg.push_str(&format!(
            "\n  Some of your hypotheses have <eos> (id {EOS}) among their tokens."
        ));
    }
    match mistakes
        .iter()
        .find(|(_, _, list)| !same_list(list, want) && same_list(got, list))
    {
        Some((name, fix, _)) => msg.push_str(&format!("\n  Likely mistake: {name}.\n  {fix}")),
        None => msg.push_str(&format!("\n  Hint: {hint}")),
    }
    Err(msg)
}

/// Checks `length_normalised(log_prob, len, alpha)` against `LengthPenalty::Power(alpha).score` (10.9).
#[track_caller]
pub fn check_length_normalised(learner: impl LengthNormalised) {
    for (lp, len, alpha) in [
        (-3.2, 4, 0.7),
        (-1.5, 1, 0.7),
        (-7.25, 6, 1.0),
        (-2.5, 3, 0.0),
        (-4.0, 5, 0.5),
    ] {
        let got = run_learner(LAB_NORM, || learner(lp, len, alpha));
        let want = LengthPenalty::Power(alpha).score(lp, len);
        let n = len as f64;
        check_scalar(
            LAB_NORM,
            &format!("length_normalised({lp}, {len}, {alpha})"),
            got,
            want,
            Tol {
                atol: 1e-12,
                rtol: 1e-10,
            },
            &[
                (NO_NORMALISATION, NO_NORMALISATION_FIX, lp),
                (
                    "multiplying by |y|^α",
                    "(10.9) divides: score = log P / |y|^α, `log_prob / (len as f64).powf(alpha)`.",
                    lp * n.powf(alpha),
                ),
                (
                    "dividing by α·|y| instead of |y|^α",
                    "α is an exponent: |y|^α is `(len as f64).powf(alpha)`.",
                    lp / (alpha * n),
                ),
            ],
            "(10.9): score = log P / |y|^α, `log_prob / (len as f64).powf(alpha)`.",
        );
    }
}

/// The greedy slips and their names.
const GREEDY_SLIPS: [(DecodeSlip, &str, &str); 5] = [
    (
        DecodeSlip::NoNormalisation,
        NO_NORMALISATION,
        NO_NORMALISATION_FIX,
    ),
    (DecodeSlip::LenWithoutEos, LEN_WITHOUT_EOS, LEN_FIX),
    (DecodeSlip::NeverFinish, NOT_STOPPING, NOT_STOPPING_FIX),
    (DecodeSlip::MaxLenPlusOne, OFF_BY_ONE, OFF_BY_ONE_FIX),
    (DecodeSlip::MaxLenMinusOne, OFF_BY_ONE, OFF_BY_ONE_FIX),
];

/// The beam slips and their names.
const BEAM_SLIPS: [(DecodeSlip, &str, &str); 11] = [
    (
        DecodeSlip::NoNormalisation,
        NO_NORMALISATION,
        NO_NORMALISATION_FIX,
    ),
    (DecodeSlip::LenWithoutEos, LEN_WITHOUT_EOS, LEN_FIX),
    (DecodeSlip::KeepFinished, KEEP_FINISHED, KEEP_FIX),
    (DecodeSlip::NeverFinish, KEEP_FINISHED, KEEP_FIX),
    (
        DecodeSlip::PerHypothesisFirstK,
        PER_HYPOTHESIS,
        PER_HYPOTHESIS_FIX,
    ),
    (
        DecodeSlip::PerHypothesisKeepAll,
        PER_HYPOTHESIS,
        PER_HYPOTHESIS_FIX,
    ),
    (DecodeSlip::MaxLenPlusOne, OFF_BY_ONE, OFF_BY_ONE_FIX),
    (DecodeSlip::MaxLenMinusOne, OFF_BY_ONE, OFF_BY_ONE_FIX),
    (DecodeSlip::DropUnended, DROP_UNENDED, DROP_FIX),
    (DecodeSlip::RankByLogProb, RANK_BY_LOGP, RANK_FIX),
    (DecodeSlip::StopAtKFinished, STOP_AT_K, STOP_FIX),
];

/// Checks `greedy(next, max_len, alpha)` against `Seq2Seq::greedy` (α = 0.7, the library's default) and
/// `Seq2Seq::beam_search` with width 1 (other α), on every test model and source.
#[track_caller]
pub fn check_greedy(learner: impl GreedyDecoder) {
    for tm in test_models() {
        for src in &tm.sources {
            let next = next_log_probs(&tm.model, src);
            for (alpha, max_len) in [(0.7, 7), (0.0, 7), (1.0, 7), (0.7, 2)] {
                let got = run_learner(LAB_GREEDY, || learner(&next, max_len, alpha));
                let want = if alpha == 0.7 {
                    tm.model.greedy(src, max_len).hypothesis
                } else {
                    let config = BeamConfig {
                        width: 1,
                        max_len,
                        length_penalty: LengthPenalty::Power(alpha),
                    };
                    tm.model.beam_search(src, &config).swap_remove(0)
                };
                let mistakes: Vec<ListMistake> = GREEDY_SLIPS
                    .iter()
                    .map(|&(s, n, f)| (n, f, vec![ref_greedy(&next, max_len, alpha, s)]))
                    .collect();
                if let Err(m) = compare_lists(
                    &format!(
                        "greedy decoding ({}, source {src:?}, max_len {max_len}, α = {alpha})",
                        tm.name
                    ),
                    std::slice::from_ref(&got),
                    std::slice::from_ref(&want),
                    &mistakes,
                    "At each step take the most likely token (the first largest log-probability), add its \
                     log-probability to log P (10.8); stop at <eos> (ended, not in tokens) or after max_len \
                     steps; score (10.9) with |y| = tokens + 1 if ended.",
                ) {
                    fail(LAB_GREEDY, m);
                }
            }
        }
    }
}

/// Runs the learner's beam search on one case and compares it with `want`, naming the mistakes.
#[track_caller]
fn check_beam_case(
    learner: &impl BeamDecoder,
    what: &str,
    (model, src): (&Seq2Seq, &[usize]),
    next: &dyn Fn(&[usize]) -> Array1<f64>,
    (width, max_len, alpha): (usize, usize, f64),
    want: &[Hypothesis],
) {
    let got = run_learner(LAB_BEAM, || learner(next, width, max_len, alpha));
    // Every reported log P is teacher forcing's (10.8), whatever the tokens.
    for (i, h) in got.iter().enumerate() {
        let tf = model.sequence_log_prob(src, &h.tokens, h.ended);
        if !close(h.log_prob, tf) {
            fail(
                LAB_BEAM,
                format!(
                    "in {what}, hypothesis #{i} {} has a log P that is not its sequence's: teacher forcing \
                     gives {tf:.10} (10.8).\n  log P is the sum of log p_t[y_t] over its tokens and, if it \
                     ended, the <eos>: carry log P(prefix) + log p[v] with each candidate, and give a \
                     finished hypothesis the log P of the candidate that emitted <eos>.",
                    show(h)
                ),
            );
        }
    }
    let mistakes: Vec<ListMistake> = BEAM_SLIPS
        .iter()
        .map(|&(s, n, f)| (n, f, ref_beam(next, width, max_len, alpha, s)))
        .collect();
    if let Err(m) = compare_lists(what, &got, want, &mistakes, BEAM_HINT) {
        fail(LAB_BEAM, m);
    }
}

/// Checks `beam_search(next, width, max_len, alpha)`: width 1 is greedy decoding; the n-best list is
/// `Seq2Seq::beam_search`'s (sequences, log P and scores) on every test model and source for several widths,
/// lengths and α; every reported log P is teacher forcing's (`Seq2Seq::sequence_log_prob`, (10.8)); and on a
/// tiny vocabulary a beam wide enough to keep every candidate returns every sequence, as brute force does.
#[track_caller]
pub fn check_beam_search(learner: impl BeamDecoder) {
    let models = test_models();
    // Width 1 is greedy decoding.
    for tm in &models {
        for src in &tm.sources {
            let next = next_log_probs(&tm.model, src);
            let want = vec![tm.model.greedy(src, 7).hypothesis];
            check_beam_case(
                &learner,
                &format!(
                    "beam search with width 1, which must be greedy decoding ({}, source {src:?}, max_len 7, \
                     α = 0.7),",
                    tm.name
                ),
                (&tm.model, src),
                &next,
                (1, 7, 0.7),
                &want,
            );
        }
    }
    // The library's beam search.
    for tm in &models {
        for src in &tm.sources {
            let next = next_log_probs(&tm.model, src);
            for (width, max_len, alpha) in [(3, 6, 0.7), (2, 6, 0.0), (4, 6, 1.0), (3, 3, 0.7)] {
                let config = BeamConfig {
                    width,
                    max_len,
                    length_penalty: LengthPenalty::Power(alpha),
                };
                let want = tm.model.beam_search(src, &config);
                check_beam_case(
                    &learner,
                    &format!(
                        "the n-best list ({}, source {src:?}, width {width}, max_len {max_len}, α = {alpha})",
                        tm.name
                    ),
                    (&tm.model, src),
                    &next,
                    (width, max_len, alpha),
                    &want,
                );
            }
        }
    }
    // Exhaustive search on V = 5: width 5^max_len keeps every candidate of every step.
    let tiny = tiny_model();
    let max_len = 3;
    let width = 5usize.pow(max_len as u32);
    for src in &tiny.sources {
        let next = next_log_probs(&tiny.model, src);
        for alpha in [0.7, 0.0] {
            let want = brute_force(&tiny.model, src, max_len, alpha);
            check_beam_case(
                &learner,
                &format!(
                    "the exhaustive search ({}, source {src:?}, width {width}, max_len {max_len}, α = {alpha}: \
                     every sequence of up to {max_len} tokens, as brute force lists them)",
                    tiny.name
                ),
                (&tiny.model, src),
                &next,
                (width, max_len, alpha),
                &want,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    //! The answer key agrees with the library, and the test cases exercise what they claim to.

    use super::*;

    #[test]
    fn reference_decoders_match_the_library() {
        for tm in test_models() {
            for src in &tm.sources {
                let next = next_log_probs(&tm.model, src);
                let lib = tm.model.greedy(src, 7).hypothesis;
                let mine = ref_greedy(&next, 7, 0.7, DecodeSlip::None);
                assert!(same_hyp(&mine, &lib), "{mine:?} vs {lib:?}");
                for (width, max_len, alpha) in [(1, 7, 0.7), (3, 6, 0.7), (2, 6, 0.0), (4, 6, 1.0)]
                {
                    let config = BeamConfig {
                        width,
                        max_len,
                        length_penalty: LengthPenalty::Power(alpha),
                    };
                    let lib = tm.model.beam_search(src, &config);
                    let mine = ref_beam(&next, width, max_len, alpha, DecodeSlip::None);
                    assert!(same_list(&mine, &lib), "{mine:?}\nvs\n{lib:?}");
                }
            }
        }
    }

    #[test]
    fn exhaustive_library_beam_is_brute_force() {
        let tiny = tiny_model();
        for src in &tiny.sources {
            let config = BeamConfig {
                width: 125,
                max_len: 3,
                length_penalty: LengthPenalty::Power(0.7),
            };
            let lib = tiny.model.beam_search(src, &config);
            let brute = brute_force(&tiny.model, src, 3, 0.7);
            assert_eq!(brute.len(), 1 + 4 + 16 + 64);
            assert!(same_list(&lib, &brute));
        }
    }

    #[test]
    fn every_slip_changes_some_beam() {
        // Each named slip must give a different list from the right one on at least one checked case, or
        // the check could never name it.
        let models = test_models();
        for &(slip, name, _) in &BEAM_SLIPS {
            let differs = models.iter().any(|tm| {
                tm.sources.iter().any(|src| {
                    let next = next_log_probs(&tm.model, src);
                    [(3, 6, 0.7), (2, 6, 0.0), (4, 6, 1.0), (3, 3, 0.7)]
                        .iter()
                        .any(|&(w, m, a)| {
                            !same_list(
                                &ref_beam(&next, w, m, a, slip),
                                &ref_beam(&next, w, m, a, DecodeSlip::None),
                            )
                        })
                })
            });
            assert!(differs, "{name} ({slip:?}) never changes the answer");
        }
        for &(slip, name, _) in &GREEDY_SLIPS {
            let differs = models.iter().any(|tm| {
                tm.sources.iter().any(|src| {
                    let next = next_log_probs(&tm.model, src);
                    [(0.7, 7), (0.0, 7), (1.0, 7), (0.7, 2)]
                        .iter()
                        .any(|&(a, m)| {
                            !same_hyp(
                                &ref_greedy(&next, m, a, slip),
                                &ref_greedy(&next, m, a, DecodeSlip::None),
                            )
                        })
                })
            });
            assert!(differs, "{name} ({slip:?}) never changes greedy's answer");
        }
    }

    #[test]
    #[ignore = "prints the test cases' beams, to tune the test models"]
    fn print_beams() {
        for tm in test_models() {
            for src in &tm.sources {
                let next = next_log_probs(&tm.model, src);
                println!("{} {src:?}", tm.name);
                println!(
                    "  greedy {}",
                    show(&ref_greedy(&next, 7, 0.7, DecodeSlip::None))
                );
                for h in ref_beam(&next, 3, 6, 0.7, DecodeSlip::None) {
                    println!("  {}", show(&h));
                }
            }
        }
    }
}
