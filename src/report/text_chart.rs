//! A dot-and-whisker chart in monospace text for the Markdown report:
//! baseline and candidate of each ratio rule on one axis, the candidate's
//! interval as a whisker and the limit as a tick. Plain text in a fenced
//! code block renders the same in a GitHub PR comment, a GitLab MR note and
//! both job summaries, with no script and no image to host (an SVG by
//! relative path breaks in a job summary).

/// One rule drawn as two lines: the baseline's value, and the candidate's
/// with its interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The metric (`ttft.p95`).
    pub label: String,
    pub unit: String,
    pub baseline: f64,
    pub candidate: f64,
    /// The candidate's interval: the baseline × the ratio's interval.
    pub lo: f64,
    pub hi: f64,
    /// The limit on the candidate's value: the baseline × the ratio limit.
    pub limit: Option<f64>,
    /// Confidence level of the interval (0.95).
    pub level: f64,
}

/// Characters of the track.
const WIDTH: usize = 36;

/// The chart, or `None` when nothing can be drawn. `value` formats a
/// number in the rule's unit (the report's wording).
pub fn render(rows: &[Comparison], value: &dyn Fn(f64, &str) -> String) -> Option<String> {
    let rows: Vec<&Comparison> = rows
        .iter()
        .filter(|r| {
            [r.baseline, r.candidate, r.lo, r.hi]
                .iter()
                .chain(r.limit.iter())
                .all(|v| v.is_finite())
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let label_w = rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    let mut out = String::new();
    let level = rows[0].level * 100.0;
    let level = if rows.iter().all(|r| (r.level * 100.0 - level).abs() < 1e-9) {
        format!("{} % ", crate::wording::decimals(level, 1))
    } else {
        String::new()
    };
    out.push_str(&format!(
        "{:label_w$}  ● value   ├─┤ candidate's {level}interval   ┊ limit\n",
        ""
    ));
    for r in rows {
        let mut vals = vec![r.baseline, r.candidate, r.lo, r.hi];
        vals.extend(r.limit);
        let (min, max) = vals
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let pad = ((max - min) * 0.08).max(max.abs() * 1e-6).max(1e-12);
        let (a, b) = (min - pad, max + pad);
        let col = |v: f64| (((v - a) / (b - a)) * (WIDTH - 1) as f64).round() as usize;
        let mut base = [' '; WIDTH];
        let mut cand = [' '; WIDTH];
        if let Some(l) = r.limit {
            base[col(l)] = '┊';
            cand[col(l)] = '┊';
        }
        base[col(r.baseline)] = '●';
        let (lo, hi) = (col(r.lo), col(r.hi));
        for c in cand.iter_mut().take(hi + 1).skip(lo) {
            *c = '─';
        }
        cand[lo] = '├';
        cand[hi] = '┤';
        cand[col(r.candidate)] = '●';
        let label: String = r
            .label
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
            .collect();
        out.push_str(&format!(
            "{label:label_w$}  baseline   {}  {}\n",
            base.iter().collect::<String>(),
            value(r.baseline, &r.unit)
        ));
        out.push_str(&format!(
            "{:label_w$}  candidate  {}  {} ({} – {})\n",
            "",
            cand.iter().collect::<String>(),
            value(r.candidate, &r.unit),
            value(r.lo, &r.unit),
            value(r.hi, &r.unit)
        ));
    }
    Some(out.trim_end().to_owned())
}

/// One bar of [`bars`]: a row label, its value, and the text after the bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: Option<f64>,
    pub text: String,
    /// A note after the text (`← knee`).
    pub note: String,
}

/// Horizontal bars scaled to the largest value (from zero), in eighths of a
/// character; a row without a value is left empty. `None` when no row has a
/// positive value.
pub fn bars(title: &str, rows: &[Bar]) -> Option<String> {
    let max = rows
        .iter()
        .filter_map(|r| r.value)
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    if max <= 0.0 {
        return None;
    }
    const EIGHTHS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];
    let label_w = rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!("{title}\n");
    for r in rows {
        let mut bar = String::new();
        if let Some(v) = r.value.filter(|v| v.is_finite() && *v > 0.0) {
            let eighths = ((v / max) * (WIDTH * 8) as f64).round().max(1.0) as usize;
            bar.extend(std::iter::repeat_n('█', eighths / 8));
            if eighths % 8 > 0 {
                bar.push(EIGHTHS[eighths % 8 - 1]);
            }
        }
        let line = format!(
            "{:>label_w$}  {bar:<WIDTH$}  {}{}",
            r.label,
            r.text,
            if r.note.is_empty() {
                String::new()
            } else {
                format!("  {}", r.note)
            }
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    Some(out.trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(v: f64, unit: &str) -> String {
        format!("{v:.1} {unit}")
    }

    #[test]
    fn the_whisker_the_point_and_the_limit_sit_where_their_values_are() {
        let chart = render(
            &[Comparison {
                label: "ttft.p95".into(),
                unit: "ms".into(),
                baseline: 100.0,
                candidate: 132.0,
                lo: 124.0,
                hi: 141.0,
                limit: Some(115.0),
                level: 0.95,
            }],
            &fmt,
        )
        .expect("a chart");
        let lines: Vec<&str> = chart.lines().collect();
        assert_eq!(lines.len(), 3, "{chart}");
        let track = |l: &str| -> Vec<char> { l.chars().skip(8 + 2 + 11).take(WIDTH).collect() };
        let (b, c) = (track(lines[1]), track(lines[2]));
        let pos = |t: &[char], ch: char| t.iter().position(|&x| x == ch);
        // Baseline left of the limit, the whole whisker right of it.
        assert!(pos(&b, '●') < pos(&b, '┊'), "{chart}");
        assert!(pos(&c, '┊') < pos(&c, '├'), "{chart}");
        assert!(
            pos(&c, '├') < pos(&c, '●') && pos(&c, '●') < pos(&c, '┤'),
            "{chart}"
        );
        assert!(
            lines[2].ends_with("132.0 ms (124.0 ms – 141.0 ms)"),
            "{chart}"
        );
    }

    #[test]
    fn bars_scale_to_the_largest_value_and_skip_missing_ones() {
        let row = |label: &str, value: Option<f64>| Bar {
            label: label.into(),
            value,
            text: value.map_or("—".into(), |v| format!("{v}")),
            note: String::new(),
        };
        let chart = bars(
            "TTFT p95 by load",
            &[row("1", Some(50.0)), row("2", None), row("4", Some(100.0))],
        )
        .expect("a chart");
        let lines: Vec<&str> = chart.lines().collect();
        let full = |l: &str| l.chars().filter(|&c| c == '█').count();
        assert_eq!(full(lines[3]), WIDTH, "{chart}");
        assert_eq!(full(lines[1]), WIDTH / 2, "{chart}");
        assert_eq!(full(lines[2]), 0, "{chart}");
        assert!(lines[2].ends_with('—'));
        assert_eq!(bars("x", &[row("1", None)]), None);
    }

    #[test]
    fn labels_cannot_close_the_code_block_and_nothing_finite_draws_nothing() {
        let r = Comparison {
            label: "a```b".into(),
            unit: "ms".into(),
            baseline: 1.0,
            candidate: 1.0,
            lo: 0.9,
            hi: 1.1,
            limit: None,
            level: 0.9,
        };
        assert!(
            !render(std::slice::from_ref(&r), &fmt)
                .expect("chart")
                .contains('`')
        );
        let broken = Comparison { lo: f64::NAN, ..r };
        assert_eq!(render(&[broken], &fmt), None);
    }
}
