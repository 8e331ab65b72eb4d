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

use ndarray::Axis;
use rnn::cells::{Elman, ElmanCache};

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
// Chapter 4

// QUIZ: ch04_bptt_shapes
fn ch04_bptt_shapes() {
    use ndarray::Array3;
    use rnn::prelude::*;

    let mut rng = rnn::init::rng(0);
    let cell = Elman::new(3, 5, &mut rng); // D = 3, H = 5
    let xs = Array3::<f64>::zeros((7, 2, 3)); // (T, B, D)
    let run = rnn::bptt::unroll(&cell, xs.view(), &cell.zero_state(2));
    let d_outputs = Array3::<f64>::ones((7, 2, 5)); // ∂L/∂h_t of every step
    let mut grads = cell.zeros_like();
    let (dxs, d_h0) = rnn::bptt::bptt(&cell, &run.caches, d_outputs.view(), None, &mut grads);
    println!("{:?}", dxs.dim());
    println!("{:?}", d_h0.h.dim());
    println!("{:?}", grads.weight_hh.dim());
}
// END QUIZ

/// A `(B, H)` or `(B, D)` matrix, in the signature of the snippet below (short, so that it stays one line).
type Mat = ndarray::Array2<f64>;

// One Elman step backward with one wrong line: the question asks which. `ch04_which_line_is_wrong` runs it
// and finds the line by finite differences.
// QUIZ: ch04_wrong_line
fn ch04_wrong_line(cell: &Elman, cache: &ElmanCache, dh: &Mat, grads: &mut Elman) -> (Mat, Mat) {
    let da = dh * &cache.h.mapv(|h| 1.0 - h * h); // (4.1)
    grads.weight_ih += &da.t().dot(&cache.x); // (4.2)
    grads.weight_hh += &da.t().dot(&cache.h); // (4.3)
    grads.bias_ih += &da.sum_axis(Axis(0)); // (4.4)
    grads.bias_hh += &da.sum_axis(Axis(0)); // (4.4)
    let dx = da.dot(&cell.weight_ih); // (4.5)
    let dh_prev = da.dot(&cell.weight_hh); // (4.6)
    (dx, dh_prev)
}
// END QUIZ

/// The wrong line of the snippet `ch04_wrong_line`, as its code (without the comment): the snippet runs
/// on a random step, and each gradient it returns or accumulates is compared with central differences
/// (4.8) of the library's forward step, by the relative error (4.9). The line computing the one gradient
/// that fails is wrong; if every gradient fails, it is the line they all read, `da`'s.
fn ch04_which_line_is_wrong() -> String {
    use rnn::gradcheck::{check_params, check_tensor, TOLERANCE};
    use rnn::prelude::*;

    let mut rng = rnn::init::rng(4);
    let cell = Elman::new(3, 4, &mut rng);
    let random = |rows, cols, rng: &mut rnn::init::Rng| -> Mat {
        rnn::init::uniform(&[rows, cols], -1.0, 1.0, rng)
            .into_dimensionality()
            .unwrap()
    };
    let (x, h_prev, dh) = (
        random(2, 3, &mut rng),
        random(2, 4, &mut rng),
        random(2, 4, &mut rng),
    );
    // L = Σ dh ⊙ h_t, so that ∂L/∂h_t = dh, through the library's forward step
    let loss = |cell: &Elman, x: &Mat, h_prev: &Mat| {
        let (next, _) = cell.forward(x.view(), &State::from_h(h_prev.clone()));
        (next.h * &dh).sum()
    };
    let (_, cache) = cell.forward(x.view(), &State::from_h(h_prev.clone()));
    let mut grads = cell.zeros_like();
    let (dx, dh_prev) = ch04_wrong_line(&cell, &cache, &dh, &mut grads);
    let as2 = |a: &ndarray::ArrayD<f64>| -> Mat { a.clone().into_dimensionality().unwrap() };
    let mut report = check_params(&cell, &grads, |c| loss(c, &x, &h_prev)).tensors;
    report.push(check_tensor(
        "dx",
        &x.clone().into_dyn(),
        &dx.into_dyn(),
        |x| loss(&cell, &as2(x), &h_prev),
    ));
    report.push(check_tensor(
        "dh_prev",
        &h_prev.clone().into_dyn(),
        &dh_prev.into_dyn(),
        |h| loss(&cell, &x, &as2(h)),
    ));
    let failing: Vec<&str> = report
        .iter()
        .filter(|t| t.rel_error > TOLERANCE) // a NaN gradient reports an infinite error
        .map(|t| t.name.as_str())
        .collect();
    let source = snippet_source("ch04_wrong_line").unwrap();
    let line_of = |pattern: &str| {
        let found: Vec<&str> = source.lines().filter(|l| l.contains(pattern)).collect();
        assert_eq!(
            found.len(),
            1,
            "one line of the snippet contains `{pattern}`"
        );
        found[0].split(" //").next().unwrap().trim().to_string()
    };
    match failing.as_slice() {
        [] => panic!("every gradient of the snippet passes the check: no line is wrong"),
        [one] if one.starts_with('d') => line_of(&format!("let {one} =")),
        [one] => line_of(&format!("grads.{one} +=")),
        all if all.len() == report.len() => line_of("let da ="),
        some => panic!("the gradients {some:?} fail: more than one line is wrong"),
    }
}

/// The relative error (4.9) of an analytic gradient against a numerical one, as `rnn::gradcheck` computes it.
fn ch04_rel_error() -> String {
    let analytic = ndarray::array![1.0, -2.0, 0.75].into_dyn();
    let numeric = ndarray::array![1.0, -2.0, 0.5].into_dyn();
    let r = rnn::gradcheck::compare("g", analytic.view(), numeric.view());
    format!("{}", r.rel_error)
}

// ---------------------------------------------------------------------------------------------------------
// Chapter 5

// QUIZ: ch05_linear_regime
fn ch05_linear_regime() {
    use ndarray::Array3;
    use rnn::prelude::*;

    let mut rng = rnn::init::rng(0);
    let mut cell = Elman::new(1, 8, &mut rng); // D = 1, H = 8
    cell.weight_hh = rnn::init::orthogonal(8, 8, 0.5, &mut rng); // 0.5 times an orthogonal matrix
    cell.bias_ih.fill(0.0);
    cell.bias_hh.fill(0.0);
    let xs = Array3::<f64>::zeros((10, 1, 1)); // T = 10 steps of zero input, from h_0 = 0
    let run = rnn::bptt::unroll(&cell, xs.view(), &cell.zero_state(1));
    let mut d_outputs = Array3::<f64>::zeros((10, 1, 8));
    d_outputs[[9, 0, 0]] = 1.0; // L = first unit of h_10, so ‖∂L/∂h_10‖ = 1
    let mut grads = cell.zeros_like();
    let (_, d_h0) = rnn::bptt::bptt(&cell, &run.caches, d_outputs.view(), None, &mut grads);
    println!("{:.6}", d_h0.h.iter().map(|g| g * g).sum::<f64>().sqrt());
}
// END QUIZ

/// The `weight_hh` entry 4 after clipping gradients (3, 4, 12 spread over three tensors) by global norm 6.5.
fn ch05_clip_global() -> String {
    use rnn::prelude::*;
    let mut grads = Elman::new(2, 2, &mut rnn::init::rng(0)).zeros_like();
    grads.weight_ih[[0, 0]] = 3.0;
    grads.weight_hh[[1, 0]] = 4.0;
    grads.bias_ih[0] = 12.0;
    rnn::optim::clip_by_global_norm(&mut grads, 6.5);
    format!("{:.2}", grads.weight_hh[[1, 0]])
}

// ---------------------------------------------------------------------------------------------------------
// Chapter 6

// QUIZ: ch06_next_char
fn ch06_next_char() {
    use rnn::models::char_lm::{CharLm, CharLmConfig};

    let vocab = rnn::data::Vocab::from_text("hello world");
    let config = CharLmConfig::new("rnn", vocab.clone(), 0, 16, 1, 0.0); // one-hot, H = 16, one layer
    let model = CharLm::new(config, &mut rnn::init::rng(0)).unwrap();
    let (logits, _states) = model.step(vocab.id('h').unwrap(), &model.zero_states(1));
    let p = rnn::sample::probabilities(&logits, 1.0, None);
    println!("{} {:.3}", p.len(), p.iter().sum::<f64>());
}
// END QUIZ

// QUIZ: ch06_streams
fn ch06_streams() {
    use rnn::data::TbpttBatches;

    let ids: Vec<usize> = (0..21).collect(); // a "text" of 21 characters, ids 0 to 20
    let batches = TbpttBatches::new(&ids, 2, 3).unwrap(); // B = 2 streams, chunks of T = 3
    let (inputs, targets) = batches.chunk(1); // the second chunk, both (T, B)
    println!("{}", batches.num_chunks());
    println!("{:?}", inputs.column(1).to_vec());
    println!("{:?}", targets.column(1).to_vec());
}
// END QUIZ

/// The loss of an untrained model that predicts the uniform distribution over V = 78 characters, in nats.
fn ch06_uniform_loss() -> String {
    let logits = ndarray::Array2::<f64>::zeros((1, 78));
    let (loss, _) = rnn::loss::softmax_cross_entropy(logits.view(), &[0], None);
    format!("{loss:.3}")
}

/// The parameters of a one-hot Elman character model, V = 65, H = 100, one layer.
fn ch06_params() -> String {
    use rnn::params::Parameters;
    let chars: Vec<char> = (0..65u8).map(|i| char::from(b'!' + i)).collect();
    let vocab = rnn::data::Vocab::from_chars(chars);
    let config = rnn::models::char_lm::CharLmConfig::new("rnn", vocab, 0, 100, 1, 0.0);
    let model = rnn::models::char_lm::CharLm::new(config, &mut rnn::init::rng(0)).unwrap();
    model.num_params().to_string()
}

/// Bits per character of the chapter's final validation loss, read from its committed output
/// (`book/src/outputs/ch06_train.txt`, line `validation N nats/char, ...`) and converted by the library.
fn ch06_final_bits() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/outputs/ch06_train.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let line = text
        .lines()
        .find(|l| l.starts_with("validation ") && l.contains(" nats/char"))
        .expect("ch06_train.txt has the line `validation N nats/char, ...`");
    let nats: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    format!("{:.3}", rnn::loss::bits_per_char(nats))
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
    ("ch04_bptt_shapes", || printed(ch04_bptt_shapes)),
    ("ch04_wrong_line", ch04_which_line_is_wrong),
    ("ch04_rel_error", ch04_rel_error),
    ("ch05_linear_regime", || printed(ch05_linear_regime)),
    ("ch05_clip_global", ch05_clip_global),
    ("ch06_next_char", || printed(ch06_next_char)),
    ("ch06_streams", || printed(ch06_streams)),
    ("ch06_uniform_loss", ch06_uniform_loss),
    ("ch06_params", ch06_params),
    ("ch06_final_bits", ch06_final_bits),
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
