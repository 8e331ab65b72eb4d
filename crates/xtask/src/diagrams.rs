//! The book's diagrams of the networks: SVG generated from the code in this file.
//!
//! `cargo xtask diagrams` writes every diagram listed in [`DIAGRAMS`] to `book/src/diagrams/NAME.svg`; the
//! files are committed, and the `diagrams` stage of `cargo xtask test` fails when regenerating them does not
//! give the committed files byte for byte (or when a file in `book/src/diagrams` has no generator).
//!
//! # How a diagram is shown, and why it works in every theme
//!
//! A chapter includes the SVG *inline*, so that the SVG sees the page's CSS:
//!
//! ```text
//! <figure class="diagram">
//! {{#include diagrams/ch02-elman-unrolled.svg}}
//! <figcaption>The Elman network rolled ... (math as in the prose, \(W_{hh}\))</figcaption>
//! </figure>
//! ```
//!
//! (no blank line inside the `<figure>`: markdown then passes the block through untouched; the generated
//! SVG never contains a blank line, a `$`, a backslash or `{{`, so neither markdown nor the KaTeX
//! preprocessor touches it). Every colour is a CSS custom property of the diagram: strokes and text use
//! mdBook's `--fg`, node fills are translucent tints that read on a light and on a dark page, and the one
//! accent colour (gradients, the backward pass) has a light-theme and a dark-theme value chosen by
//! mdBook's theme class on `<html>` (`light`, `rust`, `coal`, `navy`, `ayu`). Opened on its own (outside
//! the book), the SVG falls back to black on white, or light on dark when the viewer prefers dark.
//! The rules are scoped to `svg.rnn-diagram`, and a diagram defines no `id`, so several diagrams on one
//! page (the print page has all of them) cannot collide. `tools/browser_check.py` checks every diagram of
//! every page in every theme (size, contrast of every label and line against the page, labels inside
//! the picture and not overlapping) and saves a screenshot of each.
//!
//! # Adding a diagram
//!
//! 1. Write `fn my_diagram() -> Svg`, below or in a file of the `diagrams/` folder as the gated
//!    cells of chapters 7 and 8 are (`diagrams/gated.rs`: the LSTM and the GRU step, and the LSTM's
//!    backward path) and the encoder-decoder and attention of chapters 10 and 11 are
//!    (`diagrams/seq2seq.rs`), with the building blocks of [`Svg`]: [`Svg::node`] for a value or a cell
//!    (a box with a [`Fill`] colour by role), [`Svg::op`] for an operation in a circle (`σ`, `tanh`, `⊙`, `+`),
//!    [`Svg::arrow`] / [`Svg::arrow_path`] between the anchor points of nodes ([`Node::top`],
//!    [`Node::toward`], ...), [`Svg::line`] and [`Svg::dot`] for a line that branches at a junction,
//!    [`Svg::frame`] for the outline of a whole cell (drawn first), [`Svg::math`] for labels and
//!    [`Svg::note`] for a few words of prose with math between `«` and `»`. Labels use the book's symbols
//!    in a small TeX-like markup: `W_{hh}^⊤`, `h_{t-1}`, `h_t^{(k)}`, `∂L/∂a_t` (subscripts and
//!    superscripts become real `<tspan>`s, a hyphen a minus sign; as in TeX, single letters are italic,
//!    words such as `tanh` upright, and so is a word of three or more letters in a script, the book's
//!    `\text{...}`: `E_{src}`, `W_{out}`). Use the colours of [`Fill`] and [`Stroke`] by role, never a colour
//!    of your own. When a diagram needs a new building block, add it to [`Svg`] with its style in
//!    [`STYLE`], so that every diagram keeps the one palette and stroke.
//! 2. Add it to [`DIAGRAMS`] with its file name (`chNN-name`), run `cargo xtask diagrams`.
//! 3. Include it in the chapter as above, with a caption and a sentence that refers to it ("the figure
//!    below ...").
//! 4. `cargo xtask browser-check` and look at `target/browser-check/diagram-*.png` in a light and a dark
//!    theme; commit the SVG with the code.

use super::*;

mod gated;
mod seq2seq;
use gated::{gru_cell, lstm_carousel, lstm_cell};
use seq2seq::{attention, encoder_decoder};

/// A function that draws one diagram.
pub(crate) type Draw = fn() -> Svg;

/// Every diagram of the book: (file name without `.svg`, the function that draws it).
pub(crate) const DIAGRAMS: &[(&str, Draw)] = &[
    ("ch02-elman-unrolled", elman_unrolled),
    ("ch02-five-shapes", five_shapes),
    ("ch02-stacked-rnn", stacked_rnn),
    ("ch04-bptt-graph", bptt_graph),
    ("ch07-lstm-cell", lstm_cell),
    ("ch07-lstm-carousel", lstm_carousel),
    ("ch08-gru-cell", gru_cell),
    ("ch09-bidirectional", bidirectional),
    ("ch10-encoder-decoder", encoder_decoder),
    ("ch11-attention", attention),
];

fn diagrams_dir() -> PathBuf {
    root().join("book/src/diagrams")
}

/// `cargo xtask diagrams`: writes every diagram into book/src/diagrams.
pub(crate) fn diagrams() -> Result {
    let dir = diagrams_dir();
    let mut changed = 0;
    for (name, draw) in DIAGRAMS {
        if write_if_changed(&dir.join(format!("{name}.svg")), &draw().finish(name))? {
            println!("diagrams: wrote book/src/diagrams/{name}.svg");
            changed += 1;
        }
    }
    println!(
        "diagrams: {} diagram(s), {changed} changed, in {}",
        DIAGRAMS.len(),
        dir.display()
    );
    Ok(())
}

/// The `diagrams` stage: the committed SVGs are exactly what the code draws, and every SVG in
/// book/src/diagrams has a generator.
pub(crate) fn check_diagrams() -> Result {
    let dir = diagrams_dir();
    let mut problems = Vec::new();
    for (name, draw) in DIAGRAMS {
        let path = dir.join(format!("{name}.svg"));
        match fs::read_to_string(&path) {
            Ok(committed) if committed == draw().finish(name) => {}
            Ok(_) => problems.push(format!(
                "book/src/diagrams/{name}.svg differs from what crates/xtask/src/diagrams.rs draws"
            )),
            Err(_) => problems.push(format!("book/src/diagrams/{name}.svg is missing")),
        }
    }
    if let Ok(entries) = fs::read_dir(&dir) {
        for e in entries.filter_map(|e| e.ok()) {
            let file = e.file_name().to_string_lossy().into_owned();
            let stem = file.strip_suffix(".svg").unwrap_or(&file);
            if !DIAGRAMS.iter().any(|(n, _)| *n == stem) {
                problems.push(format!(
                    "book/src/diagrams/{file} has no generator in DIAGRAMS (crates/xtask/src/diagrams.rs)"
                ));
            }
        }
    }
    if problems.is_empty() {
        println!(
            "diagrams: the {} committed diagrams are what the code draws",
            DIAGRAMS.len()
        );
        Ok(())
    } else {
        problems.push("run `cargo xtask diagrams` and commit book/src/diagrams".into());
        Err(problems.join("\n"))
    }
}

// ---------------------------------------------------------------------------------------------------------
// The building blocks: one palette, one stroke style

/// The style every diagram carries. Scoped to `svg.rnn-diagram`; colours are custom properties so that
/// mdBook's theme (the class on `<html>`) decides them.
const STYLE: &str = "\
svg.rnn-diagram{--dg-fg:var(--fg,#1b1b1b);--dg-bg:var(--bg,#ffffff);--dg-accent:#c2410c;--dg-muted:var(--fg,#1b1b1b);\
--dg-in:rgba(22,163,74,.16);--dg-cell:rgba(37,99,235,.16);--dg-cell2:rgba(147,51,234,.16);\
--dg-out:rgba(202,138,4,.20);--dg-loss:rgba(220,38,38,.14);--dg-grad:rgba(234,88,12,.10);\
max-width:100%;height:auto}\
@media (prefers-color-scheme:dark){svg.rnn-diagram{--dg-fg:var(--fg,#e6e6e6);--dg-bg:var(--bg,#1d1f21);--dg-accent:#fb923c}}\
html.coal svg.rnn-diagram,html.navy svg.rnn-diagram,html.ayu svg.rnn-diagram{--dg-accent:#fb923c}\
html.light svg.rnn-diagram,html.rust svg.rnn-diagram{--dg-accent:#c2410c}\
html.rust svg.rnn-diagram{--dg-accent:#a3360a}\
svg.rnn-diagram text{fill:var(--dg-fg);font-family:'Open Sans','Helvetica Neue',Arial,sans-serif;font-size:13px}\
svg.rnn-diagram text.m{font-family:KaTeX_Main,'Latin Modern Roman','Times New Roman','DejaVu Serif',serif;font-size:17px}\
svg.rnn-diagram tspan.v{font-family:KaTeX_Main,'Latin Modern Roman','Times New Roman','DejaVu Serif',serif}\
svg.rnn-diagram text.c{font-family:'Source Code Pro',Consolas,'DejaVu Sans Mono',monospace;font-size:12px}\
svg.rnn-diagram text.s{font-size:12px}\
svg.rnn-diagram text.a{fill:var(--dg-accent)}\
svg.rnn-diagram .l{stroke:var(--dg-fg);stroke-width:1.5;fill:none}\
svg.rnn-diagram .l.a{stroke:var(--dg-accent)}\
svg.rnn-diagram .l.d{stroke-dasharray:5 4}\
svg.rnn-diagram .l.o{stroke-dasharray:2 3;stroke-width:1.3}\
svg.rnn-diagram .h{fill:var(--dg-fg);stroke:none}\
svg.rnn-diagram .h.a{fill:var(--dg-accent)}\
svg.rnn-diagram .n{stroke:var(--dg-fg);stroke-width:1.5}\
svg.rnn-diagram .n.a{stroke:var(--dg-accent)}\
svg.rnn-diagram .n.d{stroke-dasharray:5 4}\
svg.rnn-diagram .f-in{fill:var(--dg-in)}svg.rnn-diagram .f-cell{fill:var(--dg-cell)}\
svg.rnn-diagram .f-cell2{fill:var(--dg-cell2)}svg.rnn-diagram .f-out{fill:var(--dg-out)}\
svg.rnn-diagram .f-loss{fill:var(--dg-loss)}svg.rnn-diagram .f-grad{fill:var(--dg-grad)}\
svg.rnn-diagram .f-none{fill:var(--dg-bg)}";

/// What a node is, which decides its fill (one palette for the whole book).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Fill {
    /// An input `x_t` (green tint).
    Input,
    /// A cell or a hidden state (blue tint).
    Cell,
    /// A second kind of cell, e.g. the decoder of an encoder-decoder (purple tint).
    Cell2,
    /// An output `y_t` (amber tint).
    Output,
    /// A loss (red tint).
    Loss,
    /// A gradient, drawn in the accent colour (orange tint).
    Grad,
    /// Nothing but the page background (operations, parameters).
    Plain,
}

impl Fill {
    fn class(self) -> &'static str {
        match self {
            Fill::Input => "f-in",
            Fill::Cell => "f-cell",
            Fill::Cell2 => "f-cell2",
            Fill::Output => "f-out",
            Fill::Loss => "f-loss",
            Fill::Grad => "f-grad",
            Fill::Plain => "f-none",
        }
    }
}

/// How a line is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Stroke {
    /// The forward pass: solid, in the text colour.
    Fwd,
    /// The backward pass (gradients): solid, in the accent colour.
    Back,
    /// Dashed, in the text colour (something from outside the picture, another step).
    Dashed,
    /// Dotted, in the text colour (a value read again later, e.g. from a cache).
    Dotted,
}

impl Stroke {
    fn line_class(self) -> &'static str {
        match self {
            Stroke::Fwd => "l",
            Stroke::Back => "l a",
            Stroke::Dashed => "l d",
            Stroke::Dotted => "l o",
        }
    }
    fn head_class(self) -> &'static str {
        match self {
            Stroke::Back => "h a",
            _ => "h",
        }
    }
}

/// A drawn box or circle; its anchor points are where arrows start and end.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node {
    /// Centre x.
    pub x: f64,
    /// Centre y.
    pub y: f64,
    /// Half width (the radius for a circle).
    pub hw: f64,
    /// Half height (the radius for a circle).
    pub hh: f64,
    /// A circle rather than a box.
    pub round: bool,
}

impl Node {
    /// The middle of the top edge.
    pub fn top(&self) -> (f64, f64) {
        (self.x, self.y - self.hh)
    }
    /// The middle of the bottom edge.
    pub fn bottom(&self) -> (f64, f64) {
        (self.x, self.y + self.hh)
    }
    /// The middle of the left edge.
    pub fn left(&self) -> (f64, f64) {
        (self.x - self.hw, self.y)
    }
    /// The middle of the right edge.
    pub fn right(&self) -> (f64, f64) {
        (self.x + self.hw, self.y)
    }
    /// The point of the outline in the direction of `p` from the centre.
    pub fn toward(&self, p: (f64, f64)) -> (f64, f64) {
        let (dx, dy) = (p.0 - self.x, p.1 - self.y);
        let len = (dx * dx + dy * dy).sqrt().max(1e-9);
        if self.round {
            return (self.x + dx / len * self.hw, self.y + dy / len * self.hh);
        }
        let s = (self.hw / dx.abs().max(1e-9)).min(self.hh / dy.abs().max(1e-9));
        (self.x + dx * s, self.y + dy * s)
    }
}

/// Text anchoring.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Anchor {
    /// `x` is the left end.
    Start,
    /// `x` is the centre.
    Middle,
    /// `x` is the right end.
    End,
}

/// One SVG being drawn; [`Svg::finish`] turns it into the file's text.
pub(crate) struct Svg {
    width: f64,
    height: f64,
    title: String,
    body: Vec<String>,
}

/// A number as SVG wants it: at most two decimals, no trailing zeros.
fn num(v: f64) -> String {
    let s = format!("{:.2}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Font size of math labels (must match `text.m` in [`STYLE`]).
const MATH_PX: f64 = 17.0;
const ARROW_LEN: f64 = 9.0;
const ARROW_HALF: f64 = 4.0;

/// Font size of the math in notes.
const NOTE_MATH_PX: f64 = 14.0;

/// A piece of a math label: text, and its level (0 baseline, -1 subscript, 1 superscript).
#[derive(Debug, PartialEq)]
struct Piece {
    text: String,
    level: i8,
}

/// Parses the label markup: `a_b`, `a_{bc}`, `a^b`, `a^{bc}` (one level deep).
fn parse_label(s: &str) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut chars = s.chars().peekable();
    let mut base = String::new();
    while let Some(c) = chars.next() {
        if c == '_' || c == '^' {
            if !base.is_empty() {
                out.push(Piece {
                    text: std::mem::take(&mut base),
                    level: 0,
                });
            }
            let mut script = String::new();
            if chars.peek() == Some(&'{') {
                chars.next();
                for d in chars.by_ref() {
                    if d == '}' {
                        break;
                    }
                    script.push(d);
                }
            } else if let Some(d) = chars.next() {
                script.push(d);
            }
            out.push(Piece {
                text: script,
                level: if c == '_' { -1 } else { 1 },
            });
        } else {
            base.push(c);
        }
    }
    if !base.is_empty() {
        out.push(Piece {
            text: base,
            level: 0,
        });
    }
    out
}

/// Rough advance width of a string in a serif font of size `px` (for stacking scripts and sizing).
fn text_width(s: &str, px: f64) -> f64 {
    s.chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | 't' | 'f' | 'r' | '(' | ')' | ' ' | ',' | '.' | '1' | '/' | '′' => {
                0.33
            }
            'm' | 'w' | 'M' | 'W' => 0.8,
            'A'..='Z' | '∂' | '⊙' | '≠' | '=' | '+' | '−' | '⊤' => 0.68,
            _ => 0.52,
        })
        .sum::<f64>()
        * px
}

/// Splits a run of text into (text, italic) parts, as TeX sets math: a letter is italic; a word of
/// several letters on the baseline (`tanh`, `softmax`) is upright, in a script (`W_{hh}`) italic, except a
/// word of three or more letters in a script, which the book writes as `\text{...}` (`E_{src}`, `W_{out}`,
/// `f_{dec}`): upright too.
fn italic_runs(s: &str, level: i8) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    let mut cur = String::new();
    let mut cur_letters = false;
    let flush = |cur: &mut String, letters: bool, out: &mut Vec<(String, bool)>| {
        if cur.is_empty() {
            return;
        }
        let n = cur.chars().count();
        let italic = letters && (n == 1 || (level != 0 && n < 3));
        match out.last_mut() {
            Some((t, i)) if *i == italic => t.push_str(cur),
            _ => out.push((cur.clone(), italic)),
        }
        cur.clear();
    };
    for c in s.chars() {
        let letter = c.is_alphabetic() && c != '∂';
        if letter != cur_letters {
            flush(&mut cur, cur_letters, &mut out);
            cur_letters = letter;
        }
        cur.push(c);
    }
    flush(&mut cur, cur_letters, &mut out);
    out
}

/// The `<tspan>`s of a math label of size `px` (markup of the module doc), and the vertical shift it ends
/// at (non-zero when it ends in a script). `attrs` goes on every span.
fn math_spans(label: &str, px: f64, attrs: &str) -> (String, f64) {
    let script_px = (px * 0.7).round();
    let shift = |l: i8| match l {
        -1 => px * 0.28,
        1 => -px * 0.42,
        _ => 0.0,
    };
    let mut spans = String::new();
    let mut level: i8 = 0;
    let mut last_script_width = 0.0;
    let pieces = parse_label(label);
    for (i, piece) in pieces.iter().enumerate() {
        let size = if piece.level == 0 { px } else { script_px };
        // A superscript right after a subscript sits above it (h_t^{(k)}), as in TeX.
        let stacked = piece.level == 1 && i > 0 && pieces[i - 1].level == -1;
        let mut first = String::new();
        if stacked {
            first.push_str(&format!(" dx=\"{}\"", num(-last_script_width)));
        }
        let dy = shift(piece.level) - shift(level);
        if dy != 0.0 {
            first.push_str(&format!(" dy=\"{}\"", num(dy)));
        }
        // A hyphen in math is a minus sign; a space is a three-per-em space, about TeX's space around
        // `=` and `+`, and one that SVG does not collapse.
        let text = piece.text.replace('-', "−").replace(' ', "\u{2004}");
        let runs = italic_runs(&text, piece.level);
        for (j, (t, italic)) in runs.iter().enumerate() {
            let a = if j == 0 { first.as_str() } else { "" };
            let it = if *italic {
                " font-style=\"italic\""
            } else {
                ""
            };
            spans.push_str(&format!(
                "<tspan{attrs}{a}{it} font-size=\"{}\">{}</tspan>",
                num(size),
                esc(t)
            ));
        }
        if piece.level == -1 {
            last_script_width = text_width(&piece.text, script_px);
        }
        level = piece.level;
    }
    (spans, shift(level))
}

impl Anchor {
    fn svg(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

impl Svg {
    /// A new diagram of the given size (user units are CSS pixels at 100 %); `title` is its accessible
    /// name (a `<title>`), one sentence saying what it shows.
    pub fn new(width: f64, height: f64, title: &str) -> Svg {
        Svg {
            width,
            height,
            title: title.into(),
            body: Vec::new(),
        }
    }

    /// The file's text: no blank line, no `id`, the style inline.
    pub fn finish(&self, name: &str) -> String {
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"rnn-diagram\" data-diagram=\"{name}\" \
             role=\"img\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n",
            w = num(self.width),
            h = num(self.height)
        );
        s.push_str(&format!("<title>{}</title>\n", esc(&self.title)));
        s.push_str(&format!("<style>{STYLE}</style>\n"));
        for line in &self.body {
            s.push_str(line);
            s.push('\n');
        }
        s.push_str("</svg>\n");
        s
    }

    /// A box (a value, a cell, a parameter) centred at (x, y), with a math label in the middle.
    pub fn node(&mut self, x: f64, y: f64, w: f64, h: f64, fill: Fill, label: &str) -> Node {
        self.node_styled(x, y, w, h, fill, label, false)
    }

    /// A box with a dashed outline: something outside the step the picture is about.
    pub fn node_dashed(&mut self, x: f64, y: f64, w: f64, h: f64, fill: Fill, label: &str) -> Node {
        self.node_styled(x, y, w, h, fill, label, true)
    }

    #[allow(clippy::too_many_arguments)]
    fn node_styled(
        &mut self,
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        fill: Fill,
        label: &str,
        dashed: bool,
    ) -> Node {
        let accent = if fill == Fill::Grad { " a" } else { "" };
        let dash = if dashed { " d" } else { "" };
        self.body.push(format!(
            "<rect class=\"n{accent}{dash} {}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"5\"/>",
            fill.class(),
            num(x - w / 2.0),
            num(y - h / 2.0),
            num(w),
            num(h)
        ));
        if !label.is_empty() {
            self.math_styled(x, y, Anchor::Middle, label, fill == Fill::Grad);
        }
        Node {
            x,
            y,
            hw: w / 2.0,
            hh: h / 2.0,
            round: false,
        }
    }

    /// An operation in a circle of radius `r` (`tanh`, `σ`, `⊙`, `+`), centred at (x, y).
    pub fn op(&mut self, x: f64, y: f64, r: f64, label: &str, back: bool) -> Node {
        let accent = if back { " a" } else { "" };
        self.body.push(format!(
            "<circle class=\"n{accent} f-none\" cx=\"{}\" cy=\"{}\" r=\"{}\"/>",
            num(x),
            num(y),
            num(r)
        ));
        let small = label.chars().count() > 2;
        let cls = if back { "m a" } else { "m" };
        let style = if small {
            " style=\"font-size:13px\""
        } else {
            ""
        };
        self.body.push(format!(
            "<text class=\"{cls}\"{style} x=\"{}\" y=\"{}\" text-anchor=\"middle\" dominant-baseline=\"central\">{}</text>",
            num(x),
            num(y),
            esc(label)
        ));
        Node {
            x,
            y,
            hw: r,
            hh: r,
            round: true,
        }
    }

    /// The outline of a whole cell: a large rounded box with a dashed edge and the [`Fill::Cell`] tint,
    /// drawn first so that everything of the step sits on it. (x, y) is the top-left corner.
    pub fn frame(&mut self, x: f64, y: f64, w: f64, h: f64) {
        self.body.push(format!(
            "<rect class=\"n d {}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"12\"/>",
            Fill::Cell.class(),
            num(x),
            num(y),
            num(w),
            num(h)
        ));
    }

    /// A junction: a dot where a line branches (a value that goes to two places).
    pub fn dot(&mut self, x: f64, y: f64, stroke: Stroke) {
        self.body.push(format!(
            "<circle class=\"{}\" cx=\"{}\" cy=\"{}\" r=\"3.5\"/>",
            stroke.head_class(),
            num(x),
            num(y)
        ));
    }

    /// A line through `pts` without an arrowhead (the first stretch of a line that branches at a
    /// [`Svg::dot`]).
    pub fn line(&mut self, pts: &[(f64, f64)], stroke: Stroke) {
        let mut d = format!("M{} {}", num(pts[0].0), num(pts[0].1));
        for pt in &pts[1..] {
            d.push_str(&format!(" L{} {}", num(pt.0), num(pt.1)));
        }
        self.body.push(format!(
            "<path class=\"{}\" d=\"{d}\"/>",
            stroke.line_class()
        ));
    }

    /// A straight arrow from `a` to `b` (the head's tip at `b`).
    pub fn arrow(&mut self, a: (f64, f64), b: (f64, f64), stroke: Stroke) {
        self.arrow_path(&[a, b], stroke);
    }

    /// A line through `pts` with an arrowhead at the last point.
    pub fn arrow_path(&mut self, pts: &[(f64, f64)], stroke: Stroke) {
        let n = pts.len();
        assert!(n >= 2, "an arrow needs two points");
        let (p, q) = (pts[n - 2], pts[n - 1]);
        let (dx, dy) = (q.0 - p.0, q.1 - p.1);
        let len = (dx * dx + dy * dy).sqrt().max(1e-9);
        let (ux, uy) = (dx / len, dy / len);
        // The line stops inside the head, so that its square end does not poke out of the tip.
        let end = (q.0 - ux * (ARROW_LEN - 1.0), q.1 - uy * (ARROW_LEN - 1.0));
        let mut d = format!("M{} {}", num(pts[0].0), num(pts[0].1));
        for pt in &pts[1..n - 1] {
            d.push_str(&format!(" L{} {}", num(pt.0), num(pt.1)));
        }
        d.push_str(&format!(" L{} {}", num(end.0), num(end.1)));
        self.body.push(format!(
            "<path class=\"{}\" d=\"{d}\"/>",
            stroke.line_class()
        ));
        self.head(q, (ux, uy), stroke);
    }

    /// A cubic Bézier arrow from `a` to `b` with control points `c1`, `c2`.
    pub fn arrow_curve(
        &mut self,
        a: (f64, f64),
        c1: (f64, f64),
        c2: (f64, f64),
        b: (f64, f64),
        stroke: Stroke,
    ) {
        let (dx, dy) = (b.0 - c2.0, b.1 - c2.1);
        let len = (dx * dx + dy * dy).sqrt().max(1e-9);
        let (ux, uy) = (dx / len, dy / len);
        let end = (b.0 - ux * (ARROW_LEN - 1.0), b.1 - uy * (ARROW_LEN - 1.0));
        self.body.push(format!(
            "<path class=\"{}\" d=\"M{} {} C{} {} {} {} {} {}\"/>",
            stroke.line_class(),
            num(a.0),
            num(a.1),
            num(c1.0),
            num(c1.1),
            num(c2.0),
            num(c2.1),
            num(end.0),
            num(end.1)
        ));
        self.head(b, (ux, uy), stroke);
    }

    fn head(&mut self, tip: (f64, f64), (ux, uy): (f64, f64), stroke: Stroke) {
        let base = (tip.0 - ux * ARROW_LEN, tip.1 - uy * ARROW_LEN);
        let (px, py) = (-uy * ARROW_HALF, ux * ARROW_HALF);
        self.body.push(format!(
            "<path class=\"{}\" d=\"M{} {} L{} {} L{} {} Z\"/>",
            stroke.head_class(),
            num(tip.0),
            num(tip.1),
            num(base.0 + px),
            num(base.1 + py),
            num(base.0 - px),
            num(base.1 - py)
        ));
    }

    /// A math label (the book's symbols in the markup of the module doc), vertically centred on `y`.
    pub fn math(&mut self, x: f64, y: f64, anchor: Anchor, label: &str) {
        self.math_styled(x, y, anchor, label, false);
    }

    /// A math label in the accent colour (a gradient).
    pub fn math_back(&mut self, x: f64, y: f64, anchor: Anchor, label: &str) {
        self.math_styled(x, y, anchor, label, true);
    }

    fn math_styled(&mut self, x: f64, y: f64, anchor: Anchor, label: &str, back: bool) {
        let (spans, _) = math_spans(label, MATH_PX, "");
        let cls = if back { "m a" } else { "m" };
        // The baseline sits a third of the size below the centre line (the x-height is about half of it).
        self.body.push(format!(
            "<text class=\"{cls}\" x=\"{}\" y=\"{}\" text-anchor=\"{}\">{spans}</text>",
            num(x),
            num(y + MATH_PX * 0.33),
            anchor.svg()
        ));
    }

    /// A note: 12 px sans-serif text in which math sits between `«` and `»`, e.g. `from step «t + 1»`.
    pub fn note(&mut self, x: f64, y: f64, anchor: Anchor, s: &str) {
        self.note_class(x, y, anchor, s, "s");
    }

    /// A note in the accent colour.
    pub fn note_back(&mut self, x: f64, y: f64, anchor: Anchor, s: &str) {
        self.note_class(x, y, anchor, s, "s a");
    }

    fn note_class(&mut self, x: f64, y: f64, anchor: Anchor, s: &str, class: &str) {
        let mut spans = String::new();
        let mut back_to_baseline = 0.0;
        for (i, part) in s.split(['«', '»']).enumerate() {
            if part.is_empty() {
                continue;
            }
            if i % 2 == 1 {
                let (m, shift) = math_spans(part, NOTE_MATH_PX, " class=\"v\"");
                spans.push_str(&m);
                back_to_baseline = -shift;
            } else {
                let dy = if back_to_baseline != 0.0 {
                    format!(" dy=\"{}\"", num(back_to_baseline))
                } else {
                    String::new()
                };
                spans.push_str(&format!("<tspan{dy}>{}</tspan>", esc(part)));
                back_to_baseline = 0.0;
            }
        }
        self.body.push(format!(
            "<text class=\"{class}\" x=\"{}\" y=\"{}\" text-anchor=\"{}\">{spans}</text>",
            num(x),
            num(y + 4.5),
            anchor.svg()
        ));
    }

    /// Plain text (titles, notes), 13 px sans-serif; `small` makes it 12 px.
    pub fn text(&mut self, x: f64, y: f64, anchor: Anchor, s: &str, small: bool) {
        self.text_class(x, y, anchor, s, if small { "s" } else { "" });
    }

    /// Code (PyTorch parameter names), 12 px monospace.
    pub fn code(&mut self, x: f64, y: f64, anchor: Anchor, s: &str) {
        self.text_class(x, y, anchor, s, "c");
    }

    fn text_class(&mut self, x: f64, y: f64, anchor: Anchor, s: &str, class: &str) {
        let anchor = anchor.svg();
        let cls = if class.is_empty() {
            String::new()
        } else {
            format!(" class=\"{class}\"")
        };
        self.body.push(format!(
            "<text{cls} x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            num(x),
            num(y + 4.5),
            esc(s)
        ));
    }
}

// ---------------------------------------------------------------------------------------------------------
// The diagrams of chapters 2 and 4

/// Chapter 2: the Elman network rolled (one cell with a loop) and unrolled over T steps.
fn elman_unrolled() -> Svg {
    let mut s = Svg::new(
        880.0,
        290.0,
        "The Elman RNN rolled, one cell f with a loop W_hh, and unrolled: one copy of the same cell per \
         step, from h_0 to h_T, each reading x_t through W_ih and producing y_t through W_hy.",
    );
    let (cy, top, bottom) = (135.0, 32.0, 240.0);
    let (w, h) = (58.0, 46.0);
    // Rolled.
    let rx = 80.0;
    let cell = s.node(rx, cy, w, h, Fill::Cell, "f");
    let x = s.node(rx, bottom, 40.0, 30.0, Fill::Input, "x_t");
    let y = s.node(rx, top, 40.0, 30.0, Fill::Output, "y_t");
    s.arrow(x.top(), cell.bottom(), Stroke::Fwd);
    s.arrow(cell.top(), y.bottom(), Stroke::Fwd);
    s.math(
        rx + 8.0,
        (x.top().1 + cell.bottom().1) / 2.0,
        Anchor::Start,
        "W_{ih}",
    );
    s.math(
        rx + 8.0,
        (y.bottom().1 + cell.top().1) / 2.0,
        Anchor::Start,
        "W_{hy}",
    );
    // The loop: out of the right side, round, and back into the right side lower down.
    let (out, back) = ((rx + w / 2.0, cy - 12.0), (rx + w / 2.0, cy + 12.0));
    s.arrow_curve(
        out,
        (rx + w / 2.0 + 55.0, cy - 34.0),
        (rx + w / 2.0 + 55.0, cy + 34.0),
        back,
        Stroke::Fwd,
    );
    s.math(rx + w / 2.0 + 50.0, cy, Anchor::Start, "W_{hh}");
    s.text(rx, 276.0, Anchor::Middle, "rolled", true);
    // The equals sign between the two pictures.
    s.math(222.0, cy, Anchor::Middle, "=");
    s.text(222.0, cy + 22.0, Anchor::Middle, "unroll", true);
    // Unrolled.
    let xs = [362.0, 482.0, 602.0, 800.0];
    let subs = ["1", "2", "3", "T"];
    let h0 = (264.0, cy);
    s.math(h0.0, cy, Anchor::Middle, "h_0");
    let mut cells = Vec::new();
    for (i, &cx) in xs.iter().enumerate() {
        let c = s.node(cx, cy, w, h, Fill::Cell, "f");
        let xi = s.node(
            cx,
            bottom,
            40.0,
            30.0,
            Fill::Input,
            &format!("x_{}", subs[i]),
        );
        let yi = s.node(cx, top, 40.0, 30.0, Fill::Output, &format!("y_{}", subs[i]));
        s.arrow(xi.top(), c.bottom(), Stroke::Fwd);
        s.arrow(c.top(), yi.bottom(), Stroke::Fwd);
        s.math(
            cx + 7.0,
            (xi.top().1 + c.bottom().1) / 2.0,
            Anchor::Start,
            "W_{ih}",
        );
        s.math(
            cx + 7.0,
            (yi.bottom().1 + c.top().1) / 2.0,
            Anchor::Start,
            "W_{hy}",
        );
        cells.push(c);
    }
    // State arrows, each with W_hh above and the state it carries below.
    let state = |s: &mut Svg, a: (f64, f64), b: (f64, f64), label: &str| {
        s.arrow(a, b, Stroke::Fwd);
        let mid = (a.0 + b.0) / 2.0;
        s.math(mid, cy - 13.0, Anchor::Middle, "W_{hh}");
        s.math(mid, cy + 14.0, Anchor::Middle, label);
    };
    s.arrow((h0.0 + 14.0, cy), cells[0].left(), Stroke::Fwd);
    s.math(
        (h0.0 + 14.0 + cells[0].left().0) / 2.0,
        cy - 13.0,
        Anchor::Middle,
        "W_{hh}",
    );
    state(&mut s, cells[0].right(), cells[1].left(), "h_1");
    state(&mut s, cells[1].right(), cells[2].left(), "h_2");
    let dots = 701.0;
    state(&mut s, cells[2].right(), (dots - 18.0, cy), "h_3");
    s.math(dots, cy, Anchor::Middle, "⋯");
    state(&mut s, (dots + 18.0, cy), cells[3].left(), "h_{T-1}");
    s.arrow(cells[3].right(), (866.0, cy), Stroke::Fwd);
    s.math(850.0, cy + 14.0, Anchor::Middle, "h_T");
    s.text(
        575.0,
        276.0,
        Anchor::Middle,
        "unrolled: the same cell, with the same weights, at every step",
        true,
    );
    s
}

/// Chapter 2: the five input/output shapes.
fn five_shapes() -> Svg {
    let mut s = Svg::new(
        820.0,
        262.0,
        "The five shapes of a recurrent model: one-to-one, one-to-many, many-to-one, many-to-many with one \
         output per input, and encoder-decoder, where a sequence of length T_x is read and one of another \
         length T_y is written.",
    );
    let (yo, yh, yx) = (34.0, 106.0, 178.0);
    let (sz, pitch, gap) = (32.0, 44.0, 44.0);
    // (title lines, columns, which columns have an input, which have an output, decoder from column)
    struct Panel {
        title: [&'static str; 2],
        cols: usize,
        input: fn(usize) -> bool,
        output: fn(usize) -> bool,
        decoder_from: usize,
        feedback: bool,
    }
    let panels = [
        Panel {
            title: ["one-to-one", ""],
            cols: 1,
            input: |_| true,
            output: |_| true,
            decoder_from: 99,
            feedback: false,
        },
        Panel {
            title: ["one-to-many", ""],
            cols: 3,
            input: |c| c == 0,
            output: |_| true,
            decoder_from: 99,
            feedback: true,
        },
        Panel {
            title: ["many-to-one", ""],
            cols: 3,
            input: |_| true,
            output: |c| c == 2,
            decoder_from: 99,
            feedback: false,
        },
        Panel {
            title: ["many-to-many, aligned", "T_x = T_y"],
            cols: 3,
            input: |_| true,
            output: |_| true,
            decoder_from: 99,
            feedback: false,
        },
        Panel {
            title: ["many-to-many, encoder-decoder", "T_x ≠ T_y"],
            cols: 5,
            input: |c| c < 3,
            output: |c| c >= 3,
            decoder_from: 3,
            feedback: false,
        },
    ];
    let mut left = 30.0;
    for p in &panels {
        let width = sz + pitch * (p.cols as f64 - 1.0);
        let mut prev: Option<Node> = None;
        let (mut nx, mut ny) = (0, 0);
        for c in 0..p.cols {
            let cx = left + sz / 2.0 + pitch * c as f64;
            let fill = if c >= p.decoder_from {
                Fill::Cell2
            } else {
                Fill::Cell
            };
            let hn = s.node(cx, yh, sz, sz, fill, "h");
            if let Some(pr) = prev {
                s.arrow(pr.right(), hn.left(), Stroke::Fwd);
            }
            if (p.input)(c) {
                nx += 1;
                let xn = s.node(cx, yx, sz, sz, Fill::Input, &format!("x_{nx}"));
                s.arrow(xn.top(), hn.bottom(), Stroke::Fwd);
            }
            if p.feedback && c > 0 {
                // Generation: the previous output is the next input.
                let from = (cx - pitch + sz / 2.0, yo + sz / 2.0 - 4.0);
                s.arrow(from, (cx - sz / 2.0 + 5.0, yh - sz / 2.0), Stroke::Dashed);
            }
            if (p.output)(c) {
                ny += 1;
                let yn = s.node(cx, yo, sz, sz, Fill::Output, &format!("y_{ny}"));
                s.arrow(hn.top(), yn.bottom(), Stroke::Fwd);
            }
            prev = Some(hn);
        }
        let mid = left + width / 2.0;
        s.text(mid, 222.0, Anchor::Middle, p.title[0], false);
        if !p.title[1].is_empty() {
            s.math(mid, 244.0, Anchor::Middle, p.title[1]);
        }
        if p.decoder_from < p.cols {
            // The encoder has no outputs and the decoder no inputs: name them where those would be.
            let col = |c: f64| left + sz / 2.0 + pitch * c;
            let enc = (col(0.0) + col(p.decoder_from as f64 - 1.0)) / 2.0;
            let dec = (col(p.decoder_from as f64) + col(p.cols as f64 - 1.0)) / 2.0;
            s.text(enc, yo, Anchor::Middle, "encoder", true);
            s.text(dec, yx, Anchor::Middle, "decoder", true);
        }
        left += width + gap;
    }
    s
}

/// Chapter 2: a stack of three recurrent layers unrolled over three steps.
fn stacked_rnn() -> Svg {
    let mut s = Svg::new(
        880.0,
        392.0,
        "A stacked RNN with three layers: layer k reads the state of layer k-1 at the same step through \
         W_ih^(k) and its own previous state through W_hh^(k); the input x_t is layer 0 and the output \
         y_t reads the top layer.",
    );
    let cols = [230.0, 370.0, 510.0];
    let rows = [282.0, 202.0, 122.0]; // layers 1, 2, 3
    let (yx, yy) = (362.0, 36.0);
    let (w, h) = (70.0, 40.0);
    let mut grid: Vec<Vec<Node>> = Vec::new();
    for (k, &ry) in rows.iter().enumerate() {
        let mut row = Vec::new();
        for (t, &cx) in cols.iter().enumerate() {
            let label = format!("h_{}^{{({})}}", t + 1, k + 1);
            row.push(s.node(cx, ry, w, h, Fill::Cell, &label));
        }
        grid.push(row);
    }
    for (t, &cx) in cols.iter().enumerate() {
        let xn = s.node(cx, yx, 44.0, 30.0, Fill::Input, &format!("x_{}", t + 1));
        let yn = s.node(cx, yy, 44.0, 30.0, Fill::Output, &format!("y_{}", t + 1));
        s.arrow(xn.top(), grid[0][t].bottom(), Stroke::Fwd);
        for k in 1..rows.len() {
            s.arrow(grid[k - 1][t].top(), grid[k][t].bottom(), Stroke::Fwd);
        }
        s.arrow(grid[2][t].top(), yn.bottom(), Stroke::Fwd);
        if t == 0 {
            let lab = |k: usize| format!("W_{{ih}}^{{({k})}}");
            s.math(
                cx - 7.0,
                (xn.top().1 + grid[0][t].bottom().1) / 2.0,
                Anchor::End,
                &lab(1),
            );
            for k in 1..rows.len() {
                let mid = (grid[k - 1][t].top().1 + grid[k][t].bottom().1) / 2.0;
                s.math(cx - 7.0, mid, Anchor::End, &lab(k + 1));
            }
            s.math(
                cx - 7.0,
                (grid[2][t].top().1 + yn.bottom().1) / 2.0,
                Anchor::End,
                "W_{hy}",
            );
        }
    }
    for (k, &ry) in rows.iter().enumerate() {
        let h0x = 80.0;
        s.math(h0x, ry, Anchor::Middle, &format!("h_0^{{({})}}", k + 1));
        s.arrow((h0x + 22.0, ry), grid[k][0].left(), Stroke::Fwd);
        s.math(
            (h0x + 22.0 + grid[k][0].left().0) / 2.0,
            ry - 14.0,
            Anchor::Middle,
            &format!("W_{{hh}}^{{({})}}", k + 1),
        );
        for t in 1..cols.len() {
            s.arrow(grid[k][t - 1].right(), grid[k][t].left(), Stroke::Fwd);
        }
        let end = cols[2] + w / 2.0;
        s.arrow((end, ry), (end + 44.0, ry), Stroke::Fwd);
        s.math(end + 58.0, ry, Anchor::Middle, "⋯");
        // PyTorch's names of the layer's weights.
        s.text(
            650.0,
            ry - 9.0,
            Anchor::Start,
            &format!("layer {}", k + 1),
            true,
        );
        s.code(
            650.0,
            ry + 9.0,
            Anchor::Start,
            &format!("weight_ih_l{k}, weight_hh_l{k}"),
        );
    }
    s.text(650.0, yx, Anchor::Start, "input: layer 0", true);
    s.math(650.0, yy, Anchor::Start, "y_t = W_{hy} h_t^{(3)} + b_y");
    s
}

/// Chapter 9: one bidirectional layer unrolled over three steps: the forward cell reads left to right,
/// the reverse cell right to left, both read x_t, and y_t puts their states side by side.
fn bidirectional() -> Svg {
    let mut s = Svg::new(
        960.0,
        430.0,
        "A bidirectional layer over three steps: the forward cell's states run from left to right from \
         h_0, the reverse cell's from right to left from h_4; both read x_t, and the output y_t is the two \
         states side by side.",
    );
    let cols = [250.0, 400.0, 550.0];
    let (row_y, row_fwd, row_rev, row_x) = (46.0, 276.0, 166.0, 380.0);
    let (w, h) = (72.0, 40.0);
    let side = 52.0; // how far beside a column the routed arrows run
    for (t, &cx) in cols.iter().enumerate() {
        let step = t + 1;
        let xn = s.node(cx, row_x, 44.0, 30.0, Fill::Input, &format!("x_{step}"));
        let fwd = s.node(cx, row_fwd, w, h, Fill::Cell, &format!("h_{step}^{{→}}"));
        let rev = s.node(cx, row_rev, w, h, Fill::Cell2, &format!("h_{step}^{{←}}"));
        let yn = s.node(
            cx,
            row_y,
            120.0,
            34.0,
            Fill::Output,
            &format!("y_{step} = [h_{step}^{{→}}; h_{step}^{{←}}]"),
        );
        // x_t feeds both cells: straight up into the forward one, around it (on the right) into the reverse one
        let split = (cx, xn.top().1 - 14.0);
        s.line(&[xn.top(), split], Stroke::Fwd);
        s.dot(split.0, split.1, Stroke::Fwd);
        s.arrow(split, fwd.bottom(), Stroke::Fwd);
        s.arrow_path(
            &[
                split,
                (cx + side, split.1),
                (cx + side, rev.bottom().1 + 14.0),
                (cx + 18.0, rev.bottom().1 + 14.0),
                (cx + 18.0, rev.bottom().1),
            ],
            Stroke::Fwd,
        );
        // y_t reads both: the reverse state straight up, the forward state around it (on the left)
        let gap = fwd.top().1 - 16.0;
        s.arrow_path(
            &[
                (cx - 18.0, fwd.top().1),
                (cx - 18.0, gap),
                (cx - side, gap),
                (cx - side, yn.bottom().1 + 22.0),
                (cx - 26.0, yn.bottom().1 + 22.0),
                (cx - 26.0, yn.bottom().1),
            ],
            Stroke::Fwd,
        );
        s.arrow(rev.top(), (cx, yn.bottom().1), Stroke::Fwd);
        if t > 0 {
            let prev = cols[t - 1] + w / 2.0;
            s.arrow((prev, row_fwd), fwd.left(), Stroke::Fwd);
            s.arrow((cx - w / 2.0, row_rev), (prev, row_rev), Stroke::Fwd);
        }
    }
    // the initial states: h_0 on the left for the forward cell, h_4 on the right for the reverse cell
    let (first, last) = (cols[0] - w / 2.0, cols[2] + w / 2.0);
    s.math(120.0, row_fwd, Anchor::Middle, "h_0^{→}");
    s.arrow((142.0, row_fwd), (first, row_fwd), Stroke::Fwd);
    s.math(last + 70.0, row_rev, Anchor::Middle, "h_4^{←}");
    s.arrow((last + 48.0, row_rev), (last, row_rev), Stroke::Fwd);
    s.text(
        720.0,
        row_fwd - 9.0,
        Anchor::Start,
        "forward cell (9.1)",
        true,
    );
    s.code(
        720.0,
        row_fwd + 9.0,
        Anchor::Start,
        "weight_ih_l0, weight_hh_l0",
    );
    s.text(
        720.0,
        row_rev - 30.0,
        Anchor::Start,
        "reverse cell (9.2)",
        true,
    );
    s.code(
        720.0,
        row_rev - 12.0,
        Anchor::Start,
        "weight_ih_l0_reverse,",
    );
    s.code(720.0, row_rev + 4.0, Anchor::Start, "weight_hh_l0_reverse");
    s.text(
        720.0,
        row_y,
        Anchor::Start,
        "output (9.3): 2H features",
        true,
    );
    s
}

/// Chapter 4: one Elman step's computation graph, forward (values) and backward (gradients).
fn bptt_graph() -> Svg {
    let mut s = Svg::new(
        880.0,
        470.0,
        "The computation graph of one Elman step: forward, x_t and h_(t-1) give a_t, tanh gives h_t, which \
         feeds y_t, the loss L_t and the next step. Backward, the gradient of h_t is the sum of the loss's \
         and the next step's, is multiplied element-wise by 1 - h_t ⊙ h_t to give the gradient of a_t, \
         which W_hh transposed carries back to h_(t-1) and W_ih transposed to x_t.",
    );
    let (c_prev, c_a, c_op, c_h, c_plus, c_wn, c_next) =
        (80.0, 300.0, 420.0, 540.0, 650.0, 730.0, 820.0);
    let (fy, by) = (170.0, 320.0);
    let (w, h) = (64.0, 36.0);
    // Legend.
    s.arrow((20.0, 24.0), (70.0, 24.0), Stroke::Fwd);
    s.text(78.0, 24.0, Anchor::Start, "forward: values", true);
    s.arrow((20.0, 48.0), (70.0, 48.0), Stroke::Back);
    s.note_back(78.0, 48.0, Anchor::Start, "backward: gradients");
    // Forward.
    let hp = s.node(c_prev, fy, w, h, Fill::Cell, "h_{t-1}");
    let a = s.node(c_a, fy, w, h, Fill::Plain, "a_t");
    let tanh = s.op(c_op, fy, 21.0, "tanh", false);
    let ht = s.node(c_h, fy, w, h, Fill::Cell, "h_t");
    let an = s.node_dashed(c_next, fy, w, h, Fill::Plain, "a_{t+1}");
    s.note(c_next, fy - 30.0, Anchor::Middle, "step «t + 1»");
    let x = s.node(c_a, 240.0, 44.0, 30.0, Fill::Input, "x_t");
    let y = s.node(c_h, 100.0, 44.0, 30.0, Fill::Output, "y_t");
    let l = s.node(c_h, 34.0, 44.0, 30.0, Fill::Loss, "L_t");
    s.arrow(hp.right(), a.left(), Stroke::Fwd);
    s.math(
        (hp.right().0 + a.left().0) / 2.0,
        fy - 13.0,
        Anchor::Middle,
        "W_{hh}",
    );
    s.arrow(x.top(), a.bottom(), Stroke::Fwd);
    s.math(
        c_a + 8.0,
        (x.top().1 + a.bottom().1) / 2.0,
        Anchor::Start,
        "W_{ih}",
    );
    s.arrow(a.right(), tanh.left(), Stroke::Fwd);
    s.arrow(tanh.right(), ht.left(), Stroke::Fwd);
    s.arrow(ht.right(), an.left(), Stroke::Fwd);
    s.math(
        (ht.right().0 + an.left().0) / 2.0,
        fy - 13.0,
        Anchor::Middle,
        "W_{hh}",
    );
    s.arrow(ht.top(), y.bottom(), Stroke::Fwd);
    s.math(
        c_h + 8.0,
        (ht.top().1 + y.bottom().1) / 2.0,
        Anchor::Start,
        "W_{hy}",
    );
    s.arrow(y.top(), l.bottom(), Stroke::Fwd);
    s.text(
        c_h + 30.0,
        67.0,
        Anchor::Start,
        "softmax, cross-entropy (ch. 3)",
        true,
    );
    // Backward.
    let gw = 84.0;
    let g_next = s.node_dashed(c_next, by, gw, h, Fill::Grad, "∂L/∂a_{t+1}");
    let wn = s.node(c_wn, by, 40.0, 30.0, Fill::Plain, "W_{hh}^⊤");
    let plus = s.op(c_plus, by, 13.0, "+", true);
    let g_loss = s.node(c_plus, 410.0, gw, h, Fill::Grad, "∂L_t/∂h_t");
    let g_h = s.node(c_h, by, gw - 10.0, h, Fill::Grad, "∂L/∂h_t");
    let dot = s.op(c_op, by, 13.0, "⊙", true);
    let g_a = s.node(c_a, by, gw - 10.0, h, Fill::Grad, "∂L/∂a_t");
    let wp = s.node(190.0, by, 40.0, 30.0, Fill::Plain, "W_{hh}^⊤");
    let g_hp = s.node(c_prev, by, gw, h, Fill::Grad, "∂L/∂h_{t-1}");
    let wi = s.node(c_a, 396.0, 40.0, 30.0, Fill::Plain, "W_{ih}^⊤");
    let g_x = s.node(c_a, 446.0 - 2.0, gw - 10.0, 30.0, Fill::Grad, "∂L/∂x_t");
    s.note(c_next, by + 30.0, Anchor::Middle, "from step «t + 1»");
    s.arrow(g_next.left(), wn.right(), Stroke::Back);
    s.arrow(wn.left(), plus.right(), Stroke::Back);
    s.arrow(g_loss.top(), plus.bottom(), Stroke::Back);
    s.text(c_plus + 48.0, 410.0, Anchor::Start, "from the loss", true);
    s.arrow(plus.left(), g_h.right(), Stroke::Back);
    s.note_back(c_plus, by - 24.0, Anchor::Middle, "(4.7)");
    s.arrow(g_h.left(), dot.right(), Stroke::Back);
    s.arrow(dot.left(), g_a.right(), Stroke::Back);
    s.note_back(c_op, by + 26.0, Anchor::Middle, "(4.1)");
    s.arrow(g_a.left(), wp.right(), Stroke::Back);
    s.arrow(wp.left(), g_hp.right(), Stroke::Back);
    s.note_back(190.0, by + 26.0, Anchor::Middle, "(4.6)");
    s.arrow(g_a.bottom(), wi.top(), Stroke::Back);
    s.arrow(wi.bottom(), g_x.top(), Stroke::Back);
    s.note_back(c_a + 26.0, 396.0, Anchor::Start, "(4.5)");
    // The saved h_t that the backward reads: 1 - h_t ⊙ h_t.
    let from = ht.toward((c_op, by));
    s.arrow(from, dot.toward(ht.bottom()), Stroke::Dotted);
    s.math(500.0, 252.0, Anchor::Start, "1 − h_t ⊙ h_t");
    // The weight gradients read the same ∂L/∂a_t and add into the accumulators.
    let acc = (140.0, 396.0);
    s.arrow(g_a.toward(acc), (acc.0, acc.1 - 12.0), Stroke::Back);
    s.math_back(
        acc.0,
        acc.1 + 4.0,
        Anchor::Middle,
        "∂L/∂W_{ih} += ∂L/∂a_t x_t^⊤",
    );
    s.math_back(
        acc.0,
        acc.1 + 30.0,
        Anchor::Middle,
        "∂L/∂W_{hh} += ∂L/∂a_t h_{t-1}^⊤",
    );
    s.note_back(
        acc.0,
        acc.1 + 54.0,
        Anchor::Middle,
        "(4.2), (4.3); biases (4.4)",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_into_scripts() {
        let p = parse_label("W_{hh}^⊤");
        assert_eq!(p.len(), 3);
        assert_eq!((p[0].text.as_str(), p[0].level), ("W", 0));
        assert_eq!((p[1].text.as_str(), p[1].level), ("hh", -1));
        assert_eq!((p[2].text.as_str(), p[2].level), ("⊤", 1));
        let p = parse_label("∂L/∂h_{t-1}");
        assert_eq!(p[0].text, "∂L/∂h");
        assert_eq!(p[1].text, "t-1");
    }

    #[test]
    fn letters_are_italic_words_upright() {
        assert_eq!(
            italic_runs("1 − h", 0),
            vec![("1 − ".to_string(), false), ("h".to_string(), true)]
        );
        assert_eq!(italic_runs("tanh", 0), vec![("tanh".to_string(), false)]);
        assert_eq!(italic_runs("hh", -1), vec![("hh".to_string(), true)]);
        assert_eq!(italic_runs("src", -1), vec![("src".to_string(), false)]);
        assert_eq!(
            italic_runs("t,s", -1),
            vec![
                ("t".to_string(), true),
                (",".to_string(), false),
                ("s".to_string(), true)
            ]
        );
    }

    /// What markdown and the KaTeX preprocessor need to pass the SVG through untouched, and what keeps
    /// two diagrams on one page apart.
    #[test]
    fn every_diagram_is_safe_to_inline() {
        for (name, draw) in DIAGRAMS {
            let svg = draw().finish(name);
            assert!(
                !svg.contains("\n\n"),
                "{name}: a blank line ends the HTML block"
            );
            for bad in ["$", "\\", "{{", " id=\""] {
                assert!(!svg.contains(bad), "{name}: contains `{bad}`");
            }
            assert_eq!(
                svg.matches("<text").count(),
                svg.matches("</text>").count(),
                "{name}: unbalanced <text>"
            );
            assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
        }
    }

    #[test]
    fn arrows_end_on_outlines() {
        let n = Node {
            x: 0.0,
            y: 0.0,
            hw: 10.0,
            hh: 5.0,
            round: false,
        };
        assert_eq!(n.toward((100.0, 0.0)), (10.0, 0.0));
        assert_eq!(n.toward((0.0, -100.0)), (0.0, -5.0));
        let c = Node { round: true, ..n };
        let p = c.toward((3.0, 4.0));
        assert!((p.0 - 6.0).abs() < 1e-12 && (p.1 - 4.0).abs() < 1e-12);
    }
}
