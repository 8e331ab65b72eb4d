//! Lab 7: the LSTM step, forward and backward (PyTorch gate order i, f, g, o).

use ndarray::{Array1, Array2, ArrayD, Ix1, Ix2};
use rnn::cells::{Cell, Lstm, LstmOptions, State};
use rnn::gradcheck::numeric_gradient;
use rnn::params::Parameters;

use crate::reference::{self, LSTM_PYTORCH, LstmSlip};
use crate::report::{EXACT, Mistake, NUMERIC, check, check_shape, run as run_learner};
use crate::{Grads, rand1, rand2};

const LAB_FWD: &str = "lab 7 · lstm_step";
const LAB_BWD: &str = "lab 7 · lstm_step_backward";

/// The name of the classic LSTM mistake.
pub const GATE_ORDER: &str = "wrong gate order";

/// Test inputs for one LSTM step.
#[derive(Clone)]
pub struct Case {
    /// x `(B, D)`.
    pub x: Array2<f64>,
    /// h_prev `(B, H)`.
    pub h: Array2<f64>,
    /// c_prev `(B, H)`.
    pub c: Array2<f64>,
    /// weight_ih `(4H, D)`.
    pub w_ih: Array2<f64>,
    /// weight_hh `(4H, H)`.
    pub w_hh: Array2<f64>,
    /// bias_ih `(4H)`.
    pub b_ih: Array1<f64>,
    /// bias_hh `(4H)`.
    pub b_hh: Array1<f64>,
}

/// Random cases over a few shapes (B, D, H); gates of size G*H rows.
pub fn cases(gates: usize, seed: u64, with_c: bool) -> Vec<Case> {
    let mut rng = rnn::init::rng(seed);
    [(2, 3, 4), (3, 2, 2), (1, 4, 3)]
        .into_iter()
        .map(|(b, d, h)| Case {
            x: rand2(b, d, 1.0, &mut rng),
            h: rand2(b, h, 0.8, &mut rng),
            c: if with_c {
                rand2(b, h, 1.0, &mut rng)
            } else {
                Array2::zeros((b, h))
            },
            w_ih: rand2(gates * h, d, 0.8, &mut rng),
            w_hh: rand2(gates * h, h, 0.8, &mut rng),
            b_ih: rand1(gates * h, 0.6, &mut rng),
            b_hh: rand1(gates * h, 0.6, &mut rng),
        })
        .collect()
}

/// The learner's LSTM forward: `(x, h_prev, c_prev, w_ih, w_hh, b_ih, b_hh) -> (h, c, cache)`.
pub trait LstmForward<C>:
    Fn(
    &Array2<f64>,
    &Array2<f64>,
    &Array2<f64>,
    &Array2<f64>,
    &Array2<f64>,
    &Array1<f64>,
    &Array1<f64>,
) -> (Array2<f64>, Array2<f64>, C)
{
}
impl<C, F> LstmForward<C> for F where
    F: Fn(
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array1<f64>,
        &Array1<f64>,
    ) -> (Array2<f64>, Array2<f64>, C)
{
}

/// The learner's LSTM backward: `(cache, w_ih, w_hh, dh, dc, &mut grads) -> (dx, dh_prev, dc_prev)`.
pub trait LstmBackward<C>:
    Fn(
    &C,
    &Array2<f64>,
    &Array2<f64>,
    &Array2<f64>,
    &Array2<f64>,
    &mut Grads,
) -> (Array2<f64>, Array2<f64>, Array2<f64>)
{
}
impl<C, F> LstmBackward<C> for F where
    F: Fn(
        &C,
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &Array2<f64>,
        &mut Grads,
    ) -> (Array2<f64>, Array2<f64>, Array2<f64>)
{
}

/// The library's LSTM (PyTorch's: no peepholes, no coupling) with the case's weights.
pub fn library_lstm(k: &Case) -> Lstm {
    Lstm {
        weight_ih: k.w_ih.clone(),
        weight_hh: k.w_hh.clone(),
        bias_ih: k.b_ih.clone(),
        bias_hh: k.b_hh.clone(),
        weight_ci: None,
        weight_cf: None,
        weight_co: None,
        weight_gg: None,
        options: LstmOptions::default(),
    }
}

fn run(k: &Case, order: reference::LstmOrder) -> (Array2<f64>, Array2<f64>) {
    reference::lstm_step(&k.x, &k.h, &k.c, &k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh, order)
}

/// Checks the forward step against `rnn::cells::Lstm` (PyTorch's equations), naming a wrong gate order.
#[track_caller]
pub fn check_lstm_forward<C>(forward: impl LstmForward<C>) {
    for k in cases(4, 7, true) {
        let (b, h) = k.h.dim();
        let (got_h, got_c, _) = run_learner(LAB_FWD, || {
            forward(&k.x, &k.h, &k.c, &k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh)
        });
        check_shape(LAB_FWD, "h", got_h.shape(), &[b, h], "(B, H)");
        check_shape(LAB_FWD, "c", got_c.shape(), &[b, h], "(B, H)");
        let lstm = library_lstm(&k);
        let prev = State {
            h: k.h.clone(),
            c: Some(k.c.clone()),
            gates: None,
        };
        let (next, _) = lstm.forward(k.x.view(), &prev);
        let (want_h, want_c) = (next.h, next.c.expect("an LSTM state has c"));
        let orders: [(&str, reference::LstmOrder); 4] = [
            ("you read the gates as i, f, o, g", [0, 1, 3, 2]),
            ("you read the gates as f, i, g, o", [1, 0, 2, 3]),
            ("you read the gates as i, g, f, o", [0, 2, 1, 3]),
            (
                "you read the gates as i, f, g, o from the wrong blocks",
                [3, 2, 1, 0],
            ),
        ];
        let fix = "PyTorch stacks the four gates in the rows of weight_ih/weight_hh in the order i, f, g, o: rows \
                   0..H are the input gate i, H..2H the forget gate f, 2H..3H the candidate g (tanh), 3H..4H the \
                   output gate o. With the wrong order the weights of a PyTorch checkpoint land in the wrong gates.";
        for (what, got, want, which) in [("h", &got_h, &want_h, 0), ("c", &got_c, &want_c, 1)] {
            let mut ms: Vec<Mistake> = orders
                .iter()
                .map(|(n, o)| {
                    let (hh, cc) = run(&k, *o);
                    let ans = if which == 0 { hh } else { cc };
                    Mistake::new(GATE_ORDER, fix, ans.into_dyn()).with_detail(n)
                })
                .collect();
            for (name, fix, (hh, cc)) in lstm_forward_slips(&k) {
                ms.push(Mistake::new(
                    name,
                    fix,
                    if which == 0 { hh } else { cc }.into_dyn(),
                ));
            }
            if which == 0 {
                ms.push(Mistake::new(
                    "h = o ⊙ c without the tanh",
                    "The output is h = o ⊙ tanh(c): the cell state itself is unbounded, tanh squashes it.",
                    (&o_gate(&k) * &want_c).into_dyn(),
                ));
            }
            check(
                LAB_FWD,
                what,
                got.view().into_dyn(),
                want.view().into_dyn(),
                EXACT,
                &ms,
                "gates = x·W_ihᵀ + b_ih + h_prev·W_hhᵀ + b_hh (B, 4H); i = σ(block 0), f = σ(block 1), \
                 g = tanh(block 2), o = σ(block 3); c = f ⊙ c_prev + i ⊙ g; h = o ⊙ tanh(c).",
            );
        }
    }
}

/// A step's answer `(h, c)`.
type HC = (Array2<f64>, Array2<f64>);

/// Single-term changes of the LSTM forward: `(name, fix, (h, c))`.
fn lstm_forward_slips(k: &Case) -> Vec<(&'static str, &'static str, HC)> {
    let hsz = k.h.ncols();
    // (7.1)
    let a = k.x.dot(&k.w_ih.t()) + &k.b_ih + k.h.dot(&k.w_hh.t()) + &k.b_hh;
    let blk = |j: usize| a.slice(ndarray::s![.., j * hsz..(j + 1) * hsz]).to_owned();
    let sig = rnn::activation::sigmoid;
    let (i, f, g, o) = (
        blk(0).mapv(sig),
        blk(1).mapv(sig),
        blk(2).mapv(f64::tanh),
        blk(3).mapv(sig),
    );
    let out = |c: Array2<f64>| (&o * &c.mapv(f64::tanh), c);
    vec![
        (
            "forgetting the forget gate",
            "c = f ⊙ c_prev + i ⊙ g (7.6): the forget gate scales the old cell state.",
            out(&k.c + &(&i * &g)),
        ),
        (
            "forgetting the input gate",
            "c = f ⊙ c_prev + i ⊙ g (7.6): the input gate scales the candidate.",
            out(&f * &k.c + &g),
        ),
        (
            "σ where tanh belongs for the candidate g",
            "The candidate is g = tanh(block 2) (7.4), in (-1, 1); only i, f and o are sigmoids.",
            out(&f * &k.c + &(&i * &blk(2).mapv(sig))),
        ),
    ]
}

fn o_gate(k: &Case) -> Array2<f64> {
    let hsz = k.h.ncols();
    let a = k.x.dot(&k.w_ih.t()) + &k.b_ih + k.h.dot(&k.w_hh.t()) + &k.b_hh;
    a.slice(ndarray::s![.., 3 * hsz..4 * hsz])
        .mapv(rnn::activation::sigmoid)
}

/// A reference step: `case -> (h', c')`.
pub type StepFn<'a> = dyn Fn(&Case) -> (Array2<f64>, Array2<f64>) + 'a;

/// Numeric gradients of `L = Σ R ⊙ h' + Σ S ⊙ c'` for a step function `f(case) -> (h', c')`, in the order
/// w_ih, w_hh, b_ih, b_hh, x, h_prev, c_prev.
pub fn numeric_cell_grads(
    k: &Case,
    r: &Array2<f64>,
    s: &Array2<f64>,
    f: &StepFn<'_>,
) -> Vec<ArrayD<f64>> {
    let loss = |kk: &Case| {
        let (h, c) = f(kk);
        (&h * r).sum() + (&c * s).sum()
    };
    let two = |a: &ArrayD<f64>| a.clone().into_dimensionality::<Ix2>().unwrap();
    let one = |a: &ArrayD<f64>| a.clone().into_dimensionality::<Ix1>().unwrap();
    vec![
        numeric_gradient(&k.w_ih.clone().into_dyn(), |p| {
            loss(&Case {
                w_ih: two(p),
                ..k.clone()
            })
        }),
        numeric_gradient(&k.w_hh.clone().into_dyn(), |p| {
            loss(&Case {
                w_hh: two(p),
                ..k.clone()
            })
        }),
        numeric_gradient(&k.b_ih.clone().into_dyn(), |p| {
            loss(&Case {
                b_ih: one(p),
                ..k.clone()
            })
        }),
        numeric_gradient(&k.b_hh.clone().into_dyn(), |p| {
            loss(&Case {
                b_hh: one(p),
                ..k.clone()
            })
        }),
        numeric_gradient(&k.x.clone().into_dyn(), |p| {
            loss(&Case {
                x: two(p),
                ..k.clone()
            })
        }),
        numeric_gradient(&k.h.clone().into_dyn(), |p| {
            loss(&Case {
                h: two(p),
                ..k.clone()
            })
        }),
        numeric_gradient(&k.c.clone().into_dyn(), |p| {
            loss(&Case {
                c: two(p),
                ..k.clone()
            })
        }),
    ]
}

/// A single-term change of a backward: its name, its fix, and the tensors it gives (in the order of the
/// checked tensors).
pub type Variant = (&'static str, &'static str, Vec<ArrayD<f64>>);

/// The variant "overwriting the parameter gradients instead of adding to them", for a backward checked by
/// the increments it adds to `start`: `right` is the right backward's output (the four parameter increments
/// first), and a learner who assigns instead of adding leaves `increment - start` as the increment.
pub fn overwrite_variant(right: &[ArrayD<f64>], start: &Grads) -> Variant {
    let overwrite = right
        .iter()
        .zip([
            start.w_ih.clone().into_dyn(),
            start.w_hh.clone().into_dyn(),
            start.b_ih.clone().into_dyn(),
            start.b_hh.clone().into_dyn(),
        ])
        .map(|(t, s)| t - &s)
        .collect();
    (
        crate::lab04::OVERWRITE,
        "`grads.w_ih += &...` (and the other three): over a sequence the same weights collect a \
         gradient from every step.",
        overwrite,
    )
}

/// Compares the learner's gradients tensor by tensor with central finite differences and with the library's
/// backward (to rounding). A wrong tensor is explained by the first `variants` entry that gives exactly it,
/// otherwise by the tensor's hint.
#[track_caller]
pub fn check_cell_grads(
    lab: &str,
    got: &[ArrayD<f64>],
    library: &[ArrayD<f64>],
    numeric: &[ArrayD<f64>],
    hints: &[(&str, &str)],
    variants: &[Variant],
) {
    for (k, (((g, w), n), (name, hint))) in
        got.iter().zip(library).zip(numeric).zip(hints).enumerate()
    {
        let ms: Vec<Mistake> = variants
            .iter()
            .filter(|(_, _, t)| t.len() > k)
            .map(|(name, fix, t)| Mistake::new(name, fix, t[k].clone()))
            .collect();
        check(lab, name, g.view(), n.view(), NUMERIC, &ms, hint);
        check(lab, name, g.view(), w.view(), EXACT, &ms, hint);
    }
}

/// `Err(message)` unless the learner's forward gave the library's `want` tensors: a backward is checked only
/// once the forward it reads is right.
pub fn forward_first(
    got: &[&Array2<f64>],
    want: &[&Array2<f64>],
    forward: &str,
    test: &str,
) -> Result<(), String> {
    let right = got.iter().zip(want).all(|(g, w)| {
        g.dim() == w.dim()
            && crate::report::is_close(&g.view().into_dyn(), &w.view().into_dyn(), EXACT)
    });
    if right {
        Ok(())
    } else {
        Err(format!(
            "{forward} is wrong on this input (its own check, {test}, says how), and the backward reads what it \
             cached.\n  Fix the forward first."
        ))
    }
}

/// Checks the backward step against `rnn::cells::Lstm::backward` and finite differences (loss
/// `Σ R ⊙ h + Σ S ⊙ c` with random R, S, so both dh and dc are non-zero), and that it adds into `grads`.
#[track_caller]
pub fn check_lstm_backward<C>(forward: impl LstmForward<C>, backward: impl LstmBackward<C>) {
    let mut rng = rnn::init::rng(77);
    for k in cases(4, 70, true) {
        let (b, h) = k.h.dim();
        let d = k.x.ncols();
        let r = rand2(b, h, 1.0, &mut rng);
        let s = rand2(b, h, 1.0, &mut rng);
        let (fh, fc, cache) = run_learner(LAB_FWD, || {
            forward(&k.x, &k.h, &k.c, &k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh)
        });
        let (want_h, want_c) = run(&k, LSTM_PYTORCH);
        if let Err(m) = forward_first(
            &[&fh, &fc],
            &[&want_h, &want_c],
            "lstm_step",
            "check_lstm_forward",
        ) {
            crate::report::fail(LAB_BWD, m);
        }
        let start = Grads {
            w_ih: rand2(4 * h, d, 1.0, &mut rng),
            w_hh: rand2(4 * h, h, 1.0, &mut rng),
            b_ih: rand1(4 * h, 1.0, &mut rng),
            b_hh: rand1(4 * h, 1.0, &mut rng),
        };
        let mut g = start.clone();
        let (dx, dh_prev, dc_prev) = crate::report::run_backward(LAB_BWD, || {
            backward(&cache, &k.w_ih, &k.w_hh, &r, &s, &mut g)
        });
        check_shape(LAB_BWD, "dx", dx.shape(), &[b, d], "(B, D)");
        check_shape(LAB_BWD, "dh_prev", dh_prev.shape(), &[b, h], "(B, H)");
        check_shape(LAB_BWD, "dc_prev", dc_prev.shape(), &[b, h], "(B, H)");
        let lstm = library_lstm(&k);
        let prev = State {
            h: k.h.clone(),
            c: Some(k.c.clone()),
            gates: None,
        };
        let (_, lib_cache) = lstm.forward(k.x.view(), &prev);
        let mut lib = lstm.zeros_like();
        let d_next = State {
            h: r.clone(),
            c: Some(s.clone()),
            gates: None,
        };
        let (lib_dx, lib_dprev) = lstm.backward(&lib_cache, &d_next, &mut lib);
        let library = vec![
            lib.weight_ih.into_dyn(),
            lib.weight_hh.into_dyn(),
            lib.bias_ih.into_dyn(),
            lib.bias_hh.into_dyn(),
            lib_dx.into_dyn(),
            lib_dprev.h.into_dyn(),
            lib_dprev
                .c
                .expect("an LSTM state gradient has c")
                .into_dyn(),
        ];
        let numeric = numeric_cell_grads(&k, &r, &s, &|kk| run(kk, LSTM_PYTORCH));
        let got = vec![
            (g.w_ih - &start.w_ih).into_dyn(),
            (g.w_hh - &start.w_hh).into_dyn(),
            (g.b_ih - &start.b_ih).into_dyn(),
            (g.b_hh - &start.b_hh).into_dyn(),
            dx.into_dyn(),
            dh_prev.into_dyn(),
            dc_prev.into_dyn(),
        ];
        let dgates =
            "with da = the (B, 4H) gradient of the gate pre-activations [da_i, da_f, da_g, da_o]";
        let slip = |which: LstmSlip| {
            reference::lstm_backward(
                &k.x, &k.h, &k.c, &k.w_ih, &k.w_hh, &k.b_ih, &k.b_hh, &r, &s, which,
            )
        };
        let right = slip(LstmSlip::None);
        let variants: Vec<Variant> = vec![
            overwrite_variant(&right, &start),
            (
                "forgetting the path from h into c",
                "h = o ⊙ tanh(c) reads the new c, so the gradient reaching c is dc_total = dc + dh ⊙ o ⊙ \
                 (1 - tanh²(c)) (7.10); every gate below c (i, f, g) and dc_prev use dc_total.",
                slip(LstmSlip::NoHPathIntoC),
            ),
            (
                "dropping the incoming dc",
                "The next step's dc reaches c too: dc_total = dc + dh ⊙ o ⊙ (1 - tanh²(c)) (7.10).",
                slip(LstmSlip::NoIncomingDc),
            ),
            (
                "dc_prev without the forget gate",
                "c = f ⊙ c_prev + i ⊙ g, so dc_prev = dc_total ⊙ f (7.16).",
                slip(LstmSlip::DcPrevWithoutF),
            ),
            (
                "da_o with c where tanh(c) belongs",
                "h = o ⊙ tanh(c), so da_o = dh ⊙ tanh(c) ⊙ o(1 - o) (7.8), (7.9).",
                slip(LstmSlip::OWithoutTanh),
            ),
            (
                "da_f with the new c where c_prev belongs",
                "c = f ⊙ c_prev + i ⊙ g, so da_f = dc_total ⊙ c_prev ⊙ f(1 - f): the forget gate multiplies \
                 the *previous* cell state.",
                slip(LstmSlip::FWithNewC),
            ),
            (
                "da_i with i where g belongs",
                "c = f ⊙ c_prev + i ⊙ g, so da_i = dc_total ⊙ g ⊙ i(1 - i).",
                slip(LstmSlip::IWithoutG),
            ),
            (
                "the gate gradients concatenated in the wrong order",
                "da must be [da_i | da_f | da_g | da_o] (7.18), the order of the gates in the weights' rows.",
                slip(LstmSlip::OrderIfog),
            ),
        ];
        check_cell_grads(
            LAB_BWD,
            &got,
            &library,
            &numeric,
            &[
                (
                    "dW_ih (the increase you added to grads.w_ih)",
                    &format!("{dgates}: dW_ih += daᵀ·x."),
                ),
                (
                    "dW_hh (the increase you added to grads.w_hh)",
                    &format!("{dgates}: dW_hh += daᵀ·h_prev."),
                ),
                (
                    "db_ih (the increase you added to grads.b_ih)",
                    &format!("{dgates}: db_ih += Σ_rows da."),
                ),
                (
                    "db_hh (the increase you added to grads.b_hh)",
                    &format!("{dgates}: db_hh += Σ_rows da."),
                ),
                ("dx", "dx = da·W_ih."),
                ("dh_prev", "dh_prev = da·W_hh."),
                (
                    "dc_prev",
                    "dc_total = dc + dh ⊙ o ⊙ (1 - tanh²(c)) (h reads c too!), and dc_prev = dc_total ⊙ f.",
                ),
            ],
            &variants,
        );
    }
}
