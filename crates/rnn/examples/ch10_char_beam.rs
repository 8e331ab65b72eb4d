//! Chapter 10: beam search for the character model, against sampling at a temperature.
//!
//! ```text
//! cargo run --release -p rnn-cli -- train --force --out target/runs/ch06      # chapter 6's model
//! cargo run --release -p rnn --example ch10_char_beam -- target/runs/ch06/best.safetensors data/moby-dick.txt
//! ```
//!
//! From the same primes, it continues with 300 characters by sampling at temperatures 1.0, 0.8 and 0.5
//! (four seeds each), by greedy decoding, and by beam search of widths 2, 5 and 10 (the best hypothesis),
//! and measures each text: the model's own loss on it (nats per character, (10.8) divided by the length),
//! the share of its words that are words of the corpus, the share of distinct words, and how much of it
//! repeats itself (the share of 20-character windows that already occurred earlier in the same text).
//! Passages of the corpus itself give the reference values. Everything is deterministic: the seeds are fixed
//! and beam search breaks ties by index. With `--top-k` it also samples from the k most probable characters
//! only (k = 5, 10, 20 at temperature 1; 5 and 10 at 0.8), the measurements of chapter 10's exercise 7.

use std::collections::HashSet;
use std::path::Path;

use rnn::models::char_lm::CharLm;

/// Characters generated after each prime.
const LEN: usize = 300;
/// The primes every method continues.
const PRIMES: [&str; 5] = ["The whale ", "Call me ", "Queequeg ", "It was ", "I "];
/// Seeds of the samples at each temperature.
const SEEDS: [u64; 4] = [0, 1, 2, 3];
/// The window of the self-repetition measure.
const WINDOW: usize = 20;

/// The words of a text: maximal runs of letters, lower-cased.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// What is measured on one generated text.
#[derive(Default, Clone, Copy)]
struct Measures {
    nats_per_char: f64,
    corpus_words: f64,
    distinct_words: f64,
    repeated: f64,
}

impl Measures {
    fn of(model: &CharLm, prime: &str, text: &str, vocabulary: &HashSet<String>) -> Measures {
        let n = text.chars().count();
        // (10.8) log P(text | prime), per character
        let nats = -model
            .continuation_log_prob(prime, text)
            .expect("text in the vocabulary")
            / n as f64;
        // the first and last word may be cut by the prime or the end: count the inner ones
        let ws = words(text);
        let inner = if ws.len() > 2 {
            &ws[1..ws.len() - 1]
        } else {
            &ws[..]
        };
        let known = inner.iter().filter(|w| vocabulary.contains(*w)).count();
        let distinct: HashSet<&String> = inner.iter().collect();
        let chars: Vec<char> = text.chars().collect();
        let mut seen = HashSet::new();
        let mut repeats = 0;
        let windows = chars.len().saturating_sub(WINDOW - 1);
        for w in chars.windows(WINDOW) {
            if !seen.insert(w) {
                repeats += 1;
            }
        }
        let share = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        Measures {
            nats_per_char: nats,
            corpus_words: share(known, inner.len()),
            distinct_words: share(distinct.len(), inner.len()),
            repeated: share(repeats, windows),
        }
    }

    fn mean(all: &[Measures]) -> Measures {
        let n = all.len() as f64;
        let sum = |f: fn(&Measures) -> f64| all.iter().map(f).sum::<f64>() / n;
        Measures {
            nats_per_char: sum(|m| m.nats_per_char),
            corpus_words: sum(|m| m.corpus_words),
            distinct_words: sum(|m| m.distinct_words),
            repeated: sum(|m| m.repeated),
        }
    }
}

fn one_line(text: &str) -> String {
    text.replace('\n', "⏎")
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // --top-k adds top-k sampling to the methods (chapter 10's exercise 7)
    let top_k = args.iter().any(|a| a == "--top-k");
    args.retain(|a| a != "--top-k");
    let [checkpoint, corpus] = &args[..] else {
        eprintln!(
            "usage: ch10_char_beam CHECKPOINT CORPUS [--top-k]   (chapter 6's run and its text)"
        );
        std::process::exit(2);
    };
    let model = CharLm::load(Path::new(checkpoint)).unwrap_or_else(|e| {
        eprintln!("{checkpoint}: {e}");
        std::process::exit(1)
    });
    let text = std::fs::read_to_string(corpus).unwrap_or_else(|e| {
        eprintln!("{corpus}: {e}");
        std::process::exit(1)
    });
    let vocabulary: HashSet<String> = words(&text).into_iter().collect();
    println!(
        "{} characters after each of {} primes ({:?}), from {checkpoint} ({} parameters)",
        LEN,
        PRIMES.len(),
        PRIMES,
        rnn::params::Parameters::num_params(&model)
    );
    println!(
        "nats/char: the model's loss on the text (lower = more probable); corpus words: share of its words found in {corpus};"
    );
    println!(
        "distinct: distinct words / words; repeated: share of its {WINDOW}-character windows seen earlier in the same text\n"
    );
    println!(
        "{:<26} {:>6} {:>10} {:>13} {:>9} {:>9}",
        "method", "texts", "nats/char", "corpus words", "distinct", "repeated"
    );
    let row = |name: &str, ms: &[Measures]| {
        let m = Measures::mean(ms);
        println!(
            "{:<26} {:>6} {:>10.3} {:>12.1}% {:>8.1}% {:>8.1}%",
            name,
            ms.len(),
            m.nats_per_char,
            100.0 * m.corpus_words,
            100.0 * m.distinct_words,
            100.0 * m.repeated
        );
    };

    // the reference: passages of the corpus itself, each after the 10 characters before it
    let chars: Vec<char> = text.chars().collect();
    let passages: Vec<Measures> = (0..20)
        .map(|k| {
            let start = 10 + k * (chars.len() - LEN - 10) / 20;
            let prime: String = chars[start - 10..start].iter().collect();
            let passage: String = chars[start..start + LEN].iter().collect();
            Measures::of(&model, &prime, &passage, &vocabulary)
        })
        .collect();
    row("the corpus (20 passages)", &passages);

    let mut examples = Vec::new();
    // ANCHOR: top_k
    // Sampling at three temperatures; with --top-k also from the k most probable characters only,
    // renormalised, at temperatures 1 and 0.8.
    let mut settings: Vec<(f64, Option<usize>)> = vec![(1.0, None), (0.8, None), (0.5, None)];
    if top_k {
        settings.extend([(1.0, Some(5)), (1.0, Some(10)), (1.0, Some(20))]);
        settings.extend([(0.8, Some(5)), (0.8, Some(10))]);
    }
    for (temperature, k) in settings {
        let (name, label) = match k {
            None => (
                format!("sampling, temperature {temperature}"),
                format!("temperature {temperature}"),
            ),
            Some(k) => (
                format!("top-{k}, temperature {temperature}"),
                format!("top-{k}, T = {temperature}"),
            ),
        };
        let mut ms = Vec::new();
        for prime in PRIMES {
            for seed in SEEDS {
                let out = model
                    .sample(prime, LEN, temperature, k, seed)
                    .expect("sample");
                let gen = &out[prime.len()..];
                ms.push(Measures::of(&model, prime, gen, &vocabulary));
                if prime == PRIMES[0] && seed == 0 {
                    examples.push((label.clone(), gen.to_string()));
                }
            }
        }
        row(&name, &ms);
    }
    // ANCHOR_END: top_k
    for width in [1, 2, 5, 10] {
        let mut ms = Vec::new();
        for prime in PRIMES {
            // width 1 is greedy decoding (sampling at temperature 0 gives the same text)
            let best = model.beam_search(prime, LEN, width).expect("beam search");
            ms.push(Measures::of(&model, prime, &best[0].text, &vocabulary));
            if prime == PRIMES[0] {
                let name = if width == 1 {
                    "greedy".to_string()
                } else {
                    format!("beam {width}")
                };
                examples.push((name, best[0].text.clone()));
            }
        }
        let name = if width == 1 {
            "greedy (beam 1)".to_string()
        } else {
            format!("beam search, width {width}")
        };
        row(&name, &ms);
    }
    let greedy = model.sample(PRIMES[0], LEN, 0.0, None, 0).expect("greedy");
    // the width-1 beam after the first prime, decoded above
    let beam1 = &examples
        .iter()
        .find(|(name, _)| name == "greedy")
        .expect("the greedy example")
        .1;
    println!(
        "\ngreedy sampling (temperature 0) and a beam of width 1 give the same text: {}",
        &greedy[PRIMES[0].len()..] == beam1
    );

    println!(
        "\nthe first 160 characters after {:?} (⏎ is a newline):",
        PRIMES[0]
    );
    for (name, gen) in &examples {
        let head: String = gen.chars().take(160).collect();
        println!("  {name:<16} {}", one_line(&head));
    }
}
