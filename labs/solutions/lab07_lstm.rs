// Lab 7 · The LSTM step, forward and backward (book chapter 7).
//
// PyTorch stacks the four gates in the rows of weight_ih (4H, D) and weight_hh (4H, H) in the order
// i, f, g, o. With a = x·W_ihᵀ + b_ih + h_prev·W_hhᵀ + b_hh (7.1), shape (B, 4H), split into four (B, H)
// blocks:
//
//     i = σ(a[:, 0..H])      input gate                                             (7.2)
//     f = σ(a[:, H..2H])     forget gate                                            (7.3)
//     g = tanh(a[:, 2H..3H]) candidate                                              (7.4)
//     o = σ(a[:, 3H..4H])    output gate                                            (7.5)
//     c = f ⊙ c_prev + i ⊙ g                                                        (7.6)
//     h = o ⊙ tanh(c)                                                               (7.7)
//
// Backward, given dh = ∂L/∂h and dc = ∂L/∂c (from the next step's c_prev):
//
//     dc_total = dc + dh ⊙ o ⊙ (1 - tanh²(c))      h reads c too                         (7.10)
//     da_o = dh ⊙ tanh(c) ⊙ o(1 - o)                                                (7.8), (7.9)
//     da_i = dc_total ⊙ g ⊙ i(1 - i),  da_f = dc_total ⊙ c_prev ⊙ f(1 - f)   (7.11), (7.13), (7.14), (7.17)
//     da_g = dc_total ⊙ i ⊙ (1 - g²),  dc_prev = dc_total ⊙ f                (7.12), (7.15), (7.16)
//
// then, with da = [da_i | da_f | da_g | da_o] (B, 4H) (7.18), the same matmul gradients as the Elman cell,
// (7.19)-(7.23).
//
// ndarray tips: `a.slice(s![.., 0..h]).to_owned()` takes a block of columns;
// `ndarray::concatenate(Axis(1), &[x.view(), y.view()]).unwrap()` glues blocks side by side.
// σ is `rnn::activation::sigmoid` (stable for large |a|).
//
// The tests compare with PyTorch's equations and with finite differences.
// This is a solution: compare it with yours once your tests pass.

use labcheck::Grads;
use ndarray::{Array1, Array2, Axis, s};
use rnn::activation::sigmoid;

/// What the forward step keeps for the backward step. Add fields if you need more.
struct LstmCache {
    x: Array2<f64>,
    h_prev: Array2<f64>,
    c_prev: Array2<f64>,
    i: Array2<f64>,
    f: Array2<f64>,
    g: Array2<f64>,
    o: Array2<f64>,
    tanh_c: Array2<f64>,
}

/// One LSTM step: returns (h, c, cache), h and c of shape (B, H).
fn lstm_step(
    x: &Array2<f64>,
    h_prev: &Array2<f64>,
    c_prev: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    b_ih: &Array1<f64>,
    b_hh: &Array1<f64>,
) -> (Array2<f64>, Array2<f64>, LstmCache) {
    let h = h_prev.ncols();
    // (7.1) gate pre-activations, blocks i | f | g | o               (B, 4H)
    let a = x.dot(&w_ih.t()) + b_ih + h_prev.dot(&w_hh.t()) + b_hh;
    // (7.2)-(7.5)                                                     (B, H) each
    let i = a.slice(s![.., 0..h]).mapv(sigmoid);
    let f = a.slice(s![.., h..2 * h]).mapv(sigmoid);
    let g = a.slice(s![.., 2 * h..3 * h]).mapv(f64::tanh);
    let o = a.slice(s![.., 3 * h..4 * h]).mapv(sigmoid);
    // (7.6) c = f ⊙ c_prev + i ⊙ g                                    (B, H)
    let c = &f * c_prev + &i * &g;
    // (7.7) h = o ⊙ tanh(c)                                           (B, H)
    let tanh_c = c.mapv(f64::tanh);
    let h_new = &o * &tanh_c;
    let cache = LstmCache {
        x: x.clone(),
        h_prev: h_prev.clone(),
        c_prev: c_prev.clone(),
        i,
        f,
        g,
        o,
        tanh_c,
    };
    (h_new, c, cache)
}

/// One LSTM step backward. Adds the parameter gradients into `grads`; returns (dx, dh_prev, dc_prev).
fn lstm_step_backward(
    cache: &LstmCache,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    dh: &Array2<f64>,
    dc: &Array2<f64>,
    grads: &mut Grads,
) -> (Array2<f64>, Array2<f64>, Array2<f64>) {
    let LstmCache {
        x,
        h_prev,
        c_prev,
        i,
        f,
        g,
        o,
        tanh_c,
    } = cache;
    // (7.10) dc_total = dc + dh ⊙ o ⊙ (1 - tanh²(c))                  (B, H)
    let dc_total = dc + &(dh * o * &tanh_c.mapv(|t| 1.0 - t * t));
    // (7.8), (7.9) output gate                                        (B, H)
    let da_o = dh * tanh_c * &o.mapv(|v| v * (1.0 - v));
    // (7.11), (7.17), (7.13), (7.14) input and forget gates           (B, H)
    let da_i = &dc_total * g * &i.mapv(|v| v * (1.0 - v));
    let da_f = &dc_total * c_prev * &f.mapv(|v| v * (1.0 - v));
    // (7.12), (7.15) candidate; (7.16) the gradient into c_prev        (B, H)
    let da_g = &dc_total * i * &g.mapv(|v| 1.0 - v * v);
    let dc_prev = &dc_total * f;
    // (7.18) da = [da_i | da_f | da_g | da_o]                         (B, 4H)
    let da = ndarray::concatenate(
        Axis(1),
        &[da_i.view(), da_f.view(), da_g.view(), da_o.view()],
    )
    .unwrap();
    grads.w_ih += &da.t().dot(x);
    grads.w_hh += &da.t().dot(h_prev);
    let db = da.sum_axis(Axis(0));
    grads.b_ih += &db;
    grads.b_hh += &db;
    (da.dot(w_ih), da.dot(w_hh), dc_prev)
}

fn main() {
    // B = 1, D = 1, H = 1: four gate rows i, f, g, o. A large forget-gate bias keeps the cell state.
    let (w_ih, w_hh) = (
        Array2::from_elem((4, 1), 0.5),
        Array2::from_elem((4, 1), 0.1),
    );
    let b = ndarray::array![0.0, 3.0, 0.0, 0.0];
    let (x, h0, c0) = (
        ndarray::array![[1.0]],
        ndarray::array![[0.0]],
        ndarray::array![[2.0]],
    );
    let (h, c, cache) = lstm_step(&x, &h0, &c0, &w_ih, &w_hh, &b, &b);
    println!("h = {h}, c = {c} (c_prev was 2: the forget gate σ(6.5) ≈ 1 keeps it)");
    let mut grads = Grads::zeros(4, 1, 1);
    let (dx, dh_prev, dc_prev) = lstm_step_backward(&cache, &w_ih, &w_hh, &h, &c, &mut grads);
    println!("dx = {dx}, dh_prev = {dh_prev}, dc_prev = {dc_prev}");
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test that runs the checks in order, so the first failure reported is always the same one: a
    // later part (which often calls an earlier one) is checked only once the earlier parts are right.
    #[test]
    fn forward_then_backward() {
        labcheck::lab07::check_lstm_forward(lstm_step);
        labcheck::lab07::check_lstm_backward(lstm_step, lstm_step_backward);
    }
}
