//! Deliberately broken answers, one per classic mistake: each test proves that the lab's checks reject the
//! mistake AND name it in the failure message. `labs/check.sh` runs this file as part of the labs' CI.

// The broken variants mimic a learner's code, which takes many plain arrays.
#![allow(clippy::too_many_arguments, clippy::type_complexity)]

use std::panic::{AssertUnwindSafe, catch_unwind};

use labcheck::{
    Grads, lab01, lab02, lab03, lab04, lab05, lab06, lab07, lab08, lab10, lab11, lab12, lab13,
    lab14,
};
use ndarray::{Array1, Array2, Array3, ArrayD, Axis, s};

/// What a learner would write for the pieces several broken variants share (the answer key,
/// `labcheck::reference`, is private: neither a lab nor this file can use it).
mod learner {
    use ndarray::{Array1, Array2, ArrayD, Axis, s};
    use rnn::activation::sigmoid;

    /// Row-wise softmax, stable.
    pub fn softmax(z: &Array2<f64>) -> Array2<f64> {
        let m = z.map_axis(Axis(1), |r| r.fold(f64::NEG_INFINITY, |a, &b| a.max(b)));
        let e = z - &m.insert_axis(Axis(1));
        let e = e.mapv(f64::exp);
        let sums = e.sum_axis(Axis(1)).insert_axis(Axis(1));
        &e / &sums
    }

    /// Mean cross-entropy and its gradient.
    pub fn cross_entropy(z: &Array2<f64>, y: &[usize]) -> (f64, Array2<f64>) {
        let n = z.nrows() as f64;
        let mut loss = 0.0;
        for (row, &t) in z.axis_iter(Axis(0)).zip(y) {
            let m = row.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            loss += m + row.mapv(|v| (v - m).exp()).sum().ln() - row[t];
        }
        let mut d = softmax(z);
        for (i, &t) in y.iter().enumerate() {
            d[[i, t]] -= 1.0;
        }
        (loss / n, d / n)
    }

    /// PyTorch's gate order i, f, g, o, as block indices.
    pub const LSTM_PYTORCH: [usize; 4] = [0, 1, 2, 3];

    /// One LSTM step reading gates i, f, g, o from the blocks `order`.
    pub fn lstm_step(
        x: &Array2<f64>,
        h: &Array2<f64>,
        c: &Array2<f64>,
        w_ih: &Array2<f64>,
        w_hh: &Array2<f64>,
        b_ih: &Array1<f64>,
        b_hh: &Array1<f64>,
        order: [usize; 4],
    ) -> (Array2<f64>, Array2<f64>) {
        let n = h.ncols();
        let a = x.dot(&w_ih.t()) + b_ih + h.dot(&w_hh.t()) + b_hh;
        let blk = |k: usize| a.slice(s![.., order[k] * n..(order[k] + 1) * n]).to_owned();
        let (i, f) = (blk(0).mapv(sigmoid), blk(1).mapv(sigmoid));
        let (g, o) = (blk(2).mapv(f64::tanh), blk(3).mapv(sigmoid));
        let c_new = &f * c + &i * &g;
        (&o * &c_new.mapv(f64::tanh), c_new)
    }

    /// Which GRU a learner wrote.
    #[derive(Clone, Copy, PartialEq)]
    pub enum GruForm {
        PyTorch,
        FlippedZ,
        OrderZrn,
        ResetBeforeMatmul,
    }

    /// One GRU step in the given form.
    pub fn gru_step(
        x: &Array2<f64>,
        h: &Array2<f64>,
        w_ih: &Array2<f64>,
        w_hh: &Array2<f64>,
        b_ih: &Array1<f64>,
        b_hh: &Array1<f64>,
        form: GruForm,
    ) -> Array2<f64> {
        let n = h.ncols();
        let gi = x.dot(&w_ih.t()) + b_ih;
        let gh = h.dot(&w_hh.t()) + b_hh;
        let blk = |a: &Array2<f64>, k: usize| a.slice(s![.., k * n..(k + 1) * n]).to_owned();
        let (ri, zi) = if form == GruForm::OrderZrn {
            (1, 0)
        } else {
            (0, 1)
        };
        let r = (blk(&gi, ri) + blk(&gh, ri)).mapv(sigmoid);
        let z = (blk(&gi, zi) + blk(&gh, zi)).mapv(sigmoid);
        let hn = if form == GruForm::ResetBeforeMatmul {
            (&r * h).dot(&w_hh.slice(s![2 * n..3 * n, ..]).t()) + b_hh.slice(s![2 * n..3 * n])
        } else {
            &r * &blk(&gh, 2)
        };
        let cand = (blk(&gi, 2) + hn).mapv(f64::tanh);
        if form == GruForm::FlippedZ {
            &z * &cand + &(1.0 - &z) * h
        } else {
            &(1.0 - &z) * &cand + &z * h
        }
    }

    /// PyTorch's clip_grad_norm_.
    pub fn clip_by_global_norm(grads: &mut [ArrayD<f64>], max_norm: f64) -> f64 {
        let total = grads
            .iter()
            .map(|g| g.iter().map(|v| v * v).sum::<f64>())
            .sum::<f64>()
            .sqrt();
        let coef = max_norm / (total + 1e-6);
        if coef < 1.0 {
            for g in grads.iter_mut() {
                g.mapv_inplace(|v| v * coef);
            }
        }
        total
    }

    /// PyTorch's clip_grad_value_.
    pub fn clip_by_value(grads: &mut [ArrayD<f64>], clip: f64) {
        for g in grads.iter_mut() {
            g.mapv_inplace(|v| v.clamp(-clip, clip));
        }
    }
}
use learner::GruForm;

/// Runs a check that must fail; returns its message.
fn caught(check: impl FnOnce()) -> String {
    let result = catch_unwind(AssertUnwindSafe(check));
    match result {
        Ok(()) => panic!("the check ACCEPTED a deliberately broken answer"),
        Err(e) => e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default(),
    }
}

/// Asserts that a failing check names `mistake`.
fn names(check: impl FnOnce(), mistake: &str) {
    let msg = caught(check);
    println!("{msg}");
    assert!(
        msg.contains(mistake),
        "the check failed, but its message does not name the mistake `{mistake}`:\n{msg}"
    );
}

// ---------------------------------------------------------------- lab 1 and 2: forward

type W<'a> = (
    &'a Array2<f64>,
    &'a Array2<f64>,
    &'a Array1<f64>,
    &'a Array1<f64>,
);

fn step_ok(x: &Array2<f64>, h: &Array2<f64>, (w_ih, w_hh, b_ih, b_hh): W<'_>) -> Array2<f64> {
    (x.dot(&w_ih.t()) + b_ih + h.dot(&w_hh.t()) + b_hh).mapv(f64::tanh)
}

#[test]
fn lab01_no_tanh() {
    names(
        || {
            lab01::check_elman_step(|x, h, w_ih, w_hh, b_ih, b_hh| {
                x.dot(&w_ih.t()) + b_ih + h.dot(&w_hh.t()) + b_hh
            })
        },
        "no tanh",
    );
}

#[test]
fn lab01_missing_transpose() {
    names(
        || {
            lab01::check_elman_step(|x, h, w_ih, w_hh, b_ih, b_hh| {
                (x.dot(&w_ih.t()) + b_ih + h.dot(w_hh) + b_hh).mapv(f64::tanh)
            })
        },
        "missing transpose",
    );
}

#[test]
fn lab01_untouched_todo() {
    names(
        || lab01::check_elman_step(|_, _, _, _, _, _| todo!()),
        "Replace the `todo!()`",
    );
}

#[test]
fn lab02_not_carrying_the_state() {
    names(
        || {
            lab02::check_unroll(|xs, h0, w_ih, w_hh, b_ih, b_hh| {
                let mut hs = Array3::zeros((xs.dim().0, xs.dim().1, w_hh.nrows()));
                for t in 0..xs.dim().0 {
                    let x = xs.index_axis(Axis(0), t).to_owned();
                    let h = step_ok(&x, h0, (w_ih, w_hh, b_ih, b_hh)); // h0 every time
                    hs.index_axis_mut(Axis(0), t).assign(&h);
                }
                hs
            })
        },
        "not carrying the hidden state",
    );
}

// ---------------------------------------------------------------- lab 3: softmax cross-entropy

fn naive_softmax(z: &Array2<f64>) -> Array2<f64> {
    let e = z.mapv(f64::exp);
    let sums = e.sum_axis(Axis(1)).insert_axis(Axis(1));
    &e / &sums
}

#[test]
fn lab03_softmax_overflow() {
    names(|| lab03::check_softmax(naive_softmax), "softmax overflow");
}

#[test]
fn lab03_cross_entropy_overflow() {
    names(
        || {
            lab03::check_cross_entropy(|z, y| {
                let p = naive_softmax(z);
                let n = z.nrows() as f64;
                let loss = y
                    .iter()
                    .enumerate()
                    .map(|(i, &t)| -p[[i, t]].ln())
                    .sum::<f64>()
                    / n;
                let mut d = p;
                for (i, &t) in y.iter().enumerate() {
                    d[[i, t]] -= 1.0;
                }
                (loss, d / n)
            })
        },
        "softmax overflow",
    );
}

#[test]
fn lab03_log_of_underflowed_probability() {
    names(
        || {
            lab03::check_cross_entropy(|z, y| {
                let p = learner::softmax(z); // stable softmax, but then ln p
                let n = z.nrows() as f64;
                let loss = y
                    .iter()
                    .enumerate()
                    .map(|(i, &t)| -p[[i, t]].ln())
                    .sum::<f64>()
                    / n;
                let mut d = p;
                for (i, &t) in y.iter().enumerate() {
                    d[[i, t]] -= 1.0;
                }
                (loss, d / n)
            })
        },
        "log of an underflowed probability",
    );
}

#[test]
fn lab03_forgetting_the_one_hot() {
    names(
        || {
            lab03::check_cross_entropy(|z, y| {
                let (loss, _) = learner::cross_entropy(z, y);
                (loss, learner::softmax(z) / z.nrows() as f64)
            })
        },
        "forgetting to subtract the one-hot target",
    );
}

// ---------------------------------------------------------------- lab 4: BPTT

/// A step backward that is right except, optionally, for overwriting the gradients.
fn step_backward(
    x: &Array2<f64>,
    h_prev: &Array2<f64>,
    h: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    dh: &Array2<f64>,
    grads: &mut Grads,
    overwrite: bool,
) -> (Array2<f64>, Array2<f64>) {
    let da = dh * &h.mapv(|v| 1.0 - v * v);
    let (gw_ih, gw_hh, gb) = (da.t().dot(x), da.t().dot(h_prev), da.sum_axis(Axis(0)));
    if overwrite {
        grads.w_ih = gw_ih;
        grads.w_hh = gw_hh;
        grads.b_ih = gb.clone();
        grads.b_hh = gb;
    } else {
        grads.w_ih += &gw_ih;
        grads.w_hh += &gw_hh;
        grads.b_ih += &gb;
        grads.b_hh += &gb;
    }
    (da.dot(w_ih), da.dot(w_hh))
}

/// The right step backward.
fn step_ok_backward(
    x: &Array2<f64>,
    h_prev: &Array2<f64>,
    h: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    dh: &Array2<f64>,
    grads: &mut Grads,
) -> (Array2<f64>, Array2<f64>) {
    step_backward(x, h_prev, h, w_ih, w_hh, dh, grads, false)
}

/// BPTT with switches for the classic mistakes.
fn bptt(
    xs: &Array3<f64>,
    h0: &Array2<f64>,
    hs: &Array3<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    dys: &Array3<f64>,
    use_dh_next: bool,
    overwrite: bool,
) -> (Grads, Array3<f64>, Array2<f64>) {
    let (t_len, b, d) = xs.dim();
    let h = w_hh.nrows();
    let mut grads = Grads::zeros(h, d, h);
    let mut dxs = Array3::zeros((t_len, b, d));
    let mut dh_next = Array2::zeros((b, h));
    for t in (0..t_len).rev() {
        let h_prev = if t == 0 {
            h0.clone()
        } else {
            hs.index_axis(Axis(0), t - 1).to_owned()
        };
        let mut dh = dys.index_axis(Axis(0), t).to_owned();
        if use_dh_next {
            dh += &dh_next;
        }
        let (dx, dprev) = step_backward(
            &xs.index_axis(Axis(0), t).to_owned(),
            &h_prev,
            &hs.index_axis(Axis(0), t).to_owned(),
            w_ih,
            w_hh,
            &dh,
            &mut grads,
            overwrite,
        );
        dxs.index_axis_mut(Axis(0), t).assign(&dx);
        dh_next = dprev;
    }
    (grads, dxs, dh_next)
}

#[test]
fn lab04_correct_bptt_passes() {
    // The broken variants below differ from this one by a single switch.
    lab04::check_bptt(step_ok_backward, |xs, h0, hs, w_ih, w_hh, dys| {
        bptt(xs, h0, hs, w_ih, w_hh, dys, true, false)
    });
}

#[test]
fn lab04_forgetting_dh_next() {
    names(
        || {
            lab04::check_bptt(step_ok_backward, |xs, h0, hs, w_ih, w_hh, dys| {
                bptt(xs, h0, hs, w_ih, w_hh, dys, false, false)
            })
        },
        "forgetting dh_next",
    );
}

#[test]
fn lab04_not_accumulating_dh_across_time() {
    names(
        || {
            lab04::check_bptt(step_ok_backward, |xs, h0, hs, w_ih, w_hh, dys| {
                bptt(xs, h0, hs, w_ih, w_hh, dys, false, false)
            })
        },
        "not accumulating dh across time",
    );
}

#[test]
fn lab04_overwriting_parameter_gradients_in_bptt() {
    names(
        || {
            lab04::check_bptt(step_ok_backward, |xs, h0, hs, w_ih, w_hh, dys| {
                bptt(xs, h0, hs, w_ih, w_hh, dys, true, true)
            })
        },
        lab04::OVERWRITE,
    );
}

#[test]
fn lab04_overwriting_in_the_step() {
    names(
        || {
            lab04::check_step_backward(|x, hp, h, w_ih, w_hh, dh, g| {
                step_backward(x, hp, h, w_ih, w_hh, dh, g, true)
            })
        },
        lab04::OVERWRITE,
    );
}

// ---------------------------------------------------------------- lab 5: gradient checking

#[test]
fn lab05_one_sided_differences() {
    names(
        || {
            lab05::check_numeric_gradient(|f, x, h| {
                let f0 = f(x);
                let mut g = ArrayD::zeros(x.raw_dim());
                for i in 0..x.len() {
                    let mut xp = x.clone();
                    xp.as_slice_mut().unwrap()[i] += h;
                    g.as_slice_mut().unwrap()[i] = (f(&xp) - f0) / h;
                }
                g
            })
        },
        "one-sided differences",
    );
}

#[test]
fn lab05_relative_error_without_floor() {
    names(
        || {
            lab05::check_relative_error(|a, n| {
                let diff = a
                    .iter()
                    .zip(n.iter())
                    .map(|(a, n)| (a - n).abs())
                    .fold(0.0, f64::max);
                let scale = a
                    .iter()
                    .zip(n.iter())
                    .map(|(a, n)| a.abs() + n.abs())
                    .fold(0.0, f64::max);
                diff / scale // 0/0 = NaN when both gradients are zero
            })
        },
        "no floor in the denominator",
    );
}

// ---------------------------------------------------------------- lab 6: clipping and temperature

#[test]
fn lab05_relative_error_element_by_element() {
    names(
        || {
            lab05::check_relative_error(|a, n| {
                a.iter()
                    .zip(n.iter())
                    .map(|(a, n)| (a - n).abs() / (a.abs() + n.abs()).max(1e-8))
                    .fold(0.0, f64::max)
            })
        },
        "dividing element by element",
    );
}

#[test]
fn lab05_forgetting_to_restore_x() {
    names(
        || {
            lab05::check_numeric_gradient(|f, x, h| {
                let mut xp = x.clone();
                let mut g = ArrayD::zeros(x.raw_dim());
                for i in 0..x.len() {
                    let orig = xp.as_slice().unwrap()[i];
                    xp.as_slice_mut().unwrap()[i] = orig + h;
                    let up = f(&xp);
                    xp.as_slice_mut().unwrap()[i] = orig - h;
                    let down = f(&xp);
                    g.as_slice_mut().unwrap()[i] = (up - down) / (2.0 * h);
                }
                g
            })
        },
        "not restoring x",
    );
}

#[test]
fn lab06_per_element_when_global_norm_asked() {
    names(
        || {
            lab06::check_clip_by_global_norm(|grads, max_norm| {
                let total = grads
                    .iter()
                    .map(|g| g.iter().map(|v| v * v).sum::<f64>())
                    .sum::<f64>()
                    .sqrt();
                learner::clip_by_value(grads, max_norm);
                total
            })
        },
        lab06::PER_ELEMENT,
    );
}

#[test]
fn lab06_global_norm_when_value_asked() {
    names(
        || {
            lab06::check_clip_by_value(|grads, clip| {
                learner::clip_by_global_norm(grads, clip);
            })
        },
        lab06::GLOBAL_FOR_VALUE,
    );
}

#[test]
fn lab06_temperature_overflow() {
    names(
        || {
            lab06::check_temperature(|z, tau| {
                let e: Vec<f64> = z.iter().map(|v| (v / tau).exp()).collect();
                let s: f64 = e.iter().sum();
                e.iter().map(|v| v / s).collect()
            })
        },
        "softmax overflow",
    );
}

#[test]
fn lab06_multiplying_by_temperature() {
    names(
        || {
            lab06::check_temperature(|z, tau| {
                let zs: Vec<f64> = z.iter().map(|v| v * tau).collect();
                rnn::sample::probabilities(&zs, 1.0, None)
            })
        },
        "multiplying by the temperature",
    );
}

// ---------------------------------------------------------------- lab 7: LSTM gate order

#[test]
fn lab07_gate_order_ifog() {
    names(
        || {
            lab07::check_lstm_forward(|x, h, c, w_ih, w_hh, b_ih, b_hh| {
                let (h, c) = learner::lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh, [0, 1, 3, 2]);
                (h, c, ())
            })
        },
        "wrong gate order (you read the gates as i, f, o, g",
    );
}

#[test]
fn lab07_no_tanh_on_c() {
    names(
        || {
            lab07::check_lstm_forward(|x, h, c, w_ih, w_hh, b_ih, b_hh| {
                let hsz = h.ncols();
                let a = x.dot(&w_ih.t()) + b_ih + h.dot(&w_hh.t()) + b_hh;
                let o = a
                    .slice(s![.., 3 * hsz..4 * hsz])
                    .mapv(rnn::activation::sigmoid);
                let (_, c_new) =
                    learner::lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh, learner::LSTM_PYTORCH);
                (&o * &c_new, c_new, ())
            })
        },
        "without the tanh",
    );
}

// ---------------------------------------------------------------- lab 8: GRU conventions

fn gru_with(
    form: GruForm,
) -> impl Fn(
    &Array2<f64>,
    &Array2<f64>,
    &Array2<f64>,
    &Array2<f64>,
    &Array1<f64>,
    &Array1<f64>,
) -> (Array2<f64>, ()) {
    move |x, h, w_ih, w_hh, b_ih, b_hh| (learner::gru_step(x, h, w_ih, w_hh, b_ih, b_hh, form), ())
}

#[test]
fn lab08_z_the_other_way() {
    names(
        || lab08::check_gru_forward(gru_with(GruForm::FlippedZ)),
        lab08::FLIPPED_Z,
    );
}

#[test]
fn lab08_gate_order_zrn() {
    names(
        || lab08::check_gru_forward(gru_with(GruForm::OrderZrn)),
        "wrong gate order",
    );
}

#[test]
fn lab08_reset_before_matmul() {
    names(
        || lab08::check_gru_forward(gru_with(GruForm::ResetBeforeMatmul)),
        "reset gate before the matmul",
    );
}

#[test]
fn lab08_correct_forward_passes() {
    lab08::check_gru_forward(gru_with(GruForm::PyTorch));
}

#[test]
fn lab04_dh_next_replacing_the_loss_gradient() {
    names(
        || {
            lab04::check_bptt(step_ok_backward, |xs, h0, hs, w_ih, w_hh, dys| {
                let (t_len, b, d) = xs.dim();
                let h = w_hh.nrows();
                let mut grads = Grads::zeros(h, d, h);
                let mut dxs = Array3::zeros((t_len, b, d));
                let mut dh_next = dys.index_axis(Axis(0), t_len - 1).to_owned();
                for t in (0..t_len).rev() {
                    let h_prev = if t == 0 {
                        h0.clone()
                    } else {
                        hs.index_axis(Axis(0), t - 1).to_owned()
                    };
                    let (dx, dprev) = step_backward(
                        &xs.index_axis(Axis(0), t).to_owned(),
                        &h_prev,
                        &hs.index_axis(Axis(0), t).to_owned(),
                        w_ih,
                        w_hh,
                        &dh_next, // dys[t] is never added
                        &mut grads,
                        false,
                    );
                    dxs.index_axis_mut(Axis(0), t).assign(&dx);
                    dh_next = dprev;
                }
                (grads, dxs, dh_next)
            })
        },
        lab04::REPLACE,
    );
}

// ---------------------------------------------------------------- the other diagnosed mistakes

#[test]
fn lab01_missing_a_bias() {
    names(
        || {
            lab01::check_elman_step(|x, h, w_ih, w_hh, b_ih, _| {
                (x.dot(&w_ih.t()) + b_ih + h.dot(&w_hh.t())).mapv(f64::tanh)
            })
        },
        "missing a bias",
    );
}

#[test]
fn lab01_ignoring_h_prev() {
    names(
        || {
            lab01::check_elman_step(|x, _, w_ih, _, b_ih, b_hh| {
                (x.dot(&w_ih.t()) + b_ih + b_hh).mapv(f64::tanh)
            })
        },
        "ignoring h_prev",
    );
}

#[test]
fn lab02_outputs_shifted() {
    names(
        || {
            lab02::check_unroll(|xs, h0, w_ih, w_hh, b_ih, b_hh| {
                let mut hs = Array3::zeros((xs.dim().0, xs.dim().1, w_hh.nrows()));
                let mut h = h0.clone();
                for t in 0..xs.dim().0 {
                    hs.index_axis_mut(Axis(0), t).assign(&h); // stores h_{t-1}
                    let x = xs.index_axis(Axis(0), t).to_owned();
                    h = step_ok(&x, &h, (w_ih, w_hh, b_ih, b_hh));
                }
                hs
            })
        },
        "outputs shifted by one step",
    );
}

#[test]
fn lab03_forgetting_one_over_n() {
    names(
        || {
            lab03::check_cross_entropy(|z, y| {
                let (loss, d) = learner::cross_entropy(z, y);
                (loss, d * z.nrows() as f64)
            })
        },
        "forgetting the 1/N of the mean",
    );
}

#[test]
fn lab03_summing_instead_of_averaging() {
    names(
        || {
            lab03::check_cross_entropy(|z, y| {
                let (loss, d) = learner::cross_entropy(z, y);
                (loss * z.nrows() as f64, d)
            })
        },
        "summing instead of averaging",
    );
}

#[test]
fn lab04_forgetting_the_tanh_derivative() {
    names(
        || {
            lab04::check_step_backward(|x, hp, _h, w_ih, w_hh, dh, g| {
                let da = dh.clone();
                g.w_ih += &da.t().dot(x);
                g.w_hh += &da.t().dot(hp);
                g.b_ih += &da.sum_axis(Axis(0));
                g.b_hh += &da.sum_axis(Axis(0));
                (da.dot(w_ih), da.dot(w_hh))
            })
        },
        "forgetting the tanh derivative",
    );
}

#[test]
fn lab05_dividing_by_h() {
    names(
        || {
            lab05::check_numeric_gradient(|f, x, h| {
                rnn::gradcheck::numeric_gradient(x, |v| f(v)) * (2.0 * rnn::gradcheck::STEP / h)
            })
        },
        "dividing by h instead of 2h",
    );
}

#[test]
fn lab06_each_tensor_by_its_own_norm() {
    names(
        || {
            lab06::check_clip_by_global_norm(|grads, max_norm| {
                let mut total = 0.0;
                for g in grads.iter_mut() {
                    let n = g.iter().map(|v| v * v).sum::<f64>();
                    total += n;
                    let c = max_norm / (n.sqrt() + 1e-6);
                    if c < 1.0 {
                        g.mapv_inplace(|v| v * c);
                    }
                }
                total.sqrt()
            })
        },
        "clipping each tensor by its own norm",
    );
}

#[test]
fn lab06_no_epsilon() {
    names(
        || {
            lab06::check_clip_by_global_norm(|grads, max_norm| {
                let total = grads
                    .iter()
                    .map(|g| g.iter().map(|v| v * v).sum::<f64>())
                    .sum::<f64>()
                    .sqrt();
                if total > max_norm {
                    for g in grads.iter_mut() {
                        g.mapv_inplace(|v| v * max_norm / total);
                    }
                }
                total
            })
        },
        "leaving out PyTorch's epsilon",
    );
}

#[test]
fn lab06_returning_the_clipped_norm() {
    names(
        || {
            lab06::check_clip_by_global_norm(|grads, max_norm| {
                learner::clip_by_global_norm(grads, max_norm);
                grads
                    .iter()
                    .map(|g| g.iter().map(|v| v * v).sum::<f64>())
                    .sum::<f64>()
                    .sqrt()
            })
        },
        "returning the norm after clipping",
    );
}

#[test]
fn lab07_gate_order_figo() {
    names(
        || {
            lab07::check_lstm_forward(|x, h, c, w_ih, w_hh, b_ih, b_hh| {
                let (h, c) = learner::lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh, [1, 0, 2, 3]);
                (h, c, ())
            })
        },
        "wrong gate order",
    );
}

// ---------------------------------------------------------------- lab 9: the training loop

mod char_lm {
    use labcheck::lab09::{self, BATCH, CharModel, HIDDEN, LR, MAX_NORM, SEQ_LEN, Step};
    use ndarray::{Array2, Array3, ArrayViewMutD, Axis, Zip};
    use rnn::bptt::{bptt, unroll};
    use rnn::cells::{Cell, State};
    use rnn::data::{TbpttBatches, Vocab};
    use rnn::params::Parameters;

    use super::names;

    /// Slips in the step: clipping left out; returning the state after the chunk's first step.
    #[derive(Clone, Copy, PartialEq)]
    enum StepSlip {
        None,
        NoClip,
        FirstStepState,
    }

    /// Slips in the loop: never carrying the state; training four times longer; not training at all.
    #[derive(Clone, Copy, PartialEq)]
    enum LoopSlip {
        None,
        NoCarry,
        FourTimesLonger,
        FakeLosses,
    }

    fn train_step(
        model: &mut CharModel,
        mem: &mut CharModel,
        state: &State,
        inputs: &Array2<usize>,
        targets: &Array2<usize>,
        slip: StepSlip,
    ) -> (f64, State) {
        let (t_len, b) = inputs.dim();
        let (v, h) = model.w_hy.dim();
        let xs = Array3::from_shape_fn(
            (t_len, b, v),
            |(t, j, k)| {
                if inputs[[t, j]] == k { 1.0 } else { 0.0 }
            },
        );
        let ys: Vec<usize> = targets.iter().cloned().collect();
        let run = unroll(&model.cell, xs.view(), state);
        let hs = run
            .outputs
            .clone()
            .into_shape_with_order((t_len * b, h))
            .unwrap();
        let logits = hs.dot(&model.w_hy.t()) + &model.b_y;
        let (loss, dlogits) = rnn::loss::softmax_cross_entropy(logits.view(), &ys, None);
        let mut grads = model.zeros_like();
        grads.w_hy = dlogits.t().dot(&hs);
        grads.b_y = dlogits.sum_axis(Axis(0));
        let dhs = dlogits
            .dot(&model.w_hy)
            .into_shape_with_order((t_len, b, h))
            .unwrap();
        bptt(&model.cell, &run.caches, dhs.view(), None, &mut grads.cell);
        if slip != StepSlip::NoClip {
            let mut all: Vec<ArrayViewMutD<'_, f64>> =
                grads.params_mut().into_iter().map(|(_, g)| g).collect();
            let total = all
                .iter()
                .map(|g| g.iter().map(|x| x * x).sum::<f64>())
                .sum::<f64>()
                .sqrt();
            if total > MAX_NORM {
                for g in all.iter_mut() {
                    g.mapv_inplace(|x| x * MAX_NORM / (total + 1e-6));
                }
            }
        }
        for (((_, mut p), (_, g)), (_, mut m)) in model
            .params_mut()
            .into_iter()
            .zip(grads.params())
            .zip(mem.params_mut())
        {
            Zip::from(&mut p).and(&g).and(&mut m).for_each(|p, &g, m| {
                *m += g * g;
                *p -= LR * g / (*m + 1e-8).sqrt();
            });
        }
        let last = if slip == StepSlip::FirstStepState {
            State::from_h(run.outputs.index_axis(Axis(0), 0).to_owned())
        } else {
            run.last
        };
        (loss, last)
    }

    fn train(
        text: &str,
        steps: usize,
        seed: u64,
        step: &mut Step<'_>,
        slip: LoopSlip,
    ) -> (CharModel, Vec<f64>) {
        let vocab = Vocab::from_text(text);
        let ids = vocab.encode(text).unwrap();
        let batches = TbpttBatches::new(&ids, BATCH, SEQ_LEN).unwrap();
        let mut model = CharModel::new(vocab.len(), HIDDEN, &mut rnn::init::rng(seed));
        let mut mem = model.zeros_like();
        if slip == LoopSlip::FakeLosses {
            // Trains nothing; reports a nice decreasing curve.
            let losses = (0..steps)
                .map(|i| 3.3 * (-(i as f64) / 100.0).exp() + 0.2)
                .collect();
            return (model, losses);
        }
        let total = if slip == LoopSlip::FourTimesLonger {
            4 * steps
        } else {
            steps
        };
        let mut state = model.cell.zero_state(BATCH);
        let mut losses = Vec::new();
        for i in 0..total {
            let k = i % batches.num_chunks();
            if k == 0 || slip == LoopSlip::NoCarry {
                state = model.cell.zero_state(BATCH);
            }
            let (inputs, targets) = batches.chunk(k);
            let (loss, last) = step(&mut model, &mut mem, &state, &inputs, &targets);
            state = last;
            if losses.len() < steps {
                losses.push(loss);
            }
        }
        (model, losses)
    }

    fn check(step_slip: StepSlip, loop_slip: LoopSlip) {
        lab09::check_training(
            |text: &str, steps: usize, seed: u64, step: &mut Step<'_>| {
                train(text, steps, seed, step, loop_slip)
            },
            |m: &mut CharModel,
             mem: &mut CharModel,
             s: &State,
             x: &Array2<usize>,
             y: &Array2<usize>| train_step(m, mem, s, x, y, step_slip),
        );
    }

    #[test]
    fn lab09_correct_training_passes() {
        check(StepSlip::None, LoopSlip::None);
    }

    #[test]
    fn lab09_made_up_losses_without_training() {
        names(
            || check(StepSlip::None, LoopSlip::FakeLosses),
            "train called step 0 times",
        );
    }

    #[test]
    fn lab09_not_carrying_the_state() {
        names(
            || check(StepSlip::None, LoopSlip::NoCarry),
            "not carrying the hidden state between chunks",
        );
    }

    #[test]
    fn lab09_carrying_the_wrong_steps_state() {
        names(
            || check(StepSlip::FirstStepState, LoopSlip::None),
            "the state after step 1 of its 6, not after its last",
        );
    }

    #[test]
    fn lab09_training_four_times_longer() {
        names(
            || check(StepSlip::None, LoopSlip::FourTimesLonger),
            "train called step 2000 times, but it was asked for steps = 500",
        );
    }

    #[test]
    fn lab09_no_clipping() {
        names(
            || check(StepSlip::NoClip, LoopSlip::None),
            "Likely mistake: no gradient clipping",
        );
    }
}

#[test]
fn lab05_relative_error_sum_of_maxima() {
    names(
        || {
            lab05::check_relative_error(|a, n| {
                let diff = a
                    .iter()
                    .zip(n.iter())
                    .map(|(a, n)| (a - n).abs())
                    .fold(0.0, f64::max);
                let max_a = a.iter().map(|v| v.abs()).fold(0.0, f64::max);
                let max_n = n.iter().map(|v| v.abs()).fold(0.0, f64::max);
                diff / (max_a + max_n).max(1e-8)
            })
        },
        "adding the two tensors' maxima",
    );
}

// ---------------------------------------------------------------- mistakes named by the data-driven checks

#[test]
fn lab01_sigmoid_instead_of_tanh() {
    names(
        || {
            lab01::check_elman_step(|x, h, w_ih, w_hh, b_ih, b_hh| {
                (x.dot(&w_ih.t()) + b_ih + h.dot(&w_hh.t()) + b_hh).mapv(rnn::activation::sigmoid)
            })
        },
        "the wrong activation (you applied the sigmoid σ)",
    );
}

#[test]
fn lab01_ignoring_the_input() {
    names(
        || {
            lab01::check_elman_step(|_, h, _, w_hh, b_ih, b_hh| {
                (h.dot(&w_hh.t()) + b_ih + b_hh).mapv(f64::tanh)
            })
        },
        "ignoring the input x",
    );
}

#[test]
fn lab02_starting_from_zeros() {
    names(
        || {
            lab02::check_unroll(|xs, _h0, w_ih, w_hh, b_ih, b_hh| {
                let (t_len, b, _) = xs.dim();
                let mut hs = Array3::zeros((t_len, b, w_hh.nrows()));
                let mut h = Array2::zeros((b, w_hh.nrows())); // h0 never read
                for t in 0..t_len {
                    let x = xs.index_axis(Axis(0), t).to_owned();
                    h = step_ok(&x, &h, (w_ih, w_hh, b_ih, b_hh));
                    hs.index_axis_mut(Axis(0), t).assign(&h);
                }
                hs
            })
        },
        "ignoring h0 (starting from zeros)",
    );
}

#[test]
fn lab03_softmax_over_the_wrong_axis() {
    names(
        || {
            lab03::check_softmax(|z| {
                let m = z.map_axis(Axis(0), |c| c.fold(f64::NEG_INFINITY, |a, &b| a.max(b)));
                let e = (z - &m.insert_axis(Axis(0))).mapv(f64::exp);
                let sums = e.sum_axis(Axis(0)).insert_axis(Axis(0));
                &e / &sums
            })
        },
        "normalising over the wrong axis",
    );
}

#[test]
fn lab03_overflowed_log_sum_exp_is_not_called_an_underflow() {
    let msg = caught(|| {
        lab03::check_cross_entropy(|z, y| {
            let n = z.nrows() as f64;
            // log-sum-exp without the max: exp(1000) = inf
            let loss = y
                .iter()
                .enumerate()
                .map(|(i, &t)| z.row(i).mapv(f64::exp).sum().ln() - z[[i, t]])
                .sum::<f64>()
                / n;
            let mut d = learner::softmax(z);
            for (i, &t) in y.iter().enumerate() {
                d[[i, t]] -= 1.0;
            }
            (loss, d / n)
        })
    });
    println!("{msg}");
    assert!(
        msg.contains("Likely mistake: an overflowed log-sum-exp"),
        "{msg}"
    );
    assert!(!msg.contains("underflow"), "{msg}");
}

#[test]
fn lab03_gradient_check_waits_for_the_loss() {
    names(
        || {
            lab03::check_gradient_numerically(|z, y| {
                let (loss, d) = learner::cross_entropy(z, y);
                (2.0 * loss, d) // a wrong loss, whose finite differences the right gradient does not match
            })
        },
        "Fix the loss first",
    );
}

#[test]
fn lab04_transposed_weight_in_the_backward() {
    let msg = caught(|| {
        lab04::check_step_backward(|x, hp, h, w_ih, w_hh, dh, g| {
            let da = dh * &h.mapv(|v| 1.0 - v * v);
            g.w_ih += &da.t().dot(x);
            g.w_hh += &da.t().dot(hp);
            g.b_ih += &da.sum_axis(Axis(0));
            g.b_hh += &da.sum_axis(Axis(0));
            (da.dot(&w_ih.t()), da.dot(w_hh)) // forward habit: .t()
        })
    });
    println!("{msg}");
    assert!(
        msg.contains("Likely mistake: multiplying by the transposed weight (in dx"),
        "{msg}"
    );
    assert!(
        !msg.contains("x.dot(&w_ih.t())"),
        "forward advice in a backward:\n{msg}"
    );
}

#[test]
fn lab04_tanh_derivative_at_h_prev() {
    names(
        || {
            lab04::check_step_backward(|x, hp, _h, w_ih, w_hh, dh, g| {
                let da = dh * &hp.mapv(|v| 1.0 - v * v);
                g.w_ih += &da.t().dot(x);
                g.w_hh += &da.t().dot(hp);
                g.b_ih += &da.sum_axis(Axis(0));
                g.b_hh += &da.sum_axis(Axis(0));
                (da.dot(w_ih), da.dot(w_hh))
            })
        },
        "you used 1 - h_prev² instead of 1 - h²",
    );
}

#[test]
fn lab04_bptt_waits_for_the_step() {
    let no_tanh = |x: &Array2<f64>,
                   hp: &Array2<f64>,
                   _h: &Array2<f64>,
                   w_ih: &Array2<f64>,
                   w_hh: &Array2<f64>,
                   dh: &Array2<f64>,
                   g: &mut Grads| {
        g.w_ih += &dh.t().dot(x);
        g.w_hh += &dh.t().dot(hp);
        g.b_ih += &dh.sum_axis(Axis(0));
        g.b_hh += &dh.sum_axis(Axis(0));
        (dh.dot(w_ih), dh.dot(w_hh))
    };
    let msg = caught(|| {
        lab04::check_bptt(no_tanh, |xs, h0, hs, w_ih, w_hh, dys| {
            bptt(xs, h0, hs, w_ih, w_hh, dys, true, false)
        })
    });
    println!("{msg}");
    assert!(msg.contains("Fix elman_step_backward first"), "{msg}");
    assert!(
        !msg.contains("Likely mistake"),
        "a second diagnosis:\n{msg}"
    );
}

#[test]
fn lab06_rescaling_below_the_threshold() {
    names(
        || {
            lab06::check_clip_by_global_norm(|grads, max_norm| {
                let total = grads
                    .iter()
                    .map(|g| g.iter().map(|v| v * v).sum::<f64>())
                    .sum::<f64>()
                    .sqrt();
                for g in grads.iter_mut() {
                    g.mapv_inplace(|v| v * max_norm / (total + 1e-6)); // always, even if total < max_norm
                }
                total
            })
        },
        "rescaling even when the norm is below max_norm",
    );
}

mod gated {
    //! An LSTM and a GRU step as a learner writes them, with one switch each for a slip in the backward.

    use labcheck::Grads;
    use ndarray::{Array1, Array2, Axis, s};
    use rnn::activation::sigmoid;

    pub struct LstmCache {
        x: Array2<f64>,
        h_prev: Array2<f64>,
        c_prev: Array2<f64>,
        gates: [Array2<f64>; 4],
        tanh_c: Array2<f64>,
    }

    pub fn lstm_step(
        x: &Array2<f64>,
        h_prev: &Array2<f64>,
        c_prev: &Array2<f64>,
        w_ih: &Array2<f64>,
        w_hh: &Array2<f64>,
        b_ih: &Array1<f64>,
        b_hh: &Array1<f64>,
    ) -> (Array2<f64>, Array2<f64>, LstmCache) {
        let n = h_prev.ncols();
        let a = x.dot(&w_ih.t()) + b_ih + h_prev.dot(&w_hh.t()) + b_hh;
        let blk = |k: usize| a.slice(s![.., k * n..(k + 1) * n]).to_owned();
        let (i, f, g, o) = (
            blk(0).mapv(sigmoid),
            blk(1).mapv(sigmoid),
            blk(2).mapv(f64::tanh),
            blk(3).mapv(sigmoid),
        );
        let c = &f * c_prev + &i * &g;
        let tanh_c = c.mapv(f64::tanh);
        let h = &o * &tanh_c;
        let cache = LstmCache {
            x: x.clone(),
            h_prev: h_prev.clone(),
            c_prev: c_prev.clone(),
            gates: [i, f, g, o],
            tanh_c,
        };
        (h, c, cache)
    }

    /// `h_path = false` forgets dh ⊙ o ⊙ (1 - tanh²(c)) in dc_total; `transposed` writes dx = da·W_ihᵀ.
    pub fn lstm_step_backward(
        cache: &LstmCache,
        w_ih: &Array2<f64>,
        w_hh: &Array2<f64>,
        dh: &Array2<f64>,
        dc: &Array2<f64>,
        grads: &mut Grads,
        h_path: bool,
        transposed: bool,
    ) -> (Array2<f64>, Array2<f64>, Array2<f64>) {
        let [i, f, g, o] = &cache.gates;
        let dc_total = if h_path {
            dc + &(dh * o * &cache.tanh_c.mapv(|t| 1.0 - t * t))
        } else {
            dc.clone()
        };
        let da_o = dh * &cache.tanh_c * &o.mapv(|v| v * (1.0 - v));
        let da_i = &dc_total * g * &i.mapv(|v| v * (1.0 - v));
        let da_f = &dc_total * &cache.c_prev * &f.mapv(|v| v * (1.0 - v));
        let da_g = &dc_total * i * &g.mapv(|v| 1.0 - v * v);
        let da = ndarray::concatenate(
            Axis(1),
            &[da_i.view(), da_f.view(), da_g.view(), da_o.view()],
        )
        .unwrap();
        grads.w_ih += &da.t().dot(&cache.x);
        grads.w_hh += &da.t().dot(&cache.h_prev);
        grads.b_ih += &da.sum_axis(Axis(0));
        grads.b_hh += &da.sum_axis(Axis(0));
        let dx = if transposed {
            da.dot(&w_ih.t())
        } else {
            da.dot(w_ih)
        };
        (dx, da.dot(w_hh), &dc_total * f)
    }

    pub struct GruCache {
        x: Array2<f64>,
        h_prev: Array2<f64>,
        r: Array2<f64>,
        z: Array2<f64>,
        n: Array2<f64>,
        gh_n: Array2<f64>,
    }

    pub fn gru_step(
        x: &Array2<f64>,
        h_prev: &Array2<f64>,
        w_ih: &Array2<f64>,
        w_hh: &Array2<f64>,
        b_ih: &Array1<f64>,
        b_hh: &Array1<f64>,
    ) -> (Array2<f64>, GruCache) {
        let hsz = h_prev.ncols();
        let gi = x.dot(&w_ih.t()) + b_ih;
        let gh = h_prev.dot(&w_hh.t()) + b_hh;
        let blk = |a: &Array2<f64>, k: usize| a.slice(s![.., k * hsz..(k + 1) * hsz]).to_owned();
        let r = (blk(&gi, 0) + blk(&gh, 0)).mapv(sigmoid);
        let z = (blk(&gi, 1) + blk(&gh, 1)).mapv(sigmoid);
        let gh_n = blk(&gh, 2);
        let n = (blk(&gi, 2) + &r * &gh_n).mapv(f64::tanh);
        let h = (1.0 - &z) * &n + &z * h_prev;
        let cache = GruCache {
            x: x.clone(),
            h_prev: h_prev.clone(),
            r,
            z,
            n,
            gh_n,
        };
        (h, cache)
    }

    /// `direct = false` forgets the direct path dh ⊙ z in dh_prev.
    pub fn gru_step_backward(
        c: &GruCache,
        w_ih: &Array2<f64>,
        w_hh: &Array2<f64>,
        dh: &Array2<f64>,
        grads: &mut Grads,
        direct: bool,
    ) -> (Array2<f64>, Array2<f64>) {
        let dn = dh * &(1.0 - &c.z);
        let dz = dh * &(&c.h_prev - &c.n);
        let da_n = &dn * &c.n.mapv(|v| 1.0 - v * v);
        let da_r = &da_n * &c.gh_n * &c.r.mapv(|v| v * (1.0 - v));
        let da_z = &dz * &c.z.mapv(|v| v * (1.0 - v));
        let dgi = ndarray::concatenate(Axis(1), &[da_r.view(), da_z.view(), da_n.view()]).unwrap();
        let da_n_r = &da_n * &c.r;
        let dgh =
            ndarray::concatenate(Axis(1), &[da_r.view(), da_z.view(), da_n_r.view()]).unwrap();
        grads.w_ih += &dgi.t().dot(&c.x);
        grads.b_ih += &dgi.sum_axis(Axis(0));
        grads.w_hh += &dgh.t().dot(&c.h_prev);
        grads.b_hh += &dgh.sum_axis(Axis(0));
        let dh_prev = if direct {
            dh * &c.z + dgh.dot(w_hh)
        } else {
            dgh.dot(w_hh)
        };
        (dgi.dot(w_ih), dh_prev)
    }
}

#[test]
fn lab07_correct_backward_passes() {
    lab07::check_lstm_backward(gated::lstm_step, |c, wi, wh, dh, dc, g| {
        gated::lstm_step_backward(c, wi, wh, dh, dc, g, true, false)
    });
}

#[test]
fn lab07_forgetting_the_path_from_h_into_c() {
    let msg = caught(|| {
        lab07::check_lstm_backward(gated::lstm_step, |c, wi, wh, dh, dc, g| {
            gated::lstm_step_backward(c, wi, wh, dh, dc, g, false, false)
        })
    });
    println!("{msg}");
    assert!(
        msg.contains("Likely mistake: forgetting the path from h into c"),
        "{msg}"
    );
    assert!(!msg.contains("don't overwrite"), "{msg}");
}

#[test]
fn lab07_shape_panic_in_the_backward_gets_backward_advice() {
    let msg = caught(|| {
        lab07::check_lstm_backward(gated::lstm_step, |c, wi, wh, dh, dc, g| {
            gated::lstm_step_backward(c, wi, wh, dh, dc, g, true, true)
        })
    });
    println!("{msg}");
    assert!(msg.contains("A shape mismatch in a backward"), "{msg}");
    assert!(
        !msg.contains("x.dot(&w_ih.t())"),
        "forward advice in a backward:\n{msg}"
    );
}

#[test]
fn lab07_backward_waits_for_the_forward() {
    let msg = caught(|| {
        lab07::check_lstm_backward(
            |x, h, c, w_ih, w_hh, b_ih, b_hh| {
                let (_, c_new, cache) = gated::lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh);
                let (h_ifog, _) = learner::lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh, [0, 1, 3, 2]);
                (h_ifog, c_new, cache)
            },
            |c, wi, wh, dh, dc, g| gated::lstm_step_backward(c, wi, wh, dh, dc, g, true, false),
        )
    });
    println!("{msg}");
    assert!(msg.contains("Fix the forward first"), "{msg}");
    assert!(
        !msg.contains("Likely mistake"),
        "a second diagnosis:\n{msg}"
    );
}

#[test]
fn lab07_forgetting_the_forget_gate() {
    names(
        || {
            lab07::check_lstm_forward(|x, h, c, w_ih, w_hh, b_ih, b_hh| {
                let n = h.ncols();
                let a = x.dot(&w_ih.t()) + b_ih + h.dot(&w_hh.t()) + b_hh;
                let blk = |k: usize| a.slice(s![.., k * n..(k + 1) * n]).to_owned();
                let i = blk(0).mapv(rnn::activation::sigmoid);
                let g = blk(2).mapv(f64::tanh);
                let o = blk(3).mapv(rnn::activation::sigmoid);
                let c_new = c + &(&i * &g); // f never used
                (&o * &c_new.mapv(f64::tanh), c_new, ())
            })
        },
        "forgetting the forget gate",
    );
}

#[test]
fn lab08_correct_backward_passes() {
    lab08::check_gru_backward(gated::gru_step, |c, wi, wh, dh, g| {
        gated::gru_step_backward(c, wi, wh, dh, g, true)
    });
}

#[test]
fn lab08_forgetting_the_direct_path() {
    names(
        || {
            lab08::check_gru_backward(gated::gru_step, |c, wi, wh, dh, g| {
                gated::gru_step_backward(c, wi, wh, dh, g, false)
            })
        },
        "forgetting the direct path dh ⊙ z in dh_prev",
    );
}

#[test]
fn lab05_checker_waits_for_the_relative_error() {
    names(
        || {
            lab05::check_checker_catches_a_bug(
                |f, x, _h| rnn::gradcheck::numeric_gradient(x, |v| f(v)),
                |a, n| {
                    // the absolute value forgotten: a gradient that is too *large* looks perfect
                    let diff = a
                        .iter()
                        .zip(n.iter())
                        .map(|(a, n)| n - a)
                        .fold(0.0, f64::max);
                    let scale = a
                        .iter()
                        .zip(n.iter())
                        .map(|(a, n)| a.abs() + n.abs())
                        .fold(0.0, f64::max);
                    diff / scale.max(1e-8)
                },
            )
        },
        "Fix relative_error first",
    );
}

// ---------------------------------------------------------------- lab 10: LSTM BPTT over a sequence

mod lstm_seq {
    //! Lab 10's given step functions, and a BPTT loop with one switch per classic mistake.

    use labcheck::Grads;
    use ndarray::{Array1, Array2, Array3, Axis, s};
    use rnn::activation::sigmoid;

    pub struct Cache {
        x: Array2<f64>,
        h_prev: Array2<f64>,
        c_prev: Array2<f64>,
        i: Array2<f64>,
        f: Array2<f64>,
        g: Array2<f64>,
        o: Array2<f64>,
        tanh_c: Array2<f64>,
    }

    pub fn step(
        x: &Array2<f64>,
        h_prev: &Array2<f64>,
        c_prev: &Array2<f64>,
        w_ih: &Array2<f64>,
        w_hh: &Array2<f64>,
        b_ih: &Array1<f64>,
        b_hh: &Array1<f64>,
    ) -> (Array2<f64>, Array2<f64>, Cache) {
        let n = h_prev.ncols();
        let a = x.dot(&w_ih.t()) + b_ih + h_prev.dot(&w_hh.t()) + b_hh;
        let blk = |k: usize| a.slice(s![.., k * n..(k + 1) * n]).to_owned();
        let (i, f) = (blk(0).mapv(sigmoid), blk(1).mapv(sigmoid));
        let (g, o) = (blk(2).mapv(f64::tanh), blk(3).mapv(sigmoid));
        let c = &f * c_prev + &i * &g;
        let tanh_c = c.mapv(f64::tanh);
        let h = &o * &tanh_c;
        let cache = Cache {
            x: x.clone(),
            h_prev: h_prev.clone(),
            c_prev: c_prev.clone(),
            i,
            f,
            g,
            o,
            tanh_c,
        };
        (h, c, cache)
    }

    pub fn gates_backward(
        k: &Cache,
        w_ih: &Array2<f64>,
        w_hh: &Array2<f64>,
        dh: &Array2<f64>,
        dc: &Array2<f64>,
    ) -> (Grads, Array2<f64>, Array2<f64>) {
        let da_o = dh * &k.tanh_c * &k.o.mapv(|v| v * (1.0 - v));
        let da_i = dc * &k.g * &k.i.mapv(|v| v * (1.0 - v));
        let da_f = dc * &k.c_prev * &k.f.mapv(|v| v * (1.0 - v));
        let da_g = dc * &k.i * &k.g.mapv(|v| 1.0 - v * v);
        let da = ndarray::concatenate(
            Axis(1),
            &[da_i.view(), da_f.view(), da_g.view(), da_o.view()],
        )
        .unwrap();
        let db = da.sum_axis(Axis(0));
        let g = Grads {
            w_ih: da.t().dot(&k.x),
            w_hh: da.t().dot(&k.h_prev),
            b_ih: db.clone(),
            b_hh: db,
        };
        (g, da.dot(w_ih), da.dot(w_hh))
    }

    /// One classic mistake in the loop, or none.
    #[derive(Clone, Copy, PartialEq)]
    pub enum Slip {
        None,
        DcWithoutF,
        DcResetEachStep,
        LastStepOnly,
        NoDhNext,
        Overwrite,
        ForwardInTime,
        ZeroFinalGrad,
    }

    pub fn bptt(
        caches: &[Cache],
        w_ih: &Array2<f64>,
        w_hh: &Array2<f64>,
        dys: &Array3<f64>,
        dh_last: &Array2<f64>,
        dc_last: &Array2<f64>,
        slip: Slip,
    ) -> (Grads, Array3<f64>, Array2<f64>, Array2<f64>) {
        let (t_len, b, h) = dys.dim();
        let d = w_ih.ncols();
        let mut grads = Grads::zeros(4 * h, d, h);
        let mut dxs = Array3::zeros((t_len, b, d));
        let (mut dh_next, mut dc_next) = if slip == Slip::ZeroFinalGrad {
            (Array2::zeros((b, h)), Array2::zeros((b, h)))
        } else {
            (dh_last.clone(), dc_last.clone())
        };
        let order: Vec<usize> = if slip == Slip::ForwardInTime {
            (0..t_len).collect()
        } else {
            (0..t_len).rev().collect()
        };
        for t in order {
            let k = &caches[t];
            let dh = match slip {
                Slip::NoDhNext => dys.index_axis(Axis(0), t).to_owned(),
                Slip::LastStepOnly if t + 1 < t_len => dh_next.clone(),
                _ => &dys.index_axis(Axis(0), t) + &dh_next,
            };
            let dc = &dc_next + &(&dh * &k.o * &k.tanh_c.mapv(|v| 1.0 - v * v));
            let (g, dx, dh_prev) = gates_backward(k, w_ih, w_hh, &dh, &dc);
            if slip == Slip::Overwrite {
                grads = g;
            } else {
                grads.w_ih += &g.w_ih;
                grads.w_hh += &g.w_hh;
                grads.b_ih += &g.b_ih;
                grads.b_hh += &g.b_hh;
            }
            dxs.index_axis_mut(Axis(0), t).assign(&dx);
            dh_next = dh_prev;
            dc_next = match slip {
                Slip::DcWithoutF => dc,
                Slip::DcResetEachStep => Array2::zeros((b, h)),
                _ => &dc * &k.f,
            };
        }
        (grads, dxs, dh_next, dc_next)
    }
}

fn lab10_with(slip: lstm_seq::Slip) {
    lab10::check_lstm_bptt(
        lstm_seq::step,
        lstm_seq::gates_backward,
        move |c, wi, wh, dys, dh, dc| lstm_seq::bptt(c, wi, wh, dys, dh, dc, slip),
    );
}

#[test]
fn lab10_correct_bptt_passes() {
    lab10_with(lstm_seq::Slip::None);
}

#[test]
fn lab10_dc_without_the_forget_gate() {
    names(
        || lab10_with(lstm_seq::Slip::DcWithoutF),
        lab10::DC_WITHOUT_F,
    );
}

#[test]
fn lab10_dc_reset_each_step() {
    names(
        || lab10_with(lstm_seq::Slip::DcResetEachStep),
        lab10::DC_DROPPED,
    );
}

#[test]
fn lab10_dc_ignored_everywhere() {
    // dc_next never used: (7.10) written as dc = dh ⊙ o ⊙ (1 - tanh²(c)).
    names(
        || {
            lab10::check_lstm_bptt(
                lstm_seq::step,
                lstm_seq::gates_backward,
                |c, wi, wh, dys, dh, _dc| {
                    let zero = ndarray::Array2::zeros(dh.raw_dim());
                    lstm_seq::bptt(c, wi, wh, dys, dh, &zero, lstm_seq::Slip::DcResetEachStep)
                },
            )
        },
        lab10::DC_DROPPED,
    );
}

#[test]
fn lab10_gradient_of_the_last_step_only() {
    names(
        || lab10_with(lstm_seq::Slip::LastStepOnly),
        lab10::LAST_ONLY,
    );
}

#[test]
fn lab10_forgetting_dh_next() {
    names(|| lab10_with(lstm_seq::Slip::NoDhNext), lab04::NO_DH_NEXT);
}

#[test]
fn lab10_overwriting_parameter_gradients() {
    names(|| lab10_with(lstm_seq::Slip::Overwrite), lab04::OVERWRITE);
}

#[test]
fn lab10_looping_forward_in_time() {
    names(
        || lab10_with(lstm_seq::Slip::ForwardInTime),
        lab10::FORWARD_IN_TIME,
    );
}

#[test]
fn lab10_ignoring_the_final_state_gradient() {
    names(
        || lab10_with(lstm_seq::Slip::ZeroFinalGrad),
        lab10::NO_FINAL_GRAD,
    );
}

#[test]
fn lab10_bptt_waits_for_the_given_step() {
    // The given helper edited: dx through W_ihᵀ... here, the output gate's gradient dropped.
    let msg = caught(|| {
        lab10::check_lstm_bptt(
            lstm_seq::step,
            |k, wi, wh, dh, dc| lstm_seq::gates_backward(k, wi, wh, &(dh * 0.5), dc),
            |c, wi, wh, dys, dh, dc| lstm_seq::bptt(c, wi, wh, dys, dh, dc, lstm_seq::Slip::None),
        )
    });
    println!("{msg}");
    assert!(msg.contains("Fix lstm_gates_backward"), "{msg}");
    assert!(
        !msg.contains("Likely mistake"),
        "a second diagnosis:\n{msg}"
    );
}

#[test]
fn lab10_bptt_waits_for_the_forward() {
    let msg = caught(|| {
        lab10::check_lstm_bptt(
            |x, h, c, w_ih, w_hh, b_ih, b_hh| {
                let (h_new, c_new, cache) = lstm_seq::step(x, h, c, w_ih, w_hh, b_ih, b_hh);
                (h_new.mapv(|v| v * 1.01), c_new, cache)
            },
            lstm_seq::gates_backward,
            |c, wi, wh, dys, dh, dc| lstm_seq::bptt(c, wi, wh, dys, dh, dc, lstm_seq::Slip::None),
        )
    });
    println!("{msg}");
    assert!(msg.contains("Fix the forward first"), "{msg}");
}

// ---------------------------------------------------------------- lab 11: GRU BPTT over a sequence

mod gru_seq {
    //! Lab 11's given forward, a step backward with one switch per classic step mistake, and a BPTT loop with
    //! one switch per classic loop mistake.

    use labcheck::Grads;
    use ndarray::{Array1, Array2, Array3, Axis, s};
    use rnn::activation::sigmoid;

    pub struct Cache {
        x: Array2<f64>,
        h_prev: Array2<f64>,
        r: Array2<f64>,
        z: Array2<f64>,
        n: Array2<f64>,
        q: Array2<f64>,
    }

    pub fn step(
        x: &Array2<f64>,
        h_prev: &Array2<f64>,
        w_ih: &Array2<f64>,
        w_hh: &Array2<f64>,
        b_ih: &Array1<f64>,
        b_hh: &Array1<f64>,
    ) -> (Array2<f64>, Cache) {
        let hsz = h_prev.ncols();
        let gi = x.dot(&w_ih.t()) + b_ih;
        let gh = h_prev.dot(&w_hh.t()) + b_hh;
        let blk = |a: &Array2<f64>, k: usize| a.slice(s![.., k * hsz..(k + 1) * hsz]).to_owned();
        let r = (blk(&gi, 0) + blk(&gh, 0)).mapv(sigmoid);
        let z = (blk(&gi, 1) + blk(&gh, 1)).mapv(sigmoid);
        let q = blk(&gh, 2);
        let n = (blk(&gi, 2) + &r * &q).mapv(f64::tanh);
        let h = (1.0 - &z) * &n + &z * h_prev;
        let cache = Cache {
            x: x.clone(),
            h_prev: h_prev.clone(),
            r,
            z,
            n,
            q,
        };
        (h, cache)
    }

    /// One classic mistake in the step backward, or none.
    #[derive(Clone, Copy, PartialEq)]
    pub enum StepSlip {
        None,
        FlippedZ,
        ResetBeforeMatmul,
        NoDirectPath,
        Overwrite,
    }

    pub fn step_backward(
        c: &Cache,
        w_ih: &Array2<f64>,
        w_hh: &Array2<f64>,
        dh: &Array2<f64>,
        grads: &mut Grads,
        slip: StepSlip,
    ) -> (Array2<f64>, Array2<f64>) {
        let hsz = c.h_prev.ncols();
        let flipped = slip == StepSlip::FlippedZ;
        // a learner who believes h' = z ⊙ n + (1 - z) ⊙ h
        let (dn, dz, mut direct) = if flipped {
            (dh * &c.z, dh * &(&c.n - &c.h_prev), dh * &(1.0 - &c.z))
        } else {
            (dh * &(1.0 - &c.z), dh * &(&c.h_prev - &c.n), dh * &c.z)
        };
        if slip == StepSlip::NoDirectPath {
            direct.fill(0.0);
        }
        let da_n = &dn * &c.n.mapv(|v| 1.0 - v * v);
        let da_z = &dz * &c.z.mapv(|v| v * (1.0 - v));
        let (da_r, dq, dw_hh, dprev_matmul) = if slip == StepSlip::ResetBeforeMatmul {
            // the backward of n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)
            let w_hn = w_hh.slice(s![2 * hsz.., ..]);
            let d_rh = da_n.dot(&w_hn);
            let da_r = &d_rh * &c.h_prev * &c.r.mapv(|v| v * (1.0 - v));
            direct += &(&d_rh * &c.r);
            let drz = ndarray::concatenate(Axis(1), &[da_r.view(), da_z.view()]).unwrap();
            let dw = ndarray::concatenate(
                Axis(0),
                &[
                    drz.t().dot(&c.h_prev).view(),
                    da_n.t().dot(&(&c.r * &c.h_prev)).view(),
                ],
            )
            .unwrap();
            let dprev = drz.dot(&w_hh.slice(s![..2 * hsz, ..]));
            (da_r, da_n.clone(), dw, dprev)
        } else {
            let da_r = &da_n * &c.q * &c.r.mapv(|v| v * (1.0 - v));
            let dq = &da_n * &c.r;
            let dgh =
                ndarray::concatenate(Axis(1), &[da_r.view(), da_z.view(), dq.view()]).unwrap();
            (da_r, dq, dgh.t().dot(&c.h_prev), dgh.dot(w_hh))
        };
        let dgi = ndarray::concatenate(Axis(1), &[da_r.view(), da_z.view(), da_n.view()]).unwrap();
        let dgh = ndarray::concatenate(Axis(1), &[da_r.view(), da_z.view(), dq.view()]).unwrap();
        let step = Grads {
            w_ih: dgi.t().dot(&c.x),
            w_hh: dw_hh,
            b_ih: dgi.sum_axis(Axis(0)),
            b_hh: dgh.sum_axis(Axis(0)),
        };
        if slip == StepSlip::Overwrite {
            *grads = step;
        } else {
            grads.w_ih += &step.w_ih;
            grads.w_hh += &step.w_hh;
            grads.b_ih += &step.b_ih;
            grads.b_hh += &step.b_hh;
        }
        (dgi.dot(w_ih), direct + dprev_matmul)
    }

    pub fn step_backward_ok(
        c: &Cache,
        w_ih: &Array2<f64>,
        w_hh: &Array2<f64>,
        dh: &Array2<f64>,
        grads: &mut Grads,
    ) -> (Array2<f64>, Array2<f64>) {
        step_backward(c, w_ih, w_hh, dh, grads, StepSlip::None)
    }

    /// One classic mistake in the loop, or none.
    #[derive(Clone, Copy, PartialEq)]
    pub enum Slip {
        None,
        LastStepOnly,
        NoDhNext,
        FreshGradsEachStep,
        ForwardInTime,
        ZeroFinalGrad,
    }

    pub fn bptt(
        caches: &[Cache],
        w_ih: &Array2<f64>,
        w_hh: &Array2<f64>,
        dys: &Array3<f64>,
        dh_last: &Array2<f64>,
        slip: Slip,
    ) -> (Grads, Array3<f64>, Array2<f64>) {
        let (t_len, b, h) = dys.dim();
        let d = w_ih.ncols();
        let mut grads = Grads::zeros(3 * h, d, h);
        let mut dxs = Array3::zeros((t_len, b, d));
        let mut dh_next = if slip == Slip::ZeroFinalGrad {
            Array2::zeros((b, h))
        } else {
            dh_last.clone()
        };
        let order: Vec<usize> = if slip == Slip::ForwardInTime {
            (0..t_len).collect()
        } else {
            (0..t_len).rev().collect()
        };
        for t in order {
            let dh = match slip {
                Slip::NoDhNext => dys.index_axis(Axis(0), t).to_owned(),
                Slip::LastStepOnly if t + 1 < t_len => dh_next.clone(),
                _ => &dys.index_axis(Axis(0), t) + &dh_next,
            };
            let (dx, dh_prev) = if slip == Slip::FreshGradsEachStep {
                let mut fresh = Grads::zeros(3 * h, d, h);
                let out = step_backward_ok(&caches[t], w_ih, w_hh, &dh, &mut fresh);
                grads = fresh;
                out
            } else {
                step_backward_ok(&caches[t], w_ih, w_hh, &dh, &mut grads)
            };
            dxs.index_axis_mut(Axis(0), t).assign(&dx);
            dh_next = dh_prev;
        }
        (grads, dxs, dh_next)
    }
}

fn lab11_step_with(slip: gru_seq::StepSlip) {
    lab11::check_gru_step_backward(gru_seq::step, move |c, wi, wh, dh, g| {
        gru_seq::step_backward(c, wi, wh, dh, g, slip)
    });
}

fn lab11_bptt_with(slip: gru_seq::Slip) {
    lab11::check_gru_bptt(
        gru_seq::step,
        gru_seq::step_backward_ok,
        move |c, wi, wh, dys, dh| gru_seq::bptt(c, wi, wh, dys, dh, slip),
    );
}

#[test]
fn lab11_correct_step_and_bptt_pass() {
    lab11_step_with(gru_seq::StepSlip::None);
    lab11_bptt_with(gru_seq::Slip::None);
}

#[test]
fn lab11_z_the_other_way_in_the_backward() {
    names(
        || lab11_step_with(gru_seq::StepSlip::FlippedZ),
        lab08::FLIPPED_Z,
    );
}

#[test]
fn lab11_reset_before_the_matmul_in_the_backward() {
    names(
        || lab11_step_with(gru_seq::StepSlip::ResetBeforeMatmul),
        lab08::RESET_BEFORE,
    );
}

#[test]
fn lab11_forgetting_the_direct_path() {
    names(
        || lab11_step_with(gru_seq::StepSlip::NoDirectPath),
        lab08::NO_DIRECT_PATH,
    );
}

#[test]
fn lab11_overwriting_in_the_step() {
    names(
        || lab11_step_with(gru_seq::StepSlip::Overwrite),
        lab04::OVERWRITE,
    );
}

#[test]
fn lab11_gradient_of_the_last_step_only() {
    names(
        || lab11_bptt_with(gru_seq::Slip::LastStepOnly),
        lab10::LAST_ONLY,
    );
}

#[test]
fn lab11_forgetting_dh_next() {
    names(
        || lab11_bptt_with(gru_seq::Slip::NoDhNext),
        lab04::NO_DH_NEXT,
    );
}

#[test]
fn lab11_overwriting_in_the_loop() {
    names(
        || lab11_bptt_with(gru_seq::Slip::FreshGradsEachStep),
        lab04::OVERWRITE,
    );
}

#[test]
fn lab11_looping_forward_in_time() {
    names(
        || lab11_bptt_with(gru_seq::Slip::ForwardInTime),
        lab10::FORWARD_IN_TIME,
    );
}

#[test]
fn lab11_ignoring_the_final_state_gradient() {
    names(
        || lab11_bptt_with(gru_seq::Slip::ZeroFinalGrad),
        lab10::NO_FINAL_GRAD,
    );
}

#[test]
fn lab11_bptt_waits_for_the_step() {
    let msg = caught(|| {
        lab11::check_gru_bptt(
            gru_seq::step,
            |c, wi, wh, dh, g| {
                gru_seq::step_backward(c, wi, wh, dh, g, gru_seq::StepSlip::FlippedZ)
            },
            |c, wi, wh, dys, dh| gru_seq::bptt(c, wi, wh, dys, dh, gru_seq::Slip::None),
        )
    });
    println!("{msg}");
    assert!(msg.contains("Fix gru_step_backward first"), "{msg}");
    assert!(
        !msg.contains("Likely mistake"),
        "a second diagnosis:\n{msg}"
    );
}

// ---------------------------------------------------------------- lab 12: a masked classifier

mod masked {
    //! Lab 12's given pieces and the learner's functions, with one switch per classic masking mistake.

    use labcheck::Grads;
    use labcheck::lab12::Params;
    use ndarray::{Array1, Array2, Array3, Axis, s};

    pub fn step(
        x: &Array2<f64>,
        h: &Array2<f64>,
        w_ih: &Array2<f64>,
        w_hh: &Array2<f64>,
        b_ih: &Array1<f64>,
        b_hh: &Array1<f64>,
    ) -> Array2<f64> {
        (x.dot(&w_ih.t()) + b_ih + h.dot(&w_hh.t()) + b_hh).mapv(f64::tanh)
    }

    pub fn step_backward(
        x: &Array2<f64>,
        h_prev: &Array2<f64>,
        h: &Array2<f64>,
        w_ih: &Array2<f64>,
        w_hh: &Array2<f64>,
        dh: &Array2<f64>,
        g: &mut Grads,
    ) -> (Array2<f64>, Array2<f64>) {
        let da = dh * &h.mapv(|v| 1.0 - v * v);
        g.w_ih += &da.t().dot(x);
        g.w_hh += &da.t().dot(h_prev);
        let db = da.sum_axis(Axis(0));
        g.b_ih += &db;
        g.b_hh += &db;
        (da.dot(w_ih), da.dot(w_hh))
    }

    fn mask(lengths: &[usize], t: usize) -> Array2<f64> {
        Array2::from_shape_fn(
            (lengths.len(), 1),
            |(b, _)| {
                if t < lengths[b] { 1.0 } else { 0.0 }
            },
        )
    }

    /// One classic mistake, or none.
    #[derive(Clone, Copy, PartialEq, Debug)]
    pub enum Slip {
        None,
        // forward
        NoMask,
        ZeroPads,
        // readouts
        LastAtEnd,
        MeanByT,
        MeanPadsSummed,
        MeanAllSteps,
        LastGradAtEnd,
        MeanGradByT,
        MeanGradIntoPads,
        MeanGradAtLast,
        // backward
        BwdNoMask,
        BwdCellUnmasked,
        BwdNoPassThrough,
        BwdLastStepOnly,
        BwdNoDhNext,
        BwdFreshGrads,
        // classifier
        MeanThroughLastBackward,
    }

    pub fn forward(
        xs: &Array3<f64>,
        lengths: &[usize],
        h0: &Array2<f64>,
        w_ih: &Array2<f64>,
        w_hh: &Array2<f64>,
        b_ih: &Array1<f64>,
        b_hh: &Array1<f64>,
        slip: Slip,
    ) -> Array3<f64> {
        let (t_len, b, _) = xs.dim();
        let mut hs = Array3::zeros((t_len, b, h0.ncols()));
        let mut state = h0.clone();
        for t in 0..t_len {
            let x = xs.index_axis(Axis(0), t).to_owned();
            let new = step(&x, &state, w_ih, w_hh, b_ih, b_hh);
            let m = mask(lengths, t);
            state = match slip {
                Slip::NoMask => new,
                Slip::ZeroPads => &m * &new,
                _ => &m * &new + &(1.0 - &m) * &state,
            };
            hs.index_axis_mut(Axis(0), t).assign(&state);
        }
        hs
    }

    pub fn read_last(hs: &Array3<f64>, lengths: &[usize], slip: Slip) -> Array2<f64> {
        let (t_len, b, h) = hs.dim();
        let mut out = Array2::zeros((b, h));
        for (r, &n) in lengths.iter().enumerate() {
            let t = if slip == Slip::LastAtEnd { t_len } else { n };
            out.row_mut(r).assign(&hs.slice(s![t - 1, r, ..]));
        }
        out
    }

    pub fn read_mean(hs: &Array3<f64>, lengths: &[usize], slip: Slip) -> Array2<f64> {
        let (t_len, b, h) = hs.dim();
        let mut out = Array2::zeros((b, h));
        for (r, &n) in lengths.iter().enumerate() {
            let (steps, div) = match slip {
                Slip::MeanByT => (n, t_len),
                Slip::MeanPadsSummed => (t_len, n),
                Slip::MeanAllSteps => (t_len, t_len),
                _ => (n, n),
            };
            let sum = hs.slice(s![..steps, r, ..]).sum_axis(Axis(0));
            out.row_mut(r).assign(&(sum / div as f64));
        }
        out
    }

    pub fn read_last_backward(
        d: &Array2<f64>,
        lengths: &[usize],
        t_len: usize,
        slip: Slip,
    ) -> Array3<f64> {
        let (b, h) = d.dim();
        let mut dhs = Array3::zeros((t_len, b, h));
        for (r, &n) in lengths.iter().enumerate() {
            let t = if slip == Slip::LastGradAtEnd {
                t_len
            } else {
                n
            };
            dhs.slice_mut(s![t - 1, r, ..]).assign(&d.row(r));
        }
        dhs
    }

    pub fn read_mean_backward(
        d: &Array2<f64>,
        lengths: &[usize],
        t_len: usize,
        slip: Slip,
    ) -> Array3<f64> {
        if slip == Slip::MeanGradAtLast {
            return read_last_backward(d, lengths, t_len, Slip::None);
        }
        let (b, h) = d.dim();
        let mut dhs = Array3::zeros((t_len, b, h));
        for (r, &n) in lengths.iter().enumerate() {
            let (steps, div) = match slip {
                Slip::MeanGradByT => (n, t_len),
                Slip::MeanGradIntoPads => (t_len, n),
                _ => (n, n),
            };
            let share = &d.row(r) / div as f64;
            for t in 0..steps {
                dhs.slice_mut(s![t, r, ..]).assign(&share);
            }
        }
        dhs
    }

    pub fn bptt(
        xs: &Array3<f64>,
        lengths: &[usize],
        h0: &Array2<f64>,
        hs: &Array3<f64>,
        w_ih: &Array2<f64>,
        w_hh: &Array2<f64>,
        dhs: &Array3<f64>,
        slip: Slip,
    ) -> (Grads, Array3<f64>, Array2<f64>) {
        let (t_len, b, d) = xs.dim();
        let h = w_hh.nrows();
        let mut grads = Grads::zeros(h, d, h);
        let mut dxs = Array3::zeros((t_len, b, d));
        let mut d_next = Array2::zeros((b, h));
        for t in (0..t_len).rev() {
            let x = xs.index_axis(Axis(0), t).to_owned();
            let ht = hs.index_axis(Axis(0), t).to_owned();
            let h_prev = if t == 0 {
                h0.clone()
            } else {
                hs.index_axis(Axis(0), t - 1).to_owned()
            };
            let dt = match slip {
                Slip::BwdNoDhNext => dhs.index_axis(Axis(0), t).to_owned(),
                Slip::BwdLastStepOnly if t + 1 < t_len => d_next.clone(),
                _ => &dhs.index_axis(Axis(0), t) + &d_next,
            };
            let m = mask(lengths, t);
            let seen = match slip {
                Slip::BwdNoMask | Slip::BwdCellUnmasked => dt.clone(),
                _ => &m * &dt,
            };
            let (dx, dh_prev) = if slip == Slip::BwdFreshGrads {
                let mut fresh = Grads::zeros(h, d, h);
                let out = step_backward(&x, &h_prev, &ht, w_ih, w_hh, &seen, &mut fresh);
                grads = fresh;
                out
            } else {
                step_backward(&x, &h_prev, &ht, w_ih, w_hh, &seen, &mut grads)
            };
            dxs.index_axis_mut(Axis(0), t).assign(&dx);
            d_next = match slip {
                Slip::BwdNoMask | Slip::BwdNoPassThrough => dh_prev,
                _ => &(1.0 - &m) * &dt + &dh_prev,
            };
        }
        (grads, dxs, d_next)
    }

    /// The head and the mean cross-entropy.
    fn head_loss(
        f: &Array2<f64>,
        w_y: &Array2<f64>,
        b_y: &Array1<f64>,
        labels: &[usize],
    ) -> (f64, Array2<f64>, Array2<f64>, Array1<f64>) {
        let logits = f.dot(&w_y.t()) + b_y;
        let (loss, dl) = super::learner::cross_entropy(&logits, labels);
        (loss, dl.dot(w_y), dl.t().dot(f), dl.sum_axis(Axis(0)))
    }

    pub fn classifier(
        xs: &Array3<f64>,
        lengths: &[usize],
        labels: &[usize],
        p: &Params,
        mean: bool,
        slip: Slip,
    ) -> (f64, Params, Array3<f64>) {
        let (t_len, b, _) = xs.dim();
        let h0 = Array2::zeros((b, p.w_hh.nrows()));
        let hs = forward(
            xs,
            lengths,
            &h0,
            &p.w_ih,
            &p.w_hh,
            &p.b_ih,
            &p.b_hh,
            Slip::None,
        );
        let f = if mean {
            read_mean(&hs, lengths, Slip::None)
        } else {
            read_last(&hs, lengths, Slip::None)
        };
        let (loss, d_f, dw_y, db_y) = head_loss(&f, &p.w_y, &p.b_y, labels);
        let dhs = if mean && slip != Slip::MeanThroughLastBackward {
            read_mean_backward(&d_f, lengths, t_len, Slip::None)
        } else {
            read_last_backward(&d_f, lengths, t_len, Slip::None)
        };
        let (g, dxs, _) = bptt(xs, lengths, &h0, &hs, &p.w_ih, &p.w_hh, &dhs, Slip::None);
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
}

/// Runs lab 12's whole test with one slip in the learner's code.
fn lab12_with(slip: masked::Slip) {
    lab12::check_masked_forward(masked::step, move |xs, l, h0, wi, wh, bi, bh| {
        masked::forward(xs, l, h0, wi, wh, bi, bh, slip)
    });
    lab12::check_readouts(
        move |hs, l| masked::read_last(hs, l, slip),
        move |hs, l| masked::read_mean(hs, l, slip),
        move |d, l, t| masked::read_last_backward(d, l, t, slip),
        move |d, l, t| masked::read_mean_backward(d, l, t, slip),
    );
    lab12::check_masked_bptt(masked::step_backward, move |xs, l, h0, hs, wi, wh, dhs| {
        masked::bptt(xs, l, h0, hs, wi, wh, dhs, slip)
    });
    lab12::check_classifier(move |xs, l, y, p, mean| masked::classifier(xs, l, y, p, mean, slip));
}

#[test]
fn lab12_correct_answer_passes() {
    lab12_with(masked::Slip::None);
}

#[test]
fn lab12_no_mask_in_the_forward() {
    names(|| lab12_with(masked::Slip::NoMask), lab12::NO_MASK);
}

#[test]
fn lab12_pads_reset_the_state() {
    names(|| lab12_with(masked::Slip::ZeroPads), lab12::ZERO_PADS);
}

#[test]
fn lab12_last_state_read_at_step_t_minus_1() {
    names(|| lab12_with(masked::Slip::LastAtEnd), lab12::LAST_AT_END);
}

#[test]
fn lab12_mean_divided_by_t() {
    names(|| lab12_with(masked::Slip::MeanByT), lab12::MEAN_BY_T);
}

#[test]
fn lab12_mean_sums_the_pads() {
    names(
        || lab12_with(masked::Slip::MeanPadsSummed),
        lab12::MEAN_PADS,
    );
}

#[test]
fn lab12_mean_over_all_steps() {
    names(|| lab12_with(masked::Slip::MeanAllSteps), lab12::MEAN_ALL);
}

#[test]
fn lab12_last_state_gradient_at_step_t_minus_1() {
    names(
        || lab12_with(masked::Slip::LastGradAtEnd),
        lab12::LAST_GRAD_AT_END,
    );
}

#[test]
fn lab12_mean_gradient_divided_by_t() {
    names(|| lab12_with(masked::Slip::MeanGradByT), lab12::MEAN_BY_T);
}

#[test]
fn lab12_mean_gradient_into_the_pads() {
    names(
        || lab12_with(masked::Slip::MeanGradIntoPads),
        lab12::MEAN_PADS,
    );
}

#[test]
fn lab12_mean_gradient_at_the_last_step_only() {
    names(
        || lab12_with(masked::Slip::MeanGradAtLast),
        lab12::MEAN_AS_LAST,
    );
}

#[test]
fn lab12_no_mask_in_the_backward() {
    names(|| lab12_with(masked::Slip::BwdNoMask), lab12::BWD_NO_MASK);
}

#[test]
fn lab12_gradient_into_the_pads() {
    names(
        || lab12_with(masked::Slip::BwdCellUnmasked),
        lab12::BWD_INTO_PADS,
    );
}

#[test]
fn lab12_forgetting_the_pass_through() {
    names(
        || lab12_with(masked::Slip::BwdNoPassThrough),
        lab12::NO_PASS_THROUGH,
    );
}

#[test]
fn lab12_gradient_of_the_last_step_only() {
    names(
        || lab12_with(masked::Slip::BwdLastStepOnly),
        lab10::LAST_ONLY,
    );
}

#[test]
fn lab12_forgetting_dh_next() {
    names(|| lab12_with(masked::Slip::BwdNoDhNext), lab04::NO_DH_NEXT);
}

#[test]
fn lab12_fresh_grads_at_each_step() {
    names(|| lab12_with(masked::Slip::BwdFreshGrads), lab04::OVERWRITE);
}

#[test]
fn lab12_mean_readout_through_the_last_state_backward() {
    names(
        || lab12_with(masked::Slip::MeanThroughLastBackward),
        lab12::MEAN_AS_LAST,
    );
}

#[test]
fn lab12_forward_waits_for_the_given_step() {
    let msg = caught(|| {
        lab12::check_masked_forward(
            |x, h, wi, wh, bi, bh| masked::step(x, h, wi, wh, bi, bh).mapv(|v| v * 1.01),
            |xs, l, h0, wi, wh, bi, bh| {
                masked::forward(xs, l, h0, wi, wh, bi, bh, masked::Slip::None)
            },
        )
    });
    println!("{msg}");
    assert!(msg.contains("Fix elman_step first"), "{msg}");
    assert!(
        !msg.contains("Likely mistake"),
        "a second diagnosis:\n{msg}"
    );
}

#[test]
fn lab12_bptt_waits_for_the_given_step_backward() {
    let msg = caught(|| {
        lab12::check_masked_bptt(
            |x, hp, h, wi, wh, dh, g| masked::step_backward(x, hp, h, wi, wh, &(dh * 0.5), g),
            |xs, l, h0, hs, wi, wh, dhs| {
                masked::bptt(xs, l, h0, hs, wi, wh, dhs, masked::Slip::None)
            },
        )
    });
    println!("{msg}");
    assert!(msg.contains("Fix elman_step_backward first"), "{msg}");
    assert!(
        !msg.contains("Likely mistake"),
        "a second diagnosis:\n{msg}"
    );
}

// ---------------------------------------------------------------- lab 13: greedy decoding and beam search

mod decode {
    //! Lab 13's functions as a learner writes them, with one switch per classic decoding mistake.

    use ndarray::Array1;
    use rnn::models::seq2seq::Hypothesis;
    use rnn::models::seq2seq::tokens::EOS;

    /// One classic mistake, or none.
    #[derive(Clone, Copy, PartialEq, Debug)]
    pub enum Slip {
        None,
        NoNormalisation,
        LenWithoutEos,
        KeepFinished,
        NeverFinish,
        PerHypothesisFirstK,
        PerHypothesisKeepAll,
        MaxLenPlusOne,
        MaxLenMinusOne,
        DropUnended,
        RankByLogProb,
        StopAtKFinished,
        EosLogProbForgotten,
    }

    pub fn length_normalised(log_prob: f64, len: usize, alpha: f64) -> f64 {
        log_prob / (len as f64).powf(alpha)
    }

    fn score(log_prob: f64, tokens: usize, ended: bool, alpha: f64, slip: Slip) -> f64 {
        match slip {
            Slip::NoNormalisation => log_prob,
            Slip::LenWithoutEos => length_normalised(log_prob, tokens, alpha),
            _ => length_normalised(log_prob, tokens + usize::from(ended), alpha),
        }
    }

    fn steps(max_len: usize, slip: Slip) -> usize {
        match slip {
            Slip::MaxLenPlusOne => max_len + 1,
            Slip::MaxLenMinusOne => max_len - 1,
            _ => max_len,
        }
    }

    pub fn greedy(
        next: &dyn Fn(&[usize]) -> Array1<f64>,
        max_len: usize,
        alpha: f64,
        slip: Slip,
    ) -> Hypothesis {
        let (mut tokens, mut log_prob, mut ended) = (Vec::new(), 0.0, false);
        for _ in 0..steps(max_len, slip) {
            let lp = next(&tokens);
            let mut y = 0;
            for v in 1..lp.len() {
                if lp[v] > lp[y] {
                    y = v;
                }
            }
            log_prob += lp[y];
            if y == EOS && slip != Slip::NeverFinish {
                ended = true;
                break;
            }
            tokens.push(y);
        }
        Hypothesis {
            score: score(log_prob, tokens.len(), ended, alpha, slip),
            tokens,
            log_prob,
            ended,
        }
    }

    pub fn beam(
        next: &dyn Fn(&[usize]) -> Array1<f64>,
        width: usize,
        max_len: usize,
        alpha: f64,
        slip: Slip,
    ) -> Vec<Hypothesis> {
        let n_steps = steps(max_len, slip);
        let mut live: Vec<(Vec<usize>, f64)> = vec![(vec![], 0.0)];
        let mut finished = Vec::new();
        for step in 0..n_steps {
            let mut cands: Vec<(f64, usize, usize)> = vec![];
            for (i, (prefix, lp0)) in live.iter().enumerate() {
                let mut own: Vec<(f64, usize, usize)> = next(prefix)
                    .iter()
                    .enumerate()
                    .map(|(v, &l)| (lp0 + l, i, v))
                    .collect();
                if matches!(slip, Slip::PerHypothesisFirstK | Slip::PerHypothesisKeepAll) {
                    own.sort_by(|a, b| b.0.total_cmp(&a.0));
                    own.truncate(width);
                }
                cands.extend(own);
            }
            match slip {
                Slip::PerHypothesisFirstK => cands.truncate(width),
                Slip::PerHypothesisKeepAll => {}
                _ => {
                    cands.sort_by(|a, b| b.0.total_cmp(&a.0));
                    cands.truncate(width);
                }
            }
            let last = step + 1 == n_steps;
            let mut new_live = vec![];
            for (lp, i, v) in cands {
                let mut tokens = live[i].0.clone();
                if v == EOS && slip != Slip::NeverFinish {
                    let lp_end = if slip == Slip::EosLogProbForgotten {
                        lp - next(&tokens)[EOS]
                    } else {
                        lp
                    };
                    finished.push(Hypothesis {
                        score: score(lp_end, tokens.len(), true, alpha, slip),
                        tokens: tokens.clone(),
                        log_prob: lp_end,
                        ended: true,
                    });
                    if slip != Slip::KeepFinished {
                        continue;
                    }
                }
                tokens.push(v);
                if last {
                    if slip != Slip::DropUnended {
                        finished.push(Hypothesis {
                            score: score(lp, tokens.len(), false, alpha, slip),
                            tokens,
                            log_prob: lp,
                            ended: false,
                        });
                    }
                } else {
                    new_live.push((tokens, lp));
                }
            }
            if new_live.is_empty() || (slip == Slip::StopAtKFinished && finished.len() >= width) {
                break;
            }
            live = new_live;
        }
        if slip == Slip::RankByLogProb {
            finished.sort_by(|a, b| b.log_prob.total_cmp(&a.log_prob));
        } else {
            finished.sort_by(|a, b| b.score.total_cmp(&a.score));
        }
        finished
    }
}

/// Runs lab 13's whole test with one slip in greedy decoding and one in beam search.
fn lab13_with(greedy_slip: decode::Slip, beam_slip: decode::Slip) {
    lab13::check_length_normalised(decode::length_normalised);
    lab13::check_greedy(
        move |next: &dyn Fn(&[usize]) -> ndarray::Array1<f64>, m, a| {
            decode::greedy(next, m, a, greedy_slip)
        },
    );
    lab13::check_beam_search(
        move |next: &dyn Fn(&[usize]) -> ndarray::Array1<f64>, w, m, a| {
            decode::beam(next, w, m, a, beam_slip)
        },
    );
}

fn lab13_beam(slip: decode::Slip) {
    lab13_with(decode::Slip::None, slip);
}

#[test]
fn lab13_correct_answer_passes() {
    lab13_with(decode::Slip::None, decode::Slip::None);
}

#[test]
fn lab13_length_normalised_untouched_todo() {
    names(
        || lab13::check_length_normalised(|_, _, _| todo!()),
        "Replace the `todo!()`",
    );
}

#[test]
fn lab13_length_normalised_forgotten() {
    names(
        || lab13::check_length_normalised(|lp, _, _| lp),
        lab13::NO_NORMALISATION,
    );
}

#[test]
fn lab13_greedy_without_normalisation() {
    names(
        || lab13_with(decode::Slip::NoNormalisation, decode::Slip::None),
        lab13::NO_NORMALISATION,
    );
}

#[test]
fn lab13_greedy_len_without_eos() {
    names(
        || lab13_with(decode::Slip::LenWithoutEos, decode::Slip::None),
        lab13::LEN_WITHOUT_EOS,
    );
}

#[test]
fn lab13_greedy_not_stopping_at_eos() {
    names(
        || lab13_with(decode::Slip::NeverFinish, decode::Slip::None),
        lab13::NOT_STOPPING,
    );
}

#[test]
fn lab13_greedy_off_by_one() {
    names(
        || lab13_with(decode::Slip::MaxLenPlusOne, decode::Slip::None),
        lab13::OFF_BY_ONE,
    );
    names(
        || lab13_with(decode::Slip::MaxLenMinusOne, decode::Slip::None),
        lab13::OFF_BY_ONE,
    );
}

#[test]
fn lab13_beam_without_normalisation() {
    names(
        || lab13_beam(decode::Slip::NoNormalisation),
        lab13::NO_NORMALISATION,
    );
}

#[test]
fn lab13_beam_len_without_eos() {
    names(
        || lab13_beam(decode::Slip::LenWithoutEos),
        lab13::LEN_WITHOUT_EOS,
    );
}

#[test]
fn lab13_beam_keeps_finished_hypotheses() {
    names(
        || lab13_beam(decode::Slip::KeepFinished),
        lab13::KEEP_FINISHED,
    );
}

#[test]
fn lab13_beam_never_finishes() {
    names(
        || lab13_beam(decode::Slip::NeverFinish),
        lab13::KEEP_FINISHED,
    );
}

#[test]
fn lab13_beam_top_k_per_hypothesis() {
    names(
        || lab13_beam(decode::Slip::PerHypothesisFirstK),
        lab13::PER_HYPOTHESIS,
    );
    names(
        || lab13_beam(decode::Slip::PerHypothesisKeepAll),
        lab13::PER_HYPOTHESIS,
    );
}

#[test]
fn lab13_beam_off_by_one_max_len() {
    names(
        || lab13_beam(decode::Slip::MaxLenPlusOne),
        lab13::OFF_BY_ONE,
    );
    names(
        || lab13_beam(decode::Slip::MaxLenMinusOne),
        lab13::OFF_BY_ONE,
    );
}

#[test]
fn lab13_beam_drops_unended() {
    names(
        || lab13_beam(decode::Slip::DropUnended),
        lab13::DROP_UNENDED,
    );
}

#[test]
fn lab13_beam_ranked_by_log_prob() {
    names(
        || lab13_beam(decode::Slip::RankByLogProb),
        lab13::RANK_BY_LOGP,
    );
}

#[test]
fn lab13_beam_stops_at_k_finished() {
    names(
        || lab13_beam(decode::Slip::StopAtKFinished),
        lab13::STOP_AT_K,
    );
}

#[test]
fn lab13_beam_log_prob_is_not_teacher_forcing() {
    names(
        || lab13_beam(decode::Slip::EosLogProbForgotten),
        "teacher forcing gives",
    );
}

// ---------------------------------------------------------------- lab 14: attention

mod attn {
    //! Lab 14's functions as a learner writes them, with one switch per classic attention mistake.

    use labcheck::lab14::{AttnGrads, AttnParams};
    use ndarray::{Array2, Array3, Axis};

    /// One classic mistake, or none.
    #[derive(Clone, Copy, PartialEq, Debug)]
    pub enum Slip {
        None,
        SoftmaxOverPads,
        TransposedWk,
        NoTanh,
        NoSubtraction,
        NoTanhDerivative,
        NoDirectDkeys,
        TransposedWkBackward,
    }

    pub fn scores(
        p: &AttnParams,
        q: &Array2<f64>,
        keys: &Array3<f64>,
        slip: Slip,
    ) -> (Array3<f64>, Array2<f64>) {
        let (s_len, b, _) = keys.dim();
        let qp = q.dot(&p.w_q.t()) + &p.b_q;
        let mut u = Array3::zeros((s_len, b, p.w_q.nrows()));
        for s in 0..s_len {
            let ks = keys.index_axis(Axis(0), s);
            let kp = if slip == Slip::TransposedWk {
                ks.dot(&p.w_k)
            } else {
                ks.dot(&p.w_k.t())
            };
            let a = &qp + &kp;
            let us = if slip == Slip::NoTanh {
                a
            } else {
                a.mapv(f64::tanh)
            };
            u.index_axis_mut(Axis(0), s).assign(&us);
        }
        let e = (&u * &p.v.row(0)).sum_axis(Axis(2));
        (u, e)
    }

    pub fn masked_softmax(e: &Array2<f64>, lengths: &[usize], slip: Slip) -> Array2<f64> {
        let mut alpha = Array2::zeros(e.raw_dim());
        for (b, &len) in lengths.iter().enumerate() {
            let n = if slip == Slip::SoftmaxOverPads {
                e.nrows()
            } else {
                len
            };
            let m = (0..n).map(|s| e[[s, b]]).fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = (0..n).map(|s| (e[[s, b]] - m).exp()).sum();
            for s in 0..n {
                alpha[[s, b]] = (e[[s, b]] - m).exp() / z;
            }
        }
        alpha
    }

    pub fn context(alpha: &Array2<f64>, keys: &Array3<f64>) -> Array2<f64> {
        let (s_len, b, k) = keys.dim();
        let mut c = Array2::zeros((b, k));
        for s in 0..s_len {
            c += &(&keys.index_axis(Axis(0), s) * &alpha.row(s).insert_axis(Axis(1)));
        }
        c
    }

    pub fn backward(
        p: &AttnParams,
        q: &Array2<f64>,
        keys: &Array3<f64>,
        u: &Array3<f64>,
        alpha: &Array2<f64>,
        dc: &Array2<f64>,
        slip: Slip,
    ) -> AttnGrads {
        let (s_len, b, k) = keys.dim();
        let a = p.w_q.nrows();
        let mut d_alpha = Array2::zeros((s_len, b));
        let mut dkeys = Array3::zeros((s_len, b, k));
        for s in 0..s_len {
            let ks = keys.index_axis(Axis(0), s);
            d_alpha.row_mut(s).assign(&(&ks * dc).sum_axis(Axis(1)));
            if slip != Slip::NoDirectDkeys {
                dkeys
                    .index_axis_mut(Axis(0), s)
                    .assign(&(dc * &alpha.row(s).insert_axis(Axis(1))));
            }
        }
        let de = if slip == Slip::NoSubtraction {
            alpha * &d_alpha
        } else {
            let mean = (alpha * &d_alpha).sum_axis(Axis(0));
            alpha * &(&d_alpha - &mean.insert_axis(Axis(0)))
        };
        let mut dv = Array2::zeros((1, a));
        let mut dw_k = Array2::zeros((a, k));
        let mut da_q = Array2::zeros((b, a));
        for s in 0..s_len {
            let us = u.index_axis(Axis(0), s);
            let de_s = de.row(s).insert_axis(Axis(1));
            dv += &(&us * &de_s).sum_axis(Axis(0)).insert_axis(Axis(0));
            let mut da = &de_s * &p.v.row(0);
            if slip != Slip::NoTanhDerivative {
                da = &da * &us.mapv(|x| 1.0 - x * x);
            }
            da_q += &da;
            let ks = keys.index_axis(Axis(0), s);
            let mut dk = dkeys.index_axis_mut(Axis(0), s);
            if slip == Slip::TransposedWkBackward {
                dw_k += &ks.t().dot(&da);
                dk += &da.dot(&p.w_k.t());
            } else {
                dw_k += &da.t().dot(&ks);
                dk += &da.dot(&p.w_k);
            }
        }
        AttnGrads {
            dv,
            dw_q: da_q.t().dot(q),
            db_q: da_q.sum_axis(Axis(0)),
            dw_k,
            dq: da_q.dot(&p.w_q),
            dkeys,
        }
    }
}

/// Runs lab 14's whole test with one slip in the learner's code.
fn lab14_with(slip: attn::Slip) {
    lab14::check_forward(
        move |p, q, k| attn::scores(p, q, k, slip),
        move |e, l| attn::masked_softmax(e, l, slip),
        attn::context,
    );
    lab14::check_backward(move |p, q, k, u, a, dc| attn::backward(p, q, k, u, a, dc, slip));
}

#[test]
fn lab14_correct_answer_passes() {
    lab14_with(attn::Slip::None);
}

#[test]
fn lab14_untouched_todo() {
    names(
        || {
            lab14::check_forward(
                |_, _, _| todo!(),
                |e, l| attn::masked_softmax(e, l, attn::Slip::None),
                attn::context,
            )
        },
        "Replace the `todo!()`",
    );
}

#[test]
fn lab14_softmax_over_the_pads() {
    names(
        || lab14_with(attn::Slip::SoftmaxOverPads),
        lab14::SOFTMAX_OVER_PADS,
    );
}

#[test]
fn lab14_transposed_w_k_in_the_forward() {
    names(
        || lab14_with(attn::Slip::TransposedWk),
        lab14::TRANSPOSED_WK,
    );
}

#[test]
fn lab14_no_tanh_in_the_scores() {
    names(|| lab14_with(attn::Slip::NoTanh), lab14::NO_TANH);
}

#[test]
fn lab14_missing_the_softmax_subtraction() {
    names(
        || lab14_with(attn::Slip::NoSubtraction),
        lab14::NO_SUBTRACTION,
    );
}

#[test]
fn lab14_forgetting_the_tanh_derivative() {
    names(
        || lab14_with(attn::Slip::NoTanhDerivative),
        lab14::NO_TANH_DERIVATIVE,
    );
}

#[test]
fn lab14_forgetting_the_direct_dkeys() {
    names(
        || lab14_with(attn::Slip::NoDirectDkeys),
        lab14::NO_DIRECT_DKEYS,
    );
}

#[test]
fn lab14_transposed_w_k_in_the_backward() {
    names(
        || lab14_with(attn::Slip::TransposedWkBackward),
        lab14::TRANSPOSED_WK,
    );
}
