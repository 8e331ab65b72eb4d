//! Gradient checking by central finite differences.
//!
//! For each scalar θ of a tensor: `(L(θ + h) - L(θ - h)) / 2h` with h = 1e-5, compared with the analytic
//! gradient `a` by the relative error of the tensor
//!
//! ```text
//! rel_error = max_i |a_i - n_i| / max(1e-8, max_i (|a_i| + |n_i|))
//! ```
//!
//! In f64 a correct backward reaches 1e-7 or better; a wrong one is usually above 1e-2.
//!
//! Why the maxima are taken over the whole tensor: the numerical derivative carries rounding noise of about
//! ε·|L|/h ≈ 1e-11 (ε = 2.2e-16 is f64's precision), whatever the size of the element. An element whose
//! true gradient happens to be tiny (say 5e-5, common deep in a stack) then shows an *element-wise*
//! relative error of 1e-7 or more even when the backward is exact. The report still gives the element-wise
//! figure ([`TensorReport::elementwise_rel_error`]) for inspection.
//!
//! ```
//! use rnn::gradcheck;
//! // L(x) = Σ x³, dL/dx = 3x²
//! let x = ndarray::array![0.5, -1.0, 2.0].into_dyn();
//! let analytic = x.mapv(|v| 3.0 * v * v);
//! let r = gradcheck::check_tensor("x", &x, &analytic, |x| x.mapv(|v| v * v * v).sum());
//! assert!(r.rel_error < 1e-7, "{r}");
//! ```

use std::fmt;

use ndarray::{ArrayD, ArrayViewD, Dimension as _};

use crate::params::Parameters;

/// The finite-difference step.
pub const STEP: f64 = 1e-5;

/// The bar a correct f64 gradient reaches.
pub const TOLERANCE: f64 = 1e-7;

/// How one tensor's analytic gradient compares with finite differences.
#[derive(Clone, Debug)]
pub struct TensorReport {
    /// The tensor's name.
    pub name: String,
    /// max_i |a_i - n_i| / max(1e-8, max_i (|a_i| + |n_i|)): the figure checked against [`TOLERANCE`].
    pub rel_error: f64,
    /// max_i |a_i - n_i| / max(1e-8, |a_i| + |n_i|): sensitive to rounding noise on tiny elements.
    pub elementwise_rel_error: f64,
    /// max over elements of |a - n|.
    pub max_abs_diff: f64,
    /// Index of the element with the largest absolute difference.
    pub worst_index: Vec<usize>,
    /// Analytic gradient at that element.
    pub analytic: f64,
    /// Numerical gradient at that element.
    pub numeric: f64,
}

impl fmt::Display for TensorReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<24} rel error {:.2e} (element-wise {:.2e}; worst at {:?}: analytic {:.10e}, numeric {:.10e})",
            self.name,
            self.rel_error,
            self.elementwise_rel_error,
            self.worst_index,
            self.analytic,
            self.numeric
        )
    }
}

/// A report over several tensors.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// One entry per tensor checked.
    pub tensors: Vec<TensorReport>,
}

impl Report {
    /// The largest relative error over all tensors (0 if none).
    pub fn max_rel_error(&self) -> f64 {
        self.tensors.iter().map(|t| t.rel_error).fold(0.0, f64::max)
    }

    /// Panics, printing the whole report, if any tensor's relative error exceeds `tol` (or is NaN).
    pub fn assert_below(&self, tol: f64) {
        assert!(
            self.tensors.iter().all(|t| t.rel_error <= tol),
            "gradient check failed (tolerance {tol:.0e}):\n{self}"
        );
    }

    /// Adds another report's tensors, prefixing their names.
    pub fn extend(&mut self, prefix: &str, other: Report) {
        for mut t in other.tensors {
            t.name = format!("{prefix}{}", t.name);
            self.tensors.push(t);
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for t in &self.tensors {
            writeln!(f, "{t}")?;
        }
        Ok(())
    }
}

/// Compares an analytic gradient with a numerical one (see the module documentation for the formula).
pub fn compare(
    name: &str,
    analytic: ArrayViewD<'_, f64>,
    numeric: ArrayViewD<'_, f64>,
) -> TensorReport {
    assert_eq!(
        analytic.shape(),
        numeric.shape(),
        "compare {name}: shapes differ"
    );
    let mut r = TensorReport {
        name: name.to_string(),
        rel_error: 0.0,
        elementwise_rel_error: 0.0,
        max_abs_diff: 0.0,
        worst_index: vec![],
        analytic: 0.0,
        numeric: 0.0,
    };
    let mut scale: f64 = 0.0;
    for ((idx, &a), &n) in analytic.indexed_iter().zip(numeric.iter()) {
        let diff = (a - n).abs();
        scale = scale.max(a.abs() + n.abs());
        r.elementwise_rel_error = r
            .elementwise_rel_error
            .max(diff / (a.abs() + n.abs()).max(1e-8));
        if diff > r.max_abs_diff || r.worst_index.is_empty() || diff.is_nan() {
            r.max_abs_diff = if diff.is_nan() { f64::NAN } else { diff };
            r.worst_index = idx.as_array_view().to_vec();
            r.analytic = a;
            r.numeric = n;
        }
    }
    r.rel_error = r.max_abs_diff / scale.max(1e-8);
    if r.max_abs_diff.is_nan() {
        r.rel_error = f64::INFINITY; // a NaN gradient never passes
    }
    r
}

/// Numerical gradient of `loss` with respect to every element of `x`, by central differences.
pub fn numeric_gradient(x: &ArrayD<f64>, mut loss: impl FnMut(&ArrayD<f64>) -> f64) -> ArrayD<f64> {
    let mut xp = x.clone();
    let mut grad = ArrayD::zeros(x.raw_dim());
    for i in 0..x.len() {
        let orig = xp.as_slice_memory_order().expect("contiguous")[i];
        xp.as_slice_memory_order_mut().unwrap()[i] = orig + STEP;
        let up = loss(&xp);
        xp.as_slice_memory_order_mut().unwrap()[i] = orig - STEP;
        let down = loss(&xp);
        xp.as_slice_memory_order_mut().unwrap()[i] = orig;
        grad.as_slice_memory_order_mut().unwrap()[i] = (up - down) / (2.0 * STEP);
    }
    grad
}

/// Checks the analytic gradient of a free tensor (an input, an initial state).
pub fn check_tensor(
    name: &str,
    x: &ArrayD<f64>,
    analytic: &ArrayD<f64>,
    loss: impl FnMut(&ArrayD<f64>) -> f64,
) -> TensorReport {
    let x = x.as_standard_layout().to_owned();
    let numeric = numeric_gradient(&x, loss);
    compare(name, analytic.view(), numeric.view())
}

/// Checks every parameter of `model`: `grads` holds the analytic gradients (same type, same shapes),
/// `loss` evaluates the scalar loss of a (perturbed) copy of the model.
pub fn check_params<M: Parameters + Clone>(
    model: &M,
    grads: &M,
    mut loss: impl FnMut(&M) -> f64,
) -> Report {
    let mut report = Report::default();
    let analytic = grads.params();
    let mut probe = model.clone();
    for (k, (name, a)) in analytic.iter().enumerate() {
        let len = a.len();
        let mut numeric = ArrayD::zeros(a.raw_dim());
        for i in 0..len {
            let nudge = |probe: &mut M, delta: f64| {
                let mut ps = probe.params_mut();
                let p = &mut ps[k].1;
                let mut it = p.iter_mut();
                *it.nth(i).unwrap() += delta;
            };
            nudge(&mut probe, STEP);
            let up = loss(&probe);
            nudge(&mut probe, -2.0 * STEP);
            let down = loss(&probe);
            nudge(&mut probe, STEP);
            *numeric.iter_mut().nth(i).unwrap() = (up - down) / (2.0 * STEP);
        }
        // restore exactly (the ± nudges may leave rounding residue)
        let (mut ps, orig) = (probe.params_mut(), model.params());
        ps[k].1.assign(&orig[k].1);
        drop(ps);
        report.tensors.push(compare(name, a.view(), numeric.view()));
    }
    report
}

/// Checks a whole unrolled sequence through any [`Cell`](crate::cells::Cell): parameters, inputs `xs`, and the initial state
/// (h0, and c0 if the cell has one), against BPTT.
///
/// The loss is `Σ R ⊙ outputs + Σ S ⊙ h_T (+ Σ U ⊙ c_T)` with fixed random R, S, U, so every output and
/// the final state receive a gradient, as they do in truncated BPTT with carried state.
///
/// ```
/// use rnn::prelude::*;
/// let mut rng = rnn::init::rng(0);
/// let cell = Elman::new(3, 4, &mut rng);
/// rnn::gradcheck::check_cell(&cell, 5, 2, &mut rng).assert_below(1e-7);
/// ```
pub fn check_cell<C: crate::cells::Cell>(
    cell: &C,
    t_len: usize,
    batch: usize,
    rng: &mut crate::init::Rng,
) -> Report {
    use crate::bptt::{bptt, unroll};
    use crate::cells::State;
    use crate::init::uniform;
    use ndarray::{Array2, Array3, Ix2, Ix3};

    let (d, h) = (cell.input_size(), cell.hidden_size());
    let as3 = |a: ArrayD<f64>| a.into_dimensionality::<Ix3>().unwrap();
    let as2 = |a: ArrayD<f64>| a.into_dimensionality::<Ix2>().unwrap();
    let xs: Array3<f64> = as3(uniform(&[t_len, batch, d], -1.0, 1.0, rng));
    let zero = cell.zero_state(batch);
    // a random (B, n) tensor where the zero state has one (c for the LSTM, the gates for an FGR LSTM)
    let like = |z: &Option<Array2<f64>>, lo: f64, hi: f64, rng: &mut crate::init::Rng| {
        z.as_ref()
            .map(|z| as2(uniform(&[batch, z.ncols()], lo, hi, rng)))
    };
    let h0: Array2<f64> = as2(uniform(&[batch, h], -0.5, 0.5, rng));
    let c0 = like(&zero.c, -0.5, 0.5, rng);
    let g0 = like(&zero.gates, 0.1, 0.9, rng);
    let r: Array3<f64> = as3(uniform(&[t_len, batch, h], -1.0, 1.0, rng));
    let s_h: Array2<f64> = as2(uniform(&[batch, h], -1.0, 1.0, rng));
    let s_c = like(&zero.c, -1.0, 1.0, rng);
    let s_g = like(&zero.gates, -1.0, 1.0, rng);

    let loss = |cell: &C, xs: &Array3<f64>, init: &State| -> f64 {
        let run = unroll(cell, xs.view(), init);
        let mut l = (&run.outputs * &r).sum() + (&run.last.h * &s_h).sum();
        for (m, s) in [(&run.last.c, &s_c), (&run.last.gates, &s_g)] {
            if let (Some(m), Some(s)) = (m, s) {
                l += (m * s).sum();
            }
        }
        l
    };
    let init = State {
        h: h0.clone(),
        c: c0.clone(),
        gates: g0.clone(),
    };

    // analytic gradients
    let run = unroll(cell, xs.view(), &init);
    let d_last = State {
        h: s_h.clone(),
        c: s_c.clone(),
        gates: s_g.clone(),
    };
    let mut grads = cell.zeros_like();
    let (dxs, dinit) = bptt(cell, &run.caches, r.view(), Some(&d_last), &mut grads);

    let mut report = check_params(cell, &grads, |c| loss(c, &xs, &init));
    let xs_dyn = xs.clone().into_dyn();
    report
        .tensors
        .push(check_tensor("xs", &xs_dyn, &dxs.into_dyn(), |x| {
            loss(cell, &x.clone().into_dimensionality().unwrap(), &init)
        }));
    // the initial state, one part at a time: h0, then c0 and g0 where the cell has them
    let parts = [
        ("h0", Some(&h0), Some(dinit.h)),
        ("c0", c0.as_ref(), dinit.c),
        ("g0", g0.as_ref(), dinit.gates),
    ];
    for (k, (name, value, grad)) in parts.into_iter().enumerate() {
        let (Some(value), Some(grad)) = (value, grad) else {
            continue;
        };
        report.tensors.push(check_tensor(
            name,
            &value.clone().into_dyn(),
            &grad.into_dyn(),
            |x| {
                let mut st = init.clone();
                let x = x.clone().into_dimensionality().unwrap();
                match k {
                    0 => st.h = x,
                    1 => st.c = Some(x),
                    _ => st.gates = Some(x),
                }
                loss(cell, &xs, &st)
            },
        ));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn relative_error_is_normwise_and_catches_real_errors() {
        let a = array![1.0, 2e-5, -0.5].into_dyn();
        // rounding-sized noise on the tiny element: element-wise it looks bad, normwise it is fine
        let noisy = array![1.0, 2e-5 + 1e-11, -0.5].into_dyn();
        let r = compare("t", a.view(), noisy.view());
        assert!(r.elementwise_rel_error > 1e-7 && r.rel_error < 1e-10, "{r}");
        // a real error on any element, even the tiny one, is caught
        let wrong = array![1.0, 4e-5, -0.5].into_dyn();
        assert!(compare("t", a.view(), wrong.view()).rel_error > 1e-6);
        let wrong = array![1.0, 2e-5, -0.45].into_dyn();
        assert!(compare("t", a.view(), wrong.view()).rel_error > 1e-2);
        // NaN never passes
        let nan = array![1.0, f64::NAN, -0.5].into_dyn();
        assert!(compare("t", a.view(), nan.view()).rel_error > 1.0);
        // all-zero gradients compare equal
        let z = ndarray::ArrayD::<f64>::zeros(ndarray::IxDyn(&[3]));
        assert_eq!(compare("z", z.view(), z.view()).rel_error, 0.0);
    }
}
