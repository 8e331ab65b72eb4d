//! End-to-end tests of `rnn seq2seq train|translate|eval` and `rnn sample --beam`: a real (tiny) run that
//! learns, exact resume, the same numbers on one thread or two, and one clear line for each bad input.

use std::path::Path;
use std::process::Output;

mod common;
use common::*;

/// Flags of a tiny, fast run on the reversal task.
const TINY: [&str; 14] = [
    "--data",
    "@reversal",
    "--train-size",
    "600",
    "--held-out-size",
    "40",
    "--hidden",
    "16",
    "--embed",
    "8",
    "--batch",
    "16",
    "--eval-every",
    "10",
];

/// `rnn seq2seq train` with the TINY flags, except those `extra` gives again.
fn train(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["seq2seq", "train"];
    for pair in TINY.chunks(2) {
        if !extra.contains(&pair[0]) {
            args.extend(pair);
        }
    }
    args.extend(extra);
    rnn(dir, &args)
}

/// The exact-match percentage `eval` prints.
fn exact_of(eval_output: &str) -> f64 {
    let (_, rest) = eval_output
        .split_once("exact match ")
        .expect("eval prints `exact match N %`");
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn trains_a_tsv_model_that_learns_then_translates_and_evaluates() {
    let d = tmp("s2s-learn");
    // a real mapping with two targets for some sources: copy a word, or (for words with an "a") upper-case it
    let mut tsv = String::from("# source<TAB>target\n");
    let mut rng_state = 7u64;
    for i in 0..1500 {
        rng_state = rng_state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let len = 2 + (rng_state >> 60) as usize % 4;
        let word: String = (0..len)
            .map(|k| (b'a' + ((rng_state >> (8 * k + 3)) % 6) as u8) as char)
            .collect();
        let spaced: String = word
            .chars()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        tsv.push_str(&format!("{word}\t{spaced}\n"));
        if i % 7 == 0 && word.contains('a') {
            tsv.push_str(&format!("{word}\t{}\n", spaced.to_uppercase()));
        }
    }
    std::fs::write(d.join("pairs.tsv"), tsv).unwrap();
    let out = succeeds(&rnn(
        &d,
        &[
            "seq2seq",
            "train",
            "--data",
            "pairs.tsv",
            "--tgt-split",
            "words",
            "--hidden",
            "32",
            "--embed",
            "16",
            "--attention",
            "--bidirectional",
            "--batch",
            "32",
            "--max-steps",
            "300",
            "--eval-every",
            "100",
            "--out",
            "run",
        ],
    ));
    assert!(
        out.contains("bidirectional encoder, attention A = 32"),
        "{out}"
    );
    assert!(out.contains("exact"), "{out}");
    for f in [
        "last.safetensors",
        "best.safetensors",
        "metrics.jsonl",
        "loss.svg",
        "samples.txt",
    ] {
        assert!(d.join("run").join(f).exists(), "{f} missing");
    }
    let metrics = std::fs::read_to_string(d.join("run/metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 3);
    // copying short words is learnt: the held-out exact match is far above chance
    let eval = succeeds(&rnn(
        &d,
        &["seq2seq", "eval", "--checkpoint", "run/best.safetensors"],
    ));
    assert!(eval.contains("pairs.tsv test part"), "{eval}");
    assert!(exact_of(&eval) > 80.0, "{eval}");
    let beam = succeeds(&rnn(
        &d,
        &[
            "seq2seq",
            "eval",
            "--checkpoint",
            "run/best.safetensors",
            "--beam",
            "4",
            "--part",
            "val",
        ],
    ));
    assert!(beam.contains("beam 4"), "{beam}");
    let one = succeeds(&rnn(
        &d,
        &[
            "seq2seq",
            "translate",
            "--checkpoint",
            "run/best.safetensors",
            "abcd",
        ],
    ));
    assert_eq!(one.trim(), "a b c d");
    let nbest = succeeds(&rnn(
        &d,
        &[
            "seq2seq",
            "translate",
            "--checkpoint",
            "run/best.safetensors",
            "--beam",
            "3",
            "--nbest",
            "3",
            "bad",
        ],
    ));
    let ranked: Vec<&str> = nbest.lines().filter(|l| l.contains("log P")).collect();
    assert_eq!(ranked.len(), 3, "{nbest}");
    // the scores are sorted, best first
    let score = |l: &str| -> f64 {
        l.split("score ")
            .nth(1)
            .unwrap()
            .trim_end_matches(')')
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(score(ranked[0]) >= score(ranked[1]) && score(ranked[1]) >= score(ranked[2]));
    // another TSV needs --part all
    std::fs::write(d.join("other.tsv"), "ab\ta b\nba\tb a\n").unwrap();
    fails_with(
        &rnn(
            &d,
            &[
                "seq2seq",
                "eval",
                "--checkpoint",
                "run/best.safetensors",
                "--data",
                "other.tsv",
            ],
        ),
        "--part all",
    );
    let all = succeeds(&rnn(
        &d,
        &[
            "seq2seq",
            "eval",
            "--checkpoint",
            "run/best.safetensors",
            "--data",
            "other.tsv",
            "--part",
            "all",
            "--show-errors",
        ],
    ));
    assert!(all.contains("2 sources (2 pairs)"), "{all}");
}

#[test]
fn resume_and_thread_count_give_identical_models() {
    let d = tmp("s2s-resume");
    // a learning-rate decay at steps 7 and 14, so the resumed run crosses one
    let decay = ["--lr-decay", "0.5", "--decay-every", "7", "--attention"];
    succeeds(&train(
        &d,
        &[&decay[..], &["--max-steps", "20", "--out", "full"]].concat(),
    ));
    succeeds(&train(
        &d,
        &[&decay[..], &["--max-steps", "10", "--out", "half"]].concat(),
    ));
    let out = succeeds(&rnn(
        &d,
        &[
            "seq2seq",
            "train",
            "--resume",
            "--out",
            "half",
            "--max-steps",
            "20",
        ],
    ));
    assert!(out.contains("resuming at step 10"), "{out}");
    assert_eq!(
        tensors(&d.join("full/last.safetensors")),
        tensors(&d.join("half/last.safetensors"))
    );
    // the rate of the step before each evaluation (steps 10 and 20): 0.002 x 0.5^(9/7), x 0.5^(19/7)
    let metrics = std::fs::read_to_string(d.join("full/metrics.jsonl")).unwrap();
    let rates: Vec<f64> = metrics
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["lr"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert_eq!(rates, [0.001, 0.0005], "{metrics}");
    // the two halves of a batch are the same on one thread as on two
    succeeds(&train(
        &d,
        &[
            &decay[..],
            &["--max-steps", "20", "--threads", "1", "--out", "one"],
        ]
        .concat(),
    ));
    assert_eq!(
        tensors(&d.join("full/last.safetensors")),
        tensors(&d.join("one/last.safetensors"))
    );
    // an existing run is kept unless --force
    let before = std::fs::read(d.join("full/last.safetensors")).unwrap();
    fails_with(
        &train(&d, &["--max-steps", "5", "--out", "full"]),
        "already holds a run",
    );
    assert_eq!(
        std::fs::read(d.join("full/last.safetensors")).unwrap(),
        before
    );
    fails_with(
        &rnn(
            &d,
            &[
                "seq2seq",
                "train",
                "--resume",
                "--out",
                "full",
                "--max-steps",
                "20",
            ],
        ),
        "already at step 20",
    );
}

#[test]
fn bad_input_is_one_clear_line() {
    let d = tmp("s2s-bad");
    fails_with(
        &train(&d, &["--data", "missing.tsv", "--out", "r"]),
        "missing.tsv",
    );
    std::fs::write(d.join("empty.tsv"), "").unwrap();
    fails_with(
        &train(&d, &["--data", "empty.tsv", "--out", "r"]),
        "is empty",
    );
    std::fs::write(d.join("bin.tsv"), [0u8, 1, 2, 3, 9, 10]).unwrap();
    fails_with(&train(&d, &["--data", "bin.tsv", "--out", "r"]), "binary");
    std::fs::write(d.join("notab.tsv"), "a\tb\nno tab\n").unwrap();
    fails_with(&train(&d, &["--data", "notab.tsv", "--out", "r"]), "line 2");
    std::fs::write(d.join("tiny.tsv"), "a\tb\nc\td\n").unwrap();
    fails_with(&train(&d, &["--data", "tiny.tsv", "--out", "r"]), "too few");
    fails_with(
        &train(&d, &["--data", "@sorting", "--out", "r"]),
        "no generated task",
    );
    fails_with(
        &train(&d, &["--model", "transformer", "--out", "r"]),
        "--model",
    );
    fails_with(&train(&d, &["--threads", "3", "--out", "r"]), "--threads");
    fails_with(&train(&d, &["--lr", "-1", "--out", "r"]), "--lr");
    fails_with(
        &train(&d, &["--lr-decay", "1.5", "--out", "r"]),
        "--lr-decay",
    );
    fails_with(
        &train(&d, &["--decay-every", "0", "--out", "r"]),
        "--decay-every",
    );
    fails_with(
        &train(&d, &["--val-frac", "0.7", "--out", "r"]),
        "--val-frac",
    );
    assert!(
        !d.join("r").exists(),
        "a failed start must not create the run directory"
    );
    fails_with(
        &rnn(&d, &["seq2seq", "eval", "--checkpoint", "nope.safetensors"]),
        "does not exist",
    );
    std::fs::write(d.join("junk.safetensors"), b"not a checkpoint at all").unwrap();
    fails_with(
        &rnn(
            &d,
            &[
                "seq2seq",
                "translate",
                "--checkpoint",
                "junk.safetensors",
                "x",
            ],
        ),
        "junk.safetensors",
    );
    // a character model's checkpoint is not a seq2seq one, and the other way round
    std::fs::write(d.join("text.txt"), "abc abc abc. ".repeat(40)).unwrap();
    succeeds(&rnn(
        &d,
        &[
            "train",
            "--data",
            "text.txt",
            "--hidden",
            "8",
            "--batch",
            "4",
            "--seq-len",
            "8",
            "--max-steps",
            "4",
            "--out",
            "lm",
        ],
    ));
    fails_with(
        &rnn(
            &d,
            &["seq2seq", "eval", "--checkpoint", "lm/best.safetensors"],
        ),
        "character model",
    );
    succeeds(&train(&d, &["--max-steps", "10", "--out", "s2s"]));
    fails_with(
        &rnn(&d, &["sample", "--checkpoint", "s2s/best.safetensors"]),
        "s2s/best.safetensors",
    );
    fails_with(
        &rnn(
            &d,
            &[
                "seq2seq",
                "translate",
                "--checkpoint",
                "s2s/best.safetensors",
                "--beam",
                "0",
                "ab",
            ],
        ),
        "--beam",
    );
    fails_with(
        &rnn(
            &d,
            &[
                "seq2seq",
                "translate",
                "--checkpoint",
                "s2s/best.safetensors",
                "--nbest",
                "2",
                "ab",
            ],
        ),
        "--nbest",
    );
    fails_with(
        &rnn(
            &d,
            &[
                "seq2seq",
                "translate",
                "--checkpoint",
                "s2s/best.safetensors",
                "--alpha",
                "-1",
                "ab",
            ],
        ),
        "--alpha",
    );
}

#[test]
fn sample_with_a_beam_is_deterministic_and_ranked() {
    let d = tmp("s2s-charbeam");
    std::fs::write(d.join("text.txt"), "the cat sat on the mat. ".repeat(40)).unwrap();
    succeeds(&rnn(
        &d,
        &[
            "train",
            "--data",
            "text.txt",
            "--hidden",
            "16",
            "--batch",
            "4",
            "--seq-len",
            "10",
            "--max-steps",
            "60",
            "--out",
            "lm",
        ],
    ));
    let ck = "lm/best.safetensors";
    let a = succeeds(&rnn(
        &d,
        &[
            "sample",
            "--checkpoint",
            ck,
            "--prime",
            "the ",
            "--len",
            "30",
            "--beam",
            "4",
        ],
    ));
    let b = succeeds(&rnn(
        &d,
        &[
            "sample",
            "--checkpoint",
            ck,
            "--prime",
            "the ",
            "--len",
            "30",
            "--beam",
            "4",
        ],
    ));
    assert_eq!(a, b);
    assert!(a.starts_with("the "));
    assert_eq!(a.trim_end_matches('\n').chars().count(), 34);
    // width 1 is greedy sampling
    let greedy = succeeds(&rnn(
        &d,
        &[
            "sample",
            "--checkpoint",
            ck,
            "--prime",
            "the ",
            "--len",
            "30",
            "--temperature",
            "0",
        ],
    ));
    let one = succeeds(&rnn(
        &d,
        &[
            "sample",
            "--checkpoint",
            ck,
            "--prime",
            "the ",
            "--len",
            "30",
            "--beam",
            "1",
        ],
    ));
    assert_eq!(greedy, one);
    let n = succeeds(&rnn(
        &d,
        &[
            "sample",
            "--checkpoint",
            ck,
            "--prime",
            "the ",
            "--len",
            "20",
            "--beam",
            "3",
            "--nbest",
            "3",
        ],
    ));
    assert_eq!(n.matches("log P").count(), 3, "{n}");
    fails_with(
        &rnn(&d, &["sample", "--checkpoint", ck, "--beam", "0"]),
        "--beam",
    );
    fails_with(
        &rnn(
            &d,
            &["sample", "--checkpoint", ck, "--beam", "2", "--nbest", "3"],
        ),
        "--nbest",
    );
    fails_with(
        &rnn(
            &d,
            &["sample", "--checkpoint", ck, "--beam", "2", "--prime", "§"],
        ),
        "--prime",
    );
    // --beam with --temperature is a command-line error (clap: exit status 2)
    let out = rnn(
        &d,
        &[
            "sample",
            "--checkpoint",
            ck,
            "--beam",
            "2",
            "--temperature",
            "0.5",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
}
