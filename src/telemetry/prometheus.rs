//! A parser for the Prometheus text exposition format (version 0.0.4):
//! `name{label="value",…} value [timestamp]` lines, `# HELP`/`# TYPE`
//! comments. General on purpose: no metric names are assumed here.

use std::collections::BTreeMap;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// A parsed exposition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    pub samples: Vec<MetricSample>,
}

/// Cumulative buckets of one histogram (all label sets summed), `le` ascending.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistogramSnapshot {
    pub buckets: Vec<(f64, f64)>,
    pub sum: f64,
    pub count: f64,
}

impl Exposition {
    /// Sum of every sample of `name` (over label sets).
    pub fn sum(&self, name: &str) -> Option<f64> {
        let mut found = false;
        let mut total = 0.0;
        for s in self.samples.iter().filter(|s| s.name == name) {
            found = true;
            total += s.value;
        }
        found.then_some(total)
    }

    /// The histogram `name` (`name_bucket`, `name_sum`, `name_count`),
    /// label sets other than `le` summed.
    pub fn histogram(&self, name: &str) -> Option<HistogramSnapshot> {
        let bucket_name = format!("{name}_bucket");
        let mut by_le: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
        for s in self.samples.iter().filter(|s| s.name == bucket_name) {
            let le = match s.labels.get("le").map(String::as_str) {
                Some("+Inf") => f64::INFINITY,
                Some(v) => match v.parse::<f64>() {
                    Ok(v) => v,
                    Err(_) => continue,
                },
                None => continue,
            };
            // Order floats by their bits (all non-negative here).
            let e = by_le.entry(le.to_bits()).or_insert((le, 0.0));
            e.1 += s.value;
        }
        if by_le.is_empty() {
            return None;
        }
        let mut buckets: Vec<(f64, f64)> = by_le.into_values().collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        Some(HistogramSnapshot {
            buckets,
            sum: self.sum(&format!("{name}_sum")).unwrap_or(0.0),
            count: self.sum(&format!("{name}_count")).unwrap_or(0.0),
        })
    }
}

impl HistogramSnapshot {
    /// `self − earlier`: the observations made between two scrapes.
    pub fn delta(&self, earlier: &HistogramSnapshot) -> HistogramSnapshot {
        let buckets = self
            .buckets
            .iter()
            .map(|&(le, c)| {
                let before = earlier
                    .buckets
                    .iter()
                    .find(|(l, _)| *l == le)
                    .map(|(_, c)| *c)
                    .unwrap_or(0.0);
                (le, (c - before).max(0.0))
            })
            .collect();
        HistogramSnapshot {
            buckets,
            sum: (self.sum - earlier.sum).max(0.0),
            count: (self.count - earlier.count).max(0.0),
        }
    }

    /// Quantile by linear interpolation inside the bucket that holds the
    /// rank, the method of PromQL's `histogram_quantile` (Prometheus docs,
    /// "Histograms and summaries"): exact only up to the bucket bounds.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.quantile_in_bucket(q).map(|b| b.value)
    }

    /// [`HistogramSnapshot::quantile`] with the bounds of the bucket it was
    /// interpolated in: the true quantile lies somewhere in
    /// `(lower, upper]`, however precise the interpolated value looks. The
    /// first bucket's lower bound is 0 (PromQL's assumption for
    /// non-negative observations); a rank in the `+Inf` bucket has no upper
    /// bound, and its value is the highest finite bound, as in PromQL.
    pub fn quantile_in_bucket(&self, q: f64) -> Option<BucketQuantile> {
        let total = self.buckets.last()?.1;
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let mut prev_le = 0.0;
        let mut prev_count = 0.0;
        for &(le, count) in &self.buckets {
            if count >= rank {
                if le.is_infinite() {
                    return Some(BucketQuantile {
                        value: prev_le,
                        lower: prev_le,
                        upper: None,
                    });
                }
                let in_bucket = count - prev_count;
                let value = if in_bucket <= 0.0 {
                    le
                } else {
                    prev_le + (le - prev_le) * (rank - prev_count) / in_bucket
                };
                return Some(BucketQuantile {
                    value,
                    lower: prev_le,
                    upper: Some(le),
                });
            }
            prev_le = le;
            prev_count = count;
        }
        Some(BucketQuantile {
            value: prev_le,
            lower: prev_le,
            upper: None,
        })
    }
}

/// A quantile read from histogram buckets, and the bucket it lies in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketQuantile {
    /// Interpolated value (PromQL's `histogram_quantile`).
    pub value: f64,
    /// Bounds of the bucket that holds the rank; `upper` is `None` for the
    /// `+Inf` bucket.
    pub lower: f64,
    pub upper: Option<f64>,
}

/// Parse an exposition. Unknown comment lines are ignored; a malformed
/// sample line is an error naming the line.
pub fn parse_exposition(text: &str) -> Result<Exposition, ParseError> {
    let mut samples = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |message: &str| ParseError {
            line: i + 1,
            message: message.to_string(),
        };
        let (name_end, labels, rest) = match line.find(['{', ' ', '\t']) {
            Some(p) if line.as_bytes()[p] == b'{' => {
                let (labels, after) =
                    parse_labels(&line[p + 1..]).ok_or_else(|| err("bad label set"))?;
                (p, labels, after)
            }
            Some(p) => (p, BTreeMap::new(), &line[p..]),
            None => return Err(err("sample without a value")),
        };
        let name = &line[..name_end];
        if name.is_empty() {
            return Err(err("sample without a metric name"));
        }
        let value_text = rest
            .split_whitespace()
            .next()
            .ok_or_else(|| err("sample without a value"))?;
        let value = match value_text {
            "+Inf" | "Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse::<f64>().map_err(|_| err("value is not a number"))?,
        };
        samples.push(MetricSample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    Ok(Exposition { samples })
}

/// Parse `a="x",b="y"}` (after the opening brace); returns the labels and
/// the text after the closing brace.
fn parse_labels(s: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    loop {
        while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b',') {
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        if bytes[i] == b'}' {
            return Some((labels, &s[i + 1..]));
        }
        let eq = s[i..].find('=')? + i;
        let key = s[i..eq].trim().to_string();
        i = eq + 1;
        if bytes.get(i) != Some(&b'"') {
            return None;
        }
        i += 1;
        let mut value = String::new();
        loop {
            let c = *bytes.get(i)?;
            match c {
                b'\\' => {
                    let n = *bytes.get(i + 1)?;
                    value.push(match n {
                        b'n' => '\n',
                        b'"' => '"',
                        b'\\' => '\\',
                        other => other as char,
                    });
                    i += 2;
                }
                b'"' => {
                    i += 1;
                    break;
                }
                _ => {
                    // Copy one UTF-8 character.
                    let ch = s[i..].chars().next()?;
                    value.push(ch);
                    i += ch.len_utf8();
                }
            }
        }
        labels.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{le="0.01",model_name="m"} 2.0
vllm:time_to_first_token_seconds_bucket{le="0.02",model_name="m"} 6.0
vllm:time_to_first_token_seconds_bucket{le="0.04",model_name="m"} 10.0
vllm:time_to_first_token_seconds_bucket{le="+Inf",model_name="m"} 10.0
vllm:time_to_first_token_seconds_count{model_name="m"} 10.0
vllm:time_to_first_token_seconds_sum{model_name="m"} 0.2
vllm:num_requests_running{model_name="m, \"quoted\""} 3
"#;

    #[test]
    fn parses_labels_values_and_histograms() {
        let e = parse_exposition(TEXT).unwrap();
        assert_eq!(e.sum("vllm:num_requests_running"), Some(3.0));
        let running = e
            .samples
            .iter()
            .find(|s| s.name == "vllm:num_requests_running")
            .unwrap();
        assert_eq!(running.labels["model_name"], "m, \"quoted\"");
        let h = e.histogram("vllm:time_to_first_token_seconds").unwrap();
        assert_eq!(h.count, 10.0);
        assert_eq!(h.buckets.len(), 4);
        // rank 5 of 10 lies in (0.01, 0.02] holding ranks 3..6: 0.01 + 0.01 × 3/4
        assert!((h.quantile(0.5).unwrap() - 0.0175).abs() < 1e-12);
        let b = h.quantile_in_bucket(0.5).unwrap();
        assert_eq!((b.lower, b.upper), (0.01, Some(0.02)));
        // rank 1 of 10 is in the first bucket, whose lower bound is 0.
        let b = h.quantile_in_bucket(0.1).unwrap();
        assert_eq!((b.lower, b.upper), (0.0, Some(0.01)));
    }

    #[test]
    fn a_rank_in_the_inf_bucket_has_no_upper_bound() {
        let e = parse_exposition(
            "h_bucket{le=\"0.1\"} 5\nh_bucket{le=\"+Inf\"} 10\nh_sum 3\nh_count 10\n",
        )
        .unwrap();
        let b = e.histogram("h").unwrap().quantile_in_bucket(0.95).unwrap();
        assert_eq!(
            b,
            BucketQuantile {
                value: 0.1,
                lower: 0.1,
                upper: None
            }
        );
    }

    #[test]
    fn delta_subtracts_an_earlier_scrape() {
        let e = parse_exposition(TEXT).unwrap();
        let h = e.histogram("vllm:time_to_first_token_seconds").unwrap();
        let d = h.delta(&h);
        assert_eq!(d.count, 0.0);
        assert_eq!(d.quantile(0.5), None);
    }

    #[test]
    fn malformed_line_names_its_number() {
        let err = parse_exposition("# ok\nfoo{a=\"1\" 3\n").unwrap_err();
        assert_eq!(err.line, 2);
    }
}
