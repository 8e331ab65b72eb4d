//! The diagrams of the gated cells: the LSTM step (chapter 7) and the GRU step (chapter 8).

use super::{Anchor, Fill, Node, Stroke, Svg};

/// Chapter 7: one LSTM step, (7.1) to (7.7), with the cell state running straight across the top.
pub(super) fn lstm_cell() -> Svg {
    let mut s = Svg::new(
        880.0,
        410.0,
        "One LSTM step: x_t and h_(t-1) give the pre-activations a_t, split into four blocks; sigma gives \
         the gates i_t, f_t and o_t and tanh the candidate g_t. Along the top, the cell state c_(t-1) is \
         multiplied element-wise by f_t and i_t ⊙ g_t is added, which gives c_t; h_t is o_t ⊙ tanh(c_t).",
    );
    let (yc, yig, yg, ya) = (70.0, 150.0, 230.0, 300.0);
    let (xf, xi, xg, xo, xh) = (280.0, 380.0, 500.0, 620.0, 720.0);
    let (xin, xout) = (60.0, 815.0);
    s.frame(130.0, 25.0, 640.0, 312.0);
    s.note(145.0, 42.0, Anchor::Start, "one step");
    // The inputs, and the affine map of all four gates at once.
    let cp = s.node(xin, yc, 64.0, 36.0, Fill::Cell, "c_{t-1}");
    let hp = s.node(xin, ya, 64.0, 36.0, Fill::Cell, "h_{t-1}");
    let a = s.node(450.0, ya, 420.0, 36.0, Fill::Plain, "a_t");
    s.note(650.0, ya, Anchor::End, "(7.1)");
    let x = s.node(450.0, 385.0, 44.0, 30.0, Fill::Input, "x_t");
    s.arrow(hp.right(), a.left(), Stroke::Fwd);
    s.math(170.0, ya - 14.0, Anchor::Middle, "W_{hh}");
    s.arrow(x.top(), a.bottom(), Stroke::Fwd);
    s.math(458.0, 352.0, Anchor::Start, "W_{ih}");
    // The gates, each reading its block of a_t, with its equation's number on its left.
    let gate = |s: &mut Svg, gx: f64, op: &str, block: &str, tag: &str| -> Node {
        let r = if op == "tanh" { 21.0 } else { 18.0 };
        let g = s.op(gx, yg, r, op, false);
        s.arrow((gx, a.top().1), g.bottom(), Stroke::Fwd);
        s.math(
            gx + 6.0,
            (a.top().1 + g.bottom().1) / 2.0,
            Anchor::Start,
            block,
        );
        s.note(gx - r - 4.0, yg, Anchor::End, tag);
        g
    };
    let f = gate(&mut s, xf, "σ", "a_f", "(7.3)");
    let i = gate(&mut s, xi, "σ", "a_i", "(7.2)");
    let g = gate(&mut s, xg, "tanh", "a_g", "(7.4)");
    let o = gate(&mut s, xo, "σ", "a_o", "(7.5)");
    // The cell state (7.6): c_(t-1) ⊙ f_t + i_t ⊙ g_t, straight across the top.
    let keep = s.op(xf, yc, 13.0, "⊙", false);
    let add = s.op(xg, yc, 13.0, "+", false);
    let ig = s.op(xg, yig, 13.0, "⊙", false);
    s.arrow(cp.right(), keep.left(), Stroke::Fwd);
    s.arrow(f.top(), keep.bottom(), Stroke::Fwd);
    s.math(xf + 7.0, yig, Anchor::Start, "f_t");
    s.arrow_path(&[i.top(), (xi, yig), ig.left()], Stroke::Fwd);
    s.math((xi + ig.left().0) / 2.0, yig - 13.0, Anchor::Middle, "i_t");
    s.arrow(g.top(), ig.bottom(), Stroke::Fwd);
    s.math(
        xg + 7.0,
        (g.top().1 + ig.bottom().1) / 2.0,
        Anchor::Start,
        "g_t",
    );
    s.arrow(ig.top(), add.bottom(), Stroke::Fwd);
    s.arrow(keep.right(), add.left(), Stroke::Fwd);
    s.note(xg, yc - 24.0, Anchor::Middle, "(7.6)");
    let ct = s.node(xout, yc, 60.0, 36.0, Fill::Cell, "c_t");
    s.arrow(add.right(), ct.left(), Stroke::Fwd);
    // The hidden state (7.7): h_t = o_t ⊙ tanh(c_t).
    s.dot(xh, yc, Stroke::Fwd);
    let th = s.op(xh, yig, 21.0, "tanh", false);
    let out = s.op(xh, yg, 13.0, "⊙", false);
    s.arrow((xh, yc), th.top(), Stroke::Fwd);
    s.arrow(th.bottom(), out.top(), Stroke::Fwd);
    s.arrow(o.right(), out.left(), Stroke::Fwd);
    s.math(
        (o.right().0 + out.left().0) / 2.0,
        yg - 13.0,
        Anchor::Middle,
        "o_t",
    );
    s.note(xh, yg + 26.0, Anchor::Middle, "(7.7)");
    let ht = s.node(xout, yg, 60.0, 36.0, Fill::Cell, "h_t");
    s.arrow(out.right(), ht.left(), Stroke::Fwd);
    s.note(xout, yg + 32.0, Anchor::Middle, "to «y_t»,");
    s.note(xout, yg + 56.0, Anchor::Middle, "step «t + 1»");
    s.note(xout, yc + 32.0, Anchor::Middle, "to step «t + 1»");
    s
}

/// Chapter 7: the backward path along the cell state (7.16), beside the Elman path of chapter 5.
pub(super) fn lstm_carousel() -> Svg {
    let mut s = Svg::new(
        880.0,
        272.0,
        "Backward along the cell state, an LSTM's gradient of c_t reaches c_(t-1) multiplied element-wise \
         by f_t and nothing else, with no weight matrix on the way; an Elman network's gradient of h_t \
         reaches h_(t-1) multiplied element-wise by 1 - h_t ⊙ h_t and then by W_hh transposed, at every step.",
    );
    let (y1, y2, gw, h) = (92.0, 220.0, 84.0, 36.0);
    s.text(
        20.0,
        24.0,
        Anchor::Start,
        "LSTM: along the cell state",
        false,
    );
    s.text(
        20.0,
        152.0,
        Anchor::Start,
        "Elman: along the hidden state (chapter 5)",
        false,
    );
    // The LSTM: ∂L/∂c_t, times f_t, is the part of ∂L/∂c_(t-1) that comes through step t.
    let states = [(780.0, "t"), (530.0, "t-1"), (280.0, "t-2")];
    let mut prev: Option<(Node, &str)> = None;
    for &(cx, sub) in &states {
        let g = s.node(cx, y1, gw, h, Fill::Grad, &format!("∂L/∂c_{{{sub}}}"));
        if let Some((p, gate)) = prev {
            let mx = (p.left().0 + g.right().0) / 2.0;
            let keep = s.op(mx, y1, 13.0, "⊙", true);
            s.arrow(p.left(), keep.right(), Stroke::Back);
            s.arrow(keep.left(), g.right(), Stroke::Back);
            s.math(mx, y1 - 48.0, Anchor::Middle, &format!("f_{{{gate}}}"));
            s.arrow((mx, y1 - 37.0), keep.top(), Stroke::Dotted);
            s.note_back(mx, y1 + 26.0, Anchor::Middle, "(7.16)");
        }
        prev = Some((g, sub));
    }
    let (first, _) = prev.expect("three states");
    s.arrow(first.left(), (218.0, y1), Stroke::Back);
    s.math(200.0, y1, Anchor::Middle, "⋯");
    // Elman: ∂L/∂h_t, times 1 - h_t ⊙ h_t, then through W_hh transposed.
    let states = [(780.0, "t"), (530.0, "t-1"), (280.0, "t-2")];
    let mut prev: Option<(Node, &str)> = None;
    for &(cx, sub) in &states {
        let g = s.node(cx, y2, gw, h, Fill::Grad, &format!("∂L/∂h_{{{sub}}}"));
        if let Some((p, psub)) = prev {
            let (xd, xw) = (p.left().0 - 40.0, g.right().0 + 40.0);
            let squash = s.op(xd, y2, 13.0, "⊙", true);
            let w = s.node(xw, y2, 40.0, 30.0, Fill::Plain, "W_{hh}^⊤");
            s.arrow(p.left(), squash.right(), Stroke::Back);
            s.arrow(squash.left(), w.right(), Stroke::Back);
            s.arrow(w.left(), g.right(), Stroke::Back);
            s.math(
                xd,
                y2 - 48.0,
                Anchor::Middle,
                &format!("1 − h_{{{psub}}} ⊙ h_{{{psub}}}"),
            );
            s.arrow((xd, y2 - 37.0), squash.top(), Stroke::Dotted);
            s.note_back(
                (xd + xw) / 2.0,
                y2 + 30.0,
                Anchor::Middle,
                "transpose of (5.1)",
            );
        }
        prev = Some((g, sub));
    }
    let (first, _) = prev.expect("three states");
    s.arrow(first.left(), (218.0, y2), Stroke::Back);
    s.math(200.0, y2, Anchor::Middle, "⋯");
    s
}

/// Chapter 8: one GRU step in PyTorch's form, (8.9), (8.10), (8.11a) and (8.12), with the hidden state
/// running straight across the top.
pub(super) fn gru_cell() -> Svg {
    let mut s = Svg::new(
        880.0,
        440.0,
        "One GRU step in PyTorch's form: x_t and h_(t-1) give, through W_ih and W_hh, the arguments a_r \
         and a_z of the reset gate r_t and the update gate z_t, the input term of the candidate and its \
         hidden term q_t; r_t multiplies q_t before tanh gives the candidate n_t. Along the top, h_(t-1) \
         is multiplied element-wise by z_t and (1 - z_t) ⊙ n_t is added, which gives h_t.",
    );
    let yh = 60.0;
    let (xkeep, xz, xmix, xn, xr, xin) = (200.0, 300.0, 420.0, 540.0, 440.0, 660.0);
    let (yn, yzs, ysum, ygate, yb) = (115.0, 170.0, 190.0, 260.0, 340.0);
    s.frame(130.0, 22.0, 650.0, 350.0);
    s.note(765.0, 38.0, Anchor::End, "one step");
    // The inputs and the two affine maps (blocks r, z, n of W_ih and of W_hh).
    let hp = s.node(60.0, yh, 64.0, 36.0, Fill::Cell, "h_{t-1}");
    let b = s.node(
        430.0,
        yb,
        540.0,
        36.0,
        Fill::Plain,
        "W_{ih} x_t + b_{ih}   and   W_{hh} h_{t-1} + b_{hh}",
    );
    let x = s.node(430.0, 415.0, 44.0, 30.0, Fill::Input, "x_t");
    s.arrow(x.top(), b.bottom(), Stroke::Fwd);
    let split = 100.0;
    s.dot(split, yh, Stroke::Fwd);
    s.arrow_path(&[(split, yh), (split, yb), b.left()], Stroke::Fwd);
    // The update gate (8.10): z_t keeps h_(t-1), 1 - z_t lets the candidate in.
    let z = s.op(xz, ygate, 18.0, "σ", false);
    s.arrow((xz, b.top().1), z.bottom(), Stroke::Fwd);
    s.math(
        xz + 6.0,
        (b.top().1 + z.bottom().1) / 2.0,
        Anchor::Start,
        "a_z",
    );
    s.note(xz - 22.0, ygate, Anchor::End, "(8.10)");
    let keep = s.op(xkeep, yh, 13.0, "⊙", false);
    let one_minus = s.op(360.0, yzs, 17.0, "1−", false);
    let mix = s.op(xmix, yn, 13.0, "⊙", false);
    let add = s.op(xmix, yh, 13.0, "+", false);
    s.line(&[z.top(), (xz, yzs)], Stroke::Fwd);
    s.dot(xz, yzs, Stroke::Fwd);
    s.math(xz + 7.0, (z.top().1 + yzs) / 2.0, Anchor::Start, "z_t");
    s.arrow_path(&[(xz, yzs), (xkeep, yzs), keep.bottom()], Stroke::Fwd);
    s.arrow((xz, yzs), one_minus.left(), Stroke::Fwd);
    s.arrow_path(&[one_minus.right(), (xmix, yzs), mix.bottom()], Stroke::Fwd);
    // The reset gate (8.9) and the candidate (8.11a): r_t multiplies the hidden term q_t.
    let r = s.op(xr, ygate, 18.0, "σ", false);
    s.arrow((xr, b.top().1), r.bottom(), Stroke::Fwd);
    s.math(
        xr + 6.0,
        (b.top().1 + r.bottom().1) / 2.0,
        Anchor::Start,
        "a_r",
    );
    s.note(xr - 22.0, ygate, Anchor::End, "(8.9)");
    let reset = s.op(xn, ygate, 13.0, "⊙", false);
    s.arrow(r.right(), reset.left(), Stroke::Fwd);
    s.math(
        (r.right().0 + reset.left().0) / 2.0,
        ygate - 13.0,
        Anchor::Middle,
        "r_t",
    );
    s.arrow((xn, b.top().1), reset.bottom(), Stroke::Fwd);
    s.math(
        xn + 6.0,
        (b.top().1 + reset.bottom().1) / 2.0,
        Anchor::Start,
        "q_t",
    );
    let sum = s.op(xn, ysum, 13.0, "+", false);
    s.arrow(reset.top(), sum.bottom(), Stroke::Fwd);
    s.arrow_path(&[(xin, b.top().1), (xin, ysum), sum.right()], Stroke::Fwd);
    s.math(xin + 8.0, 262.0, Anchor::Start, "W_{in} x_t + b_{in}");
    let n = s.op(xn, yn, 21.0, "tanh", false);
    s.arrow(sum.top(), n.bottom(), Stroke::Fwd);
    s.math(
        xn + 7.0,
        (sum.top().1 + n.bottom().1) / 2.0,
        Anchor::Start,
        "a_n",
    );
    s.note(xn + 26.0, yn, Anchor::Start, "(8.11a)");
    s.arrow(n.left(), mix.right(), Stroke::Fwd);
    s.math(
        (n.left().0 + mix.right().0) / 2.0,
        yn - 13.0,
        Anchor::Middle,
        "n_t",
    );
    // The hidden state (8.12): h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_(t-1).
    s.arrow(hp.right(), keep.left(), Stroke::Fwd);
    s.arrow(keep.right(), add.left(), Stroke::Fwd);
    s.arrow(mix.top(), add.bottom(), Stroke::Fwd);
    s.note(xmix, yh - 24.0, Anchor::Middle, "(8.12)");
    let ht = s.node(835.0, yh, 60.0, 36.0, Fill::Cell, "h_t");
    s.arrow(add.right(), ht.left(), Stroke::Fwd);
    s.note(835.0, yh + 32.0, Anchor::Middle, "to «y_t»,");
    s.note(835.0, yh + 56.0, Anchor::Middle, "step «t + 1»");
    s
}
