// Lab 4 · Backpropagation through time for the Elman RNN (book chapter 4).
//
// Part 1, one step backward. The forward step was a = x·W_ihᵀ + b_ih + h_prev·W_hhᵀ + b_hh, h = tanh(a).
// Given dh = ∂L/∂h (everything that flows into h), compute
//
//     da       = dh ⊙ (1 - h²)                (B, H)                             (4.1)
//     dW_ih   += daᵀ·x                         (H, D)                             (4.2)
//     dW_hh   += daᵀ·h_prev                    (H, H)                             (4.3)
//     db_ih   += Σ_rows da,  db_hh += Σ_rows da   (H)                             (4.4)
//     dx       = da·W_ih                       (B, D)                             (4.5)
//     dh_prev  = da·W_hh                       (B, H)                             (4.6)
//
// Note the `+=`: the same weights are used at every time step, so their gradients are summed over steps.
//
// Part 2, BPTT. The forward pass produced hs[t] = h_t for t = 0..T (from h0). The loss at step t gives
// dys[t] = ∂L_t/∂h_t. But h_t is also read by step t+1, so the total gradient reaching h_t is
//
//     ∂L/∂h_t = dys[t] + dh_next                                                  (4.7)
//
// where dh_next is the dh_prev that the backward of step t+1 returned (zero after the last step).
// Walk t from T-1 down to 0. The h_prev of step t is hs[t-1] (or h0 when t = 0).
//
// The tests compare with `rnn::cells::Elman::backward` and `rnn::bptt::bptt`.
// This is a solution: compare it with yours once your tests pass.

use labcheck::Grads;
use ndarray::{Array2, Array3, Axis};

/// One Elman step backward. Adds the parameter gradients into `grads`; returns (dx, dh_prev).
fn elman_step_backward(
    x: &Array2<f64>,
    h_prev: &Array2<f64>,
    h: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    dh: &Array2<f64>,
    grads: &mut Grads,
) -> (Array2<f64>, Array2<f64>) {
    // (4.1) ∂L/∂a = ∂L/∂h ⊙ (1 - h²)                                 (B, H)
    let da = dh * &h.mapv(|v| 1.0 - v * v);
    // (4.2) ∂L/∂W_ih += ∂L/∂aᵀ x                                     (H, D)
    grads.w_ih += &da.t().dot(x);
    // (4.3) ∂L/∂W_hh += ∂L/∂aᵀ h_prev                                (H, H)
    grads.w_hh += &da.t().dot(h_prev);
    // (4.4) ∂L/∂b_ih += Σ_rows ∂L/∂a, and the same for b_hh          (H)
    let db = da.sum_axis(Axis(0));
    grads.b_ih += &db;
    grads.b_hh += &db;
    // (4.5) ∂L/∂x = ∂L/∂a W_ih                                       (B, D)
    // (4.6) ∂L/∂h_prev = ∂L/∂a W_hh                                  (B, H)
    (da.dot(w_ih), da.dot(w_hh))
}

/// Backpropagation through time over the whole sequence. Returns (grads, dxs (T, B, D), dh0 (B, H)).
fn bptt(
    xs: &Array3<f64>,
    h0: &Array2<f64>,
    hs: &Array3<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    dys: &Array3<f64>,
) -> (Grads, Array3<f64>, Array2<f64>) {
    let (t_len, batch, d) = xs.dim();
    let hidden = w_hh.nrows();
    let mut grads = Grads::zeros(hidden, d, hidden);
    let mut dxs = Array3::<f64>::zeros((t_len, batch, d));
    // dh_next: the gradient reaching h_t from step t+1 (zero after the last step)
    let mut dh_next = Array2::zeros((batch, hidden));
    for t in (0..t_len).rev() {
        let x = xs.index_axis(Axis(0), t).to_owned();
        let h = hs.index_axis(Axis(0), t).to_owned();
        let h_prev = if t == 0 {
            h0.clone()
        } else {
            hs.index_axis(Axis(0), t - 1).to_owned()
        };
        // (4.7) ∂L/∂h_t = ∂L_t/∂h_t + dh_next
        let dh = &dys.index_axis(Axis(0), t) + &dh_next;
        let (dx, dh_prev) = elman_step_backward(&x, &h_prev, &h, w_ih, w_hh, &dh, &mut grads);
        dxs.index_axis_mut(Axis(0), t).assign(&dx);
        dh_next = dh_prev;
    }
    (grads, dxs, dh_next)
}

fn main() {
    // A tiny sequence: T = 3 steps, B = 1, D = 1, H = 1, with the loss reading only the last state.
    let (w_ih, w_hh) = (ndarray::array![[0.5]], ndarray::array![[0.9]]);
    let xs = Array3::from_shape_vec((3, 1, 1), vec![1.0, 0.0, 0.0]).unwrap();
    let h0 = Array2::zeros((1, 1));
    let mut hs = Array3::zeros((3, 1, 1));
    let mut h = h0.clone();
    for t in 0..3 {
        h = (xs.index_axis(Axis(0), t).dot(&w_ih.t()) + h.dot(&w_hh.t())).mapv(f64::tanh);
        hs.index_axis_mut(Axis(0), t).assign(&h);
    }
    let mut dys = Array3::zeros((3, 1, 1));
    dys[[2, 0, 0]] = 1.0;
    let (grads, dxs, dh0) = bptt(&xs, &h0, &hs, &w_ih, &w_hh, &dys);
    // The gradient reaches x_0 only through dh_next: if it is 0, dh_next is missing.
    println!(
        "dW_hh = {}, dxs = {}, dh0 = {dh0}",
        grads.w_hh,
        dxs.index_axis(Axis(2), 0)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test that runs the checks in order, so the first failure reported is always the same one: a
    // later part (which often calls an earlier one) is checked only once the earlier parts are right.
    #[test]
    fn step_backward_then_bptt() {
        labcheck::lab04::check_step_backward(elman_step_backward);
        labcheck::lab04::check_bptt(elman_step_backward, bptt);
    }
}
