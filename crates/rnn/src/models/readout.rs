//! The readouts of [`super::classifier`]: from the stack's outputs and final states to the head's features,
//! and back.

use ndarray::{concatenate, s, Array2, Array3, ArrayView2, Axis};

use super::classifier::Readout;
use crate::cells::State;

/// The head's features: `(B, F)` for Last, Mean and Max, `(T·B, F)` (row t·B + b) for EveryStep; and
/// for Max the step of each max `(B, F)`. `outputs` is `(T, B, F)`, `finals` in `h_n` order.
pub(crate) fn read(
    readout: Readout,
    outputs: &Array3<f64>,
    finals: &[State],
    lengths: &[usize],
    dirs: usize,
) -> (Array2<f64>, Option<Array2<usize>>) {
    let (t_len, batch, f) = outputs.dim();
    match readout {
        Readout::Last => {
            // the top layer's states: h→ at each row's last real step, h← at t = 0          (B, F)
            let top: Vec<_> = finals[finals.len() - dirs..]
                .iter()
                .map(|s| s.h.view())
                .collect();
            (concatenate(Axis(1), &top).expect("(B, H) states"), None)
        }
        Readout::Mean => {
            // (9.10) mean_b = (1/n_b) Σ_{t < n_b} y_t,b                                 (B, F)
            let mut mean = Array2::zeros((batch, f));
            for (b, &n) in lengths.iter().enumerate() {
                let sum = outputs.slice(s![..n, b, ..]).sum_axis(Axis(0));
                mean.row_mut(b).assign(&(sum / n as f64));
            }
            (mean, None)
        }
        Readout::Max => {
            // max_b,j = max_{t < n_b} y_t,b,j, and the step where it is reached         (B, F)
            let mut max = Array2::zeros((batch, f));
            let mut arg = Array2::zeros((batch, f));
            for (b, &n) in lengths.iter().enumerate() {
                for j in 0..f {
                    let best = (0..n).fold(0, |best, t| {
                        if outputs[[t, b, j]] > outputs[[best, b, j]] {
                            t
                        } else {
                            best
                        }
                    });
                    arg[[b, j]] = best;
                    max[[b, j]] = outputs[[best, b, j]];
                }
            }
            (max, Some(arg))
        }
        Readout::EveryStep => {
            let rows = outputs
                .as_standard_layout()
                .into_owned()
                .into_shape_with_order((t_len * batch, f))
                .expect("(T, B, F) reshapes to (T·B, F)");
            (rows, None)
        }
    }
}

/// Backward of [`read`]: ∂L/∂outputs `(T, B, F)` and, for Last, ∂L/∂final states (`h_n` order; zero
/// below the top layer).
pub(crate) fn read_back(
    readout: Readout,
    d_features: ArrayView2<'_, f64>,
    finals: &[State],
    argmax: Option<&Array2<usize>>,
    lengths: &[usize],
    (t_len, batch, f): (usize, usize, usize),
    dirs: usize,
) -> (Array3<f64>, Option<Vec<State>>) {
    let mut d_out = Array3::zeros((t_len, batch, f)); // (T, B, F)
    match readout {
        Readout::Last => {
            let mut d_last: Vec<State> = finals.iter().map(State::zeros_like).collect();
            let h = f / dirs;
            let top = d_last.len() - dirs;
            for (k, d) in d_last[top..].iter_mut().enumerate() {
                d.h.assign(&d_features.slice(s![.., k * h..(k + 1) * h]));
            }
            return (d_out, Some(d_last));
        }
        Readout::Mean => {
            // (9.10) backward: ∂L/∂y_t,b = ∂L/∂mean_b / n_b for t < n_b
            for (b, &n) in lengths.iter().enumerate() {
                let share = &d_features.row(b) / n as f64;
                for t in 0..n {
                    d_out.slice_mut(s![t, b, ..]).assign(&share);
                }
            }
        }
        Readout::Max => {
            // the gradient of a max goes to the step that gave it
            let arg = argmax.expect("the Max readout keeps its argmax");
            for b in 0..batch {
                for j in 0..f {
                    d_out[[arg[[b, j]], b, j]] += d_features[[b, j]];
                }
            }
        }
        Readout::EveryStep => {
            // pads are not part of the model's output: their gradient is dropped
            for (b, &n) in lengths.iter().enumerate() {
                for t in 0..n {
                    d_out
                        .slice_mut(s![t, b, ..])
                        .assign(&d_features.row(t * batch + b));
                }
            }
        }
    }
    (d_out, None)
}
