//! Can it write filler copy in a customer's style from their old data? A GRU trained hard on a small
//! corpus of one author, and how much of what it samples is copied verbatim from that corpus.

use std::time::Instant;

use rnn::cells::{CellConfig, CellKind};
use rnn::plot::LineChart;

use crate::copying::{overlap, Overlap, SuffixAutomaton, NGRAMS};
use crate::train::{mean_sd, parallel, train, Setup, BATCH, SEQ_LEN};
use crate::{closing_line, save, Args, Data};

/// The "customer's old data": the first this many characters of the book (chapters 1 to 3 and the start of 4).
const CORPUS: usize = 60_000;
/// The characters after the corpus: the validation text, and the same author's unseen writing.
const HELD_OUT: usize = 6_000;
const HIDDEN: usize = 128;
const STEPS: usize = 3000;
const LR: f64 = 2e-3;
const TEMPERATURES: [f64; 4] = [0.5, 0.8, 1.0, 1.2];
/// Samples per model and temperature, and their length in characters.
const SAMPLES: usize = 4;
const SAMPLE_LEN: usize = 500;

/// The mean overlap of several samples, and the largest longest-match among them.
fn summarise(o: &[Overlap]) -> (f64, usize, [f64; 2]) {
    let n = o.len() as f64;
    let longest = o.iter().map(|x| x.longest as f64).sum::<f64>() / n;
    let max = o.iter().map(|x| x.longest).max().unwrap_or(0);
    let ngrams = [0, 1].map(|k| o.iter().map(|x| x.ngrams[k]).sum::<f64>() / n);
    (longest, max, ngrams)
}

/// Runs the sweep.
pub fn run(data: &Data, args: &Args) {
    let (corpus, held, rates, seeds, steps, hidden, samples, len) = if args.quick {
        (8_000, 2_000, vec![0.0, 0.3], 1, 20, 16, 1, 100)
    } else {
        (
            CORPUS,
            HELD_OUT,
            vec![0.0, 0.25, 0.5],
            3u64,
            STEPS,
            HIDDEN,
            SAMPLES,
            SAMPLE_LEN,
        )
    };
    let text: Vec<char> = data.text.chars().collect();
    let corpus_text: String = text[..corpus].iter().collect();
    let held_text: String = text[corpus..corpus + held].iter().collect();
    let encode = |s: &str| {
        data.vocab
            .encode(s)
            .expect("the vocabulary comes from this text")
    };
    let (train_ids, val_ids) = (encode(&corpus_text), encode(&held_text));
    let epochs = (steps * BATCH * SEQ_LEN) as f64 / corpus as f64;
    println!(
        "the corpus: the first {corpus} characters of Moby-Dick; held out: the next {held} (the validation text, and \
         unseen writing of the same author)"
    );
    println!(
        "GRU (PyTorch's), H = {hidden}, one-hot input; B = {BATCH}, chunks of {SEQ_LEN}, Adam lr {LR}, clip 5, \
         {steps} steps (about {epochs:.0} passes over the corpus); seeds 0 to {}",
        seeds - 1
    );
    println!(
        "samples: {samples} per model and temperature, {len} characters each after a newline, sampling seeds 0 to {}; \
         copied = found verbatim in the corpus",
        samples - 1
    );
    if !args.quick {
        println!("{} at the start", crate::train::load_line());
    }
    let sa = SuffixAutomaton::new(&corpus_text);
    // the baseline: the same author's unseen text, cut into pieces of the samples' length
    let held_chars: Vec<char> = held_text.chars().collect();
    let pieces: Vec<Overlap> = held_chars
        .chunks(len)
        .filter(|c| c.len() == len)
        .map(|c| overlap(&sa, &c.iter().collect::<String>()))
        .collect();

    let jobs: Vec<(f64, u64)> = rates
        .iter()
        .flat_map(|&p| (0..seeds).map(move |s| (p, s)))
        .collect();
    let started = Instant::now();
    let outcomes = parallel(&jobs, |&(p, seed)| {
        let setup = Setup {
            cell: CellConfig::new(CellKind::Gru),
            hidden,
            layers: 1,
            dropout: p,
            lr: LR,
            clip: Some(5.0),
            steps,
            seed,
            eval_every: 250.min(steps),
            score_train: true,
        };
        let out = train(&setup, &data.vocab, &train_ids, &val_ids);
        // every sample of this model, per temperature
        let texts: Vec<Vec<String>> = TEMPERATURES
            .iter()
            .map(|&t| {
                (0..samples as u64)
                    .map(|s| {
                        let sample = out
                            .model
                            .sample("\n", len, t, None, s)
                            .expect("a valid prime");
                        sample.chars().skip(1).collect()
                    })
                    .collect()
            })
            .collect();
        (out, texts)
    });

    println!("\nthe models (nats per character, evaluation mode, at the end of training)");
    println!(
        "{:>7} {:>22} {:>22} {:>16} {:>12}",
        "dropout", "corpus per seed", "held out per seed", "best held out", "time per run"
    );
    for &p in &rates {
        let runs: Vec<_> = jobs
            .iter()
            .zip(&outcomes)
            .filter(|(j, _)| j.0 == p)
            .map(|(_, (o, _))| o)
            .collect();
        let fmt = |v: Vec<f64>| {
            v.iter()
                .map(|x| format!("{x:.3}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let best = mean_sd(&runs.iter().map(|o| o.val_best.0).collect::<Vec<_>>()).0;
        println!(
            "{:>7.2} {:>22} {:>22} {:>16.3} {:>10.0} s",
            p,
            fmt(runs
                .iter()
                .map(|o| o.train_nats.unwrap_or(f64::NAN))
                .collect()),
            fmt(runs.iter().map(|o| o.val_final).collect()),
            best,
            runs.iter().map(|o| o.seconds).sum::<f64>() / runs.len() as f64
        );
    }

    println!(
        "\nwhat the samples share with the corpus (mean over seeds and samples; longest: the longest copied \
         substring, mean and largest)"
    );
    println!(
        "{:>7} {:>12} {:>14} {:>9} {:>18} {:>18}",
        "dropout",
        "temperature",
        "longest, mean",
        "largest",
        format!("{}-grams copied", NGRAMS[0]),
        format!("{}-grams copied", NGRAMS[1])
    );
    let (bl, bm, bn) = summarise(&pieces);
    println!(
        "{:>7} {:>12} {:>14.1} {:>9} {:>17.1}% {:>17.1}%   <- Melville's own unseen text, {} pieces",
        "-",
        "-",
        bl,
        bm,
        100.0 * bn[0],
        100.0 * bn[1],
        pieces.len()
    );
    let mut chart = LineChart::new(
        &format!(
            "Samples of a GRU trained on {corpus} characters: copied {}-grams",
            NGRAMS[1]
        ),
        "temperature",
        &format!(
            "share of the sample's {}-grams found in the corpus",
            NGRAMS[1]
        ),
    );
    let mut longest_copy = (0, String::new());
    for &p in &rates {
        let mut pts = Vec::new();
        for (ti, &t) in TEMPERATURES.iter().enumerate() {
            let mut all = Vec::new();
            for ((jp, _), (_, texts)) in jobs.iter().zip(&outcomes) {
                if *jp != p {
                    continue;
                }
                for s in &texts[ti] {
                    let o = overlap(&sa, s);
                    if o.longest > longest_copy.0 {
                        longest_copy = (o.longest, copied_span(&sa, s));
                    }
                    all.push(o);
                }
            }
            let (l, m, n) = summarise(&all);
            println!(
                "{:>7.2} {:>12.1} {:>14.1} {:>9} {:>17.1}% {:>17.1}%",
                p,
                t,
                l,
                m,
                100.0 * n[0],
                100.0 * n[1]
            );
            pts.push((t, 100.0 * n[1]));
        }
        chart = chart.series(&format!("dropout {p}"), pts);
    }
    let base: Vec<(f64, f64)> = TEMPERATURES.iter().map(|&t| (t, 100.0 * bn[1])).collect();
    chart = chart.series("Melville's unseen text", base);
    println!(
        "\nthe longest copied passage of any sample ({} characters): {:?}",
        longest_copy.0, longest_copy.1
    );
    let (_, first) = &outcomes[0];
    println!(
        "\nseed 0, dropout {}, temperature {}, sample 0: {:?}",
        rates[0], TEMPERATURES[0], first[0][0]
    );
    closing_line(jobs.len(), started.elapsed().as_secs_f64(), args.quick);
    save(chart.to_svg(), args, "ch09-copy.svg");
}

/// The longest substring of `sample` that occurs in the automaton's text.
fn copied_span(sa: &SuffixAutomaton, sample: &str) -> String {
    let m = sa.matches(sample);
    let (end, &len) = m
        .iter()
        .enumerate()
        .max_by_key(|&(i, l)| (*l, std::cmp::Reverse(i)))
        .expect("a non-empty sample");
    sample.chars().skip(end + 1 - len).take(len).collect()
}
