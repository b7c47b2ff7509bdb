//! `SimProfile`: the simulator's performance model and fault settings, as
//! read from a YAML file, picked by name for `sim://NAME`, or built from
//! flags; and its validation.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::SimError;

/// Names of the built-in profiles, in the order error messages list them.
pub const BUILTIN_PROFILES: [&str; 5] = [
    "default",
    "quickstart",
    "slow-decode",
    "saturating",
    "flaky",
];

/// The performance model and faults of one simulated server.
///
/// Every field has a default, so a YAML file names only what it changes.
/// Times are in the unit their name says; see `docs` of each field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimProfile {
    /// Model ids served (`GET /v1/models`); a request naming another model
    /// gets 404.
    pub models: Vec<String>,
    /// Fixed prefill time after admission to a slot, milliseconds.
    pub ttft_ms: f64,
    /// Prefill time per prompt token, microseconds.
    pub prefill_us_per_token: f64,
    /// Decode time per output token with one sequence running, milliseconds.
    pub tpot_ms: f64,
    /// Each further running sequence makes a decode step this much slower:
    /// step = `tpot_ms × (1 + batch_growth × (running − 1))`.
    pub batch_growth: f64,
    /// Sequences running at once (continuous batching); more requests wait
    /// in a FIFO queue.
    pub slots: u32,
    /// KV-cache budget in tokens. A request holds prompt + max_tokens tokens
    /// while running; one that would exceed the budget waits. None: no budget.
    pub kv_tokens: Option<u64>,
    /// Maximum prompt + max_tokens of one request; beyond it the request gets
    /// HTTP 400 ("maximum context length", like vLLM).
    pub max_context: u32,
    /// `max_tokens` of a request that sets none.
    pub default_max_tokens: u32,
    /// Probability that a request (without `ignore_eos`) stops early, at a
    /// seeded length uniform in 1..=max_tokens, with finish_reason `stop`.
    pub eos_probability: f64,
    /// Each prefill and decode step time is multiplied by a seeded factor
    /// uniform in `1 ± jitter_pct/100`. 0: exact.
    pub jitter_pct: f64,
    /// Seed of every random choice (faults, text, lengths, jitter).
    pub seed: u64,
    /// Tokens packed in one SSE event after the first (the first token is
    /// always sent alone, as vLLM's `stream_interval` does).
    pub tokens_per_event: u32,
    /// Send a role-only chunk (`delta: {role: assistant}`) at admission, as
    /// vLLM and OpenAI do. Chat API only.
    pub role_first_chunk: bool,
    /// Drift for soak tests: prefill (hence TTFT) grows by this many
    /// milliseconds per second of simulator uptime, measured at admission —
    /// a server that slowly degrades. 0 (the default): no drift. At most
    /// 1000; the added time is capped at one day.
    pub ttft_drift_ms_per_s: f64,
    /// Injected faults.
    pub faults: FaultProfile,
}

/// Probabilities (per request) and parameters of injected faults. At most
/// one fault is injected per request; see `FaultKind` for the order in
/// which one uniform draw is mapped onto them. The rates must sum to ≤ 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultProfile {
    /// Answer with `error_status` and a JSON error body, before any stream.
    pub error_rate: f64,
    /// HTTP status of `error_rate` faults (400..=599).
    pub error_status: u16,
    /// Answer 429 with a `Retry-After` header.
    pub rate_429: f64,
    /// `Retry-After` value of 429 answers, seconds.
    pub retry_after_s: u64,
    /// Answer 200 with an empty body.
    pub empty_body_rate: f64,
    /// Answer 500 with an HTML body (a proxy's error page).
    pub non_json_error_rate: f64,
    /// Close the connection after `cut_after_tokens` tokens, without
    /// finish_reason or `[DONE]` (the body is aborted, so the client sees a
    /// broken connection). Non-streaming: headers and half a JSON body, then
    /// the connection breaks.
    pub stream_cut_rate: f64,
    /// Tokens sent before a stream cut (capped at output length − 1).
    pub cut_after_tokens: u32,
    /// Pause `stall_ms` before the middle token (`out_len / 2`); the
    /// response is otherwise complete.
    pub stall_rate: f64,
    /// Length of a stall, milliseconds.
    pub stall_ms: f64,
    /// One extra SSE event, mid-output, is not valid JSON; the stream then
    /// continues to `[DONE]`. Non-streaming: the body is cut mid-JSON.
    pub malformed_rate: f64,
    /// One extra SSE event, mid-output, carries invalid UTF-8 bytes; the
    /// stream then continues to `[DONE]`. Non-streaming: one byte of the
    /// generated text in the body is invalid UTF-8.
    pub invalid_utf8_rate: f64,
    /// Mid-output, a 10 MB `data: xxx…` line without a newline, then the body
    /// ends (no `[DONE]`). Non-streaming: a 10 MB non-JSON body.
    pub huge_line_rate: f64,
    /// Delay the response headers by `slow_headers_ms`.
    pub slow_headers_rate: f64,
    /// Delay of slow headers, milliseconds.
    pub slow_headers_ms: f64,
    /// Drift for soak tests: the `error_rate` probability grows by this much
    /// per second of simulator uptime (errors creeping in), capped so all
    /// fault rates still sum to at most 1. 0 (the default): no drift. At
    /// most 1.
    pub error_drift_per_s: f64,
}

impl Default for FaultProfile {
    fn default() -> Self {
        FaultProfile {
            error_rate: 0.0,
            error_status: 500,
            rate_429: 0.0,
            retry_after_s: 1,
            empty_body_rate: 0.0,
            non_json_error_rate: 0.0,
            stream_cut_rate: 0.0,
            cut_after_tokens: 4,
            stall_rate: 0.0,
            stall_ms: 500.0,
            malformed_rate: 0.0,
            invalid_utf8_rate: 0.0,
            huge_line_rate: 0.0,
            slow_headers_rate: 0.0,
            slow_headers_ms: 500.0,
            error_drift_per_s: 0.0,
        }
    }
}

impl Default for SimProfile {
    /// The `default` built-in: ttft 40 ms, tpot 8 ms, 64 slots, no KV
    /// budget, no prefill cost per token, no batch slowdown, no faults.
    fn default() -> Self {
        SimProfile {
            models: vec!["sim-model".to_string()],
            ttft_ms: 40.0,
            prefill_us_per_token: 0.0,
            tpot_ms: 8.0,
            batch_growth: 0.0,
            slots: 64,
            kv_tokens: None,
            max_context: 8192,
            default_max_tokens: 256,
            eos_probability: 0.0,
            jitter_pct: 0.0,
            seed: 0,
            tokens_per_event: 1,
            role_first_chunk: true,
            ttft_drift_ms_per_s: 0.0,
            faults: FaultProfile::default(),
        }
    }
}

impl SimProfile {
    /// A built-in profile by name (`sim://NAME`):
    /// - `default`, `quickstart`: ttft 40 ms, tpot 8 ms, 64 slots;
    /// - `slow-decode`: as default with decode 25 % slower (tpot 10 ms), the
    ///   "known regression" the quickstart's gate must catch;
    /// - `saturating`: 8 slots, a KV budget of 16 384 tokens, prefill
    ///   20 µs/token, batch_growth 0.05 — latency climbs with load;
    /// - `flaky`: default timing with 1 % HTTP 500, 1 % 429 and 1 % stream cuts.
    pub fn builtin(name: &str) -> Result<SimProfile, SimError> {
        let base = SimProfile::default();
        let profile = match name {
            "default" => base,
            // The quickstart's endpoint: like `default`, with ±10 % jitter on
            // prefill and each decode step so runs vary as real ones do and
            // the gate's statistics have something to measure.
            "quickstart" => SimProfile {
                jitter_pct: 10.0,
                ..base
            },
            "slow-decode" => SimProfile {
                tpot_ms: base.tpot_ms * 1.25,
                ..base
            },
            "saturating" => SimProfile {
                slots: 8,
                kv_tokens: Some(16_384),
                prefill_us_per_token: 20.0,
                batch_growth: 0.05,
                ..base
            },
            "flaky" => SimProfile {
                faults: FaultProfile {
                    error_rate: 0.01,
                    rate_429: 0.01,
                    stream_cut_rate: 0.01,
                    ..FaultProfile::default()
                },
                ..base
            },
            _ => {
                return Err(SimError::UnknownProfile {
                    name: name.to_string(),
                    known: BUILTIN_PROFILES.join(", "),
                });
            }
        };
        Ok(profile)
    }

    /// Reads and validates a YAML profile. Parse errors carry the file, line,
    /// column and field from serde-saphyr.
    pub fn from_yaml_file(path: &Path) -> Result<SimProfile, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::ReadProfile {
            path: path.to_path_buf(),
            source,
        })?;
        let profile: SimProfile = crate::yaml::parse_yaml(path, &text).map_err(|e| {
            let detail = match e {
                crate::yaml::ConfigError::Parse {
                    line,
                    column,
                    message,
                    ..
                } => format!("line {line} column {column}: {message}"),
                other => other.to_string(),
            };
            SimError::ParseProfile {
                path: path.to_path_buf(),
                detail,
            }
        })?;
        profile.validate()?;
        Ok(profile)
    }

    /// Checks ranges: positive slots and sizes, finite non-negative times,
    /// probabilities in [0, 1] summing to at most 1.
    pub fn validate(&self) -> Result<(), SimError> {
        fn invalid(field: &'static str, value: impl ToString, expected: &'static str) -> SimError {
            SimError::InvalidField {
                field,
                value: value.to_string(),
                expected,
            }
        }
        fn non_negative(field: &'static str, v: f64) -> Result<(), SimError> {
            // Also bounds times to one day so Duration conversion cannot panic.
            if v.is_finite() && (0.0..=86_400_000.0).contains(&v) {
                Ok(())
            } else {
                Err(invalid(field, v, "a finite number >= 0 (at most one day)"))
            }
        }
        fn probability(field: &'static str, v: f64) -> Result<(), SimError> {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(invalid(field, v, "a probability in [0, 1]"))
            }
        }
        if self.models.is_empty() || self.models.iter().any(|m| m.is_empty()) {
            return Err(invalid(
                "models",
                format!("{:?}", self.models),
                "at least one non-empty model id",
            ));
        }
        non_negative("ttft_ms", self.ttft_ms)?;
        non_negative("prefill_us_per_token", self.prefill_us_per_token)?;
        non_negative("tpot_ms", self.tpot_ms)?;
        if !(self.batch_growth.is_finite() && (0.0..=10.0).contains(&self.batch_growth)) {
            return Err(invalid(
                "batch_growth",
                self.batch_growth,
                "a number in [0, 10]",
            ));
        }
        if !(1..=100_000).contains(&self.slots) {
            return Err(invalid("slots", self.slots, "between 1 and 100000"));
        }
        if self.max_context == 0 {
            return Err(invalid("max_context", self.max_context, "at least 1"));
        }
        if let Some(kv) = self.kv_tokens {
            // Any request that passes the context check must fit the budget
            // alone, or it would wait forever.
            if kv < u64::from(self.max_context) {
                return Err(invalid(
                    "kv_tokens",
                    kv,
                    "at least max_context (a single request must fit)",
                ));
            }
        }
        if self.default_max_tokens == 0 {
            return Err(invalid(
                "default_max_tokens",
                self.default_max_tokens,
                "at least 1",
            ));
        }
        probability("eos_probability", self.eos_probability)?;
        if !(self.jitter_pct.is_finite() && (0.0..=100.0).contains(&self.jitter_pct)) {
            return Err(invalid(
                "jitter_pct",
                self.jitter_pct,
                "a percentage in [0, 100]",
            ));
        }
        if self.tokens_per_event == 0 {
            return Err(invalid(
                "tokens_per_event",
                self.tokens_per_event,
                "at least 1",
            ));
        }
        let f = &self.faults;
        let rates = [
            ("faults.error_rate", f.error_rate),
            ("faults.rate_429", f.rate_429),
            ("faults.empty_body_rate", f.empty_body_rate),
            ("faults.non_json_error_rate", f.non_json_error_rate),
            ("faults.stream_cut_rate", f.stream_cut_rate),
            ("faults.stall_rate", f.stall_rate),
            ("faults.malformed_rate", f.malformed_rate),
            ("faults.invalid_utf8_rate", f.invalid_utf8_rate),
            ("faults.huge_line_rate", f.huge_line_rate),
            ("faults.slow_headers_rate", f.slow_headers_rate),
        ];
        for (field, v) in rates {
            probability(field, v)?;
        }
        let total: f64 = rates.iter().map(|(_, v)| v).sum();
        if total > 1.0 + 1e-9 {
            return Err(invalid(
                "faults",
                format!("rates summing to {total}"),
                "fault rates summing to at most 1 (one fault per request)",
            ));
        }
        if !(400..=599).contains(&f.error_status) {
            return Err(invalid(
                "faults.error_status",
                f.error_status,
                "an HTTP error status in 400..=599",
            ));
        }
        non_negative("faults.stall_ms", f.stall_ms)?;
        non_negative("faults.slow_headers_ms", f.slow_headers_ms)?;
        if !(self.ttft_drift_ms_per_s.is_finite()
            && (0.0..=1000.0).contains(&self.ttft_drift_ms_per_s))
        {
            return Err(invalid(
                "ttft_drift_ms_per_s",
                self.ttft_drift_ms_per_s,
                "a finite number of milliseconds per second in [0, 1000]",
            ));
        }
        if !(f.error_drift_per_s.is_finite() && (0.0..=1.0).contains(&f.error_drift_per_s)) {
            return Err(invalid(
                "faults.error_drift_per_s",
                f.error_drift_per_s,
                "a finite probability per second in [0, 1]",
            ));
        }
        Ok(())
    }

    /// Fixed prefill time plus the per-token cost for `prompt_tokens`.
    pub fn prefill(&self, prompt_tokens: u32) -> Duration {
        Duration::from_secs_f64(
            (self.ttft_ms * 1e-3) + self.prefill_us_per_token * 1e-6 * f64::from(prompt_tokens),
        )
    }

    /// Extra prefill time after `uptime` of the simulator
    /// (`ttft_drift_ms_per_s`), capped at one day.
    pub fn ttft_drift(&self, uptime: Duration) -> Duration {
        ms((self.ttft_drift_ms_per_s * uptime.as_secs_f64()).min(86_400_000.0))
    }

    /// Probability of an `error_rate` fault after `uptime` of the simulator
    /// (`faults.error_drift_per_s`): the base rate plus the drift, capped so
    /// all fault rates sum to at most 1.
    pub fn error_rate_at(&self, uptime: Duration) -> f64 {
        let f = &self.faults;
        if f.error_drift_per_s == 0.0 {
            return f.error_rate;
        }
        let others = f.rate_429
            + f.empty_body_rate
            + f.non_json_error_rate
            + f.stream_cut_rate
            + f.stall_rate
            + f.malformed_rate
            + f.invalid_utf8_rate
            + f.huge_line_rate
            + f.slow_headers_rate;
        let drifted = f.error_rate + f.error_drift_per_s * uptime.as_secs_f64();
        drifted.min(1.0 - others).max(f.error_rate)
    }

    /// Decode step with `running` sequences holding slots.
    pub fn step(&self, running: u32) -> Duration {
        let extra = self.batch_growth * f64::from(running.saturating_sub(1));
        Duration::from_secs_f64(self.tpot_ms * 1e-3 * (1.0 + extra))
    }
}

/// Milliseconds as a `Duration` (validated values only).
pub(crate) fn ms(v: f64) -> Duration {
    Duration::from_secs_f64(v.max(0.0) * 1e-3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_validate_and_unknown_names_list_the_known_ones() {
        for name in BUILTIN_PROFILES {
            let p = SimProfile::builtin(name).expect(name);
            p.validate().expect(name);
        }
        assert_eq!(
            SimProfile::builtin("slow-decode").expect("known").tpot_ms,
            10.0
        );
        let err = SimProfile::builtin("turbo")
            .expect_err("unknown")
            .to_string();
        assert!(err.contains("turbo") && err.contains("saturating"), "{err}");
    }

    #[test]
    fn validation_names_the_field() {
        let cases: Vec<(SimProfile, &str)> = vec![
            (
                SimProfile {
                    slots: 0,
                    ..SimProfile::default()
                },
                "`slots`",
            ),
            (
                SimProfile {
                    tpot_ms: -1.0,
                    ..SimProfile::default()
                },
                "`tpot_ms`",
            ),
            (
                SimProfile {
                    ttft_ms: f64::NAN,
                    ..SimProfile::default()
                },
                "`ttft_ms`",
            ),
            (
                SimProfile {
                    faults: FaultProfile {
                        error_rate: 1.5,
                        ..FaultProfile::default()
                    },
                    ..SimProfile::default()
                },
                "`faults.error_rate`",
            ),
            (
                SimProfile {
                    faults: FaultProfile {
                        error_rate: 0.6,
                        stall_rate: 0.6,
                        ..FaultProfile::default()
                    },
                    ..SimProfile::default()
                },
                "`faults`",
            ),
            (
                SimProfile {
                    kv_tokens: Some(100),
                    ..SimProfile::default()
                },
                "`kv_tokens`",
            ),
            (
                SimProfile {
                    models: vec![],
                    ..SimProfile::default()
                },
                "`models`",
            ),
            (
                SimProfile {
                    ttft_drift_ms_per_s: -1.0,
                    ..SimProfile::default()
                },
                "`ttft_drift_ms_per_s`",
            ),
            (
                SimProfile {
                    ttft_drift_ms_per_s: f64::INFINITY,
                    ..SimProfile::default()
                },
                "`ttft_drift_ms_per_s`",
            ),
            (
                SimProfile {
                    faults: FaultProfile {
                        error_drift_per_s: 2.0,
                        ..FaultProfile::default()
                    },
                    ..SimProfile::default()
                },
                "`faults.error_drift_per_s`",
            ),
        ];
        for (p, field) in cases {
            let err = p.validate().expect_err(field).to_string();
            assert!(err.contains(field), "{err} should name {field}");
        }
    }

    #[test]
    fn drift_grows_with_uptime_and_the_error_rate_stays_a_probability() {
        let p = SimProfile {
            ttft_drift_ms_per_s: 20.0,
            faults: FaultProfile {
                error_rate: 0.1,
                rate_429: 0.5,
                error_drift_per_s: 0.01,
                ..FaultProfile::default()
            },
            ..SimProfile::default()
        };
        p.validate().expect("valid");
        assert_eq!(p.ttft_drift(Duration::ZERO), Duration::ZERO);
        assert_eq!(
            p.ttft_drift(Duration::from_secs(10)),
            Duration::from_millis(200)
        );
        assert!((p.error_rate_at(Duration::from_secs(10)) - 0.2).abs() < 1e-12);
        // Capped: 0.5 of the draws already go to 429s.
        assert_eq!(p.error_rate_at(Duration::from_secs(3600)), 0.5);
        // No drift configured: the base values, however long it ran.
        let still = SimProfile::default();
        assert_eq!(
            still.ttft_drift(Duration::from_secs(86_400)),
            Duration::ZERO
        );
        assert_eq!(still.error_rate_at(Duration::from_secs(86_400)), 0.0);
    }
}
