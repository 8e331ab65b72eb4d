//! End-to-end tests of the `rnn` binary: a real (tiny) training run, exact resume, the divergence guard, and
//! one test per kind of bad input (one clear `error:` line, non-zero exit, nothing saved is overwritten).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::*;

/// A small training text.
fn corpus(dir: &Path) -> PathBuf {
    let p = dir.join("text.txt");
    let text = "the cat sat on the mat. (the dog) said \"hello\" to the cat.\n".repeat(30);
    std::fs::write(&p, text).unwrap();
    p
}

/// Flags of a tiny, fast run on `corpus`.
const TINY: [&str; 14] = [
    "--data",
    "text.txt",
    "--model",
    "rnn",
    "--hidden",
    "12",
    "--batch",
    "4",
    "--seq-len",
    "10",
    "--eval-every",
    "5",
    "--sample-len",
    "20",
];

/// `rnn train` with the TINY flags, except those `extra` gives again.
fn train(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["train"];
    for pair in TINY.chunks(2) {
        if !extra.contains(&pair[0]) {
            args.extend(pair);
        }
    }
    args.extend(extra);
    rnn(dir, &args)
}

#[test]
fn trains_and_writes_a_run_then_samples_evaluates_and_visualises() {
    let d = tmp("run");
    corpus(&d);
    let stdout = succeeds(&train(&d, &["--max-steps", "10", "--out", "run"]));
    assert!(stdout.contains("step"), "{stdout}");
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
    assert_eq!(metrics.lines().count(), 2, "evaluations at steps 5 and 10");
    let m: serde_json::Value = serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
    assert_eq!(m["step"], 10);
    assert!(m["val_loss"].as_f64().unwrap() > 0.0);
    assert!(std::fs::read_to_string(d.join("run/loss.svg"))
        .unwrap()
        .contains("<svg"));
    let names: Vec<String> = tensors(&d.join("run/last.safetensors"))
        .into_iter()
        .map(|t| t.0)
        .collect();
    for n in [
        "rnn.weight_ih_l0",
        "decoder.weight",
        "decoder.bias",
        "state.h_l0",
    ] {
        assert!(names.contains(&n.to_string()), "{n} not in {names:?}");
    }

    let ck = "run/best.safetensors";
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
            "--seed",
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
            "--seed",
            "4",
        ],
    ));
    assert_eq!(a, b, "same seed, same sample");
    assert!(a.starts_with("the ") && a.trim_end_matches('\n').chars().count() == 34);

    let e = succeeds(&rnn(
        &d,
        &["eval", "--checkpoint", ck, "--data", "text.txt"],
    ));
    assert!(
        e.contains("nats/char") && e.contains("bits/char") && e.contains("perplexity"),
        "{e}"
    );

    let v = succeeds(&rnn(
        &d,
        &[
            "viz",
            "--checkpoint",
            ck,
            "--data",
            "text.txt",
            "--out",
            "v.html",
        ],
    ));
    assert!(v.contains("inside quotes"), "{v}");
    fails_with(
        &rnn(
            &d,
            &["viz", "--checkpoint", ck, "--text", "the", "--state", "c"],
        ),
        "not available",
    );
    fails_with(
        &rnn(
            &d,
            &["viz", "--checkpoint", ck, "--text", "the", "--unit", "99"],
        ),
        "--unit",
    );
    let html = std::fs::read_to_string(d.join("v.html")).unwrap();
    assert!(html.contains("<span style=\"background:rgb("));
}

/// `--variant` picks chapter 8's cells: an FGR LSTM (whose carried state includes its gates) and Cho et
/// al.'s GRU resume bit-identically and sample; a variant the cell does not have is one clear error line.
#[test]
fn variants_train_resume_exactly_and_bad_variants_fail() {
    let d = tmp("variants");
    corpus(&d);
    for (model, variant, carried) in [
        ("lstm", "FGR", "state.g_l0"),
        ("gru", "reset-before", "state.h_l0"),
    ] {
        let common = ["--model", model, "--variant", variant, "--dropout", "0.2"];
        let (whole, split) = (format!("{model}-whole"), format!("{model}-split"));
        let mut a = common.to_vec();
        a.extend(["--max-steps", "12", "--out", &whole]);
        succeeds(&train(&d, &a));
        let mut b = common.to_vec();
        b.extend(["--max-steps", "6", "--out", &split]);
        succeeds(&train(&d, &b));
        succeeds(&rnn(
            &d,
            &["train", "--resume", "--out", &split, "--max-steps", "12"],
        ));
        let (x, y) = (
            tensors(&d.join(format!("{whole}/last.safetensors"))),
            tensors(&d.join(format!("{split}/last.safetensors"))),
        );
        assert!(
            x.iter().any(|t| t.0 == carried),
            "{model}: {carried} is carried"
        );
        assert_eq!(x, y, "{model} {variant}: the resumed run differs");
        let ckpt = format!("{whole}/best.safetensors");
        let text = succeeds(&rnn(&d, &["sample", "--checkpoint", &ckpt, "--len", "20"]));
        assert!(!text.trim().is_empty());
    }
    // an FGR LSTM has the gate-to-gate matrix, a reset-before GRU the same tensors as PyTorch's
    let fgr = tensors(&d.join("lstm-whole/last.safetensors"));
    assert!(
        fgr.iter().any(|t| t.0.starts_with("rnn.weight_gg")),
        "{:?}",
        fgr.iter().map(|t| &t.0).collect::<Vec<_>>()
    );
    fails_with(
        &train(
            &d,
            &["--model", "lstm", "--variant", "nope", "--out", "bad1"],
        ),
        "unknown LSTM variant `nope`",
    );
    fails_with(
        &train(
            &d,
            &["--model", "gru", "--variant", "cifg", "--out", "bad2"],
        ),
        "unknown GRU variant `cifg`",
    );
    fails_with(
        &train(
            &d,
            &["--model", "rnn_tanh", "--variant", "cifg", "--out", "bad3"],
        ),
        "has no variants",
    );
    assert!(!d.join("bad1").exists() && !d.join("bad3").exists());
}

/// N steps in one go, or N/2 then `--resume` for the rest: the checkpoints hold bit-identical tensors
/// (parameters, Adam moments, carried states), with dropout, clipping and a learning-rate schedule on.
#[test]
fn resume_is_bit_identical() {
    let d = tmp("resume");
    corpus(&d);
    let common = [
        "--model",
        "lstm",
        "--layers",
        "2",
        "--dropout",
        "0.3",
        "--embed",
        "5",
        "--lr-decay",
        "0.9",
        "--decay-every",
        "4",
        "--clip",
        "0.5",
    ];
    let mut whole = common.to_vec();
    whole.extend(["--max-steps", "20", "--out", "whole"]);
    succeeds(&train(&d, &whole));
    let mut half = common.to_vec();
    half.extend(["--max-steps", "10", "--out", "split"]);
    succeeds(&train(&d, &half));
    let out = succeeds(&rnn(
        &d,
        &["train", "--resume", "--out", "split", "--max-steps", "20"],
    ));
    assert!(out.contains("resuming at step 10"), "{out}");
    let a = tensors(&d.join("whole/last.safetensors"));
    let b = tensors(&d.join("split/last.safetensors"));
    assert_eq!(a.len(), b.len());
    assert!(a.iter().any(|t| t.0.starts_with("optim.")));
    assert!(
        a.iter().any(|t| t.0 == "state.c_l1"),
        "LSTM cell states are carried"
    );
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.0, y.0);
        assert!(x == y, "tensor {} differs after resume", x.0);
    }
    // the LSTM's cell state can be visualised
    let v = succeeds(&rnn(
        &d,
        &[
            "viz",
            "--checkpoint",
            "split/best.safetensors",
            "--text",
            "the cat (sat)",
            "--state",
            "c",
            "--layer",
            "0",
            "--out",
            "c.html",
        ],
    ));
    assert!(v.contains("wrote"), "{v}");
    // and its forget gate
    succeeds(&rnn(
        &d,
        &[
            "viz",
            "--checkpoint",
            "split/best.safetensors",
            "--text",
            "the cat",
            "--state",
            "f",
        ],
    ));
    // and the metrics file continues rather than restarting
    let m = std::fs::read_to_string(d.join("split/metrics.jsonl")).unwrap();
    assert_eq!(m.lines().count(), 4);
}

#[test]
fn divergence_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint() {
    let d = tmp("diverge");
    corpus(&d);
    // a huge learning rate from the start: stops before any checkpoint exists
    let out = train(
        &d,
        &[
            "--optim",
            "sgd",
            "--lr",
            "1e6",
            "--max-steps",
            "20",
            "--out",
            "fresh",
        ],
    );
    fails_with(&out, "diverged");
    assert!(!d.join("fresh/last.safetensors").exists());
    // a good run, then the same run continued with a huge learning rate: the good checkpoint survives
    succeeds(&train(
        &d,
        &[
            "--optim",
            "sgd",
            "--lr",
            "0.5",
            "--max-steps",
            "5",
            "--out",
            "good",
        ],
    ));
    let before = std::fs::read(d.join("good/last.safetensors")).unwrap();
    let out = rnn(
        &d,
        &[
            "train",
            "--resume",
            "--out",
            "good",
            "--lr",
            "1e7",
            "--max-steps",
            "20",
        ],
    );
    fails_with(&out, "last good checkpoint");
    assert_eq!(
        std::fs::read(d.join("good/last.safetensors")).unwrap(),
        before
    );
}

#[test]
fn bad_data_files() {
    let d = tmp("data");
    fails_with(
        &rnn(&d, &["train", "--data", "missing.txt"]),
        "cannot read data file",
    );
    std::fs::write(d.join("empty.txt"), "").unwrap();
    fails_with(&rnn(&d, &["train", "--data", "empty.txt"]), "is empty");
    std::fs::write(d.join("nul.txt"), b"abc\0def").unwrap();
    fails_with(&rnn(&d, &["train", "--data", "nul.txt"]), "binary");
    std::fs::write(d.join("latin1.txt"), b"caf\xe9 au lait").unwrap();
    fails_with(&rnn(&d, &["train", "--data", "latin1.txt"]), "not UTF-8");
    std::fs::write(d.join("short.txt"), "abcabc").unwrap();
    fails_with(&rnn(&d, &["train", "--data", "short.txt"]), "short.txt");
    fails_with(&rnn(&d, &["train", "--data", "@nothing"]), "bundled corpus");
    assert!(
        !d.join("runs").exists(),
        "a failed run must not create a run directory"
    );
}

#[test]
fn invalid_flags() {
    let d = tmp("flags");
    corpus(&d);
    fails_with(&train(&d, &["--dropout", "1.5"]), "--dropout");
    fails_with(&train(&d, &["--layers", "0"]), "--layers");
    fails_with(&train(&d, &["--hidden", "0"]), "--hidden");
    fails_with(&train(&d, &["--lr", "-1"]), "--lr");
    fails_with(&train(&d, &["--val-frac", "0.9"]), "--val-frac");
    fails_with(&train(&d, &["--model", "transformer"]), "unknown cell kind");
    fails_with(&train(&d, &["--optim", "lbfgs"]), "--optim");
    fails_with(&rnn(&d, &["train", "--resume"]), "--resume");
    fails_with(
        &rnn(&d, &["train", "--resume", "--out", "nothing-here"]),
        "no checkpoint to continue from",
    );
    // syntax errors are clap's: exit status 2
    let out = rnn(&d, &["train", "--hidden", "many"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn existing_run_is_not_overwritten() {
    let d = tmp("exists");
    corpus(&d);
    succeeds(&train(&d, &["--max-steps", "5", "--out", "r"]));
    let before = std::fs::read(d.join("r/last.safetensors")).unwrap();
    let metrics = std::fs::read(d.join("r/metrics.jsonl")).unwrap();
    fails_with(&train(&d, &["--max-steps", "5", "--out", "r"]), "--force");
    assert_eq!(std::fs::read(d.join("r/last.safetensors")).unwrap(), before);
    assert_eq!(std::fs::read(d.join("r/metrics.jsonl")).unwrap(), metrics);
    // --force starts over
    succeeds(&train(&d, &["--max-steps", "5", "--out", "r", "--force"]));
    let m = std::fs::read_to_string(d.join("r/metrics.jsonl")).unwrap();
    assert_eq!(m.lines().count(), 1);
}

#[test]
fn bad_prime_and_bad_checkpoints() {
    let d = tmp("ckpt");
    corpus(&d);
    succeeds(&train(&d, &["--max-steps", "5", "--out", "a"]));
    succeeds(&train(
        &d,
        &["--max-steps", "5", "--out", "b", "--hidden", "7"],
    ));
    let ck = "a/last.safetensors";
    fails_with(
        &rnn(&d, &["sample", "--checkpoint", ck, "--prime", "thé"]),
        "not in the vocabulary",
    );
    fails_with(
        &rnn(&d, &["sample", "--checkpoint", ck, "--temperature", "-1"]),
        "--temperature",
    );
    fails_with(
        &rnn(&d, &["sample", "--checkpoint", "none.safetensors"]),
        "does not exist",
    );
    std::fs::write(
        d.join("junk.safetensors"),
        b"this is not a checkpoint at all",
    )
    .unwrap();
    fails_with(
        &rnn(&d, &["sample", "--checkpoint", "junk.safetensors"]),
        "not a valid checkpoint",
    );
    // truncated file
    let full = std::fs::read(d.join(ck)).unwrap();
    std::fs::write(d.join("cut.safetensors"), &full[..full.len() / 2]).unwrap();
    fails_with(
        &rnn(
            &d,
            &[
                "eval",
                "--checkpoint",
                "cut.safetensors",
                "--data",
                "text.txt",
            ],
        ),
        "not a valid checkpoint",
    );
    // config of model a, tensors of model b (hidden 7): a mismatched checkpoint
    let a_bytes = std::fs::read(d.join(ck)).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&a_bytes).unwrap();
    let b_bytes = std::fs::read(d.join("b/last.safetensors")).unwrap();
    let b = safetensors::SafeTensors::deserialize(&b_bytes).unwrap();
    let mixed = safetensors::serialize(b.tensors(), meta.metadata()).unwrap();
    std::fs::write(d.join("mixed.safetensors"), mixed).unwrap();
    fails_with(
        &rnn(&d, &["sample", "--checkpoint", "mixed.safetensors"]),
        "does not fit the model: this checkpoint has hidden size 7, the model hidden size 12",
    );
    // a text with characters the model never saw
    std::fs::write(d.join("other.txt"), "xyz QQQ").unwrap();
    fails_with(
        &rnn(&d, &["eval", "--checkpoint", ck, "--data", "other.txt"]),
        "not in the vocabulary",
    );
}

#[test]
fn download_offline_is_one_clear_line() {
    let d = tmp("download");
    let out = Command::new(BIN)
        .args(["download", "tinyshakespeare", "--to", "data"])
        .current_dir(&d)
        // a closed local port: behaves like being offline, whatever the network
        .env("RNN_TINYSHAKESPEARE_URL", "http://127.0.0.1:9/input.txt")
        .output()
        .unwrap();
    fails_with(&out, "cannot download tinyshakespeare");
    assert!(!d.join("data/tinyshakespeare.txt").exists());
    fails_with(&rnn(&d, &["download", "imagenet"]), "unknown corpus");
}

/// The no-flag defaults (GRU on the bundled Moby-Dick), cut to two steps.
#[test]
fn defaults_train_on_the_bundled_corpus() {
    let d = tmp("defaults");
    let out = succeeds(&rnn(
        &d,
        &["train", "--max-steps", "2", "--sample-len", "10"],
    ));
    assert!(
        out.contains("gru 128x1") && out.contains("@moby-dick"),
        "{out}"
    );
    assert!(d.join("runs/run-1/best.safetensors").exists());
    // a second run does not touch the first: it gets its own directory
    succeeds(&rnn(
        &d,
        &["train", "--max-steps", "1", "--sample-len", "10"],
    ));
    assert!(d.join("runs/run-2/last.safetensors").exists());
}

#[test]
fn bench_runs_on_any_text_and_says_when_a_reference_is_missing() {
    let d = tmp("bench");
    let data = corpus(&d);
    let data = data.to_str().unwrap();
    let args = [
        "bench",
        "--data",
        data,
        "--only",
        "minchar,sample",
        "--seconds",
        "0.05",
        "--rounds",
        "2",
        "--python",
        "/nonexistent/python",
    ];
    let out = succeeds(&rnn(&d, &args));
    assert!(out.contains("round 2: ours"), "{out}");
    assert!(out.contains("min-char-rnn"), "{out}");
    assert!(
        out.contains("reference unavailable: cannot run /nonexistent/python"),
        "{out}"
    );
    for cell in ["rnn ", "gru ", "lstm"] {
        assert!(out.contains(&format!("{cell} 256 sampling")), "{out}");
    }
    assert!(
        !out.contains("lstm 256x1 training"),
        "--only was not respected: {out}"
    );

    fails_with(&rnn(&d, &["bench", "--seconds", "0"]), "--seconds");
    fails_with(&rnn(&d, &["bench", "--seconds=-3"]), "--seconds");
    fails_with(&rnn(&d, &["bench", "--seconds", "NaN"]), "--seconds");
    fails_with(
        &rnn(&d, &["bench", "--only", "minchar,gpu"]),
        "unknown benchmark \"gpu\"",
    );
    fails_with(
        &rnn(&d, &["bench", "--data", "missing.txt"]),
        "cannot read data file",
    );
    assert_eq!(rnn(&d, &["bench", "--rounds", "0"]).status.code(), Some(2));
}

#[test]
fn bench_defaults_to_the_downloaded_tinyshakespeare_else_the_bundled_text_and_says_which() {
    let d = tmp("bench-default");
    let args = ["bench", "--only", "sample", "--seconds", "0.05"];
    // no data/tinyshakespeare.txt in this directory: the bundled Moby-Dick, and how to get the default
    let out = succeeds(&rnn(&d, &args));
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(
            "rnn bench on @moby-dick (bundled; the default data/tinyshakespeare.txt is absent"
        ),
        "{out}"
    );
    assert!(
        first.contains("rnn download tinyshakespeare --to data/"),
        "{out}"
    );
    // where `rnn download tinyshakespeare --to data/` writes it: that file, whatever else the machine has
    std::fs::create_dir_all(d.join("data")).unwrap();
    let text = "FIRST CITIZEN:\nWe are accounted poor citizens.\n\n".repeat(40);
    std::fs::write(d.join("data/tinyshakespeare.txt"), &text).unwrap();
    let out = succeeds(&rnn(&d, &args));
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(
            "rnn bench on data/tinyshakespeare.txt (the default: the downloaded Tiny Shakespeare; "
        ),
        "{out}"
    );
    assert!(
        first.contains(&format!("{} chars", text.chars().count())),
        "{out}"
    );
}

/// The `model.cell` a checkpoint's config names.
fn stored_cell(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let config: serde_json::Value =
        serde_json::from_str(&meta.metadata().as_ref().unwrap()["config"]).unwrap();
    config["model"]["cell"].as_str().unwrap().to_string()
}

/// `tests/fixtures/v1-rnn-run.last.safetensors` is the `last.safetensors` of a run made by the `rnn` binary
/// before the config format was unified (commit 372f239), with
/// `rnn train --data text.txt --model rnn --hidden 8 --batch 4 --seq-len 10 --eval-every 5 --sample-len 20
/// --max-steps 5 --out run` on the `corpus` text. Its config spells the tanh cell the old way, `"rnn"`.
/// Such run directories must still sample exactly as before, evaluate, and resume; checkpoints written from
/// now on use the canonical name `rnn_tanh`.
#[test]
fn a_run_directory_from_before_the_config_format_was_unified_still_loads_and_resumes() {
    let d = tmp("v1-run");
    corpus(&d);
    std::fs::create_dir_all(d.join("run")).unwrap();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-rnn-run.last.safetensors");
    std::fs::copy(&fixture, d.join("run/last.safetensors")).unwrap();
    assert_eq!(stored_cell(&d.join("run/last.safetensors")), "rnn");

    // What the binary of commit 372f239 printed for this command.
    let sample = succeeds(&rnn(
        &d,
        &[
            "sample",
            "--checkpoint",
            "run/last.safetensors",
            "--prime",
            "the ",
            "--len",
            "40",
        ],
    ));
    assert_eq!(
        sample.trim_end(),
        "the idi oensn\"ome.mh\"chonmemsttdii.ac s\"gc\nc"
    );
    let eval = succeeds(&rnn(
        &d,
        &[
            "eval",
            "--checkpoint",
            "run/last.safetensors",
            "--data",
            "text.txt",
        ],
    ));
    assert!(eval.contains("2.9097 nats/char"), "{eval}");

    let resumed = succeeds(&rnn(
        &d,
        &["train", "--resume", "--out", "run", "--max-steps", "10"],
    ));
    assert!(resumed.contains("done: 10 steps"), "{resumed}");
    assert_eq!(stored_cell(&d.join("run/last.safetensors")), "rnn_tanh");

    // New runs store the canonical name too, whichever spelling --model was given.
    for (flag, canonical) in [
        ("rnn", "rnn_tanh"),
        ("RNN_TANH", "rnn_tanh"),
        ("rnn_relu", "rnn_relu"),
    ] {
        let out = format!("new-{flag}");
        succeeds(&train(
            &d,
            &["--max-steps", "1", "--model", flag, "--out", &out],
        ));
        assert_eq!(
            stored_cell(&d.join(&out).join("last.safetensors")),
            canonical,
            "--model {flag}"
        );
    }
}
