//! SVG charts for the book, the notebooks and the CLI (plotters' SVG backend: no fonts or system libraries).
//!
//! ```
//! let svg = rnn::plot::LineChart::new("loss", "step", "nats/char")
//!     .series("train", vec![(0.0, 4.2), (1.0, 3.1), (2.0, 2.5)])
//!     .to_svg();
//! assert!(svg.0.contains("<svg"));
//! ```

use std::path::Path;

use plotters::prelude::*;

mod heatmap;
pub use heatmap::Heatmap;

/// An SVG image as a string; [`Svg::evcxr_display`] shows it inline in an evcxr (Jupyter) notebook.
#[derive(Clone, Debug)]
pub struct Svg(pub String);

impl Svg {
    /// Writes the SVG to `path` (atomically: temp file, then rename).
    pub fn save(&self, path: &Path) -> crate::Result<()> {
        crate::files::write_atomic(path, self.0.as_bytes())
    }

    /// Displays the image inline in an evcxr (Jupyter) notebook: call `svg.evcxr_display();` in a cell.
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT",
            self.0
        );
    }
}

/// Colours used for series, in order.
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// A line chart of one or more (x, y) series, optionally with a logarithmic y axis.
#[derive(Clone, Debug)]
pub struct LineChart {
    title: String,
    x_label: String,
    y_label: String,
    series: Vec<(String, Vec<(f64, f64)>)>,
    log_y: bool,
    size: (u32, u32),
}

impl LineChart {
    /// An empty chart with a title and axis labels.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        LineChart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: vec![],
            log_y: false,
            size: (720, 420),
        }
    }

    /// Adds a named series of points.
    pub fn series(mut self, name: &str, points: Vec<(f64, f64)>) -> Self {
        self.series.push((name.into(), points));
        self
    }

    /// Uses a base-10 logarithmic y axis (non-positive values are dropped).
    pub fn log_y(mut self, on: bool) -> Self {
        self.log_y = on;
        self
    }

    /// Sets the image size in pixels.
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }

    /// Renders the chart.
    pub fn to_svg(&self) -> Svg {
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, self.size).into_drawing_area();
            root.fill(&WHITE).expect("svg fill");
            let pts = |s: &Vec<(f64, f64)>| -> Vec<(f64, f64)> {
                s.iter()
                    .copied()
                    .filter(|(x, y)| x.is_finite() && y.is_finite() && (!self.log_y || *y > 0.0))
                    .collect()
            };
            let all: Vec<(f64, f64)> = self.series.iter().flat_map(|(_, s)| pts(s)).collect();
            let (mut x0, mut x1, mut y0, mut y1): (f64, f64, f64, f64) = all.iter().fold(
                (
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                ),
                |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
            );
            if all.is_empty() {
                (x0, x1, y0, y1) = (0.0, 1.0, if self.log_y { 0.1 } else { 0.0 }, 1.0);
            }
            if x1 <= x0 {
                x1 = x0 + 1.0;
            }
            if y1 <= y0 {
                y1 = y0 + y0.abs().max(1.0) * 0.1;
            }
            let pad = 0.05 * (y1 - y0);
            let mut builder = ChartBuilder::on(&root);
            builder
                .caption(&self.title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(64);
            let cleaned: Vec<(String, Vec<(f64, f64)>)> = self
                .series
                .iter()
                .map(|(n, s)| (n.clone(), pts(s)))
                .collect();
            if self.log_y {
                // Plot log10(y) on a linear axis and label the ticks as powers of ten: plotters' own log
                // axis drops every tick below f64::EPSILON, and vanishing gradients live far below it.
                let logged: Vec<(String, Vec<(f64, f64)>)> = cleaned
                    .into_iter()
                    .map(|(n, p)| (n, p.into_iter().map(|(x, y)| (x, y.log10())).collect()))
                    .collect();
                let (lo, hi) = (
                    y0.log10().floor(),
                    y1.log10().ceil().max(y0.log10().floor() + 1.0),
                );
                let mut chart = builder.build_cartesian_2d(x0..x1, lo..hi).expect("chart");
                chart
                    .configure_mesh()
                    .x_desc(&self.x_label)
                    .y_desc(&self.y_label)
                    // label the powers of ten only: a tick between two decades would repeat a label
                    .y_label_formatter(&|v| {
                        if (v - v.round()).abs() < 1e-9 {
                            format!("1e{}", v.round())
                        } else {
                            String::new()
                        }
                    })
                    .draw()
                    .expect("mesh");
                draw_lines(&mut chart, logged);
            } else {
                let mut chart = builder
                    .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
                    .expect("chart");
                chart
                    .configure_mesh()
                    .x_desc(&self.x_label)
                    .y_desc(&self.y_label)
                    .draw()
                    .expect("mesh");
                draw_lines(&mut chart, cleaned);
            }
            root.present().expect("svg present");
        }
        Svg(out)
    }
}

/// A dot chart for a few named categories (the variants of a cell, the settings of a sweep): every run
/// is a dot above its category's name, and a short bar marks the categories' means. Made for results
/// over a handful of seeds, where a mean alone would hide the spread.
///
/// ```
/// let svg = rnn::plot::DotChart::new("final loss by variant", "nats per character")
///     .category("V", vec![1.61, 1.63, 1.60])
///     .category("NFG", vec![1.84, 1.80, 1.95])
///     .to_svg();
/// assert!(svg.0.contains("NFG"));
/// ```
#[derive(Clone, Debug)]
pub struct DotChart {
    title: String,
    y_label: String,
    categories: Vec<(String, Vec<f64>)>,
    size: (u32, u32),
}

impl DotChart {
    /// An empty chart with a title and a y-axis label.
    pub fn new(title: &str, y_label: &str) -> Self {
        DotChart {
            title: title.into(),
            y_label: y_label.into(),
            categories: vec![],
            size: (720, 420),
        }
    }

    /// Adds a category with its values (one per run); non-finite values are left out.
    pub fn category(mut self, name: &str, values: Vec<f64>) -> Self {
        self.categories.push((name.into(), values));
        self
    }

    /// Sets the image size in pixels.
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }

    /// Renders the chart.
    pub fn to_svg(&self) -> Svg {
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, self.size).into_drawing_area();
            root.fill(&WHITE).expect("svg fill");
            let finite: Vec<f64> = self
                .categories
                .iter()
                .flat_map(|(_, v)| v.iter().copied().filter(|y| y.is_finite()))
                .collect();
            let (mut y0, mut y1) = finite
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &y| {
                    (a.min(y), b.max(y))
                });
            if finite.is_empty() {
                (y0, y1) = (0.0, 1.0);
            }
            if y1 <= y0 {
                y1 = y0 + y0.abs().max(1.0) * 0.1;
            }
            let pad = 0.08 * (y1 - y0);
            let n = self.categories.len().max(1);
            let names: Vec<String> = self.categories.iter().map(|(n, _)| n.clone()).collect();
            let mut chart = ChartBuilder::on(&root)
                .caption(&self.title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(64)
                .build_cartesian_2d(-0.5..(n as f64 - 0.5), (y0 - pad)..(y1 + pad))
                .expect("chart");
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(n)
                .x_label_formatter(&|x| {
                    let i = x.round();
                    if (x - i).abs() < 1e-6 && i >= 0.0 {
                        names.get(i as usize).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .y_desc(&self.y_label)
                .draw()
                .expect("mesh");
            for (i, (_, values)) in self.categories.iter().enumerate() {
                let c = PALETTE[i % PALETTE.len()];
                let vs: Vec<f64> = values.iter().copied().filter(|y| y.is_finite()).collect();
                let k = vs.len();
                // spread a category's dots a little sideways so that equal values stay visible
                let dots = vs.iter().enumerate().map(|(j, &y)| {
                    let dx = if k > 1 {
                        0.24 * (j as f64 / (k - 1) as f64 - 0.5)
                    } else {
                        0.0
                    };
                    Circle::new((i as f64 + dx, y), 4, c.filled())
                });
                chart.draw_series(dots).expect("dots");
                if k > 0 {
                    let mean = vs.iter().sum::<f64>() / k as f64;
                    let x = i as f64;
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(x - 0.25, mean), (x + 0.25, mean)],
                            BLACK.stroke_width(2),
                        )))
                        .expect("mean");
                }
            }
            root.present().expect("svg present");
        }
        Svg(out)
    }
}

/// Draws each series as a coloured line, with a legend when there is more than one.
fn draw_lines<'a, 'b, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>,
    series: Vec<(String, Vec<(f64, f64)>)>,
) where
    'b: 'a,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let many = series.len() > 1;
    for (i, (name, points)) in series.into_iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(points, c.stroke_width(2)))
            .expect("series")
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    if many {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .expect("legend");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_series_with_legend_and_log_axis() {
        let svg = LineChart::new("norms", "k", "‖dL/dh_k‖")
            .series(
                "rho 0.9",
                (0..20).map(|k| (k as f64, 0.9f64.powi(k))).collect(),
            )
            .series(
                "rho 1.1",
                (0..20).map(|k| (k as f64, 1.1f64.powi(k))).collect(),
            )
            .log_y(true)
            .to_svg();
        assert!(svg.0.starts_with("<svg"));
        assert!(svg.0.contains("rho 1.1"), "legend text missing");
        assert!(
            svg.0.matches("<polyline").count() >= 2,
            "expected two line series"
        );
    }

    #[test]
    fn log_axis_labels_reach_tiny_values() {
        // vanishing gradients go far below f64::EPSILON; the axis must still be labelled there
        let svg = LineChart::new("tiny", "k", "norm")
            .series("g", (0..=40).map(|k| (k as f64, 10f64.powi(-k))).collect())
            .log_y(true)
            .to_svg();
        let labelled = ["1e-40", "1e-35", "1e-30"]
            .iter()
            .any(|l| svg.0.contains(l));
        assert!(labelled, "no tick label below 1e-16");
        assert!(svg.0.contains("1e0"));
    }

    #[test]
    fn log_axis_labels_each_power_of_ten_once() {
        // a range of one to two decades gets ticks between the powers of ten: they must stay unlabelled
        let svg = LineChart::new("short", "k", "mse")
            .series("g", vec![(0.0, 0.17), (1.0, 0.004)])
            .log_y(true)
            .to_svg();
        for label in ["1e-3", "1e-2", "1e-1", "1e0"] {
            let n = svg.0.matches(&format!(">\n{label}\n<")).count();
            assert!(n <= 1, "{label} appears {n} times");
        }
        assert!(svg.0.contains(">\n1e-1\n<"), "the decades are labelled");
    }

    #[test]
    fn dot_chart_draws_every_run_and_names_every_category() {
        let svg = DotChart::new("runs", "loss")
            .category("V", vec![1.0, 1.2, 1.1])
            .category("NIG", vec![1.5, f64::NAN, 1.4])
            .category("empty", vec![])
            .to_svg();
        for name in ["V", "NIG", "empty"] {
            assert!(svg.0.contains(&format!(">\n{name}\n<")), "no label {name}");
        }
        assert_eq!(
            svg.0.matches("<circle").count(),
            5,
            "one dot per finite value"
        );
        DotChart::new("nothing", "y").to_svg();
    }

    #[test]
    fn empty_and_flat_series_do_not_panic() {
        LineChart::new("empty", "x", "y").to_svg();
        LineChart::new("flat", "x", "y")
            .series("c", vec![(0.0, 1.0), (1.0, 1.0)])
            .to_svg();
        LineChart::new("one point", "x", "y")
            .series("p", vec![(3.0, 2.0)])
            .log_y(true)
            .to_svg();
    }
}
