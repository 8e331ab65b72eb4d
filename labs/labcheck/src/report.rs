//! Comparing a learner's tensor with the expected one, and explaining the difference.

use ndarray::{ArrayD, ArrayViewD, Dimension as _};

/// How close is close enough: `|got - expected| <= atol + rtol * |expected|`, element by element.
#[derive(Clone, Copy, Debug)]
pub struct Tol {
    /// Absolute part.
    pub atol: f64,
    /// Relative part.
    pub rtol: f64,
}

/// For comparisons with the library: the same maths in f64, only rounding differs.
pub const EXACT: Tol = Tol {
    atol: 1e-10,
    rtol: 1e-8,
};

/// For comparisons of an analytic gradient with central finite differences (h = 1e-5).
pub const NUMERIC: Tol = Tol {
    atol: 1e-7,
    rtol: 1e-5,
};

/// A classic mistake: its name, what to do about it, and the answer it produces on the test input.
pub struct Mistake {
    /// A short name that appears in the failure message, e.g. "forgetting dh_next".
    pub name: &'static str,
    /// Optional detail shown after the name, e.g. "you read the gates as i, f, o, g".
    pub detail: String,
    /// One or two sentences: why it is wrong and how to fix it.
    pub fix: &'static str,
    /// The answer the mistake gives on the same input.
    pub answer: ArrayD<f64>,
}

impl Mistake {
    /// A mistake with the answer it would give.
    pub fn new(name: &'static str, fix: &'static str, answer: ArrayD<f64>) -> Self {
        Mistake {
            name,
            detail: String::new(),
            fix,
            answer,
        }
    }

    /// Adds a detail shown after the name.
    pub fn with_detail(mut self, detail: &str) -> Self {
        self.detail = detail.to_string();
        self
    }
}

/// Panics with a lab-labelled message.
#[track_caller]
pub fn fail(lab: &str, message: impl AsRef<str>) -> ! {
    panic!("\n{lab}: {}\n", message.as_ref())
}

/// The worst element: `(index, got, expected, number of elements out of tolerance)`.
fn worst(
    got: &ArrayViewD<'_, f64>,
    want: &ArrayViewD<'_, f64>,
    tol: Tol,
) -> Option<(Vec<usize>, f64, f64, usize)> {
    let mut bad = 0;
    let mut worst: Option<(f64, Vec<usize>, f64, f64)> = None;
    for ((idx, &g), &w) in got.indexed_iter().zip(want.iter()) {
        let excess = if g.is_finite() {
            (g - w).abs() / (tol.atol + tol.rtol * w.abs())
        } else {
            f64::INFINITY
        };
        if excess > 1.0 {
            bad += 1;
            if worst.as_ref().is_none_or(|(e, ..)| excess > *e) {
                worst = Some((excess, idx.as_array_view().to_vec(), g, w));
            }
        }
    }
    worst.map(|(_, idx, g, w)| (idx, g, w, bad))
}

/// `true` if `got` has `want`'s shape and every element is within `tol`.
pub fn is_close(got: &ArrayViewD<'_, f64>, want: &ArrayViewD<'_, f64>, tol: Tol) -> bool {
    got.shape() == want.shape() && worst(got, want, tol).is_none()
}

/// [`is_close`] for lists of tensors, compared place by place: the whole answer of a step (its gradients,
/// ∂L/∂x and ∂L/∂state) against the library's.
pub fn all_close(got: &[ArrayD<f64>], want: &[ArrayD<f64>], tol: Tol) -> bool {
    got.iter()
        .zip(want)
        .all(|(g, w)| is_close(&g.view(), &w.view(), tol))
}

/// Panics with a readable message unless `got` has the `expected` shape. `meaning` names the axes,
/// e.g. "(B, H)".
#[track_caller]
pub fn check_shape(lab: &str, what: &str, got: &[usize], expected: &[usize], meaning: &str) {
    if got != expected {
        fail(
            lab,
            format!(
                "`{what}` has shape {got:?}, but it should be {meaning} = {expected:?}.\n  \
                 Batches are rows: x is (B, D), h is (B, H), and a step computes x·W_ihᵀ (W_ih is (G*H, D))."
            ),
        );
    }
}

/// Checks `got` against `want`. On failure, panics naming the tensor, the worst element (expected vs got),
/// and, if the answer matches one of `mistakes`, that mistake and its fix; otherwise `hint`.
#[track_caller]
pub fn check(
    lab: &str,
    what: &str,
    got: ArrayViewD<'_, f64>,
    want: ArrayViewD<'_, f64>,
    tol: Tol,
    mistakes: &[Mistake],
    hint: &str,
) {
    check_shape(lab, what, got.shape(), want.shape(), "the expected shape");
    if let Err(msg) = compare(what, got, want, tol, mistakes, hint) {
        fail(lab, msg)
    }
}

/// [`check`] without the panic: `Err(message)` if `got` is not `want` (the message [`check`] would show,
/// without the lab's name).
pub fn compare(
    what: &str,
    got: ArrayViewD<'_, f64>,
    want: ArrayViewD<'_, f64>,
    tol: Tol,
    mistakes: &[Mistake],
    hint: &str,
) -> Result<(), String> {
    if got.shape() != want.shape() {
        return Err(format!(
            "`{what}` has shape {:?}, but it should be {:?}.",
            got.shape(),
            want.shape()
        ));
    }
    let Some((idx, g, w, bad)) = worst(&got, &want, tol) else {
        return Ok(());
    };
    let mut msg = format!(
        "`{what}` (shape {:?}) is wrong.\n  At {idx:?}: expected {w:.10}, got {g:.10} ({bad} of {} elements differ; \
         tolerance {:.0e} + {:.0e}·|expected|).",
        want.shape(),
        want.len(),
        tol.atol,
        tol.rtol
    );
    if got.iter().any(|v| !v.is_finite()) {
        msg.push_str("\n  Your answer contains NaN or infinity.");
    }
    let loose = Tol {
        atol: tol.atol.max(1e-9),
        rtol: tol.rtol.max(1e-6),
    };
    // A mistake is named only if the learner's answer is (to rounding) the one it gives, and that answer is
    // not the right one on this input; of several, the closest.
    let distance = |a: &ArrayViewD<'_, f64>| {
        got.iter()
            .zip(a.iter())
            .map(|(g, m)| (g - m).abs() / (loose.atol + loose.rtol * m.abs()))
            .fold(0.0, f64::max)
    };
    match mistakes
        .iter()
        .filter(|m| {
            m.answer.shape() == want.shape()
                && !is_close(&m.answer.view(), &want, tol)
                && is_close(&got, &m.answer.view(), loose)
        })
        .min_by(|a, b| distance(&a.answer.view()).total_cmp(&distance(&b.answer.view())))
    {
        Some(m) => {
            let detail = if m.detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", m.detail)
            };
            msg.push_str(&format!(
                "\n  Likely mistake: {}{detail}.\n  {}",
                m.name, m.fix
            ));
        }
        None if !hint.is_empty() => msg.push_str(&format!("\n  Hint: {hint}")),
        None => {}
    }
    Err(msg)
}

/// Checks a scalar, with the same message format as [`check`].
#[track_caller]
pub fn check_scalar(
    lab: &str,
    what: &str,
    got: f64,
    want: f64,
    tol: Tol,
    mistakes: &[(&'static str, &'static str, f64)],
    hint: &str,
) {
    let ms: Vec<Mistake> = mistakes
        .iter()
        .map(|&(n, f, v)| Mistake::new(n, f, ndarray::arr0(v).into_dyn()))
        .collect();
    check(
        lab,
        what,
        ndarray::arr0(got).into_dyn().view(),
        ndarray::arr0(want).into_dyn().view(),
        tol,
        &ms,
        hint,
    );
}

/// The text of a panic's payload.
pub fn message(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Which code a panic came from: it decides the advice for a shape mismatch.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Pass {
    /// A forward step: the products are x·W_ihᵀ and h·W_hhᵀ.
    Forward,
    /// A backward step: the products are the forward's, transposed (daᵀ·x, da·W_ih, da·W_hh).
    Backward,
}

/// Calls the learner's forward code; if it panics, panics again with the lab's name and advice for the usual
/// causes (a `todo!()` left in place, a shape mismatch in a matrix product or a broadcast).
#[track_caller]
pub fn run<T>(lab: &str, f: impl FnOnce() -> T) -> T {
    run_pass(lab, Pass::Forward, f)
}

/// [`run`] for a backward pass: the advice for a shape mismatch is the backward's.
#[track_caller]
pub fn run_backward<T>(lab: &str, f: impl FnOnce() -> T) -> T {
    run_pass(lab, Pass::Backward, f)
}

#[track_caller]
fn run_pass<T>(lab: &str, pass: Pass, f: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(e) => {
            let msg = message(&*e);
            let shapes = msg.contains("matrix multiplication")
                || msg.contains("broadcast")
                || msg.contains("shape");
            let advice = if msg.contains("not yet implemented") {
                "Replace the `todo!()` with your code (the `// TODO:` comments say what to write)."
            } else if shapes && pass == Pass::Forward {
                "A shape mismatch. Batches are rows: x is (B, D) and weight_ih is (G*H, D), so the product is \
                 `x.dot(&w_ih.t())`, shape (B, G*H). Print `.dim()` of your arrays to find the culprit."
            } else if shapes {
                "A shape mismatch in a backward. Its products are the forward's, transposed: with da the \
                 (B, G*H) gradient of the pre-activation, dW_ih = daᵀ·x (`da.t().dot(x)`, (G*H, D)), \
                 dW_hh = daᵀ·h_prev, dx = da·W_ih (`da.dot(w_ih)`, (B, D), no transpose) and dh_prev = da·W_hh. \
                 Print `.dim()` of your arrays to find the culprit."
            } else {
                "Read the message above; the lab's comments give every shape."
            };
            fail(
                lab,
                format!(
                    "your code panicked: {msg}\n  {advice}\n  (The line that panicked is printed above this \
                     message; run with RUST_BACKTRACE=1 to see every call that led there.)"
                ),
            )
        }
    }
}
