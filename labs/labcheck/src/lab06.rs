//! Lab 6: gradient clipping (by global norm and by value) and sampling with temperature. Expected answers
//! come from `rnn::optim` and `rnn::sample`.

use ndarray::{ArrayD, array};
use rand::Rng as _;

use crate::reference;
use crate::report::{EXACT, Mistake, check, check_scalar, fail, run};

const LAB_CLIP: &str = "lab 6 · clipping";
const LAB_SAMPLE: &str = "lab 6 · sampling";

/// The name of the mistake: clamping elements when asked for the global norm.
pub const PER_ELEMENT: &str = "clipping per element (by value) when asked for the global norm";
/// The name of the mistake: rescaling by the norm when asked to clip by value.
pub const GLOBAL_FOR_VALUE: &str = "rescaling by the global norm when asked to clip by value";

fn grads() -> Vec<ArrayD<f64>> {
    // Total norm √(3² + 4² + 12²) = 13, spread over two tensors; one element (12) is far larger than the rest.
    vec![
        array![[3.0, 0.0], [0.0, -0.5]].into_dyn(),
        array![4.0, -12.0, 0.25].into_dyn(),
    ]
}

/// A list of tensors as [`rnn::params::Parameters`], so the library's clipping can run on it.
#[derive(Clone)]
struct Tensors(Vec<ArrayD<f64>>);

impl rnn::params::Parameters for Tensors {
    fn params(&self) -> Vec<(String, ndarray::ArrayViewD<'_, f64>)> {
        self.0
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("t{i}"), t.view()))
            .collect()
    }
    fn params_mut(&mut self) -> Vec<(String, ndarray::ArrayViewMutD<'_, f64>)> {
        self.0
            .iter_mut()
            .enumerate()
            .map(|(i, t)| (format!("t{i}"), t.view_mut()))
            .collect()
    }
}

fn total_norm(gs: &[ArrayD<f64>]) -> f64 {
    gs.iter()
        .map(|g| g.iter().map(|v| v * v).sum::<f64>())
        .sum::<f64>()
        .sqrt()
}

/// The learner's `clip_by_global_norm(grads, max_norm) -> total norm before clipping`.
pub trait ClipNorm: Fn(&mut [ArrayD<f64>], f64) -> f64 {}
impl<F> ClipNorm for F where F: Fn(&mut [ArrayD<f64>], f64) -> f64 {}

/// Checks `clip_by_global_norm` against PyTorch's `clip_grad_norm_` formula.
#[track_caller]
pub fn check_clip_by_global_norm(clip: impl ClipNorm) {
    for max_norm in [5.0, 100.0, 1.0] {
        let mut got = grads();
        let norm = run(LAB_CLIP, || clip(&mut got, max_norm));
        let mut lib = Tensors(grads());
        let want_norm = rnn::optim::clip_by_global_norm(&mut lib, max_norm);
        let want = lib.0;
        let mut clamped = grads();
        reference::clip_by_value(&mut clamped, max_norm);
        let per_tensor: Vec<ArrayD<f64>> = grads()
            .into_iter()
            .map(|g| {
                let n = g.iter().map(|v| v * v).sum::<f64>().sqrt();
                let c = max_norm / (n + 1e-6);
                if c < 1.0 { g * c } else { g }
            })
            .collect();
        let no_eps: Vec<ArrayD<f64>> = grads()
            .into_iter()
            .map(|g| {
                let c = max_norm / want_norm;
                if c < 1.0 { g * c } else { g }
            })
            .collect();
        check_scalar(
            LAB_CLIP,
            &format!("the returned norm (max_norm = {max_norm})"),
            norm,
            want_norm,
            EXACT,
            &[
                (
                    "returning the norm after clipping",
                    "Return the total norm *before* clipping (what PyTorch returns): it is what you log to see \
                     gradients explode.",
                    total_norm(&want),
                ),
                (
                    "using the squared norm",
                    "The global norm is √(Σ g²) over all elements of all tensors: take the square root.",
                    want_norm * want_norm,
                ),
            ],
            "total norm = √(Σ over all tensors, all elements of g²).",
        );
        // A mistake is named only if it explains *every* tensor (tensors below the threshold can look right
        // under several mistakes at once).
        // Mistake: rescaling to max_norm even when the norm is already below it.
        let always: Vec<ArrayD<f64>> = grads()
            .into_iter()
            .map(|g| g * (max_norm / (want_norm + 1e-6)))
            .collect();
        // Mistake: comparing (and scaling by) the squared norm.
        let squared = want_norm * want_norm;
        let no_sqrt: Vec<ArrayD<f64>> = grads()
            .into_iter()
            .map(|g| {
                let c = max_norm / (squared + 1e-6);
                if c < 1.0 { g * c } else { g }
            })
            .collect();
        let variants: [(&'static str, &'static str, &Vec<ArrayD<f64>>); 5] = [
            (
                "rescaling even when the norm is below max_norm",
                "Clipping only ever shrinks: multiply by max_norm / (norm + 1e-6) only when that factor is below 1 \
                 (norm > max_norm); smaller gradients are left as they are.",
                &always,
            ),
            (
                "using the squared norm",
                "The global norm is √(Σ g²) over all elements of all tensors: take the square root.",
                &no_sqrt,
            ),
            (
                PER_ELEMENT,
                "Global-norm clipping rescales *all* gradients by the same factor max_norm / (norm + 1e-6) \
                 when norm > max_norm, so their direction is kept. Clamping each element is clip_by_value.",
                &clamped,
            ),
            (
                "clipping each tensor by its own norm",
                "The norm is global: one norm over every tensor together, one factor for all.",
                &per_tensor,
            ),
            (
                "leaving out PyTorch's epsilon",
                "PyTorch (and the library) scale by max_norm / (total_norm + 1e-6).",
                &no_eps,
            ),
        ];
        let explains = |answers: &Vec<ArrayD<f64>>| {
            got.iter().zip(answers).all(|(g, a)| {
                crate::report::is_close(
                    &g.view(),
                    &a.view(),
                    crate::report::Tol {
                        atol: 1e-9,
                        rtol: 1e-6,
                    },
                )
            })
        };
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            let mistakes: Vec<Mistake> = variants
                .iter()
                .filter(|(_, _, answers)| explains(answers))
                .map(|(name, fix, answers)| Mistake::new(name, fix, answers[k].clone()))
                .collect();
            check(
                LAB_CLIP,
                &format!("grads[{k}] after clip_by_global_norm(max_norm = {max_norm})"),
                g.view(),
                w.view(),
                EXACT,
                &mistakes,
                "if total_norm > max_norm, multiply every element of every tensor by max_norm / (total_norm + 1e-6).",
            );
        }
    }
}

/// The learner's `clip_by_value(grads, clip)`.
pub trait ClipValue: Fn(&mut [ArrayD<f64>], f64) {}
impl<F> ClipValue for F where F: Fn(&mut [ArrayD<f64>], f64) {}

/// Checks `clip_by_value` against PyTorch's `clip_grad_value_`.
#[track_caller]
pub fn check_clip_by_value(clip: impl ClipValue) {
    for c in [1.0, 0.1, 50.0] {
        let mut got = grads();
        run(LAB_CLIP, || clip(&mut got, c));
        let mut lib = Tensors(grads());
        rnn::optim::clip_by_value(&mut lib, c);
        let want = lib.0;
        let mut rescaled = grads();
        reference::clip_by_global_norm(&mut rescaled, c);
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            check(
                LAB_CLIP,
                &format!("grads[{k}] after clip_by_value(clip = {c})"),
                g.view(),
                w.view(),
                EXACT,
                &[Mistake::new(
                    GLOBAL_FOR_VALUE,
                    "Clipping by value clamps each element to [-clip, clip] on its own (`v.clamp(-clip, clip)`); \
                     rescaling by the norm is clip_by_global_norm.",
                    rescaled[k].clone(),
                )],
                "clamp every element to [-clip, clip].",
            );
        }
    }
}

/// The learner's `temperature_probs(logits, temperature) -> probabilities`.
pub trait TemperatureProbs: Fn(&[f64], f64) -> Vec<f64> {}
impl<F> TemperatureProbs for F where F: Fn(&[f64], f64) -> Vec<f64> {}

/// Checks `temperature_probs` against `rnn::sample::probabilities`, including huge logits.
#[track_caller]
pub fn check_temperature(probs: impl TemperatureProbs) {
    let cases: [(&[f64], f64); 5] = [
        (&[2.0, 1.0, 0.1], 1.0),
        (&[2.0, 1.0, 0.1], 0.5),
        (&[2.0, 1.0, 0.1, -3.0], 2.0),
        (&[1000.0, 999.0, -1000.0], 0.7),
        (&[30.0, 10.0], 0.01),
    ];
    for (z, tau) in cases {
        let got = run(LAB_SAMPLE, || probs(z, tau));
        let want = rnn::sample::probabilities(z, tau, None);
        if got.iter().any(|v| !v.is_finite()) {
            fail(
                LAB_SAMPLE,
                format!(
                    "temperature_probs({z:?}, {tau}) gave {got:?}.\n  Likely mistake: softmax overflow.\n  \
                     exp(z/τ) overflows for large logits or small τ; subtract max(z/τ) before exp."
                ),
            );
        }
        let mult = {
            let zs: Vec<f64> = z.iter().map(|v| v * tau).collect();
            rnn::sample::probabilities(&zs, 1.0, None)
        };
        check(
            LAB_SAMPLE,
            &format!("temperature_probs({z:?}, τ = {tau})"),
            ndarray::Array1::from(got).view().into_dyn(),
            ndarray::Array1::from(want).view().into_dyn(),
            EXACT,
            &[Mistake::new(
                "multiplying by the temperature instead of dividing",
                "p_i ∝ exp(z_i / τ): τ < 1 must sharpen the distribution, τ > 1 flatten it.",
                ndarray::Array1::from(mult).into_dyn(),
            )],
            "p = softmax(z / τ), computed stably.",
        );
    }
}

/// The learner's `sample_index(probs, u) -> index`, with `u` uniform in [0, 1).
pub trait SampleIndex: Fn(&[f64], f64) -> usize {}
impl<F> SampleIndex for F where F: Fn(&[f64], f64) -> usize {}

/// Checks `sample_index` (inverse-CDF sampling) against `rnn::sample::draw` with the same uniform numbers.
#[track_caller]
pub fn check_sample_index(pick: impl SampleIndex) {
    let probs = rnn::sample::probabilities(&[0.5, 2.0, -1.0, 1.0], 1.0, None);
    for seed in 0..200 {
        let u: f64 = rnn::init::rng(seed).random();
        let want = rnn::sample::draw(&probs, &mut rnn::init::rng(seed));
        let got = run(LAB_SAMPLE, || pick(&probs, u));
        if got != want {
            fail(
                LAB_SAMPLE,
                format!(
                    "sample_index({probs:?}, u = {u}) returned {got}, expected {want}.\n  Hint: walk the \
                     probabilities adding them up (the cumulative distribution) and return the first index i \
                     where u < p_0 + … + p_i."
                ),
            );
        }
    }
}
