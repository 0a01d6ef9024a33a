//! SVG line charts (plotters, SVG backend only: text stays `<text>`, no fonts are embedded
//! or fetched). One unit per chart; the legend sits in its own panel on the right so it
//! never hides data.

use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Distinct colours (Tableau 10).
pub const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// One line.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Index into [`PALETTE`] (wraps).
    pub color: usize,
    pub dashed: bool,
    /// Draw a marker at each point.
    pub markers: bool,
}

/// How an axis prints its values.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Axis {
    /// Plain numbers.
    Number,
    /// Bytes: 4 KiB, 1 MiB.
    Bytes,
    /// Nanoseconds scaled: 250 ns, 12 µs, 16 ms.
    Nanos,
    /// Percent (0..100).
    Percent,
    /// Counts (threads, executors): labels on whole numbers only.
    Integer,
    /// Bytes on a log2 axis: the points' x are log2(bytes); labels on powers of two.
    Log2Bytes,
}

/// A chart.
#[derive(Clone, Debug)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_axis: Axis,
    pub y_axis: Axis,
    pub x_log: bool,
    pub y_log: bool,
    pub series: Vec<Series>,
}

pub const WIDTH: u32 = 900;
pub const HEIGHT: u32 = 380;
const LEGEND: u32 = 260;

fn tick(v: f64, a: Axis) -> String {
    match a {
        Axis::Bytes => {
            let units = ["B", "KiB", "MiB", "GiB"];
            let mut x = v;
            let mut i = 0;
            while x >= 1024.0 && i < units.len() - 1 {
                x /= 1024.0;
                i += 1;
            }
            format!("{} {}", trim(x), units[i])
        }
        Axis::Nanos => {
            if v >= 1e6 {
                format!("{} ms", trim(v / 1e6))
            } else if v >= 1e3 {
                format!("{} µs", trim(v / 1e3))
            } else {
                format!("{} ns", trim(v))
            }
        }
        Axis::Percent => format!("{}%", trim(v)),
        Axis::Integer if v != v.round() => String::new(),
        Axis::Integer => format!("{v:.0}"),
        Axis::Log2Bytes if v != v.round() => String::new(),
        Axis::Log2Bytes => tick(2f64.powf(v), Axis::Bytes),
        Axis::Number => trim(v),
    }
}

fn trim(x: f64) -> String {
    if x == x.round() {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn color(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// The data range of one axis, padded; log ranges drop non-positive values.
fn range(vals: impl Iterator<Item = f64>, log: bool, from_zero: bool) -> (f64, f64) {
    let v: Vec<f64> = vals
        .filter(|x| x.is_finite() && (!log || *x > 0.0))
        .collect();
    let (mut lo, mut hi) = v
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    if v.is_empty() {
        return if log { (1.0, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        return (lo / 1.3, hi * 1.3);
    }
    if from_zero && lo >= 0.0 {
        lo = 0.0;
    }
    if hi <= lo {
        hi = lo + 1.0;
        lo -= 1.0;
    }
    let pad = (hi - lo) * 0.05;
    (
        if from_zero && lo == 0.0 {
            0.0
        } else {
            lo - pad
        },
        hi + pad,
    )
}

/// Renders the chart as an SVG document (a string).
pub fn svg(c: &Chart) -> String {
    // Sizes read best at powers of two: plot log2(bytes) on a linear axis.
    let owned;
    let c = if c.x_log && c.x_axis == Axis::Bytes {
        let mut t = c.clone();
        t.x_log = false;
        t.x_axis = Axis::Log2Bytes;
        for s in &mut t.series {
            s.points = s
                .points
                .iter()
                .filter(|p| p.0 > 0.0)
                .map(|p| (p.0.log2(), p.1))
                .collect();
        }
        owned = t;
        &owned
    } else {
        c
    };
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        let _ = draw(&root, c);
        let _ = root.present();
    }
    buf
}

type Res = Result<(), Box<dyn std::error::Error>>;

fn draw(root: &DrawingArea<SVGBackend, Shift>, c: &Chart) -> Res {
    root.fill(&WHITE)?;
    let (plot, legend) = root.split_horizontally(WIDTH - LEGEND);
    let xs = c.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = c.series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (x0, x1) = range(xs, c.x_log, false);
    let (y0, y1) = range(ys, c.y_log, c.y_axis != Axis::Percent);
    let (y0, y1) = if c.y_axis == Axis::Percent {
        (0.0, 100.0)
    } else {
        (y0, y1)
    };
    match (c.x_log, c.y_log) {
        (false, false) => body(&plot, c, x0..x1, y0..y1)?,
        (true, false) => body(&plot, c, (x0..x1).log_scale(), y0..y1)?,
        (false, true) => body(&plot, c, x0..x1, (y0..y1).log_scale())?,
        (true, true) => body(&plot, c, (x0..x1).log_scale(), (y0..y1).log_scale())?,
    }
    // The legend panel: a line sample and the name, one row each.
    let font = ("sans-serif", 13).into_font();
    legend.draw(&Text::new(
        "legend",
        (6, 28),
        font.clone().style(FontStyle::Bold),
    ))?;
    for (i, s) in c.series.iter().enumerate().take(22) {
        let y = 48 + i as i32 * 15;
        let st = color(s.color).stroke_width(2);
        if s.dashed {
            legend.draw(&PathElement::new(vec![(6, y), (12, y)], st))?;
            legend.draw(&PathElement::new(vec![(16, y), (22, y)], st))?;
        } else {
            legend.draw(&PathElement::new(vec![(6, y), (22, y)], st))?;
        }
        legend.draw(&Text::new(s.name.clone(), (28, y - 6), font.clone()))?;
    }
    if c.series.len() > 22 {
        legend.draw(&Text::new(
            format!("… {} more", c.series.len() - 22),
            (28, 48 + 22 * 15 - 6),
            font,
        ))?;
    }
    Ok(())
}

fn body<X, Y>(area: &DrawingArea<SVGBackend, Shift>, c: &Chart, xr: X, yr: Y) -> Res
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .caption(&c.title, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(42)
        .y_label_area_size(78)
        .build_cartesian_2d(xr, yr)?;
    let (xa, ya) = (c.x_axis, c.y_axis);
    let xf = move |v: &f64| tick(*v, xa);
    let yf = move |v: &f64| tick(*v, ya);
    chart
        .configure_mesh()
        .x_desc(c.x_label.as_str())
        .y_desc(c.y_label.as_str())
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .x_labels(8)
        .y_labels(8)
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    for s in &c.series {
        let col = color(s.color);
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .cloned()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        if s.dashed {
            chart.draw_series(DashedLineSeries::new(
                pts.clone(),
                6,
                4,
                col.stroke_width(2),
            ))?;
        } else {
            chart.draw_series(LineSeries::new(pts.clone(), col.stroke_width(2)))?;
        }
        if s.markers && s.dashed {
            // Hollow markers for the dashed (p99) series, so single points still show.
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, col.stroke_width(1))))?;
        } else if s.markers {
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, col.filled())))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks() {
        assert_eq!(tick(4096.0, Axis::Bytes), "4 KiB");
        assert_eq!(tick(1_048_576.0, Axis::Bytes), "1 MiB");
        assert_eq!(tick(12_500.0, Axis::Nanos), "12.5 µs");
        assert_eq!(tick(16_000_000.0, Axis::Nanos), "16 ms");
        assert_eq!(tick(50.0, Axis::Percent), "50%");
        assert_eq!(tick(1.5, Axis::Integer), "");
        assert_eq!(tick(2.0, Axis::Integer), "2");
        assert_eq!(tick(12.0, Axis::Log2Bytes), "4 KiB");
        assert_eq!(tick(12.5, Axis::Log2Bytes), "");
    }

    #[test]
    fn svg_has_axes_legend_and_lines() {
        let c = Chart {
            title: "t".into(),
            x_label: "size".into(),
            y_label: "GiB/s".into(),
            x_axis: Axis::Bytes,
            y_axis: Axis::Number,
            x_log: true,
            y_log: false,
            series: vec![
                Series {
                    name: "m1 · readv".into(),
                    points: vec![(4096.0, 3.0), (65536.0, 7.0)],
                    color: 0,
                    dashed: false,
                    markers: true,
                },
                Series {
                    name: "m1 · memcpy ceiling".into(),
                    points: vec![(4096.0, 5.0), (65536.0, 11.0)],
                    color: 0,
                    dashed: true,
                    markers: false,
                },
            ],
        };
        let s = svg(&c);
        assert!(s.starts_with("<svg"));
        for want in [
            "size",
            "GiB/s",
            "m1 · readv",
            "m1 · memcpy ceiling",
            "KiB",
            "<polyline",
        ] {
            assert!(s.contains(want), "missing {want}");
        }
        assert!(!s.contains("<script") && !s.contains("@font-face"));
    }
}
