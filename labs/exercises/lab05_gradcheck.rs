// Lab 5 · Gradient checking (book chapter 4, "Checking gradients").
//
// Every backward pass in this course is checked against finite differences. Here you write the checker.
//
// 1. numeric_gradient(f, x, h): for every element x_i, the central difference
//
//        ∂f/∂x_i ≈ (f(x + h e_i) - f(x - h e_i)) / 2h                                 (4.8)
//
//    Its error is O(h²), against O(h) for the one-sided (f(x + h e_i) - f(x)) / h. With h = 1e-5 in f64,
//    a correct analytic gradient agrees to about 1e-10.
//
// 2. relative_error(a, n): how far the analytic gradient a is from the numerical n, for a whole tensor,
//
//        max_i |a_i - n_i| / max(1e-8, max_i (|a_i| + |n_i|))                         (4.9)
//
//    The largest difference, relative to the tensor's scale. (Dividing element by element would flag
//    elements whose true gradient is tiny: the numerical derivative carries rounding noise of about 1e-11
//    whatever the element's size.) The floor 1e-8 keeps 0/0 away when both gradients are 0. A correct
//    backward gives < 1e-7; a wrong one usually > 1e-2.
//
// The tests compare with `rnn::gradcheck`.
// Run `rustlings hint` if you are stuck.

// Silences the warnings about code that is unused until you replace the `todo!()`s: delete this line
// once they are gone (unused variables and imports then point at mistakes).
#![allow(unused)]
use ndarray::ArrayD;

/// Central finite differences of f at x, element by element, with step h.
fn numeric_gradient(f: &dyn Fn(&ArrayD<f64>) -> f64, x: &ArrayD<f64>, h: f64) -> ArrayD<f64> {
    let mut grad = ArrayD::zeros(x.raw_dim());
    // TODO: work on a copy `let mut xp = x.clone();` (x is borrowed immutably).
    // TODO: for each element i (`xp.as_slice_mut().unwrap()[i]` reaches it): save it, evaluate f at +h and
    //       at -h, restore it, and store (f₊ - f₋) / 2h in grad.
    todo!();
    grad
}

/// max_i |a_i - n_i| / max(1e-8, max_i (|a_i| + |n_i|)).
fn relative_error(analytic: &ArrayD<f64>, numeric: &ArrayD<f64>) -> f64 {
    // TODO: the largest |a_i - n_i| over the elements, divided by the largest |a_i| + |n_i| (floored at 1e-8).
    todo!()
}

fn main() {
    // f(x) = Σ x², whose gradient is 2x.
    let x = ndarray::array![1.0, -2.0, 0.5].into_dyn();
    let n = numeric_gradient(&|x: &ArrayD<f64>| x.mapv(|v| v * v).sum(), &x, 1e-5);
    let a = x.mapv(|v| 2.0 * v);
    println!(
        "numeric {n}, analytic {a}, relative error {:.1e}",
        relative_error(&a, &n)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test that runs the checks in order, so the first failure reported is always the same one: a
    // later part (which often calls an earlier one) is checked only once the earlier parts are right.
    #[test]
    fn numeric_gradient_then_relative_error_then_the_checker() {
        labcheck::lab05::check_numeric_gradient(numeric_gradient);
        labcheck::lab05::check_relative_error(relative_error);
        labcheck::lab05::check_checker_catches_a_bug(numeric_gradient, relative_error);
    }
}
