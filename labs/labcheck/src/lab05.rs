//! Lab 5: gradient checking itself: central differences and the relative error.

use ndarray::{ArrayD, array};
use rnn::gradcheck;

use crate::report::{Mistake, Tol, check, check_scalar, fail, run};

const LAB: &str = "lab 5 · gradient checking";

/// A test function with non-zero second and third derivatives: f(x) = Σ x_i³ + x_0 x_1 sin(x_2).
pub fn test_function(x: &ArrayD<f64>) -> f64 {
    let v: Vec<f64> = x.iter().cloned().collect();
    v.iter().map(|a| a * a * a).sum::<f64>() + v[0] * v[1] * v[2].sin()
}

/// Its exact gradient.
pub fn test_function_gradient(x: &ArrayD<f64>) -> ArrayD<f64> {
    let v: Vec<f64> = x.iter().cloned().collect();
    let mut g: Vec<f64> = v.iter().map(|a| 3.0 * a * a).collect();
    g[0] += v[1] * v[2].sin();
    g[1] += v[0] * v[2].sin();
    g[2] += v[0] * v[1] * v[2].cos();
    ArrayD::from_shape_vec(x.raw_dim(), g).unwrap()
}

/// The learner's `numeric_gradient(f, x, h) -> ArrayD`.
pub trait NumericGradient:
    Fn(&dyn Fn(&ArrayD<f64>) -> f64, &ArrayD<f64>, f64) -> ArrayD<f64>
{
}
impl<F> NumericGradient for F where
    F: Fn(&dyn Fn(&ArrayD<f64>) -> f64, &ArrayD<f64>, f64) -> ArrayD<f64>
{
}

/// Checks the learner's central differences against `rnn::gradcheck::numeric_gradient` (same h).
#[track_caller]
pub fn check_numeric_gradient(numeric: impl NumericGradient) {
    let h = gradcheck::STEP;
    let x = array![[0.7, -1.3, 2.1], [0.4, 1.9, -0.6]].into_dyn();
    let got = run(LAB, || numeric(&test_function, &x, h));
    let want = gradcheck::numeric_gradient(&x, test_function);

    // Mistake: one-sided (forward) differences.
    let mut forward = ArrayD::zeros(x.raw_dim());
    // Mistake: dividing by h instead of 2h.
    let twice = &want * 2.0;
    // Mistake: not restoring x after the nudges, so later elements see earlier perturbations.
    let mut leaky = ArrayD::zeros(x.raw_dim());
    {
        let mut xp = x.clone();
        let f0 = test_function(&x);
        for i in 0..x.len() {
            let mut xf = x.clone();
            xf.as_slice_mut().unwrap()[i] += h;
            forward.as_slice_mut().unwrap()[i] = (test_function(&xf) - f0) / h;

            let orig = xp.as_slice().unwrap()[i];
            xp.as_slice_mut().unwrap()[i] = orig + h;
            let up = test_function(&xp);
            xp.as_slice_mut().unwrap()[i] = orig - h;
            let down = test_function(&xp);
            leaky.as_slice_mut().unwrap()[i] = (up - down) / (2.0 * h);
        }
    }
    check(
        LAB,
        "numeric_gradient",
        got.view(),
        want.view(),
        Tol {
            atol: 1e-9,
            rtol: 1e-8,
        },
        &[
            Mistake::new(
                "one-sided differences",
                "(f(x+h) - f(x)) / h has an error proportional to h; the central difference \
                 (f(x+h) - f(x-h)) / 2h cancels that term and is accurate to h².",
                forward.into_dyn(),
            ),
            Mistake::new(
                "dividing by h instead of 2h",
                "The two evaluations are 2h apart: divide by 2h.",
                twice,
            ),
            Mistake::new(
                "not restoring x after nudging it",
                "Put x_i back to its original value after computing f(x+h) and f(x-h), or the next element is \
                 differentiated at a different point.",
                leaky,
            ),
        ],
        "for each element i: save x_i, set x_i + h, evaluate f, set x_i - h, evaluate f, restore x_i; \
         the gradient is (f₊ - f₋) / 2h.",
    );
}

/// The learner's `relative_error(analytic, numeric) -> f64`.
pub trait RelativeError: Fn(&ArrayD<f64>, &ArrayD<f64>) -> f64 {}
impl<F> RelativeError for F where F: Fn(&ArrayD<f64>, &ArrayD<f64>) -> f64 {}

/// Checks the learner's relative error against `rnn::gradcheck::compare` (the tensor-wise relative error).
#[track_caller]
pub fn check_relative_error(rel: impl RelativeError) {
    let cases: Vec<(ArrayD<f64>, ArrayD<f64>)> = vec![
        (array![1.0, 2.0].into_dyn(), array![1.0, 2.0].into_dyn()),
        (array![1.0].into_dyn(), array![3.0].into_dyn()),
        (
            array![0.0, 0.0, 5.0].into_dyn(),
            array![0.0, 0.0, 5.0].into_dyn(),
        ),
        (array![0.0, 0.0].into_dyn(), array![0.0, 0.0].into_dyn()),
        (
            array![1.0, 2.0, 0.5].into_dyn(),
            array![1.0, 2.0, 1.5].into_dyn(),
        ),
        (
            array![[1e-3, -2.0], [4.0, 0.0]].into_dyn(),
            array![[1.1e-3, -2.0], [4.0, 1e-9]].into_dyn(),
        ),
        // The largest |a_i| and the largest |n_i| sit at different indices, so max|a| + max|n| (6) is not
        // max_i (|a_i| + |n_i|) (3.1), and max(|a|, |n|) is neither.
        (array![3.0, 0.1].into_dyn(), array![0.1, 3.0].into_dyn()),
        // The worst difference is not where the scale is largest.
        (
            array![[2.0, -0.5], [0.0, 1.0]].into_dyn(),
            array![[1.9, 0.0], [-1.5, 1.0]].into_dyn(),
        ),
    ];
    for (a, n) in cases {
        let got = run(LAB, || rel(&a, &n));
        let want = gradcheck::compare("x", a.view(), n.view()).rel_error;
        if got.is_nan() {
            fail(
                LAB,
                format!(
                    "relative_error({a}, {n}) is NaN (expected {want}).\n  Likely mistake: no floor in the \
                     denominator.\n  Where both gradients are 0 you compute 0/0. Divide by max(1e-8, max_i (|a_i| + |n_i|))."
                ),
            );
        }
        let diffs: Vec<f64> = a.iter().zip(n.iter()).map(|(x, y)| (x - y).abs()).collect();
        let max_diff = diffs.iter().cloned().fold(0.0, f64::max);
        let scale = a
            .iter()
            .zip(n.iter())
            .map(|(x, y)| x.abs() + y.abs())
            .fold(0.0, f64::max);
        let max_a = a.iter().map(|x| x.abs()).fold(0.0, f64::max);
        let max_n = n.iter().map(|x| x.abs()).fold(0.0, f64::max);
        let elementwise = a
            .iter()
            .zip(n.iter())
            .map(|(x, y)| (x - y).abs() / (x.abs() + y.abs()).max(1e-8))
            .fold(0.0, f64::max);
        let mean = diffs.iter().sum::<f64>() / diffs.len() as f64 / scale.max(1e-8);
        check_scalar(
            LAB,
            &format!("relative_error({a}, {n})"),
            got,
            want,
            Tol {
                atol: 1e-12,
                rtol: 1e-9,
            },
            &[
                (
                    "dividing element by element",
                    "Divide the largest difference by the largest |a_i| + |n_i| of the whole tensor. Element by \
                     element, an element whose true gradient is tiny shows a large ratio from rounding noise alone \
                     (the numerical derivative carries noise of about 1e-11 whatever the element's size).",
                    elementwise,
                ),
                (
                    "averaging instead of taking the worst element",
                    "One bad element is a bug even if the rest are fine: take the max of |a_i - n_i|.",
                    mean,
                ),
                (
                    "dividing by |analytic| only",
                    "Use the symmetric scale max_i (|a_i| + |n_i|) (floored at 1e-8) so neither side is privileged.",
                    max_diff / max_a.max(1e-8),
                ),
                (
                    "adding the two tensors' maxima (max_i |a_i| + max_i |n_i|)",
                    "The denominator is the largest *sum* |a_i| + |n_i| over the elements, taken element by \
                     element (book (4.9)): max_i (|a_i| + |n_i|), floored at 1e-8. max|a| + max|n| is larger \
                     whenever the two maxima sit at different elements, so your checker would pass gradients it \
                     should reject.",
                    max_diff / (max_a + max_n).max(1e-8),
                ),
                (
                    "dividing by max(|a|, |n|)",
                    "The course (and the library) divides by max_i (|a_i| + |n_i|), floored at 1e-8.",
                    max_diff / max_a.max(max_n).max(1e-8),
                ),
            ],
            "max_i |a_i - n_i| / max(1e-8, max_i (|a_i| + |n_i|)).",
        );
    }
}

/// Checks that the learner's gradient checker accepts a correct gradient and rejects a wrong one.
#[track_caller]
pub fn check_checker_catches_a_bug(numeric: impl NumericGradient, rel: impl RelativeError) {
    let x = array![0.3, -0.8, 1.2, 0.5].into_dyn();
    let good = test_function_gradient(&x);
    let mut bad = good.clone();
    bad[[2]] *= 1.05; // a 5% error in one element
    let num = run(LAB, || numeric(&test_function, &x, gradcheck::STEP));
    let (r_good, r_bad) = (rel(&good, &num), rel(&bad, &num));
    let verdict_wrong =
        r_good.is_nan() || r_bad.is_nan() || r_good >= gradcheck::TOLERANCE || r_bad <= 1e-3;
    if verdict_wrong {
        // When a part the checker is built from is wrong here, say so instead of a second diagnosis.
        let want_num = gradcheck::numeric_gradient(&x, test_function);
        let tol = Tol {
            atol: 1e-9,
            rtol: 1e-8,
        };
        if !crate::report::is_close(&num.view(), &want_num.view(), tol) {
            fail(
                LAB,
                "your checker's verdict is wrong because numeric_gradient is (its own check says how).\n  Fix \
                 numeric_gradient first.",
            );
        }
        let rel_right = [(r_good, &good), (r_bad, &bad)].iter().all(|(r, a)| {
            let want = gradcheck::compare("x", a.view(), num.view()).rel_error;
            (r - want).abs() <= 1e-12 + 1e-9 * want.abs()
        });
        if !rel_right {
            fail(
                LAB,
                "your checker's verdict is wrong because relative_error is (its own check says how).\n  Fix \
                 relative_error first.",
            );
        }
    }
    if r_good >= gradcheck::TOLERANCE {
        fail(
            LAB,
            format!(
                "your checker gives relative error {r_good:.2e} for a *correct* gradient; it should be below 1e-7."
            ),
        );
    }
    if r_bad <= 1e-3 {
        fail(
            LAB,
            format!(
                "your checker gives relative error {r_bad:.2e} for a gradient with one element 5% off; it should \
                 be well above 1e-3."
            ),
        );
    }
}
