//! The diagrams of the encoder-decoder (chapter 10) and of Bahdanau attention (chapter 11).

use super::{Anchor, Fill, Stroke, Svg};

/// Chapter 10: the encoder unrolled over the source, the bridge, and the decoder unrolled over the target
/// with teacher forcing, (10.1) to (10.4).
pub(super) fn encoder_decoder() -> Svg {
    let mut s = Svg::new(
        960.0,
        420.0,
        "An encoder-decoder: the encoder reads the source characters x_1 to x_n through E_src, from h_0 to \
         h_n; its outputs are the keys k_s. The bridge turns h_n into the decoder's first state s_0. Each \
         decoder step t reads the true previous target token y_(t-1) through E_tgt, starting from <sos>, \
         and gives s_t, then z_t and p_t through W_out; the last step is trained to emit <eos>.",
    );
    let (row_tok, row_p, row_cell, row_in, row_char) = (36.0, 108.0, 196.0, 292.0, 322.0);
    let (w, h) = (64.0, 40.0);
    let enc = [90.0, 200.0, 350.0];
    let dec = [610.0, 720.0, 860.0];
    let (enc_dots, dec_dots) = (286.0, 790.0);
    // The encoder (10.1): one cell per source character, from h_0 = 0.
    let src = [("1", "1"), ("2", "0"), ("n", "7")];
    let mut hs = Vec::new();
    for (i, (&cx, (sub, ch))) in enc.iter().zip(src).enumerate() {
        let x = s.node(cx, row_in, 44.0, 30.0, Fill::Input, &format!("x_{sub}"));
        let c = s.node(cx, row_cell, w, h, Fill::Cell, &format!("h_{sub}"));
        s.arrow(x.top(), c.bottom(), Stroke::Fwd);
        s.code(cx, row_char, Anchor::Middle, ch);
        if i == 0 {
            s.math(
                cx + 7.0,
                (x.top().1 + c.bottom().1) / 2.0,
                Anchor::Start,
                "E_{src}",
            );
        }
        // Its outputs are the keys that attention reads (chapter 11).
        s.arrow(c.top(), (cx, row_p + 14.0), Stroke::Dotted);
        s.math(cx, row_p, Anchor::Middle, &format!("k_{sub}"));
        hs.push(c);
    }
    s.note(
        (enc[0] + enc[2]) / 2.0,
        row_p - 36.0,
        Anchor::Middle,
        "outputs: the keys «k_s» (for attention)",
    );
    s.math(26.0, row_cell, Anchor::Middle, "h_0");
    s.arrow((42.0, row_cell), hs[0].left(), Stroke::Fwd);
    s.arrow(hs[0].right(), hs[1].left(), Stroke::Fwd);
    s.arrow(hs[1].right(), (enc_dots - 16.0, row_cell), Stroke::Fwd);
    s.math(enc_dots, row_cell, Anchor::Middle, "⋯");
    s.arrow((enc_dots + 16.0, row_cell), hs[2].left(), Stroke::Fwd);
    for (i, to) in [hs[1].left().0, enc_dots - 16.0].into_iter().enumerate() {
        s.math(
            (hs[i].right().0 + to) / 2.0,
            row_cell + 14.0,
            Anchor::Middle,
            &format!("h_{}", i + 1),
        );
    }
    // The bridge (10.2): h_n copied, or mapped when the encoder is bidirectional.
    let bx = 480.0;
    let bridge = s.node(bx, row_cell, 104.0, h, Fill::Plain, "");
    s.text(bx, row_cell, Anchor::Middle, "bridge (10.2)", true);
    s.arrow(hs[2].right(), bridge.left(), Stroke::Fwd);
    s.math(
        (hs[2].right().0 + bridge.left().0) / 2.0,
        row_cell + 14.0,
        Anchor::Middle,
        "h_n",
    );
    s.note(bx, row_cell - 46.0, Anchor::Middle, "copied: «s_0 = h_n»");
    s.note(
        bx,
        row_cell + 52.0,
        Anchor::Middle,
        "bidirectional encoder:",
    );
    s.note(
        bx,
        row_cell + 74.0,
        Anchor::Middle,
        "«s_0 = tanh(W_b [h_n^{→}; h_1^{←}] + b_b)»",
    );
    // The decoder (10.3), (10.4): step t reads the true y_(t-1) (teacher forcing) and predicts y_t.
    let steps = [
        ("1", "⟨sos⟩", "", "y_1"),
        ("2", "y_1", "2", "y_2"),
        ("T", "y_{T-1}", "0", "⟨eos⟩"),
    ];
    let mut ss = Vec::new();
    for (i, (&cx, (sub, input, ch, target))) in dec.iter().zip(steps).enumerate() {
        let x = s.node(cx, row_in, 56.0, 30.0, Fill::Input, input);
        let c = s.node(cx, row_cell, w, h, Fill::Cell2, &format!("s_{sub}"));
        let p = s.node(cx, row_p, 44.0, 30.0, Fill::Output, &format!("p_{sub}"));
        let y = s.node(cx, row_tok, 56.0, 30.0, Fill::Loss, target);
        s.arrow(x.top(), c.bottom(), Stroke::Fwd);
        s.arrow(c.top(), p.bottom(), Stroke::Fwd);
        s.arrow(p.top(), y.bottom(), Stroke::Fwd);
        if !ch.is_empty() {
            s.code(cx, row_char, Anchor::Middle, ch);
        }
        if i == 0 {
            s.math(
                cx + 7.0,
                (x.top().1 + c.bottom().1) / 2.0,
                Anchor::Start,
                "E_{tgt}",
            );
            s.math(
                cx + 7.0,
                (c.top().1 + p.bottom().1) / 2.0,
                Anchor::Start,
                "W_{out}",
            );
        }
        ss.push(c);
    }
    s.arrow(bridge.right(), ss[0].left(), Stroke::Fwd);
    s.math(
        (bridge.right().0 + ss[0].left().0) / 2.0,
        row_cell + 14.0,
        Anchor::Middle,
        "s_0",
    );
    s.arrow(ss[0].right(), ss[1].left(), Stroke::Fwd);
    s.math(
        (dec[0] + dec[1]) / 2.0,
        row_cell + 14.0,
        Anchor::Middle,
        "s_1",
    );
    s.arrow(ss[1].right(), (dec_dots - 16.0, row_cell), Stroke::Fwd);
    s.math(dec_dots, row_cell, Anchor::Middle, "⋯");
    s.arrow((dec_dots + 16.0, row_cell), ss[2].left(), Stroke::Fwd);
    s.note(dec[2] + 40.0, row_p, Anchor::Start, "(10.4)");
    s.note(dec[2] + 40.0, row_tok, Anchor::Start, "target");
    s.note(dec[2] + 40.0, row_cell, Anchor::Start, "(10.3)");
    // What the two halves are, and where the example comes from.
    let (enc_mid, dec_mid) = ((enc[0] + enc[2]) / 2.0, (dec[0] + dec[2]) / 2.0);
    s.text(enc_mid, 356.0, Anchor::Middle, "encoder (10.1)", false);
    s.text(
        dec_mid,
        356.0,
        Anchor::Middle,
        "decoder (10.3), (10.4)",
        false,
    );
    s.text(
        enc_mid,
        380.0,
        Anchor::Middle,
        "source: the characters of “10 jul 2007”",
        true,
    );
    s.text(
        dec_mid,
        380.0,
        Anchor::Middle,
        "target: “2007-07-10”, then ⟨eos⟩",
        true,
    );
    s.note(
        dec_mid,
        402.0,
        Anchor::Middle,
        "teacher forcing: step «t» reads the true «y_{t-1}»",
    );
    s
}

/// Chapter 11: one decoder step with Bahdanau attention, (11.1) to (11.4): the query scores every key,
/// the softmax turns the scores into weights, the context is the weighted sum of the keys, and it enters
/// the decoder's input and its output layer.
pub(super) fn attention() -> Svg {
    let mut s = Svg::new(
        960.0,
        490.0,
        "One decoder step t with attention: the query q_t, the decoder's previous state s_(t-1), is scored \
         against every key k_s, the encoder's outputs, giving e_(t,s); a softmax over the source positions \
         turns the scores into the weights alpha_(t,s), drawn as bars; the context c_t is the sum of the \
         keys weighted by alpha. c_t enters the decoder cell with E_tgt[y_(t-1)], and the output layer \
         with s_t.",
    );
    let keys = [190.0, 290.0, 390.0, 530.0];
    let subs = ["1", "2", "3", "n"];
    let dots = 460.0;
    let (left, right) = (145.0, 575.0);
    let (mid, wide) = ((left + right) / 2.0, right - left);
    let (row_ctx, row_soft, row_score, row_key) = (120.0, 275.0, 360.0, 430.0);
    // Illustrative weights (they sum to 1): the bars' heights, in px per unit of weight.
    let alpha = [0.15, 0.55, 0.22, 0.08];
    let bar_px = 130.0;
    // The keys (10.1), and the scores (11.1) of all of them against the one query.
    let score = s.node(
        mid,
        row_score,
        wide,
        36.0,
        Fill::Plain,
        "e_{t,s} = v^⊤ tanh(W_q q_t + b_q + W_k k_s)",
    );
    s.note(right - 8.0, row_score, Anchor::End, "(11.1)");
    let soft = s.node(
        mid,
        row_soft,
        wide,
        34.0,
        Fill::Plain,
        "α_{t,s} = softmax_s(e_{t,s})",
    );
    s.note(right - 8.0, row_soft, Anchor::End, "(11.2)");
    let ctx = s.node(
        mid,
        row_ctx,
        wide,
        36.0,
        Fill::Plain,
        "c_t = ∑_s α_{t,s} k_s",
    );
    s.note(right - 8.0, row_ctx, Anchor::End, "(11.3)");
    let mut first_key = None;
    for (i, &kx) in keys.iter().enumerate() {
        let k = s.node(
            kx,
            row_key,
            44.0,
            30.0,
            Fill::Cell,
            &format!("k_{}", subs[i]),
        );
        first_key.get_or_insert(k);
        s.arrow(k.top(), (kx, score.bottom().1), Stroke::Fwd);
        s.arrow((kx, score.top().1), (kx, soft.bottom().1), Stroke::Fwd);
        s.math(
            kx + 6.0,
            (score.top().1 + soft.bottom().1) / 2.0,
            Anchor::Start,
            &format!("e_{{t,{}}}", subs[i]),
        );
        // The weight as a bar on the softmax, its name above it, and on into the weighted sum.
        let bh = alpha[i] * bar_px;
        let top = soft.top().1 - bh;
        s.node(kx, top + bh / 2.0, 24.0, bh, Fill::Output, "");
        let lab = top - 13.0;
        s.math(kx, lab, Anchor::Middle, &format!("α_{{t,{}}}", subs[i]));
        s.arrow((kx, lab - 12.0), (kx, ctx.bottom().1), Stroke::Fwd);
    }
    s.math(dots, row_key, Anchor::Middle, "⋯");
    s.note(
        mid,
        row_key + 34.0,
        Anchor::Middle,
        "keys: the encoder's outputs «k_1, …, k_n» (10.1)",
    );
    // The sum reads the keys again.
    let k1 = first_key.expect("four keys");
    s.arrow_path(
        &[
            k1.left(),
            (left - 30.0, row_key),
            (left - 30.0, row_ctx),
            ctx.left(),
        ],
        Stroke::Dotted,
    );
    s.note(
        left - 38.0,
        (row_soft + row_ctx) / 2.0,
        Anchor::End,
        "«k_s»",
    );
    // The decoder step (11.4): s_(t-1) and [E_tgt[y_(t-1)]; c_t] give s_t; [s_t; c_t] gives z_t and p_t.
    let dx = 800.0;
    let (row_p, row_out, row_s, row_in, row_y) = (40.0, 120.0, 230.0, 330.0, 420.0);
    let p = s.node(dx, row_p, 44.0, 30.0, Fill::Output, "p_t");
    let out = s.node(dx, row_out, 96.0, 34.0, Fill::Plain, "[s_t; c_t]");
    let st = s.node(dx, row_s, 64.0, 40.0, Fill::Cell2, "s_t");
    let inp = s.node(
        dx,
        row_in,
        170.0,
        34.0,
        Fill::Plain,
        "[E_{tgt}[y_{t-1}]; c_t]",
    );
    let y = s.node(dx, row_y, 56.0, 30.0, Fill::Input, "y_{t-1}");
    let prev = s.node(912.0, row_s, 64.0, 40.0, Fill::Cell2, "s_{t-1}");
    s.arrow(y.top(), inp.bottom(), Stroke::Fwd);
    s.math(
        dx + 7.0,
        (y.top().1 + inp.bottom().1) / 2.0,
        Anchor::Start,
        "E_{tgt}",
    );
    s.arrow(inp.top(), st.bottom(), Stroke::Fwd);
    s.math(
        dx + 7.0,
        (inp.top().1 + st.bottom().1) / 2.0,
        Anchor::Start,
        "f_{dec}",
    );
    s.arrow(prev.left(), st.right(), Stroke::Fwd);
    s.arrow(
        (dx - 24.0, st.top().1),
        (dx - 24.0, out.bottom().1),
        Stroke::Fwd,
    );
    s.arrow(out.top(), p.bottom(), Stroke::Fwd);
    s.math(
        dx + 7.0,
        (out.top().1 + p.bottom().1) / 2.0,
        Anchor::Start,
        "W_{out}",
    );
    s.note(dx + 30.0, row_p, Anchor::Start, "«p_t = softmax(z_t)»");
    s.note(out.right().0 + 8.0, row_out, Anchor::Start, "(11.4)");
    s.note(
        dx - 8.0,
        (inp.top().1 + st.bottom().1) / 2.0,
        Anchor::End,
        "(11.4)",
    );
    // The context goes to both: the output layer on its row, the cell's input below.
    let branch = 650.0;
    s.line(&[ctx.right(), (branch, row_ctx)], Stroke::Fwd);
    s.dot(branch, row_ctx, Stroke::Fwd);
    s.arrow((branch, row_ctx), out.left(), Stroke::Fwd);
    s.arrow_path(
        &[(branch, row_ctx), (branch, row_in), inp.left()],
        Stroke::Fwd,
    );
    s.math(
        (branch + out.left().0) / 2.0,
        row_ctx - 13.0,
        Anchor::Middle,
        "c_t",
    );
    // The query: s_(t-1) again, round the bottom into the scores.
    let lane = row_y + 42.0;
    let qx = 610.0;
    s.arrow_path(
        &[
            prev.bottom(),
            (prev.x, lane),
            (qx, lane),
            (qx, row_score),
            score.right(),
        ],
        Stroke::Fwd,
    );
    s.math(
        qx + 8.0,
        (row_score + lane) / 2.0,
        Anchor::Start,
        "q_t = s_{t-1}",
    );
    s.note(dx, lane + 16.0, Anchor::Middle, "decoder step «t»");
    s
}
