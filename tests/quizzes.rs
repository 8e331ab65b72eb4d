//! The chapters' self-check quizzes (`book/src/quizzes/chNN.toml`, rendered by mdbook-quiz) agree with the
//! library.
//!
//! A question may carry `check = "NAME"`, a field mdbook-quiz ignores. NAME is a function in [`CHECKS`]
//! below that computes the answer with the `rnn` library and returns it as text; the question's answer
//! must be that text exactly (a multiple-choice answer may wrap it in backticks), every alternative of a
//! short answer must be the same text up to spaces and parentheses, and no distractor may be it. When the
//! prompt shows a Rust program ("what does this print?"), NAME is a snippet of this file, between the lines
//! `// QUIZ: NAME` and `// END QUIZ`: the prompt's code block must be that snippet's body, character for
//! character, and the answer is what the snippet prints (its `println!` is captured, see the macro below).
//! So the code a reader sees is the code this test runs.
//!
//! The rules that keep numbers honest: a short answer that contains a digit, a multiple-choice answer made
//! only of numbers, and a question whose prompt shows a program must have a `check`; every `check` must
//! name a function of [`CHECKS`], and every function of [`CHECKS`] must be used by some question. Every
//! question has an `id` (mdbook-quiz would otherwise write one into the file during the build) and a
//! `context`, and no text of a quiz contains TeX (see [`tex_in`]).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

thread_local! {
    static PRINTED: RefCell<String> = const { RefCell::new(String::new()) };
}

// The snippets print with `println!`, as a reader's program would; here it writes into PRINTED (a macro
// defined in this file takes precedence over the standard library's).
macro_rules! println {
    ($($arg:tt)*) => {
        PRINTED.with(|p| {
            use std::fmt::Write as _;
            writeln!(p.borrow_mut(), $($arg)*).unwrap();
        })
    };
}

/// What `snippet` prints.
fn printed(snippet: fn()) -> String {
    PRINTED.with(|p| p.borrow_mut().clear());
    snippet();
    PRINTED.with(|p| p.borrow().trim_end().to_string())
}

// ---------------------------------------------------------------------------------------------------------
// Chapter 1

// QUIZ: ch01_unroll_shapes
fn ch01_unroll_shapes() {
    use ndarray::Array3;
    use rnn::prelude::*;

    let mut rng = rnn::init::rng(0);
    let cell = Elman::new(3, 5, &mut rng); // D = 3, H = 5
    let xs = Array3::<f64>::zeros((7, 2, 3)); // (T, B, D)
    let run = rnn::bptt::unroll(&cell, xs.view(), &cell.zero_state(2));
    println!("{:?} {:?}", run.outputs.dim(), run.last.h.dim());
}
// END QUIZ

// QUIZ: ch01_param_shapes
fn ch01_param_shapes() {
    use rnn::prelude::*;

    let mut rng = rnn::init::rng(0);
    let cell = Elman::new(4, 2, &mut rng);
    for (name, p) in cell.params() {
        println!("{name} {:?}", p.shape());
    }
}
// END QUIZ

/// The shape of `weight_ih` for D = 65, H = 128.
fn ch01_weight_ih_shape() -> String {
    let cell = rnn::cells::Elman::new(65, 128, &mut rnn::init::rng(0));
    format!("{:?}", cell.weight_ih.dim())
}

/// The number of parameters of an Elman cell with D = 10, H = 32.
fn ch01_cell_params() -> String {
    use rnn::params::Parameters;
    rnn::cells::Elman::new(10, 32, &mut rnn::init::rng(0))
        .num_params()
        .to_string()
}

// ---------------------------------------------------------------------------------------------------------
// Chapter 2

// QUIZ: ch02_last_is_outputs
fn ch02_last_is_outputs() {
    use ndarray::{Array3, Axis};
    use rnn::prelude::*;

    let mut rng = rnn::init::rng(1);
    let cell = Elman::new(2, 3, &mut rng);
    let xs = Array3::<f64>::ones((4, 1, 2)); // (T, B, D)
    let run = rnn::bptt::unroll(&cell, xs.view(), &cell.zero_state(1));
    let step_4 = run.outputs.index_axis(Axis(0), 3);
    let bounded = run.outputs.iter().all(|v| v.abs() < 1.0);
    println!("{} {}", step_4 == run.last.h, bounded);
}
// END QUIZ

/// Parameters of an Elman cell and its output layer, D = V = 10, H = 6.
fn ch02_model_params() -> String {
    use rnn::params::Parameters;
    let mut rng = rnn::init::rng(0);
    let cell = rnn::cells::Elman::new(10, 6, &mut rng);
    let out = rnn::layers::Dense::new(6, 10, &mut rng);
    (cell.num_params() + out.num_params()).to_string()
}

/// The shape of `weight_ih_l1` in a two-layer stack reading 10 features with 6 hidden units.
fn ch02_stack_weight_ih_l1() -> String {
    use rnn::params::Parameters;
    let mut rng = rnn::init::rng(0);
    let stack =
        rnn::stack::Rnn::new(10, 6, 2, false, 0.0, rnn::cells::Elman::new, &mut rng).unwrap();
    let params = stack.params();
    let (_, w) = params.iter().find(|(n, _)| n == "weight_ih_l1").unwrap();
    let shape = w.shape();
    format!("({}, {})", shape[0], shape[1])
}

// ---------------------------------------------------------------------------------------------------------
// Chapter 3

// QUIZ: ch03_temperature
fn ch03_temperature() {
    use rnn::sample::probabilities;

    let logits = [2.0, 1.0, 0.0];
    println!("{:.3?}", probabilities(&logits, 1.0, None));
    println!("{:.3?}", probabilities(&logits, 0.5, None));
    println!("{:.3?}", probabilities(&logits, 1.0, Some(2)));
}
// END QUIZ

// QUIZ: ch03_gradient
fn ch03_gradient() {
    use ndarray::array;
    use rnn::loss::softmax_cross_entropy;

    let logits = array![[0.0, 0.0]]; // one position, V = 2
    let (loss, grad) = softmax_cross_entropy(logits.view(), &[1], None);
    println!("{loss:.3} {:?}", grad.row(0).to_vec());
}
// END QUIZ

/// The loss of the uniform model over V = 4 symbols, in nats, three decimals.
fn ch03_uniform_loss() -> String {
    let logits = ndarray::Array2::<f64>::zeros((1, 4));
    let (loss, _) = rnn::loss::softmax_cross_entropy(logits.view(), &[2], None);
    format!("{loss:.3}")
}

/// Bits per character of a loss of 1 nat per character, three decimals.
fn ch03_bpc_of_one_nat() -> String {
    format!("{:.3}", rnn::loss::bits_per_char(1.0))
}

/// The perplexity of a model whose loss is 2 bits per character (PPL = 2^BPC).
fn ch03_ppl_of_two_bits() -> String {
    let nats = 2.0 * std::f64::consts::LN_2;
    format!("{:.0}", rnn::loss::perplexity(nats))
}

// ---------------------------------------------------------------------------------------------------------
// the check

type Check = (&'static str, fn() -> String);

/// Every function a quiz question can name in its `check` field.
const CHECKS: &[Check] = &[
    ("ch01_unroll_shapes", || printed(ch01_unroll_shapes)),
    ("ch01_param_shapes", || printed(ch01_param_shapes)),
    ("ch01_weight_ih_shape", ch01_weight_ih_shape),
    ("ch01_cell_params", ch01_cell_params),
    ("ch02_last_is_outputs", || printed(ch02_last_is_outputs)),
    ("ch02_model_params", ch02_model_params),
    ("ch02_stack_weight_ih_l1", ch02_stack_weight_ih_l1),
    ("ch03_temperature", || printed(ch03_temperature)),
    ("ch03_gradient", || printed(ch03_gradient)),
    ("ch03_uniform_loss", ch03_uniform_loss),
    ("ch03_bpc_of_one_nat", ch03_bpc_of_one_nat),
    ("ch03_ppl_of_two_bits", ch03_ppl_of_two_bits),
];

fn quiz_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/quizzes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// The body of the snippet `// QUIZ: name` of this file, dedented by the function's indentation.
fn snippet_source(name: &str) -> Option<String> {
    let src = include_str!("quizzes.rs");
    let start = src.find(&format!("// QUIZ: {name}\n"))?;
    let rest = &src[start..];
    let end = rest.find("// END QUIZ")?;
    let lines: Vec<&str> = rest[..end].lines().collect();
    // lines[0] is the marker, lines[1] `fn name() {`, the last `}`.
    let body = &lines[2..lines.len() - 1];
    Some(
        body.iter()
            .map(|l| l.strip_prefix("    ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// The first ```rust block of a prompt.
fn code_block(prompt: &str) -> Option<String> {
    let start = prompt.find("```rust\n")? + "```rust\n".len();
    let end = prompt[start..].find("\n```")?;
    Some(prompt[start..start + end].to_string())
}

fn normalise(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '(' && *c != ')')
        .collect()
}

/// A short answer with a digit in it, or a multiple-choice answer made only of numbers (`(6, 6)`, `1.386`).
fn looks_numeric(kind: &str, answer: &str) -> bool {
    let has_digit = answer.chars().any(|c| c.is_ascii_digit());
    match kind {
        "MultipleChoice" => {
            has_digit
                && strip_ticks(answer)
                    .chars()
                    .all(|c| c.is_ascii_digit() || " .,-+()[]e".contains(c))
        }
        _ => has_digit,
    }
}

fn strip_ticks(s: &str) -> &str {
    s.trim().trim_matches('`')
}

/// TeX in a quiz's text: `$$`, `\(`, `\[` or a backslash command such as `\frac`. mdbook-quiz renders a
/// quiz's Markdown in the browser, where KaTeX does not run, so TeX would show raw (and Markdown turns
/// `\(` into a bare `(`, which no check of the page would notice).
fn tex_in(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    for (i, w) in chars.windows(2).enumerate() {
        let tex = match w {
            ['$', '$'] | ['\\', '('] | ['\\', '['] => true,
            ['\\', c] if c.is_ascii_alphabetic() => {
                chars.get(i + 2).is_some_and(|c| c.is_ascii_alphabetic())
            }
            _ => false,
        };
        if tex {
            let from = i.saturating_sub(20);
            return Some(chars[from..(i + 20).min(chars.len())].iter().collect());
        }
    }
    None
}

/// Every string of a question, with where it is.
fn texts(q: &serde_json::Map<String, serde_json::Value>) -> Vec<(String, String)> {
    fn walk(v: &serde_json::Value, at: String, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::String(s) => out.push((at, s.clone())),
            serde_json::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, format!("{at}[{i}]"), out);
                }
            }
            serde_json::Value::Object(t) => {
                for (k, x) in t {
                    walk(
                        x,
                        if at.is_empty() {
                            k.clone()
                        } else {
                            format!("{at}.{k}")
                        },
                        out,
                    );
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(
        &serde_json::Value::Object(q.clone()),
        String::new(),
        &mut out,
    );
    out
}

/// The problems of one question (an empty list when it agrees with the library).
fn question_problems(
    q: &serde_json::Map<String, serde_json::Value>,
    used: &mut BTreeSet<String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let kind = q.get("type").and_then(|v| v.as_str()).unwrap_or("?");
    let prompt = q
        .get("prompt")
        .and_then(|p| p.get("prompt"))
        .and_then(|p| p.as_str())
        .unwrap_or("");
    let answer = q.get("answer").and_then(|a| a.get("answer"));
    let answer_text = match answer {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => {
            problems.push(format!("answer.answer must be one string, not {other}"));
            return problems;
        }
        None => {
            problems.push("no answer.answer".into());
            return problems;
        }
    };
    if q.get("id").and_then(|v| v.as_str()).is_none() {
        problems.push("no `id` (mdbook-quiz would write one into the file at build time)".into());
    }
    if q.get("context")
        .and_then(|v| v.as_str())
        .is_none_or(|c| c.trim().is_empty())
    {
        problems.push("no `context` explaining the answer and the wrong options".into());
    }
    for (at, text) in texts(q) {
        // Code is shown as code: only the text around it must be free of TeX.
        let prose = match code_block(&text) {
            Some(code) => text.replace(&code, ""),
            None => text,
        };
        if let Some(ctx) = tex_in(&prose) {
            problems.push(format!(
                "TeX in `{at}` (\"...{ctx}...\"): quizzes are rendered without KaTeX; write \
                 `W_ih`, <i>x</i><sub>t</sub>"
            ));
        }
    }
    let code = code_block(prompt);
    let Some(check) = q.get("check").and_then(|v| v.as_str()) else {
        if looks_numeric(kind, &answer_text) {
            problems.push(format!(
                "the answer `{answer_text}` has a number but no `check` computes it with the library"
            ));
        }
        if code.is_some() {
            problems.push("the prompt shows a program but no `check` runs it".into());
        }
        return problems;
    };
    used.insert(check.to_string());
    let Some((_, f)) = CHECKS.iter().find(|(n, _)| *n == check) else {
        problems.push(format!(
            "check `{check}` is not a function of CHECKS in tests/quizzes.rs"
        ));
        return problems;
    };
    if let Some(code) = &code {
        match snippet_source(check) {
            Some(src) if src == *code => {}
            Some(src) => problems.push(format!(
                "the program in the prompt is not the snippet `{check}` of tests/quizzes.rs:\n\
                 --- prompt\n{code}\n--- snippet\n{src}"
            )),
            None => problems.push(format!("no snippet `// QUIZ: {check}` in tests/quizzes.rs")),
        }
    }
    let value = f();
    let given = match kind {
        "MultipleChoice" => strip_ticks(&answer_text).to_string(),
        _ => answer_text.trim().to_string(),
    };
    if given != value {
        problems.push(format!(
            "check `{check}`: the quiz says\n{given}\nbut the library gives\n{value}"
        ));
    }
    let alternatives = q
        .get("answer")
        .and_then(|a| a.get("alternatives"))
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    for alt in alternatives.iter().filter_map(|a| a.as_str()) {
        if normalise(alt) != normalise(&value) {
            problems.push(format!(
                "check `{check}`: the alternative `{alt}` is not `{value}`"
            ));
        }
    }
    let distractors = q
        .get("prompt")
        .and_then(|p| p.get("distractors"))
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    for d in distractors.iter().filter_map(|d| d.as_str()) {
        if normalise(strip_ticks(d)) == normalise(&value) {
            problems.push(format!(
                "check `{check}`: the distractor `{d}` is the right answer"
            ));
        }
    }
    problems
}

#[test]
fn quizzes_agree_with_the_library() {
    let files = quiz_files();
    assert!(!files.is_empty(), "no quizzes in book/src/quizzes");
    let mut used = BTreeSet::new();
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let quiz = read_toml(file).unwrap_or_else(|e| panic!("{name}: {e}"));
        let questions = quiz
            .get("questions")
            .and_then(|q| q.as_array())
            .cloned()
            .unwrap_or_default();
        if questions.is_empty() {
            problems.push(format!("{name}: no [[questions]]"));
        }
        for (i, q) in questions.iter().enumerate() {
            let q = q.as_object().unwrap();
            checked += q.contains_key("check") as usize;
            for p in question_problems(q, &mut used) {
                problems.push(format!("{name}, question {}: {p}", i + 1));
            }
        }
    }
    for (n, _) in CHECKS {
        if !used.contains(*n) {
            problems.push(format!("CHECKS has `{n}`, which no quiz question uses"));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n\n"));
    std::println!(
        "{checked} quiz answers checked against the library in {} files",
        files.len()
    );
}

/// Runs every check and prints its value (`cargo test --test quizzes -- --ignored --nocapture`), to copy
/// into a new question.
#[test]
#[ignore]
fn print_checks() {
    for (n, f) in CHECKS {
        std::println!("{n}:\n{}\n", f());
    }
}

/// A TOML file as JSON, read by Python's standard `tomllib` (Python 3.11 or later, which the course's
/// machines have): the workspace needs no TOML crate, so that its lockfile, which the long outputs' stamps
/// hash, does not change for a test's sake.
fn read_toml(path: &std::path::Path) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys, tomllib; print(json.dumps(tomllib.load(open(sys.argv[1], 'rb'))))",
        ])
        .arg(path)
        .output()
        .map_err(|e| format!("cannot run python3 to read the TOML: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}
