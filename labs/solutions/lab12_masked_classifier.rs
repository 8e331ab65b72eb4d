// Lab 12 · A classifier over variable-length sequences: padding masks (book chapter 9).
//
// A batch of sequences of different lengths is padded to the longest, xs (T, B, D), and lengths[b] says how
// many steps of row b are real; the pads after them hold garbage. One label per sequence: many-to-one.
//
// Part 1, the masked forward. With the mask m_t,b = 1 if t < lengths[b] else 0 (`mask(lengths, t)`, shape
// (B, 1), broadcasts over the H columns), every step keeps the state where the row is padded:
//
//     state_t = m_t ⊙ elman_step(x_t, state_{t-1}) + (1 - m_t) ⊙ state_{t-1}          (B, H)
//
// starting from state_{-1} = h0; hs[t] = state_t. A pad leaves the state as it was, whatever the pad holds,
// so the state after step T-1 is each row's state at its last real step.
//
// Part 2, the readouts, each (B, H) from hs (T, B, H), and their backwards (T, B, H) from d = ∂L/∂features:
//
//     last:  features[b] = hs[lengths[b] - 1, b]                  dhs[lengths[b] - 1, b] = d[b]
//     mean:  features[b] = (1/n_b) Σ_{t < n_b} hs[t, b]           dhs[t, b] = d[b] / n_b for t < n_b
//
// (n_b = lengths[b]; everything else of dhs is 0.) The readouts may be given hs whose pads hold anything
// (PyTorch's padded outputs hold zeros), so they read only real steps.
//
// Part 3, the masked backward (BPTT with the mask). Walk t from T-1 down to 0 with d_next = 0:
//
//     d = dhs[t] + d_next                                         everything reaching state_t   (4.7)
//     (dx_t, dh_prev) = elman_step_backward(x_t, state_{t-1}, hs[t], m_t ⊙ d)    the cell sees m_t ⊙ d
//     d_next = (1 - m_t) ⊙ d + dh_prev                            a pad passes d straight through
//
// A pad thus gets dx = 0 and adds nothing to the weights. After step 0, d_next is ∂L/∂h0. (At a real step
// hs[t] is the cell's output, where tanh' is taken; at a pad the cell gets a zero gradient, so its h does not
// matter.)
//
// Part 4, the classifier: h0 = 0, masked_forward, a readout, head_loss (given: logits = features·W_yᵀ + b_y
// and the mean softmax cross-entropy), the readout's backward, masked_bptt. Return the loss, every gradient
// and dxs.
//
// elman_step, elman_step_backward (labs 1 and 4), mask and head_loss are given.
// The tests compare with `rnn::stack::Rnn::forward_masked` / `backward_masked`,
// `rnn::models::classifier::Classifier` and finite differences, on batches with garbage in the pads.
// This is a solution: compare it with yours once your tests pass.

use labcheck::Grads;
use labcheck::lab12::Params;
use ndarray::{Array1, Array2, Array3, Axis, s};

/// Given: one Elman step, h = tanh(x·W_ihᵀ + b_ih + h_prev·W_hhᵀ + b_hh) (lab 1).
fn elman_step(
    x: &Array2<f64>,
    h_prev: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    b_ih: &Array1<f64>,
    b_hh: &Array1<f64>,
) -> Array2<f64> {
    // (2.1), (2.2) the pre-activation, then tanh                     (B, H)
    (x.dot(&w_ih.t()) + b_ih + h_prev.dot(&w_hh.t()) + b_hh).mapv(f64::tanh)
}

/// Given: one Elman step backward (lab 4). Adds the parameter gradients into `grads`; returns (dx, dh_prev).
fn elman_step_backward(
    x: &Array2<f64>,
    h_prev: &Array2<f64>,
    h: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    dh: &Array2<f64>,
    grads: &mut Grads,
) -> (Array2<f64>, Array2<f64>) {
    // (4.1) da = dh ⊙ (1 - h²)                                       (B, H)
    let da = dh * &h.mapv(|v| 1.0 - v * v);
    // (4.2)-(4.4)
    grads.w_ih += &da.t().dot(x);
    grads.w_hh += &da.t().dot(h_prev);
    let db = da.sum_axis(Axis(0));
    grads.b_ih += &db;
    grads.b_hh += &db;
    // (4.5), (4.6)
    (da.dot(w_ih), da.dot(w_hh))
}

/// Given: the mask of step t, (B, 1): 1.0 for the rows whose step t is real (t < lengths[b]), else 0.0.
fn mask(lengths: &[usize], t: usize) -> Array2<f64> {
    Array2::from_shape_fn(
        (lengths.len(), 1),
        |(b, _)| {
            if t < lengths[b] { 1.0 } else { 0.0 }
        },
    )
}

/// Given: the head and the loss. logits = features·W_yᵀ + b_y (B, K), the mean softmax cross-entropy over the
/// B rows. Returns (loss, ∂L/∂features (B, H), dW_y (K, H), db_y (K)).
fn head_loss(
    features: &Array2<f64>,
    w_y: &Array2<f64>,
    b_y: &Array1<f64>,
    labels: &[usize],
) -> (f64, Array2<f64>, Array2<f64>, Array1<f64>) {
    let logits = features.dot(&w_y.t()) + b_y; // (B, K)
    let n = logits.nrows() as f64;
    let mut loss = 0.0;
    let mut dlogits = logits.clone();
    for (mut row, &y) in dlogits.axis_iter_mut(Axis(0)).zip(labels) {
        let m = row.fold(f64::NEG_INFINITY, |a, &v| a.max(v));
        let lse = m + row.mapv(|v| (v - m).exp()).sum().ln();
        loss += lse - row[y];
        row.mapv_inplace(|v| (v - lse).exp());
        row[y] -= 1.0;
    }
    dlogits /= n;
    let d_features = dlogits.dot(w_y);
    (
        loss / n,
        d_features,
        dlogits.t().dot(features),
        dlogits.sum_axis(Axis(0)),
    )
}

/// The masked forward over a padded batch: hs (T, B, H), hs[t] = state_t.
fn masked_forward(
    xs: &Array3<f64>,
    lengths: &[usize],
    h0: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    b_ih: &Array1<f64>,
    b_hh: &Array1<f64>,
) -> Array3<f64> {
    let (t_len, batch, _) = xs.dim();
    let mut hs = Array3::zeros((t_len, batch, h0.ncols()));
    let mut state = h0.clone();
    for t in 0..t_len {
        let x = xs.index_axis(Axis(0), t).to_owned();
        let new = elman_step(&x, &state, w_ih, w_hh, b_ih, b_hh);
        let m = mask(lengths, t);
        // state_t = m_t ⊙ cell(x_t, state_{t-1}) + (1 - m_t) ⊙ state_{t-1}   (B, H)
        state = &m * &new + &(1.0 - &m) * &state;
        hs.index_axis_mut(Axis(0), t).assign(&state);
    }
    hs
}

/// The last real state of each row: (B, H).
fn read_last(hs: &Array3<f64>, lengths: &[usize]) -> Array2<f64> {
    let (_, batch, h) = hs.dim();
    let mut out = Array2::zeros((batch, h));
    for (b, &n) in lengths.iter().enumerate() {
        out.row_mut(b).assign(&hs.slice(s![n - 1, b, ..]));
    }
    out
}

/// The mean of each row over its real steps: (B, H).
fn read_mean(hs: &Array3<f64>, lengths: &[usize]) -> Array2<f64> {
    let (_, batch, h) = hs.dim();
    let mut out = Array2::zeros((batch, h));
    for (b, &n) in lengths.iter().enumerate() {
        let sum = hs.slice(s![..n, b, ..]).sum_axis(Axis(0));
        out.row_mut(b).assign(&(sum / n as f64));
    }
    out
}

/// The backward of read_last: dhs (T, B, H) from d = ∂L/∂features (B, H).
fn read_last_backward(d: &Array2<f64>, lengths: &[usize], t_len: usize) -> Array3<f64> {
    let (batch, h) = d.dim();
    let mut dhs = Array3::zeros((t_len, batch, h));
    for (b, &n) in lengths.iter().enumerate() {
        dhs.slice_mut(s![n - 1, b, ..]).assign(&d.row(b));
    }
    dhs
}

/// The backward of read_mean: dhs (T, B, H) from d = ∂L/∂features (B, H).
fn read_mean_backward(d: &Array2<f64>, lengths: &[usize], t_len: usize) -> Array3<f64> {
    let (batch, h) = d.dim();
    let mut dhs = Array3::zeros((t_len, batch, h));
    for (b, &n) in lengths.iter().enumerate() {
        let share = &d.row(b) / n as f64;
        for t in 0..n {
            dhs.slice_mut(s![t, b, ..]).assign(&share);
        }
    }
    dhs
}

/// The masked backward. Returns (grads, dxs (T, B, D), dh0 (B, H)).
fn masked_bptt(
    xs: &Array3<f64>,
    lengths: &[usize],
    h0: &Array2<f64>,
    hs: &Array3<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    dhs: &Array3<f64>,
) -> (Grads, Array3<f64>, Array2<f64>) {
    let (t_len, batch, d) = xs.dim();
    let hidden = w_hh.nrows();
    let mut grads = Grads::zeros(hidden, d, hidden);
    let mut dxs = Array3::<f64>::zeros((t_len, batch, d));
    let mut d_next = Array2::zeros((batch, hidden));
    for t in (0..t_len).rev() {
        let x = xs.index_axis(Axis(0), t).to_owned();
        let h = hs.index_axis(Axis(0), t).to_owned();
        let h_prev = if t == 0 {
            h0.clone()
        } else {
            hs.index_axis(Axis(0), t - 1).to_owned()
        };
        // (4.7) everything reaching state_t                            (B, H)
        let dt = &dhs.index_axis(Axis(0), t) + &d_next;
        let m = mask(lengths, t);
        // the cell sees m_t ⊙ d; a pad's cell backward gets zero
        let (dx, dh_prev) =
            elman_step_backward(&x, &h_prev, &h, w_ih, w_hh, &(&m * &dt), &mut grads);
        dxs.index_axis_mut(Axis(0), t).assign(&dx);
        // (1 - m_t) ⊙ d passes straight to state_{t-1}                 (B, H)
        d_next = &(1.0 - &m) * &dt + &dh_prev;
    }
    (grads, dxs, d_next)
}

/// The whole classifier, h0 = 0: (loss, gradients of every parameter, dxs (T, B, D)).
fn classifier(
    xs: &Array3<f64>,
    lengths: &[usize],
    labels: &[usize],
    p: &Params,
    mean: bool,
) -> (f64, Params, Array3<f64>) {
    let (t_len, batch, _) = xs.dim();
    let h0 = Array2::zeros((batch, p.w_hh.nrows()));
    let hs = masked_forward(xs, lengths, &h0, &p.w_ih, &p.w_hh, &p.b_ih, &p.b_hh);
    let features = if mean {
        read_mean(&hs, lengths)
    } else {
        read_last(&hs, lengths)
    };
    let (loss, d_features, dw_y, db_y) = head_loss(&features, &p.w_y, &p.b_y, labels);
    let dhs = if mean {
        read_mean_backward(&d_features, lengths, t_len)
    } else {
        read_last_backward(&d_features, lengths, t_len)
    };
    let (g, dxs, _) = masked_bptt(xs, lengths, &h0, &hs, &p.w_ih, &p.w_hh, &dhs);
    let grads = Params {
        w_ih: g.w_ih,
        w_hh: g.w_hh,
        b_ih: g.b_ih,
        b_hh: g.b_hh,
        w_y: dw_y,
        b_y: db_y,
    };
    (loss, grads, dxs)
}

fn main() {
    // Two sequences, T = 4: row 0 has 4 real steps, row 1 only 2, and its pads hold large garbage.
    let p = Params {
        w_ih: ndarray::array![[0.5]],
        w_hh: ndarray::array![[0.9]],
        b_ih: ndarray::array![0.0],
        b_hh: ndarray::array![0.0],
        w_y: ndarray::array![[1.0], [-1.0]],
        b_y: ndarray::array![0.0, 0.0],
    };
    let xs =
        Array3::from_shape_vec((4, 2, 1), vec![1.0, 1.0, 0.5, 0.5, 0.2, 9.0, 0.1, -9.0]).unwrap();
    let lengths = [4, 2];
    let h0 = Array2::zeros((2, 1));
    let hs = masked_forward(&xs, &lengths, &h0, &p.w_ih, &p.w_hh, &p.b_ih, &p.b_hh);
    println!("hs (T, B): {}", hs.index_axis(Axis(2), 0));
    // The pads of row 1 must not change its state: hs[3, 1] = hs[1, 1].
    println!(
        "row 1 after its pads: {} (at its last real step: {})",
        hs[[3, 1, 0]],
        hs[[1, 1, 0]]
    );
    for mean in [false, true] {
        let (loss, grads, dxs) = classifier(&xs, &lengths, &[0, 1], &p, mean);
        let name = if mean { "mean" } else { "last" };
        // The pads get no gradient: dxs[2..4, 1] must be 0.
        println!(
            "{name} readout: loss {loss:.6}, dW_hh {}, dxs of row 1 {}",
            grads.w_hh,
            dxs.slice(s![.., 1, 0])
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test that runs the checks in order: each part is checked only once the parts it uses are right.
    #[test]
    fn forward_readouts_bptt_then_classifier() {
        labcheck::lab12::check_masked_forward(elman_step, masked_forward);
        labcheck::lab12::check_readouts(
            read_last,
            read_mean,
            read_last_backward,
            read_mean_backward,
        );
        labcheck::lab12::check_masked_bptt(elman_step_backward, masked_bptt);
        labcheck::lab12::check_classifier(classifier);
    }
}
