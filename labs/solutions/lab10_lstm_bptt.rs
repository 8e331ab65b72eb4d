// Lab 10 · Backpropagation through time for the LSTM, over a whole sequence (book chapter 7).
//
// The forward ran lstm_step (lab 7, given below) for t = 0..T from (h0, c0) and kept one cache per step.
// The loss reads every h_t: dys[t] = ∂L_t/∂h_t (T, B, H); and the final state (h_T, c_T) gets the gradients
// dh_last and dc_last from later use (the next chunk, a decoder). Walk t from T-1 down to 0, carrying two
// gradients back, dh_next and dc_next (they start as dh_last and dc_last):
//
//     dh_t = dys[t] + dh_next                          h_t is read by the loss AND by step t+1  (4.7)
//     dc_t = dc_next + dh_t ⊙ o_t ⊙ (1 - tanh²(c_t))   c_t is read by step t+1 AND by h_t       (7.10)
//     (grads_t, dx_t, dh_prev) = lstm_gates_backward(cache_t, dh_t, dc_t)                (7.8)-(7.23)
//     dW_ih += grads_t.w_ih, ... (all four)            the same weights at every step    (7.19)-(7.21)
//     dxs[t] = dx_t;  dh_next = dh_prev                                                         (7.23)
//     dc_next = dc_t ⊙ f_t                             the constant error carousel              (7.16)
//
// After step 0, dh_next = ∂L/∂h0 and dc_next = ∂L/∂c0. The carousel (7.16) is the LSTM's point: the gradient
// reaches c_{t-1} through a product with f_t alone, no weight matrix and no tanh' in the way, so with f ≈ 1
// it survives many steps.
//
// lstm_step and lstm_gates_backward are given (lab 7's solution, with the carousel taken out of the step
// backward: lstm_gates_backward receives the total dc_t). Write lstm_bptt.
// The tests compare with `rnn::bptt::bptt` on `rnn::cells::Lstm` and with finite differences.
// This is a solution: compare it with yours once your tests pass.

use labcheck::Grads;
use ndarray::{Array1, Array2, Array3, Axis, s};
use rnn::activation::sigmoid;

/// What the forward step keeps for the backward step.
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

/// Given: one LSTM step (lab 7), returns (h, c, cache).
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
    // (7.6), (7.7)                                                    (B, H)
    let c = &f * c_prev + &i * &g;
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

/// Given: the step backward from dh = ∂L/∂h_t and the TOTAL dc = ∂L/∂c_t (7.10 already applied).
/// Returns (this step's parameter gradients, dx, dh_prev).
fn lstm_gates_backward(
    cache: &LstmCache,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    dh: &Array2<f64>,
    dc: &Array2<f64>,
) -> (Grads, Array2<f64>, Array2<f64>) {
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
    // (7.8), (7.9)                                                    (B, H)
    let da_o = dh * tanh_c * &o.mapv(|v| v * (1.0 - v));
    // (7.11), (7.17), (7.13), (7.14), (7.12), (7.15)                  (B, H)
    let da_i = dc * g * &i.mapv(|v| v * (1.0 - v));
    let da_f = dc * c_prev * &f.mapv(|v| v * (1.0 - v));
    let da_g = dc * i * &g.mapv(|v| 1.0 - v * v);
    // (7.18)                                                          (B, 4H)
    let da = ndarray::concatenate(
        Axis(1),
        &[da_i.view(), da_f.view(), da_g.view(), da_o.view()],
    )
    .unwrap();
    // (7.19)-(7.21)
    let db = da.sum_axis(Axis(0));
    let grads = Grads {
        w_ih: da.t().dot(x),
        w_hh: da.t().dot(h_prev),
        b_ih: db.clone(),
        b_hh: db,
    };
    // (7.22), (7.23)
    (grads, da.dot(w_ih), da.dot(w_hh))
}

/// BPTT over the whole sequence. Returns (grads, dxs (T, B, D), dh0 (B, H), dc0 (B, H)).
fn lstm_bptt(
    caches: &[LstmCache],
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    dys: &Array3<f64>,
    dh_last: &Array2<f64>,
    dc_last: &Array2<f64>,
) -> (Grads, Array3<f64>, Array2<f64>, Array2<f64>) {
    let (t_len, batch, hidden) = dys.dim();
    let d = w_ih.ncols();
    let mut grads = Grads::zeros(4 * hidden, d, hidden);
    let mut dxs = Array3::<f64>::zeros((t_len, batch, d));
    let mut dh_next = dh_last.clone();
    let mut dc_next = dc_last.clone();
    for t in (0..t_len).rev() {
        let cache = &caches[t];
        // (4.7) dh_t = dys[t] + dh_next                                (B, H)
        let dh = &dys.index_axis(Axis(0), t) + &dh_next;
        // (7.10) dc_t = dc_next + dh_t ⊙ o_t ⊙ (1 - tanh²(c_t))        (B, H)
        let dc = &dc_next + &(&dh * &cache.o * &cache.tanh_c.mapv(|v| 1.0 - v * v));
        let (step, dx, dh_prev) = lstm_gates_backward(cache, w_ih, w_hh, &dh, &dc);
        // (7.19)-(7.21) the shared weights collect every step's gradient
        grads.w_ih += &step.w_ih;
        grads.w_hh += &step.w_hh;
        grads.b_ih += &step.b_ih;
        grads.b_hh += &step.b_hh;
        dxs.index_axis_mut(Axis(0), t).assign(&dx);
        dh_next = dh_prev;
        // (7.16) the constant error carousel                           (B, H)
        dc_next = &dc * &cache.f;
    }
    (grads, dxs, dh_next, dc_next)
}

fn main() {
    // B = 1, D = 1, H = 1, T = 20, the loss reading only c_T. A forget-gate bias of 5 in both biases
    // (f ≈ σ(10)) keeps the cell state, so the carousel (7.16) carries dc_T back to c0 almost undamped.
    let (w_ih, w_hh) = (
        Array2::from_elem((4, 1), 0.3),
        Array2::from_elem((4, 1), 0.1),
    );
    let b = ndarray::array![0.0, 5.0, 0.0, 0.0];
    let t_len = 20;
    let (mut h, mut c) = (Array2::zeros((1, 1)), Array2::zeros((1, 1)));
    let mut caches = Vec::new();
    for _ in 0..t_len {
        let (hn, cn, cache) = lstm_step(&ndarray::array![[0.5]], &h, &c, &w_ih, &w_hh, &b, &b);
        (h, c) = (hn, cn);
        caches.push(cache);
    }
    let dys = Array3::zeros((t_len, 1, 1));
    let (_, _, dh0, dc0) = lstm_bptt(
        &caches,
        &w_ih,
        &w_hh,
        &dys,
        &Array2::zeros((1, 1)),
        &ndarray::array![[1.0]],
    );
    let carousel: f64 = caches.iter().map(|k| k.f[[0, 0]]).product();
    println!("∂c_T/∂c_0 after {t_len} steps: {dc0}; ∂c_T/∂h_0: {dh0}");
    println!(
        "the carousel alone, the product of the f_t (7.16): {carousel:.6} (the rest comes through the h_t)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the check first makes sure the given lstm_step and lstm_gates_backward are still right,
    // then checks lstm_bptt.
    #[test]
    fn lstm_bptt_over_the_sequence() {
        labcheck::lab10::check_lstm_bptt(lstm_step, lstm_gates_backward, lstm_bptt);
    }
}
