//! A heatmap of a matrix with labelled rows and columns: attention weights α_{t,s} (11.2), one row per
//! output token and one column per source token, as in Bahdanau et al.'s alignment figures.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::Svg;

/// A heatmap of values in [0, 1] (darker is larger), with a label under every column and beside every
/// row, and the value written in each cell when the cells are large enough.
///
/// ```
/// use ndarray::array;
/// let weights = array![[0.1, 0.9], [0.8, 0.2]];
/// let svg = rnn::plot::Heatmap::new("alignment", "source", "output", weights)
///     .columns(vec!["a".into(), "b".into()])
///     .rows(vec!["b".into(), "a".into()])
///     .to_svg();
/// assert!(svg.0.contains("alignment"));
/// ```
#[derive(Clone, Debug)]
pub struct Heatmap {
    title: String,
    x_label: String,
    y_label: String,
    values: ndarray::Array2<f64>,
    rows: Vec<String>,
    columns: Vec<String>,
    cell: u32,
}

impl Heatmap {
    /// A heatmap of `values` `(rows, columns)`, with a title and the axes' names; rows and columns are
    /// labelled by their index until [`Heatmap::rows`] and [`Heatmap::columns`] name them.
    pub fn new(title: &str, x_label: &str, y_label: &str, values: ndarray::Array2<f64>) -> Self {
        let (r, c) = values.dim();
        Heatmap {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            values,
            rows: (0..r).map(|i| i.to_string()).collect(),
            columns: (0..c).map(|i| i.to_string()).collect(),
            cell: 22,
        }
    }

    /// Names the rows, top to bottom (one label per row: extra labels are ignored, missing ones blank).
    pub fn rows(mut self, labels: Vec<String>) -> Self {
        self.rows = labels;
        self
    }

    /// Names the columns, left to right.
    pub fn columns(mut self, labels: Vec<String>) -> Self {
        self.columns = labels;
        self
    }

    /// Sets the side of a cell in pixels (22 by default); the values are written in cells of 30 or more.
    pub fn cell_size(mut self, pixels: u32) -> Self {
        self.cell = pixels.max(4);
        self
    }

    /// Renders the heatmap. Values are clamped to [0, 1]; a non-finite value is drawn as a grey cell.
    pub fn to_svg(&self) -> Svg {
        let (n_rows, n_cols) = self.values.dim();
        let cell = self.cell as i32;
        let (left, top, right, bottom) = (70, 44, 16, 56);
        let width = left + cell * n_cols as i32 + right;
        let height = top + cell * n_rows as i32 + bottom;
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, (width.max(160) as u32, height as u32))
                .into_drawing_area();
            root.fill(&WHITE).expect("svg fill");
            let text = |s: &str, at: (i32, i32), size: i32, anchor: Pos| {
                let style = ("sans-serif", size).into_font().color(&BLACK).pos(anchor);
                root.draw(&Text::new(s.to_string(), at, style))
                    .expect("svg text");
            };
            let middle = Pos::new(HPos::Center, VPos::Center);
            text(&self.title, (width / 2, 18), 18, middle);
            for ((r, c), &v) in self.values.indexed_iter() {
                let (x, y) = (left + cell * c as i32, top + cell * r as i32);
                let fill = if v.is_finite() {
                    shade(v.clamp(0.0, 1.0))
                } else {
                    RGBColor(190, 190, 190)
                };
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    fill.filled(),
                ))
                .expect("svg cell");
                if cell >= 30 && v.is_finite() {
                    let ink = if v > 0.55 { WHITE } else { BLACK };
                    let style = ("sans-serif", 11).into_font().color(&ink).pos(middle);
                    let label = format!("{:.2}", v.clamp(0.0, 1.0));
                    root.draw(&Text::new(label, (x + cell / 2, y + cell / 2), style))
                        .expect("svg value");
                }
            }
            let grid = top + cell * n_rows as i32;
            root.draw(&Rectangle::new(
                [(left, top), (left + cell * n_cols as i32, grid)],
                BLACK.stroke_width(1),
            ))
            .expect("svg frame");
            for (c, label) in self.columns.iter().enumerate().take(n_cols) {
                let x = left + cell * c as i32 + cell / 2;
                text(label, (x, grid + 10), 13, middle);
            }
            for (r, label) in self.rows.iter().enumerate().take(n_rows) {
                let y = top + cell * r as i32 + cell / 2;
                text(
                    label,
                    (left - 8, y),
                    13,
                    Pos::new(HPos::Right, VPos::Center),
                );
            }
            let centre_x = left + cell * n_cols as i32 / 2;
            text(&self.x_label, (centre_x, grid + 34), 14, middle);
            text(
                &self.y_label,
                (8, top - 14),
                14,
                Pos::new(HPos::Left, VPos::Center),
            );
            root.present().expect("svg present");
        }
        Svg(out)
    }
}

/// White (0) to dark blue (1), linearly in RGB.
fn shade(v: f64) -> RGBColor {
    let mix = |from: f64, to: f64| (from + (to - from) * v).round() as u8;
    RGBColor(mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0))
}
