//! Sampling from a seq2seq model (`Seq2Seq::sample`): a temperature near 0 is greedy decoding; the
//! reported log-probability is teacher forcing's (10.8) at temperature 1; the same seed gives the same
//! draws; the first token is drawn with the softmax's probabilities at the temperature (3.10); bad
//! temperatures are an error, as for the character model's sampler.

use rnn::cells::CellKind;
use rnn::models::seq2seq::tokens::EOS;
use rnn::Error;

mod common;
use common::{cases, model, V};

const SOURCES: [&[usize]; 3] = [&[4, 5, 6], &[6], &[5, 5, 4, 6, 4]];

#[test]
fn a_temperature_near_zero_is_greedy_decoding() {
    for m in cases() {
        for src in SOURCES {
            let g = m.greedy(src, 8).hypothesis;
            for tau in [0.0, 1e-6] {
                let mut rng = rnn::init::rng(3);
                let s = m.sample(src, tau, 8, &mut rng).unwrap();
                assert_eq!(
                    (&s.tokens, s.ended),
                    (&g.tokens, g.ended),
                    "temperature {tau}"
                );
                assert!((s.log_prob - g.log_prob).abs() < 1e-12);
                assert!((s.score - g.score).abs() < 1e-12);
            }
        }
    }
}

#[test]
fn the_log_probability_is_teacher_forcings_at_temperature_one() {
    for m in cases() {
        let mut rng = rnn::init::rng(4);
        let (mut ended, mut cut) = (0, 0);
        for src in SOURCES {
            // a cold, the model's own and a hot temperature; max_len 4 cuts some samples off
            for tau in [0.5, 1.0, 2.0] {
                for _ in 0..10 {
                    let h = m.sample(src, tau, 4, &mut rng).unwrap();
                    assert!(h.tokens.len() <= 4);
                    assert!(h.tokens.iter().all(|&t| t != EOS && t < V));
                    let tf = m.sequence_log_prob(src, &h.tokens, h.ended);
                    assert!(
                        (h.log_prob - tf).abs() < 1e-10,
                        "temperature {tau}: sampled log P {} vs teacher forcing {tf}",
                        h.log_prob
                    );
                    if h.ended {
                        ended += 1;
                    } else {
                        assert_eq!(h.tokens.len(), 4, "unended only at max_len");
                        cut += 1;
                    }
                }
            }
        }
        // both kinds of sample were checked
        assert!(ended > 0 && cut > 0, "ended {ended}, cut off {cut}");
    }
}

#[test]
fn the_same_seed_gives_the_same_samples() {
    let m = model(CellKind::Lstm, true, true, 7);
    let draw = |seed: u64| -> Vec<(Vec<usize>, bool)> {
        let mut rng = rnn::init::rng(seed);
        (0..30)
            .map(|_| {
                let h = m.sample(&[4, 6], 1.0, 10, &mut rng).unwrap();
                (h.tokens, h.ended)
            })
            .collect()
    };
    let a = draw(11);
    assert_eq!(a, draw(11));
    assert_ne!(a, draw(12), "another seed, other samples");
    let distinct: std::collections::HashSet<_> = a.iter().collect();
    assert!(distinct.len() > 1, "30 draws are not all the same sequence");
}

/// The first token is drawn from p_τ[v] ∝ p[v]^(1/τ) (3.10), with p[v] = exp(log P(v | x)) from teacher
/// forcing. Each token's frequency over N draws has standard error sqrt(p (1 - p) / N); a deviation of
/// more than Z of them happens by chance with probability below 6e-7 per token for Z = 5 (normal tail),
/// so the test fails only when the distribution is wrong, and since it is seeded it never flickers.
#[test]
fn first_tokens_are_drawn_with_the_softmax_probabilities() {
    const N: usize = 20_000;
    const Z: f64 = 5.0;
    let src = [5, 4, 6];
    for m in cases() {
        // log p[v] of the first token, by teacher forcing (tgt = [v], not ended: one term of (10.8))
        let log_p: Vec<f64> = (0..V)
            .map(|v| m.sequence_log_prob(&src, &[v], false))
            .collect();
        for tau in [1.0, 0.7] {
            let scaled: Vec<f64> = log_p.iter().map(|l| l / tau).collect();
            let p = rnn::sample::probabilities(&scaled, 1.0, None);
            let mut counts = [0usize; V];
            let mut rng = rnn::init::rng(21);
            for _ in 0..N {
                let h = m.sample(&src, tau, 1, &mut rng).unwrap();
                let first = if h.ended { EOS } else { h.tokens[0] };
                counts[first] += 1;
            }
            for v in 0..V {
                let freq = counts[v] as f64 / N as f64;
                let se = (p[v] * (1.0 - p[v]) / N as f64).sqrt();
                assert!(
                    (freq - p[v]).abs() <= Z * se,
                    "τ = {tau}, token {v}: frequency {freq} vs probability {} ({Z} standard errors = {})",
                    p[v],
                    Z * se
                );
            }
        }
    }
}

#[test]
fn bad_temperatures_are_config_errors() {
    let m = model(CellKind::Gru, false, false, 0);
    let mut rng = rnn::init::rng(0);
    for tau in [-1.0, -1e-9, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        match m.sample(&[4], tau, 5, &mut rng) {
            Err(Error::Config(msg)) => assert!(msg.contains("temperature"), "{msg}"),
            other => panic!("temperature {tau}: expected Error::Config, got {other:?}"),
        }
    }
}
