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
// Chapters 7 to 9: helpers for the "which line of this backward is wrong" questions

/// A `(B, H)` gradient, in the signatures of the chapter 7 and 8 snippets.
type Ch79Mat = ndarray::Array2<f64>;

/// `max_i |a_i - n_i| / max(1e-8, max_i (|a_i| + |n_i|))`, the book's relative error of a tensor.
fn ch79_rel_error(a: &Ch79Mat, n: &Ch79Mat) -> f64 {
    let diff = (a - n).iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let scale = a
        .iter()
        .zip(n)
        .fold(0.0_f64, |m, (x, y)| m.max(x.abs() + y.abs()));
    diff / scale.max(1e-8)
}

/// A `(rows, cols)` matrix of uniform numbers in [-1, 1).
fn ch79_draw(rows: usize, cols: usize, rng: &mut rnn::init::Rng) -> Ch79Mat {
    rnn::init::uniform(&[rows, cols], -1.0, 1.0, rng)
        .into_dimensionality()
        .unwrap()
}

/// The gradient of `loss` with respect to the `(B, n)` matrix `at`, by central differences (the library's
/// `numeric_gradient`).
fn ch79_numeric(at: &Ch79Mat, mut loss: impl FnMut(&Ch79Mat) -> f64) -> Ch79Mat {
    rnn::gradcheck::numeric_gradient(&at.clone().into_dyn(), |a| {
        loss(&a.clone().into_dimensionality().unwrap())
    })
    .into_dimensionality()
    .unwrap()
}

/// Which line of the snippet `name` is wrong, given which of the tensors it returns disagree with finite
/// differences of the library's forward step (`wrong[k]` for the k-th name of the snippet's last line,
/// `[a, b, ...]`). Following the variable names from line to line, each `let v = ...;` line reaches a set
/// of the returned tensors; the wrong line is the one whose set is exactly the wrong tensors. Panics when
/// no tensor is wrong, or when no line or more than one line fits.
fn ch79_wrong_line(name: &str, wrong: &[bool]) -> String {
    let src = snippet_source(name).expect("the snippet exists");
    let words = |s: &str| -> BTreeSet<String> {
        s.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .map(String::from)
            .collect()
    };
    let returned: Vec<String> = src
        .lines()
        .last()
        .unwrap()
        .trim()
        .trim_matches(|c| c == '[' || c == ']')
        .split(", ")
        .map(String::from)
        .collect();
    assert_eq!(
        returned.len(),
        wrong.len(),
        "{name}: one flag per returned tensor"
    );
    // (the name a `let` line defines, the names it reads)
    let lets: Vec<(String, BTreeSet<String>)> = src
        .lines()
        .filter_map(|l| {
            let code = l.split("//").next().unwrap().trim();
            let (lhs, rhs) = code.strip_prefix("let ")?.split_once(" = ")?;
            (!lhs.contains('{')).then(|| (lhs.trim().to_string(), words(rhs)))
        })
        .collect();
    fn reaches(v: &str, lets: &[(String, BTreeSet<String>)], out: &mut BTreeSet<String>) {
        if out.insert(v.to_string()) {
            for (w, reads) in lets {
                if reads.contains(v) {
                    reaches(w, lets, out);
                }
            }
        }
    }
    let bad: BTreeSet<String> = returned
        .iter()
        .zip(wrong)
        .filter(|(_, w)| **w)
        .map(|(r, _)| r.clone())
        .collect();
    assert!(!bad.is_empty(), "{name}: every returned tensor is right");
    let fits: Vec<&String> = lets
        .iter()
        .map(|(v, _)| v)
        .filter(|v| {
            let mut reached = BTreeSet::new();
            reaches(v, &lets, &mut reached);
            reached.retain(|r| returned.contains(r));
            reached == bad
        })
        .collect();
    assert_eq!(
        fits.len(),
        1,
        "{name}: wrong tensors {bad:?} fit the lines {fits:?}"
    );
    format!("The line that computes `{}`.", fits[0])
}

// ---------------------------------------------------------------------------------------------------------
// Chapter 7

/// The shape of `weight_ih_l0` of a one-layer LSTM stack reading D = 10 features with H = 20 units.
fn ch07_weight_ih_l0() -> String {
    use rnn::params::Parameters;
    let mut rng = rnn::init::rng(0);
    let stack =
        rnn::stack::Rnn::new(10, 20, 1, false, 0.0, rnn::cells::Lstm::new, &mut rng).unwrap();
    let params = stack.params();
    let (_, w) = params.iter().find(|(n, _)| n == "weight_ih_l0").unwrap();
    format!("({}, {})", w.shape()[0], w.shape()[1])
}

/// The parameters of the adding problem's LSTM cell, D = 2, H = 32.
fn ch07_adding_params() -> String {
    use rnn::params::Parameters;
    rnn::cells::Lstm::new(2, 32, &mut rnn::init::rng(0))
        .num_params()
        .to_string()
}

/// The share of ∂L/∂c_T that reaches c_{T-50} when every forget gate is 0.95: BPTT through 50 steps of
/// an LSTM whose weights are zero and whose forget bias is ln 19 (σ(ln 19) = 0.95), with the loss on c_T
/// alone. Three decimals.
fn ch07_carousel() -> String {
    use ndarray::{Array2, Array3};
    use rnn::prelude::*;
    let mut cell = Lstm::new(1, 1, &mut rnn::init::rng(0));
    cell.weight_ih.fill(0.0);
    cell.weight_hh.fill(0.0);
    cell.bias_hh.fill(0.0);
    cell.bias_ih
        .assign(&ndarray::array![0.0, 19f64.ln(), 0.0, 0.0]); // i, f, g, o
    let xs = Array3::<f64>::zeros((50, 1, 1));
    let run = rnn::bptt::unroll(&cell, xs.view(), &cell.zero_state(1));
    let d_last = State {
        h: Array2::zeros((1, 1)),
        c: Some(Array2::ones((1, 1))),
        gates: None,
    };
    let mut grads = cell.zeros_like();
    let d_outputs = Array3::<f64>::zeros((50, 1, 1));
    let (_, d_init) = rnn::bptt::bptt(
        &cell,
        &run.caches,
        d_outputs.view(),
        Some(&d_last),
        &mut grads,
    );
    format!("{:.3}", d_init.c.unwrap()[[0, 0]])
}

// QUIZ: ch07_gate_order
fn ch07_gate_order() {
    use ndarray::{array, Array2};
    use rnn::prelude::*;

    let mut cell = Lstm::new(1, 1, &mut rnn::init::rng(0)); // D = H = 1
    cell.weight_ih.fill(0.0);
    cell.weight_hh.fill(0.0);
    cell.bias_hh.fill(0.0);
    cell.bias_ih.assign(&array![-20.0, 20.0, 0.0, 20.0]);
    let x = Array2::<f64>::ones((1, 1)); // (B, D)
    let mut state = cell.zero_state(1);
    state.c = Some(Array2::from_elem((1, 1), 0.5));
    for _ in 0..3 {
        state = cell.forward(x.view(), &state).0;
    }
    let c = state.c.unwrap();
    println!("{:.3} {:.3}", c[[0, 0]], state.h[[0, 0]]);
}
// END QUIZ

#[rustfmt::skip] // the prompt shows the body as written here
// QUIZ: ch07_wrong_line
fn ch07_wrong_line(cache: &rnn::cells::LstmCache, dh: &Ch79Mat, dc_next: &Ch79Mat) -> [Ch79Mat; 5] {
    use rnn::cells::LstmCache;

    let LstmCache { c_prev, i, f, g, o, tanh_c, .. } = cache; // all (B, H)
    // (7.10)
    let dc = dc_next + &(dh * o * (1.0 - tanh_c * tanh_c));
    // (7.11), (7.17)
    let da_i = &dc * g * i * (1.0 - i);
    // (7.13), (7.14)
    let da_f = &dc * c_prev * f * (1.0 - f);
    // (7.12), (7.15)
    let da_g = &dc * i * g * (1.0 - g);
    // (7.8), (7.9)
    let da_o = dh * tanh_c * o * (1.0 - o);
    // (7.16)
    let dc_prev = &dc * f;
    [da_i, da_f, da_g, da_o, dc_prev]
}
// END QUIZ

/// Which line of `ch07_wrong_line` is wrong. One LSTM step (the library's, D = 3, H = 4, B = 1) with the
/// loss L = Σ w_h ⊙ h_t + Σ w_c ⊙ c_t, so ∂L/∂h_t = w_h and the gradient from step t+1 is w_c. The true
/// ∂L/∂a_t is ∂L/∂bias_ih (a_t contains bias_ih once), and ∂L/∂c_{t-1} is the gradient of L in c_{t-1},
/// both by central differences of the library's forward step.
fn ch07_which_line() -> String {
    use rnn::prelude::*;
    let mut rng = rnn::init::rng(7);
    let cell = Lstm::new(3, 4, &mut rng);
    let x = ch79_draw(1, 3, &mut rng);
    let (h_prev, c_prev) = (ch79_draw(1, 4, &mut rng), ch79_draw(1, 4, &mut rng));
    let (w_h, w_c) = (ch79_draw(1, 4, &mut rng), ch79_draw(1, 4, &mut rng));
    let loss = |cell: &Lstm, c_prev: &Ch79Mat| {
        let prev = State {
            h: h_prev.clone(),
            c: Some(c_prev.clone()),
            gates: None,
        };
        let (next, _) = cell.forward(x.view(), &prev);
        (&next.h * &w_h).sum() + (next.c.unwrap() * &w_c).sum()
    };
    let prev = State {
        h: h_prev.clone(),
        c: Some(c_prev.clone()),
        gates: None,
    };
    let (_, cache) = cell.forward(x.view(), &prev);
    let got = ch07_wrong_line(&cache, &w_h, &w_c);
    let bias = cell.bias_ih.clone().insert_axis(ndarray::Axis(0)); // (1, 4H)
    let da = ch79_numeric(&bias, |b| {
        let mut c = cell.clone();
        c.bias_ih = b.row(0).to_owned();
        loss(&c, &c_prev)
    });
    let dc_prev = ch79_numeric(&c_prev, |c| loss(&cell, c));
    let block = |k: usize| da.slice(ndarray::s![.., 4 * k..4 * (k + 1)]).to_owned();
    let truth = [block(0), block(1), block(2), block(3), dc_prev]; // i, f, g, o, c_{t-1}
    let wrong: Vec<bool> = got
        .iter()
        .zip(&truth)
        .map(|(a, n)| ch79_rel_error(a, n) > 1e-6)
        .collect();
    ch79_wrong_line("ch07_wrong_line", &wrong)
}

// ---------------------------------------------------------------------------------------------------------
// Chapter 8

// QUIZ: ch08_keep
fn ch08_keep() {
    use ndarray::{array, Array2};
    use rnn::prelude::*;

    let mut cell = Gru::new(1, 1, &mut rnn::init::rng(0)); // D = H = 1
    cell.weight_ih.fill(0.0);
    cell.weight_hh.fill(0.0);
    cell.bias_hh.fill(0.0);
    let x = Array2::<f64>::zeros((1, 1)); // (B, D)
    let h0 = State::from_h(Array2::from_elem((1, 1), 0.5));
    for z_bias in [20.0, -20.0] {
        cell.bias_ih.assign(&array![0.0, z_bias, 1.0]);
        let (next, _) = cell.forward(x.view(), &h0);
        println!("{:.3}", next.h[[0, 0]]);
    }
}
// END QUIZ

/// How many more parameters Greff's vanilla LSTM (with peepholes) has than PyTorch's, D = 10, H = 20.
fn ch08_peephole_params() -> String {
    use rnn::cells::{GreffVariant, Lstm, LstmOptions};
    use rnn::params::Parameters;
    let cell = |v| Lstm::with_options(10, 20, LstmOptions::greff(v), &mut rnn::init::rng(0));
    let vanilla = cell(GreffVariant::Vanilla).num_params();
    let np = cell(GreffVariant::Np).num_params();
    (vanilla - np).to_string()
}

/// The shape of `weight_hh` of a GRU with D = 78, H = 64.
fn ch08_gru_weight_hh() -> String {
    let cell = rnn::cells::Gru::new(78, 64, &mut rnn::init::rng(0));
    format!("{:?}", cell.weight_hh.dim())
}

#[rustfmt::skip] // the prompt shows the body as written here
// QUIZ: ch08_wrong_line
fn ch08_wrong_line(cell: &rnn::cells::Gru, cache: &rnn::cells::GruCache, dh: &Ch79Mat) -> [Ch79Mat; 5] {
    use ndarray::{concatenate, Axis};
    use rnn::cells::GruCache;

    let GruCache { h_prev, r, z, n, hn, .. } = cache; // all (B, H)
    // (8.13), (8.16)
    let da_n = dh * &(1.0 - z) * (1.0 - n * n);
    // (8.14), (8.17)
    let da_z = dh * &(n - h_prev) * z * (1.0 - z);
    // (8.18a)
    let dhn = &da_n * r;
    // (8.19a), (8.22)
    let da_r = &da_n * hn * r * (1.0 - r);
    // (8.24), in the weights' order r, z, n: (B, 3H)
    let dgh = concatenate![Axis(1), da_r, da_z, dhn];
    // (8.15), (8.30a)
    let dh_prev = dh * z + dgh.dot(&cell.weight_hh);
    [da_r, da_z, da_n, dhn, dh_prev]
}
// END QUIZ

/// Which line of `ch08_wrong_line` is wrong. One step of the library's GRU (D = 3, H = 4, B = 1) with
/// the loss L = Σ w_h ⊙ h_t: ∂L/∂a_r, ∂L/∂a_z, ∂L/∂a_n are ∂L/∂bias_ih, ∂L/∂hn is the n block of
/// ∂L/∂bias_hh, and ∂L/∂h_{t-1} is the gradient of L in h_{t-1}, all by central differences.
fn ch08_which_line() -> String {
    use rnn::prelude::*;
    let mut rng = rnn::init::rng(8);
    let cell = Gru::new(3, 4, &mut rng);
    let x = ch79_draw(1, 3, &mut rng);
    let h_prev = ch79_draw(1, 4, &mut rng);
    let w_h = ch79_draw(1, 4, &mut rng);
    let loss = |cell: &Gru, h_prev: &Ch79Mat| {
        let (next, _) = cell.forward(x.view(), &State::from_h(h_prev.clone()));
        (&next.h * &w_h).sum()
    };
    let (_, cache) = cell.forward(x.view(), &State::from_h(h_prev.clone()));
    let got = ch08_wrong_line(&cell, &cache, &w_h);
    let row = |b: &ndarray::Array1<f64>| b.clone().insert_axis(ndarray::Axis(0)); // (1, 3H)
    let dgi = ch79_numeric(&row(&cell.bias_ih), |b| {
        let mut c = cell.clone();
        c.bias_ih = b.row(0).to_owned();
        loss(&c, &h_prev)
    });
    let dgh = ch79_numeric(&row(&cell.bias_hh), |b| {
        let mut c = cell.clone();
        c.bias_hh = b.row(0).to_owned();
        loss(&c, &h_prev)
    });
    let dh_prev = ch79_numeric(&h_prev, |h| loss(&cell, h));
    let block = |d: &Ch79Mat, k: usize| d.slice(ndarray::s![.., 4 * k..4 * (k + 1)]).to_owned();
    // r, z, n, hn, h_{t-1}
    let truth = [
        block(&dgi, 0),
        block(&dgi, 1),
        block(&dgi, 2),
        block(&dgh, 2),
        dh_prev,
    ];
    let wrong: Vec<bool> = got
        .iter()
        .zip(&truth)
        .map(|(a, n)| ch79_rel_error(a, n) > 1e-6)
        .collect();
    ch79_wrong_line("ch08_wrong_line", &wrong)
}

// ---------------------------------------------------------------------------------------------------------
// Chapter 9

/// The index in `h_n` of layer 1's reverse direction, in a two-layer bidirectional stack: the final state
/// equal to the reverse half of the top layer's output at t = 0 (where the reverse cell ends).
fn ch09_hn_index() -> String {
    use ndarray::{s, Array3};
    let mut rng = rnn::init::rng(0);
    let model = rnn::stack::Rnn::new(2, 3, 2, true, 0.0, rnn::cells::Gru::new, &mut rng).unwrap();
    let xs: Array3<f64> = rnn::init::uniform(&[5, 1, 2], -1.0, 1.0, &mut rng)
        .into_dimensionality()
        .unwrap();
    let (outputs, h_n, _) = model.forward(xs.view(), None, None);
    let reverse_end = outputs.slice(s![0, .., 3..]);
    let found: Vec<usize> = (0..h_n.len())
        .filter(|&i| h_n[i].h == reverse_end)
        .collect();
    assert_eq!(found.len(), 1, "one final state is the top reverse cell's");
    found[0].to_string()
}

/// The shape of `weight_ih_l1` of a two-layer bidirectional LSTM, D = 10, H = 20.
fn ch09_weight_ih_l1() -> String {
    use rnn::params::Parameters;
    let mut rng = rnn::init::rng(0);
    let stack =
        rnn::stack::Rnn::new(10, 20, 2, true, 0.0, rnn::cells::Lstm::new, &mut rng).unwrap();
    let params = stack.params();
    let (_, w) = params.iter().find(|(n, _)| n == "weight_ih_l1").unwrap();
    format!("({}, {})", w.shape()[0], w.shape()[1])
}

// QUIZ: ch09_future
fn ch09_future() {
    use ndarray::{s, Array3};
    use rnn::prelude::*;
    use rnn::stack::Rnn;

    let mut rng = rnn::init::rng(0);
    for bidirectional in [false, true] {
        let model = Rnn::new(2, 3, 1, bidirectional, 0.0, Gru::new, &mut rng).unwrap();
        let xs = Array3::<f64>::ones((4, 1, 2)); // (T, B, D)
        let mut changed = xs.clone();
        changed[[3, 0, 0]] = -1.0; // only the last step's input
        let (a, _, _) = model.forward(xs.view(), None, None);
        let (b, _, _) = model.forward(changed.view(), None, None);
        println!("{}", a.slice(s![..3, .., ..]) == b.slice(s![..3, .., ..]));
    }
}
// END QUIZ

// QUIZ: ch09_dropout
fn ch09_dropout() {
    let mut rng = rnn::init::rng(0);
    let m = rnn::stack::dropout_mask((100, 10, 100), 0.2, &mut rng); // p = 0.2
    let mut values: Vec<f64> = m.iter().copied().collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    values.sort_by(f64::total_cmp);
    values.dedup();
    println!("{values:?} {mean:.2}");
}
// END QUIZ

// QUIZ: ch09_masked
fn ch09_masked() {
    use ndarray::{array, s, Array3};
    use rnn::prelude::*;
    use rnn::stack::Rnn;

    let mut rng = rnn::init::rng(0);
    let model = Rnn::new(1, 2, 1, false, 0.0, Elman::new, &mut rng).unwrap();
    // (T, B, D) = (4, 2, 1): row 0 is 1, 2, 3, 4; row 1 is 5, 6 and two pads (9)
    let xs = Array3::from_shape_vec((4, 2, 1), vec![1., 5., 2., 6., 3., 9., 4., 9.]).unwrap();
    let short = array![[[5.0]], [[6.0]]]; // row 1 alone, (2, 1, 1)
    let (_, alone, _) = model.forward(short.view(), None, None);
    let (_, masked, _) = model.forward_masked(xs.view(), Some(&[4, 2]), None, None);
    let (_, padded, _) = model.forward(xs.view(), None, None);
    let same = |h_n: &[State]| h_n[0].h.slice(s![1..2, ..]) == alone[0].h; // row 1's h_n
    println!("{} {}", same(&masked), same(&padded));
}
// END QUIZ

// ---------------------------------------------------------------------------------------------------------
// Chapter 10

/// The shape of `bridge.h_l1.weight`, W_b of (10.2) for layer 1's h, in an LSTM seq2seq with H = 64, two
/// layers and a bidirectional encoder.
fn ch10_bridge_weight() -> String {
    use rnn::cells::CellKind;
    use rnn::models::seq2seq::{Seq2Seq, Seq2SeqConfig};
    use rnn::params::Parameters;
    let config = Seq2SeqConfig::new(CellKind::Lstm, 30, 40, 16, 64)
        .layers(2)
        .bidirectional(true);
    let model = Seq2Seq::new(&config, &mut rnn::init::rng(0)).unwrap();
    let params = model.params();
    let (_, w) = params
        .iter()
        .find(|(n, _)| n == "bridge.h_l1.weight")
        .unwrap();
    format!("({}, {})", w.shape()[0], w.shape()[1])
}

/// The teacher-forcing loss (10.5) of a batch of two pairs, targets "a" and "bcd", when the model gives
/// the reference's tokens the probabilities 0.5, 0.5 (a, `<eos>`) and 0.25, 0.25, 0.25, 0.8 (b, c, d,
/// `<eos>`), by `Seq2Seq::loss`. The logits give the target logit ln((V-1) p / (1-p)) and every other one
/// 0, so that softmax gives the target p; the pads get large random logits, which must count for nothing.
fn ch10_masked_loss() -> String {
    use ndarray::Array3;
    use rnn::cells::CellKind;
    use rnn::models::seq2seq::tokens::{Seq2SeqBatch, Split, Vocab};
    use rnn::models::seq2seq::{Seq2Seq, Seq2SeqConfig};

    let src = Vocab::build(["xyz"], Split::Chars);
    let tgt = Vocab::build(["abcd"], Split::Chars);
    let batch = Seq2SeqBatch::from_pairs(&[("x", "a"), ("yz", "bcd")], &src, &tgt);
    let probs = [vec![0.5, 0.5], vec![0.25, 0.25, 0.25, 0.8]]; // per row, the target then <eos>
    let (t_tgt, b) = batch.tgt_out.dim();
    let v = tgt.len();
    let mut rng = rnn::init::rng(10);
    let mut logits: Array3<f64> = rnn::init::uniform(&[t_tgt, b, v], -20.0, 20.0, &mut rng)
        .into_dimensionality()
        .unwrap(); // (T_tgt, B, V)
    for (row, ps) in probs.iter().enumerate() {
        assert_eq!(
            ps.len(),
            batch.tgt_lengths[row],
            "one probability per real token"
        );
        for (t, &p) in ps.iter().enumerate() {
            let y = batch.tgt_out[[t, row]];
            logits.slice_mut(ndarray::s![t, row, ..]).fill(0.0);
            logits[[t, row, y]] = ((v as f64 - 1.0) * p / (1.0 - p)).ln();
            let lp = rnn::loss::log_softmax(logits.slice(ndarray::s![t, row..row + 1, ..]));
            assert!((lp[[0, y]].exp() - p).abs() < 1e-12, "softmax gives p");
        }
    }
    let model = Seq2Seq::new(
        &Seq2SeqConfig::new(CellKind::Gru, src.len(), v, 2, 3),
        &mut rng,
    )
    .unwrap();
    let (loss, _) = model.loss(&batch, logits.view());
    format!("{loss:.3}")
}

/// What the decoder reads and must predict in training for the target "cat": `tgt_in` and `tgt_out` of
/// the library's teacher-forcing batch, as symbols.
fn ch10_teacher_forcing() -> String {
    use rnn::models::seq2seq::tokens::{Seq2SeqBatch, Split, Vocab};

    let src = Vocab::build(["kat"], Split::Chars);
    let tgt = Vocab::build(["cat"], Split::Chars);
    let batch = Seq2SeqBatch::from_pairs(&[("kat", "cat")], &src, &tgt);
    let symbols = |ids: ndarray::ArrayView1<'_, usize>| -> String {
        ids.iter()
            .map(|&id| tgt.symbol(id).unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        "It reads `{}` and must predict `{}`: at every step, the reference's previous symbol, whatever \
         it predicted there.",
        symbols(batch.tgt_in.column(0)),
        symbols(batch.tgt_out.column(0))
    )
}

/// The scores (10.9) of hypothesis A (3 symbols, log P = -2.0) and B (8 symbols, log P = -3.0) at α = 0
/// and α = 1 (|y| counts the `<eos>`), by `LengthPenalty::score`, and which ranks first.
fn ch10_alpha() -> String {
    use rnn::models::seq2seq::LengthPenalty;

    let (a, b) = ((-2.0, 3 + 1), (-3.0, 8 + 1)); // (log P, |y|)
    let at = |alpha: f64| {
        let p = LengthPenalty::Power(alpha);
        let (sa, sb) = (p.score(a.0, a.1), p.score(b.0, b.1));
        let first = if sa > sb { "A" } else { "B" };
        format!("At α = {alpha}, A {sa:.3} and B {sb:.3}: {first} ranks first.")
    };
    format!("{} {}", at(0.0), at(1.0))
}

/// GNMT's lp(y) (10.10) for a date, 10 symbols and the `<eos>`, at α = 0.6: the library's score of a
/// log P of 1 is 1 / lp.
fn ch10_gnmt_lp() -> String {
    use rnn::models::seq2seq::LengthPenalty;

    let lp = 1.0 / LengthPenalty::Gnmt(0.6).score(1.0, 10 + 1);
    format!("{lp:.3}")
}

/// The kind of error of the chapter's worked example, read from its committed output
/// (`book/src/outputs/ch10_seq2seq.txt`: the header `... (reference "R", log P X)`, the line
/// `greedy: "G"  log P Y`, and the beam's first hypothesis `1. "B" ...`). A wrong output less probable
/// than the reference is a search error, and the beam of 3 fixed it if its best hypothesis is the
/// reference; a wrong output at least as probable as the reference is a model error.
fn ch10_search_error() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/outputs/ch10_seq2seq.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("for the source \"fri, jul 18, 2042\""))
        .expect("ch10_seq2seq.txt has the worked example");
    let quoted = |l: &str| l.split('"').nth(1).unwrap().to_string();
    let number_after = |l: &str, key: &str| -> f64 {
        let rest = &l[l.rfind(key).unwrap() + key.len()..]; // the last one
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .unwrap_or(rest.len());
        rest[..end].parse().unwrap()
    };
    let header = lines[at];
    let reference = header.split("(reference \"").nth(1).unwrap();
    let reference = reference.split('"').next().unwrap().to_string();
    let ref_log_p = number_after(header, "log P ");
    let greedy = lines[at + 1].trim();
    assert!(
        greedy.starts_with("greedy:"),
        "the line after the header is greedy's"
    );
    let (greedy_out, greedy_log_p) = (quoted(greedy), number_after(greedy, "log P "));
    let beam_best = quoted(lines[at + 2].trim());
    assert_ne!(greedy_out, reference, "greedy's output is wrong");
    if ref_log_p > greedy_log_p {
        assert_eq!(beam_best, reference, "the beam of 3 finds the reference");
        "A search error: the model prefers the reference, and a better search finds it (the beam of 3 did)."
            .to_string()
    } else {
        "A model error: the model prefers its wrong output, and no search can fix it.".to_string()
    }
}

// QUIZ: ch10_beam_one
fn ch10_beam_one() {
    use rnn::cells::CellKind;
    use rnn::models::seq2seq::{BeamConfig, Seq2Seq, Seq2SeqConfig};

    let config = Seq2SeqConfig::new(CellKind::Gru, 7, 7, 3, 4); // V = 4 specials + 3, E = 3, H = 4
    let model = Seq2Seq::new(&config, &mut rnn::init::rng(0)).unwrap();
    let src = [4, 5, 6];
    let greedy = model.greedy(&src, 8).hypothesis;
    let beam = model.beam_search(&src, &BeamConfig::new(1, 8)); // k = 1
    println!("{} {}", beam.len(), beam[0].tokens == greedy.tokens);
    println!("{}", (beam[0].log_prob - greedy.log_prob).abs() < 1e-12);
}
// END QUIZ

// ---------------------------------------------------------------------------------------------------------
// Chapter 11

/// The LSTM seq2seq of chapter 11's quiz: H = 64, a bidirectional encoder, attention of size A = 32.
fn ch11_model() -> rnn::models::seq2seq::Seq2Seq {
    use rnn::cells::CellKind;
    use rnn::models::seq2seq::{Seq2Seq, Seq2SeqConfig};
    let config = Seq2SeqConfig::new(CellKind::Lstm, 30, 40, 16, 64)
        .bidirectional(true)
        .attention(Some(32));
    Seq2Seq::new(&config, &mut rnn::init::rng(0)).unwrap()
}

/// The shape of `attention.key.weight`, W_k of (11.1).
fn ch11_key_weight() -> String {
    use rnn::params::Parameters;
    let model = ch11_model();
    let params = model.params();
    let (_, w) = params
        .iter()
        .find(|(n, _)| n == "attention.key.weight")
        .unwrap();
    format!("({}, {})", w.shape()[0], w.shape()[1])
}

/// The number of attention parameters of the same model.
fn ch11_attention_params() -> String {
    use rnn::params::Parameters;
    let n: usize = ch11_model()
        .params()
        .iter()
        .filter(|(n, _)| n.starts_with("attention."))
        .map(|(_, p)| p.len())
        .sum();
    n.to_string()
}

/// The weight (11.2) of position 2 when the scores at 4 positions are 1, 2, 0.5, 3 and the source has 3
/// symbols, by `Attention::forward`. With A = 1, v = 4, W_q = 0, b_q = 0, W_k = 1 and one-number keys
/// k_s = atanh(e_s / 4), (11.1) gives exactly e_s.
fn ch11_masked_softmax() -> String {
    use ndarray::{Array1, Array2, Array3};
    use rnn::layers::Dense;
    use rnn::models::seq2seq::attention::{Attention, Memory};
    let scores = [1.0f64, 2.0, 0.5, 3.0];
    let attention = Attention {
        query: Dense {
            weight: Array2::zeros((1, 1)),
            bias: Array1::zeros(1),
        },
        key: Array2::ones((1, 1)),
        v: Array2::from_elem((1, 1), 4.0),
    };
    let keys = Array3::from_shape_fn((4, 1, 1), |(s, _, _)| (scores[s] / 4.0).atanh());
    let memory = Memory::new(&attention, keys, &[3]);
    let (_, cache) = attention.forward(Array2::zeros((1, 1)).view(), &memory);
    assert_eq!(cache.alpha[[3, 0]], 0.0, "the pad gets no weight");
    format!("{:.3}", cache.alpha[[1, 0]])
}

// ---------------------------------------------------------------------------------------------------------
// Chapter 12

/// A one-layer network of `cell` with D = 3 and H = 4, from seed 0.
fn ch12_network(cell: rnn::cells::CellKind) -> rnn::stack::Rnn<rnn::cells::AnyCell> {
    use rnn::checkpoint::RnnConfig;
    let config = RnnConfig {
        cell: rnn::cells::CellConfig::new(cell),
        input_size: 3,
        hidden_size: 4,
        num_layers: 1,
        bidirectional: false,
        dropout: 0.0,
    };
    rnn::stack::Rnn::from_config(&config, &mut rnn::init::rng(0)).unwrap()
}

/// The Keras tensors `rnn::interop::model_to_keras` writes for that network.
fn ch12_keras(cell: rnn::cells::CellKind) -> rnn::checkpoint::Checkpoint {
    rnn::interop::model_to_keras(&ch12_network(cell)).unwrap()
}

fn shape_of(ckpt: &rnn::checkpoint::Checkpoint, name: &str) -> String {
    let s = ckpt.get(name).unwrap().shape();
    format!(
        "({})",
        s.iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The shape of Keras' `kernel` for the LSTM that is `nn.LSTM(3, 4)`.
fn ch12_keras_kernel() -> String {
    shape_of(&ch12_keras(rnn::cells::CellKind::Lstm), "layer0.kernel")
}

/// The shape of Keras' `bias` for the GRU that is `nn.GRU(3, 4)` (reset-after).
fn ch12_keras_gru_bias() -> String {
    shape_of(&ch12_keras(rnn::cells::CellKind::Gru), "layer0.bias")
}

/// The cell `RnnConfig::infer` reads from a ReLU network saved without its config.
fn ch12_infer_relu() -> String {
    use rnn::checkpoint::{Checkpoint, RnnConfig};
    let model = ch12_network(rnn::cells::CellKind::RnnRelu);
    let dir = std::env::temp_dir().join(format!("rnn-quiz-ch12-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("relu.safetensors");
    rnn::checkpoint::save_params(&path, &model, None).unwrap();
    let inferred = RnnConfig::infer(&Checkpoint::load(&path).unwrap(), "").unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    inferred.to_json()["cell"].as_str().unwrap().to_string()
}

/// The parameters of the 512 x 2 LSTM character model over 65 characters (one-hot input).
fn ch12_params_512() -> String {
    use rnn::data::Vocab;
    use rnn::models::char_lm::{CharLm, CharLmConfig};
    use rnn::params::Parameters;
    let chars: Vec<char> = (33..33 + 65).map(|i| char::from_u32(i).unwrap()).collect();
    let config = CharLmConfig::new("lstm", Vocab::from_chars(chars), 0, 512, 2, 0.0);
    CharLm::new(config, &mut rnn::init::rng(0))
        .unwrap()
        .num_params()
        .to_string()
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
    ("ch07_weight_ih_l0", ch07_weight_ih_l0),
    ("ch07_adding_params", ch07_adding_params),
    ("ch07_carousel", ch07_carousel),
    ("ch07_gate_order", || printed(ch07_gate_order)),
    ("ch07_wrong_line", ch07_which_line),
    ("ch08_keep", || printed(ch08_keep)),
    ("ch08_peephole_params", ch08_peephole_params),
    ("ch08_gru_weight_hh", ch08_gru_weight_hh),
    ("ch08_wrong_line", ch08_which_line),
    ("ch09_hn_index", ch09_hn_index),
    ("ch09_weight_ih_l1", ch09_weight_ih_l1),
    ("ch09_future", || printed(ch09_future)),
    ("ch09_dropout", || printed(ch09_dropout)),
    ("ch09_masked", || printed(ch09_masked)),
    ("ch10_bridge_weight", ch10_bridge_weight),
    ("ch10_masked_loss", ch10_masked_loss),
    ("ch10_teacher_forcing", ch10_teacher_forcing),
    ("ch10_alpha", ch10_alpha),
    ("ch10_gnmt_lp", ch10_gnmt_lp),
    ("ch10_search_error", ch10_search_error),
    ("ch10_beam_one", || printed(ch10_beam_one)),
    ("ch11_key_weight", ch11_key_weight),
    ("ch11_attention_params", ch11_attention_params),
    ("ch11_masked_softmax", ch11_masked_softmax),
    ("ch12_keras_kernel", ch12_keras_kernel),
    ("ch12_keras_gru_bias", ch12_keras_gru_bias),
    ("ch12_infer_relu", ch12_infer_relu),
    ("ch12_params_512", ch12_params_512),
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
