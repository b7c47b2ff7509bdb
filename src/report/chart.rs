//! A small, dependency-free SVG line-chart writer for the sweep and soak
//! reports: named series of `(x, y)` points (dots joined by lines, a missing
//! value breaks the line), "nice" 1-2-5 axis ticks, axis titles with units,
//! labelled vertical markers (the knee, the safe operating point), a shaded
//! band (the region past the knee), a horizontal reference line (an SLO
//! limit), a legend and a title.
//!
//! Output is deterministic (fixed number formatting, no clock, no
//! randomness), every piece of text is XML-escaped, and the drawing has a
//! fixed `viewBox` of [`WIDTH`] × [`HEIGHT`] units whose width scales to the
//! page. The SVG carries no `id` attributes, so several charts can be inlined
//! into one HTML page without clashing.

use std::fmt::Write as _;

use crate::wording::{self, group_thousands};

/// Width of the `viewBox`, user units.
pub const WIDTH: f64 = 960.0;
/// Height of the `viewBox`, user units.
pub const HEIGHT: f64 = 430.0;

/// The plot area inside the `viewBox`: left, top, right, bottom.
pub const PLOT_LEFT: f64 = 84.0;
pub const PLOT_TOP: f64 = 84.0;
pub const PLOT_RIGHT: f64 = WIDTH - 28.0;
pub const PLOT_BOTTOM: f64 = HEIGHT - 64.0;

const FONT: &str = "'DejaVu Sans','Liberation Sans',Arial,Helvetica,sans-serif";
const TEXT_COLOR: &str = "#222222";
/// Plot frame and tick marks; tests look for this colour to find the plot.
pub const FRAME_COLOR: &str = "#4d4d4d";
const GRID_COLOR: &str = "#e3e3e3";

/// One line of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Shown in the legend.
    pub name: String,
    /// Any SVG colour, e.g. `#2c7bb6`.
    pub color: String,
    /// Dashed line (trend lines, secondary statistics).
    pub dashed: bool,
    /// Line width, user units.
    pub width: f64,
    /// Draw a dot at every point.
    pub dots: bool,
    /// Points in drawing order; `None` (or a non-finite value) breaks the line.
    pub points: Vec<(f64, Option<f64>)>,
}

impl Series {
    /// A solid series with dots.
    pub fn new(name: impl Into<String>, color: &str, points: Vec<(f64, Option<f64>)>) -> Self {
        Series {
            name: name.into(),
            color: color.to_owned(),
            dashed: false,
            width: 2.5,
            dots: true,
            points,
        }
    }

    /// The same series drawn dashed.
    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }

    /// The same series with another line width.
    pub fn with_width(mut self, width: f64) -> Self {
        self.width = width;
        self
    }

    /// The same series without dots (a fitted line).
    pub fn without_dots(mut self) -> Self {
        self.dots = false;
        self
    }

    fn has_values(&self) -> bool {
        self.points
            .iter()
            .any(|&(x, y)| usable(x) && y.is_some_and(usable))
    }
}

/// A labelled vertical line at one x value.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Where, in x units.
    pub x: f64,
    /// Drawn at the top of the plot, beside the line.
    pub label: String,
    pub color: String,
    pub dashed: bool,
    /// CSS class of the line (`knee`, `safe`), so readers and tests can find it.
    pub class: &'static str,
}

/// A shaded vertical band between two x values.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub from: f64,
    /// `None`: up to the right edge of the plot.
    pub to: Option<f64>,
    /// Shown in the legend.
    pub label: String,
    pub color: String,
}

/// A horizontal reference line (e.g. an SLO limit).
#[derive(Debug, Clone, PartialEq)]
pub struct RefLine {
    pub y: f64,
    pub label: String,
    pub color: String,
}

/// An axis: its title and unit (shown as `title (unit)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub title: String,
    pub unit: String,
    /// Start the axis at zero even when every value is well above it.
    pub from_zero: bool,
}

impl Axis {
    pub fn new(title: impl Into<String>, unit: impl Into<String>) -> Self {
        Axis {
            title: title.into(),
            unit: unit.into(),
            from_zero: true,
        }
    }

    fn caption(&self) -> String {
        if self.unit.is_empty() {
            self.title.clone()
        } else {
            format!("{} ({})", self.title, self.unit)
        }
    }
}

/// A line chart: build it, then [`LineChart::render`] it.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    pub markers: Vec<Marker>,
    pub band: Option<Band>,
    pub ref_line: Option<RefLine>,
}

/// Ticks of one axis: the domain and the tick values.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticks {
    pub min: f64,
    pub max: f64,
    pub step: f64,
    pub values: Vec<f64>,
}

impl Ticks {
    /// Nice ticks covering `[lo, hi]`: the smallest step of 1, 2 or 5 × 10ᵏ
    /// giving at most `target` intervals, the domain widened to whole steps (Heckbert,
    /// "Nice numbers for graph labels", Graphics Gems, 1990).
    pub fn nice(lo: f64, hi: f64, target: usize) -> Ticks {
        let (mut lo, mut hi) = if usable(lo) && usable(hi) && lo <= hi {
            (lo, hi)
        } else {
            (0.0, 1.0)
        };
        if hi - lo < 1e-6 {
            // A single value (or values closer than the ticks can tell
            // apart): give it room on both sides (or above zero).
            let pad = if hi.abs() >= 1e-6 {
                hi.abs() * 0.5
            } else {
                1.0
            };
            if lo >= 0.0 && lo - pad < 0.0 {
                lo = 0.0;
            } else {
                lo -= pad;
            }
            hi += pad;
        }
        let target = target.max(1);
        let mut step = nice_step((hi - lo) / target as f64);
        let (mut first, mut last) = bounds(lo, hi, step);
        // Widening the domain to whole steps can add an interval; the next
        // 1-2-5 step brings the count back to at most `target`.
        while (last - first) as usize > target {
            step = nice_step(step * 1.000_001);
            (first, last) = bounds(lo, hi, step);
        }
        let values: Vec<f64> = (first..=last).map(|i| clean(i as f64 * step)).collect();
        Ticks {
            min: clean(first as f64 * step),
            max: clean(last as f64 * step),
            step,
            values,
        }
    }

    /// Decimals needed to tell the ticks apart.
    pub fn decimals(&self) -> usize {
        if self.step >= 1.0 {
            0
        } else {
            (-self.step.log10().floor()) as usize
        }
    }
}

/// The whole multiples of `step` at or below `lo` and at or above `hi`.
fn bounds(lo: f64, hi: f64, step: f64) -> (i64, i64) {
    (
        (lo / step + 1e-9).floor() as i64,
        (hi / step - 1e-9).ceil() as i64,
    )
}

/// The smallest 1, 2 or 5 × 10ᵏ that is at least `rough`.
fn nice_step(rough: f64) -> f64 {
    if !(rough.is_finite() && rough > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(rough.log10().floor());
    let residual = rough / mag;
    let m = if residual <= 1.0 + 1e-9 {
        1.0
    } else if residual <= 2.0 + 1e-9 {
        2.0
    } else if residual <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// Whether a value can be drawn: finite and within ±10¹⁵ (beyond that no
/// measurement of latency, throughput or memory is meaningful, and the
/// tick arithmetic would overflow). Anything else counts as missing.
pub fn usable(v: f64) -> bool {
    v.is_finite() && v.abs() <= 1e15
}

/// Rounds away binary noise (0.30000000000000004 → 0.3) and negative zero.
fn clean(v: f64) -> f64 {
    let r = (v * 1e9).round() / 1e9;
    if r == 0.0 { 0.0 } else { r }
}

/// Maps data values to `viewBox` coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    pub x: Ticks,
    pub y: Ticks,
}

impl Scale {
    /// The x coordinate of data value `x`.
    pub fn x_px(&self, x: f64) -> f64 {
        PLOT_LEFT + (x - self.x.min) / (self.x.max - self.x.min) * (PLOT_RIGHT - PLOT_LEFT)
    }

    /// The y coordinate of data value `y`.
    pub fn y_px(&self, y: f64) -> f64 {
        PLOT_BOTTOM - (y - self.y.min) / (self.y.max - self.y.min) * (PLOT_BOTTOM - PLOT_TOP)
    }
}

impl LineChart {
    /// A chart with a title and axes and nothing drawn yet.
    pub fn new(title: impl Into<String>, x: Axis, y: Axis) -> Self {
        LineChart {
            title: title.into(),
            x,
            y,
            series: Vec::new(),
            markers: Vec::new(),
            band: None,
            ref_line: None,
        }
    }

    /// Whether any series has at least one value.
    pub fn has_data(&self) -> bool {
        self.series.iter().any(Series::has_values)
    }

    /// The scale the chart is drawn with: the x domain covers every point,
    /// marker and band edge; the y domain every value and the reference
    /// line, plus headroom so the highest point clears the marker labels.
    pub fn scale(&self) -> Scale {
        let mut xs: Vec<f64> = Vec::new();
        let mut ys: Vec<f64> = Vec::new();
        for s in &self.series {
            for &(x, y) in &s.points {
                match y {
                    Some(y) if usable(y) && usable(x) => {
                        xs.push(x);
                        ys.push(y);
                    }
                    _ => {}
                }
            }
        }
        xs.extend(self.markers.iter().map(|m| m.x).filter(|x| usable(*x)));
        if let Some(b) = &self.band {
            xs.extend([b.from].into_iter().chain(b.to).filter(|x| usable(*x)));
        }
        if let Some(r) = self.ref_line.as_ref().filter(|r| usable(r.y)) {
            ys.push(r.y);
        }
        let (mut x_lo, x_hi) = min_max(&xs);
        let (mut y_lo, mut y_hi) = min_max(&ys);
        if self.x.from_zero && x_lo > 0.0 {
            x_lo = 0.0;
        }
        if self.y.from_zero && y_lo > 0.0 {
            y_lo = 0.0;
        }
        // Headroom: the marker labels sit in the top rows of the plot.
        let rows = self.markers.len().min(3) as f64;
        y_hi += (y_hi - y_lo) * (0.04 + 0.05 * rows);
        Scale {
            x: Ticks::nice(x_lo, x_hi, 8),
            y: Ticks::nice(y_lo, y_hi, 8),
        }
    }

    /// The SVG document (with its XML namespace, so it stands alone as a
    /// `.svg` file; HTML5 accepts it inline as is).
    pub fn render(&self) -> String {
        let sc = self.scale();
        let mut o = String::with_capacity(16 * 1024);
        let _ = writeln!(
            o,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{t}\" font-family=\"{FONT}\">",
            w = num(WIDTH),
            h = num(HEIGHT),
            t = xml_escape(&self.title),
        );
        let _ = writeln!(o, "<title>{}</title>", xml_escape(&self.title));
        let _ = writeln!(
            o,
            "<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
            num(WIDTH),
            num(HEIGHT)
        );
        let _ = writeln!(
            o,
            "<text x=\"{}\" y=\"28\" font-size=\"19\" font-weight=\"bold\" fill=\"{TEXT_COLOR}\">{}</text>",
            num(PLOT_LEFT - 60.0),
            xml_escape(&self.title)
        );
        self.legend(&mut o);
        self.band_svg(&mut o, &sc);
        grid(&mut o, &sc);
        self.axes(&mut o, &sc);
        self.ref_line_svg(&mut o, &sc);
        for s in &self.series {
            series_svg(&mut o, &sc, s);
        }
        self.markers_svg(&mut o, &sc);
        if !self.has_data() {
            let _ = writeln!(
                o,
                "<text x=\"{}\" y=\"{}\" font-size=\"16\" text-anchor=\"middle\" fill=\"#777777\">no data</text>",
                num((PLOT_LEFT + PLOT_RIGHT) / 2.0),
                num((PLOT_TOP + PLOT_BOTTOM) / 2.0)
            );
        }
        o.push_str("</svg>\n");
        o
    }

    fn legend(&self, o: &mut String) {
        let mut x = PLOT_LEFT - 60.0;
        let mut y = 56.0;
        let mut item = |width: f64| -> (f64, f64) {
            if x + width > WIDTH - 10.0 && x > PLOT_LEFT - 60.0 {
                x = PLOT_LEFT - 60.0;
                y += 20.0;
            }
            let at = (x, y);
            x += width;
            at
        };
        o.push_str("<g class=\"legend\" font-size=\"13\">\n");
        for s in self.series.iter().filter(|s| s.has_values()) {
            let (lx, ly) = item(text_width(&s.name, 13.0) + 52.0);
            let dash = if s.dashed {
                " stroke-dasharray=\"7 4\""
            } else {
                ""
            };
            let _ = writeln!(
                o,
                "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2.5\"{dash}/>",
                num(lx),
                num(ly - 4.0),
                num(lx + 28.0),
                num(ly - 4.0),
                xml_escape(&s.color)
            );
            if s.dots {
                let _ = writeln!(
                    o,
                    "<circle cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"{}\"/>",
                    num(lx + 14.0),
                    num(ly - 4.0),
                    xml_escape(&s.color)
                );
            }
            let _ = writeln!(
                o,
                "<text x=\"{}\" y=\"{}\" fill=\"{TEXT_COLOR}\">{}</text>",
                num(lx + 34.0),
                num(ly),
                xml_escape(&s.name)
            );
        }
        if let Some(b) = &self.band {
            let (lx, ly) = item(text_width(&b.label, 13.0) + 44.0);
            let _ = writeln!(
                o,
                "<rect x=\"{}\" y=\"{}\" width=\"22\" height=\"12\" fill=\"{}\" fill-opacity=\"0.16\" stroke=\"{}\" stroke-opacity=\"0.4\"/>",
                num(lx + 2.0),
                num(ly - 10.0),
                xml_escape(&b.color),
                xml_escape(&b.color)
            );
            let _ = writeln!(
                o,
                "<text x=\"{}\" y=\"{}\" fill=\"{TEXT_COLOR}\">{}</text>",
                num(lx + 30.0),
                num(ly),
                xml_escape(&b.label)
            );
        }
        o.push_str("</g>\n");
    }

    fn band_svg(&self, o: &mut String, sc: &Scale) {
        let Some(b) = &self.band else { return };
        if !usable(b.from) {
            return;
        }
        let x1 = sc.x_px(b.from).clamp(PLOT_LEFT, PLOT_RIGHT);
        let x2 =
            b.to.filter(|t| usable(*t))
                .map_or(PLOT_RIGHT, |t| sc.x_px(t).clamp(PLOT_LEFT, PLOT_RIGHT));
        if x2 <= x1 {
            return;
        }
        let _ = writeln!(
            o,
            "<rect class=\"band\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" fill-opacity=\"0.09\"/>",
            num(x1),
            num(PLOT_TOP),
            num(x2 - x1),
            num(PLOT_BOTTOM - PLOT_TOP),
            xml_escape(&b.color)
        );
    }

    fn axes(&self, o: &mut String, sc: &Scale) {
        let _ = writeln!(
            o,
            "<rect class=\"frame\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"{FRAME_COLOR}\" stroke-width=\"1.5\"/>",
            num(PLOT_LEFT),
            num(PLOT_TOP),
            num(PLOT_RIGHT - PLOT_LEFT),
            num(PLOT_BOTTOM - PLOT_TOP)
        );
        o.push_str("<g class=\"ticks\" font-size=\"13\" fill=\"#333333\">\n");
        let xd = sc.x.decimals();
        for &v in &sc.x.values {
            let px = sc.x_px(v);
            let _ = writeln!(
                o,
                "<line x1=\"{p}\" y1=\"{}\" x2=\"{p}\" y2=\"{}\" stroke=\"{FRAME_COLOR}\"/><text x=\"{p}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                num(PLOT_BOTTOM),
                num(PLOT_BOTTOM + 6.0),
                num(PLOT_BOTTOM + 22.0),
                tick_label(v, xd),
                p = num(px),
            );
        }
        let yd = sc.y.decimals();
        for &v in &sc.y.values {
            let py = sc.y_px(v);
            let _ = writeln!(
                o,
                "<line x1=\"{}\" y1=\"{p}\" x2=\"{}\" y2=\"{p}\" stroke=\"{FRAME_COLOR}\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                num(PLOT_LEFT - 6.0),
                num(PLOT_LEFT),
                num(PLOT_LEFT - 9.0),
                num(py + 4.5),
                tick_label(v, yd),
                p = num(py),
            );
        }
        o.push_str("</g>\n");
        let _ = writeln!(
            o,
            "<text class=\"x-title\" x=\"{}\" y=\"{}\" font-size=\"14\" text-anchor=\"middle\" fill=\"{TEXT_COLOR}\">{}</text>",
            num((PLOT_LEFT + PLOT_RIGHT) / 2.0),
            num(HEIGHT - 14.0),
            xml_escape(&self.x.caption())
        );
        let cy = (PLOT_TOP + PLOT_BOTTOM) / 2.0;
        let _ = writeln!(
            o,
            "<text class=\"y-title\" x=\"20\" y=\"{}\" font-size=\"14\" text-anchor=\"middle\" fill=\"{TEXT_COLOR}\" transform=\"rotate(-90 20 {})\">{}</text>",
            num(cy),
            num(cy),
            xml_escape(&self.y.caption())
        );
    }

    fn ref_line_svg(&self, o: &mut String, sc: &Scale) {
        let Some(r) = &self.ref_line else { return };
        if !usable(r.y) {
            return;
        }
        let py = sc.y_px(r.y);
        let _ = writeln!(
            o,
            "<line class=\"ref\" x1=\"{}\" y1=\"{p}\" x2=\"{}\" y2=\"{p}\" stroke=\"{c}\" stroke-width=\"1.5\" stroke-dasharray=\"2 4\"/><text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\" fill=\"{c}\" {HALO}>{}</text>",
            num(PLOT_LEFT),
            num(PLOT_RIGHT),
            num(PLOT_RIGHT - 6.0),
            num(py - 5.0),
            xml_escape(&r.label),
            p = num(py),
            c = xml_escape(&r.color),
        );
    }

    fn markers_svg(&self, o: &mut String, sc: &Scale) {
        let shown: Vec<(&Marker, f64)> = self
            .markers
            .iter()
            .filter(|m| usable(m.x))
            .map(|m| (m, sc.x_px(m.x)))
            .collect();
        // Lines first, then every label over them, so a label that crosses
        // a neighbouring marker's line stays legible (white halo).
        for (m, px) in &shown {
            let dash = if m.dashed {
                " stroke-dasharray=\"8 5\""
            } else {
                ""
            };
            let _ = writeln!(
                o,
                "<line class=\"marker {}\" x1=\"{p}\" y1=\"{}\" x2=\"{p}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"3\"{dash}/>",
                xml_escape(m.class),
                num(PLOT_TOP),
                num(PLOT_BOTTOM),
                xml_escape(&m.color),
                p = num(*px),
            );
        }
        for (i, (m, px)) in shown.iter().enumerate() {
            // Labels stack downwards so close markers do not overlap; a
            // label goes left of its line when the right side would run off
            // the plot or across another marker and the left side is free.
            let ly = PLOT_TOP + 18.0 + 18.0 * (i % 3) as f64;
            let w = text_width(&m.label, 14.0) * 1.1;
            let crosses = |a: f64, b: f64| {
                shown
                    .iter()
                    .enumerate()
                    .any(|(j, (_, x))| j != i && *x >= a && *x <= b)
            };
            let right_ok = px + 7.0 + w <= PLOT_RIGHT - 4.0 && !crosses(*px + 1.0, px + 7.0 + w);
            let left_ok = px - 7.0 - w >= PLOT_LEFT + 4.0 && !crosses(px - 7.0 - w, px - 1.0);
            let (lx, anchor) = if right_ok || (!left_ok && px + 7.0 + w <= PLOT_RIGHT - 4.0) {
                (px + 7.0, "start")
            } else {
                (px - 7.0, "end")
            };
            let _ = writeln!(
                o,
                "<text class=\"marker-label {}\" x=\"{}\" y=\"{}\" font-size=\"14\" font-weight=\"bold\" text-anchor=\"{anchor}\" fill=\"{}\" {HALO}>{}</text>",
                xml_escape(m.class),
                num(lx),
                num(ly),
                xml_escape(&m.color),
                xml_escape(&m.label)
            );
        }
    }
}

/// A white outline behind text so it stays legible over lines and dots.
const HALO: &str =
    "stroke=\"#ffffff\" stroke-width=\"4\" stroke-linejoin=\"round\" paint-order=\"stroke\"";

fn grid(o: &mut String, sc: &Scale) {
    o.push_str(&format!(
        "<g class=\"grid\" stroke=\"{GRID_COLOR}\" stroke-width=\"1\">\n"
    ));
    for &v in &sc.y.values {
        let py = sc.y_px(v);
        if py > PLOT_TOP + 0.5 && py < PLOT_BOTTOM - 0.5 {
            let _ = writeln!(
                o,
                "<line x1=\"{}\" y1=\"{p}\" x2=\"{}\" y2=\"{p}\"/>",
                num(PLOT_LEFT),
                num(PLOT_RIGHT),
                p = num(py)
            );
        }
    }
    for &v in &sc.x.values {
        let px = sc.x_px(v);
        if px > PLOT_LEFT + 0.5 && px < PLOT_RIGHT - 0.5 {
            let _ = writeln!(
                o,
                "<line x1=\"{p}\" y1=\"{}\" x2=\"{p}\" y2=\"{}\"/>",
                num(PLOT_TOP),
                num(PLOT_BOTTOM),
                p = num(px)
            );
        }
    }
    o.push_str("</g>\n");
}

fn series_svg(o: &mut String, sc: &Scale, s: &Series) {
    let pts: Vec<Option<(f64, f64)>> = s
        .points
        .iter()
        .map(|&(x, y)| match y {
            Some(y) if usable(y) && usable(x) => Some((sc.x_px(x), sc.y_px(y))),
            _ => None,
        })
        .collect();
    let mut d = String::new();
    let mut pen_down = false;
    for p in &pts {
        match p {
            Some((x, y)) => {
                let _ = write!(
                    d,
                    "{}{},{} ",
                    if pen_down { "L" } else { "M" },
                    num(*x),
                    num(*y)
                );
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    let color = xml_escape(&s.color);
    let _ = writeln!(
        o,
        "<g class=\"series\" data-name=\"{}\">",
        xml_escape(&s.name)
    );
    if !d.is_empty() {
        let dash = if s.dashed {
            " stroke-dasharray=\"7 4\""
        } else {
            ""
        };
        let _ = writeln!(
            o,
            "<path d=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"{}\" stroke-linejoin=\"round\" stroke-linecap=\"round\"{dash}/>",
            d.trim_end(),
            num(s.width)
        );
    }
    // Dots shrink as points crowd (a soak of hundreds of intervals).
    let radius = match pts.len() {
        0..=40 => 4.0,
        41..=150 => 2.6,
        _ => 1.8,
    };
    if s.dots {
        for (x, y) in pts.iter().flatten() {
            let _ = writeln!(
                o,
                "<circle class=\"dot\" cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{color}\" stroke=\"#ffffff\" stroke-width=\"{}\"/>",
                num(*x),
                num(*y),
                num(radius),
                num(radius * 0.3)
            );
        }
    }
    o.push_str("</g>\n");
}

fn min_max(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 1.0);
    }
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

/// A coordinate with two decimals, trailing zeros removed: fixed formatting
/// keeps the output byte-identical across runs.
fn num(v: f64) -> String {
    wording::decimals(v, 2)
}

/// A tick label with `decimals` decimals and thousands separators.
pub fn tick_label(v: f64, decimals: usize) -> String {
    group_thousands(&wording::fixed(clean(v), decimals))
}

/// Rough rendered width of `s` at `size` px in a sans-serif font (average
/// advance ≈ 0.6 em); used only to place legend items and labels.
fn text_width(s: &str, size: f64) -> f64 {
    s.chars().count() as f64 * size * 0.6
}

/// Escapes text for XML character data and attribute values; control
/// characters other than tab and newline are not allowed in XML 1.0 and
/// become spaces.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_use_1_2_5_steps() {
        let t = Ticks::nice(0.0, 37.0, 5);
        assert_eq!(t.step, 10.0);
        assert_eq!(t.values, vec![0.0, 10.0, 20.0, 30.0, 40.0]);
        let t = Ticks::nice(0.0, 0.83, 5);
        assert_eq!(t.step, 0.2);
        assert_eq!((t.min, t.max), (0.0, 1.0));
        assert_eq!(t.decimals(), 1);
        let t = Ticks::nice(1.0, 32.0, 8);
        assert_eq!(t.step, 5.0);
        assert_eq!((t.min, t.max), (0.0, 35.0));
        let t = Ticks::nice(1200.0, 1450.0, 5);
        assert_eq!(t.step, 50.0);
        assert_eq!((t.min, t.max), (1200.0, 1450.0));
        // A constant series still gets a domain.
        let t = Ticks::nice(5.0, 5.0, 5);
        assert!(t.min <= 5.0 && t.max > 5.0, "{t:?}");
        let t = Ticks::nice(0.0, 0.0, 5);
        assert_eq!((t.min, t.max), (0.0, 1.0));
    }

    #[test]
    fn labels_group_thousands_and_escape() {
        assert_eq!(tick_label(12000.0, 0), "12,000");
        assert_eq!(tick_label(0.30000000000000004, 1), "0.3");
        assert_eq!(tick_label(-1500.0, 0), "-1,500");
        assert_eq!(
            xml_escape("<a href='x'>&\"\u{1}"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot; "
        );
    }

    fn chart() -> LineChart {
        let mut c = LineChart::new(
            "p95 <TTFT>",
            Axis::new("Load", "concurrency"),
            Axis::new("TTFT", "ms"),
        );
        c.series.push(Series::new(
            "p95",
            "#2c7bb6",
            vec![
                (1.0, Some(40.0)),
                (2.0, None),
                (4.0, Some(41.0)),
                (8.0, Some(42.0)),
                (16.0, Some(90.0)),
            ],
        ));
        c.markers.push(Marker {
            x: 8.0,
            label: "knee: 8".into(),
            color: "#d7191c".into(),
            dashed: false,
            class: "knee",
        });
        c.band = Some(Band {
            from: 8.0,
            to: None,
            label: "past the knee".into(),
            color: "#d7191c".into(),
        });
        c.ref_line = Some(RefLine {
            y: 100.0,
            label: "SLO 100 ms".into(),
            color: "#555".into(),
        });
        c
    }

    #[test]
    fn a_missing_value_breaks_the_line_and_markers_sit_on_the_scale() {
        let c = chart();
        let svg = c.render();
        let sc = c.scale();
        // Two sub-paths: the point at 1, then 4 → 8 → 16.
        let d = svg
            .split("<path d=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("a path");
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert_eq!(d.matches('L').count(), 2, "{d}");
        // The reference line is inside the y domain.
        assert!(sc.y.max >= 100.0);
        let knee_x = num(sc.x_px(8.0));
        assert!(svg.contains(&format!("class=\"marker knee\" x1=\"{knee_x}\"")));
        // The title is escaped.
        assert!(svg.contains("p95 &lt;TTFT&gt;"));
        assert!(!svg.contains("<TTFT>"));
        assert_eq!(svg, c.render());
    }

    #[test]
    fn an_empty_chart_says_no_data_and_does_not_panic() {
        let c = LineChart::new("empty", Axis::new("x", ""), Axis::new("y", ""));
        let svg = c.render();
        assert!(svg.contains("no data"));
        assert!(!svg.contains("NaN"));
    }
}
