//! `SimProfile`: the simulator's performance model and fault settings, as
//! read from a YAML file, picked by name for `sim://NAME`, or built from
//! flags; and its validation.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::SimError;

/// Names of the built-in profiles, in the order error messages list them.
pub const BUILTIN_PROFILES: [&str; 6] = [
    "default",
    "quickstart",
    "slow-decode",
    "saturating",
    "flaky",
    "noisy",
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
    /// Run-to-run noise: one slowdown factor per server start on every
    /// prefill and decode time, as one CI run differs from the next. None
    /// (the default): factor 1. See `RunNoise`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_noise: Option<RunNoise>,
    /// Host stalls: pauses of the whole engine that delay every request in
    /// flight by the same time, as a busy host does. None (the default): no
    /// stalls. See `HostStalls`; unlike `faults.stall_rate`, which pauses
    /// one request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_stalls: Option<HostStalls>,
    /// Injected faults.
    pub faults: FaultProfile,
}

/// Run-to-run noise (`run_noise:`): at each server start one factor `F` is
/// drawn and every prefill and decode-step time is multiplied by it (on top
/// of `jitter_pct`), so the whole run is uniformly slower or faster.
///
/// `F` is log-normal with median 1: `F = exp(σ·Z)`, Z standard normal,
/// `σ² = ln(1 + cv²)`, so that `cv` is the coefficient of variation of `F`
/// (for a log-normal, CV² = exp(σ²) − 1: Johnson, Kotz & Balakrishnan,
/// *Continuous Univariate Distributions* vol. 1, 2nd ed., 1994, ch. 14).
/// Z is truncated at ±4 (mass 6·10⁻⁵ cut), so a run is never
/// more than `exp(4σ)` times slower.
///
/// ```yaml
/// run_noise:
///   cv: 0.1     # coefficient of variation of the factor, in [0, 1]
///   seed: 42    # optional; the same seed gives the same factor
/// ```
///
/// Without `seed`, each start draws a fresh seed from the operating system,
/// so runs differ from one another, in-process (`sim://`) or not; the seed
/// used is on `/metrics` (`tokengate_sim:noise_seed_info`) so a run can be
/// reproduced by writing it into the profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunNoise {
    /// Coefficient of variation of the slowdown factor across starts, in
    /// [0, 1]; 0: factor 1.
    pub cv: f64,
    /// Seed of the factor; absent: a fresh seed at every start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// Host stalls (`host_stalls:`): pauses of the whole simulated engine.
/// During a stall no request makes progress — prefill, decode steps and token
/// emission all wait until it ends — so every request in flight is delayed
/// by the same `duration_ms`, and a request arriving during a stall starts
/// when it ends. (Queueing, admission with its role chunk, and HTTP
/// headers are not paused.)
///
/// Random stalls: the engine runs for an exponentially distributed time
/// with mean `1 / rate_per_s` seconds, stalls for `duration_ms`, runs again,
/// and so on (an alternating renewal process: Cox, *Renewal Theory*,
/// 1962): in the engine's own running time the stall starts are a Poisson
/// process of rate `rate_per_s`, and over a long uptime the engine is
/// stalled a share `d / (1/λ + d) = λd / (1 + λd)` of the time (mean stall
/// over mean cycle, by the renewal-reward theorem; λ = rate, d = duration).
/// Stalls never overlap, so the stalled time never exceeds the uptime.
/// `at_ms` adds stalls at fixed uptimes (tests, scripted scenarios); one that
/// falls inside another stall starts when that stall ends.
///
/// ```yaml
/// host_stalls:
///   rate_per_s: 0.5    # random stalls per second of running time, [0, 10]
///   duration_ms: 200   # length of every stall, (0, 10000]
///   seed: 7            # optional; the same seed gives the same stall times
///   at_ms: [1500]      # optional: also stall at these uptimes
/// ```
///
/// Without `seed`, each start draws a fresh seed from the operating system
/// (on `/metrics` as for `run_noise`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostStalls {
    /// Random stalls per second of engine running time, in [0, 10]; 0: only
    /// the `at_ms` stalls. `rate_per_s × duration_ms / 1000` is at most 1
    /// (stalled at most half the time on average).
    #[serde(default)]
    pub rate_per_s: f64,
    /// Length of every stall, milliseconds, in (0, 10000].
    pub duration_ms: f64,
    /// Seed of the random stall times; absent: a fresh seed at every start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Extra stalls at these uptimes (milliseconds since the server
    /// started, at most one day, at most 1000 of them), in any order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at_ms: Vec<f64>,
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
            run_noise: None,
            host_stalls: None,
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
    /// - `flaky`: default timing with 1 % HTTP 500, 1 % 429 and 1 % stream cuts;
    /// - `noisy`: the quickstart's model on a noisy host — run-to-run noise
    ///   with CV 10 % and host stalls of 200 ms at 0.5 per second, both
    ///   freshly seeded at every start (set `seed`s in a profile file to
    ///   reproduce a run).
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
            // The two kinds of noise that make a gate flap on a shared CI
            // runner (issue 12): a whole run slower or faster than the
            // last, and stalls that hit every request in flight. CV 10 % is
            // between the 1.8 % (simulator) and 18 % (vLLM) run-to-run CV of
            // p50 TTFT measured there; 200 ms stalls at 0.5/s pause the
            // engine ~9 % of the time.
            "noisy" => SimProfile {
                jitter_pct: 10.0,
                run_noise: Some(RunNoise {
                    cv: 0.1,
                    seed: None,
                }),
                host_stalls: Some(HostStalls {
                    rate_per_s: 0.5,
                    duration_ms: 200.0,
                    seed: None,
                    at_ms: Vec::new(),
                }),
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
        let text = crate::fsutil::read_bounded_string(path, crate::fsutil::MAX_CONFIG_BYTES)
            .map_err(|source| SimError::ReadProfile {
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
        if let Some(n) = &self.run_noise {
            if !(n.cv.is_finite() && (0.0..=1.0).contains(&n.cv)) {
                return Err(invalid(
                    "run_noise.cv",
                    n.cv,
                    "a coefficient of variation in [0, 1] (0.1 for 10 %)",
                ));
            }
        }
        if let Some(h) = &self.host_stalls {
            if !(h.rate_per_s.is_finite() && (0.0..=10.0).contains(&h.rate_per_s)) {
                return Err(invalid(
                    "host_stalls.rate_per_s",
                    h.rate_per_s,
                    "stalls per second in [0, 10]",
                ));
            }
            if !(h.duration_ms.is_finite() && h.duration_ms > 0.0 && h.duration_ms <= 10_000.0) {
                return Err(invalid(
                    "host_stalls.duration_ms",
                    h.duration_ms,
                    "milliseconds in (0, 10000]",
                ));
            }
            // λ·d ≤ 1: the engine is stalled at most half the time on
            // average (share λd / (1 + λd)), so it still serves.
            let load = h.rate_per_s * h.duration_ms / 1000.0;
            if load > 1.0 + 1e-9 {
                return Err(invalid(
                    "host_stalls",
                    format!(
                        "rate_per_s {} × duration_ms {} = {load} s of stall per second",
                        h.rate_per_s, h.duration_ms
                    ),
                    "rate_per_s × duration_ms / 1000 at most 1 (stalled at most half the time)",
                ));
            }
            if h.at_ms.len() > 1000 {
                return Err(invalid(
                    "host_stalls.at_ms",
                    format!("{} entries", h.at_ms.len()),
                    "at most 1000 stall times",
                ));
            }
            if let Some(bad) = h
                .at_ms
                .iter()
                .find(|t| !(t.is_finite() && (0.0..=86_400_000.0).contains(*t)))
            {
                return Err(invalid(
                    "host_stalls.at_ms",
                    bad,
                    "uptimes in milliseconds in [0, 86400000] (one day)",
                ));
            }
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
        // Only `noisy` has host noise; the others keep factor 1, no stalls.
        for name in BUILTIN_PROFILES {
            let p = SimProfile::builtin(name).expect(name);
            assert_eq!(
                p.run_noise.is_some() && p.host_stalls.is_some(),
                name == "noisy",
                "{name}"
            );
            assert_eq!(p.run_noise.is_none(), p.host_stalls.is_none(), "{name}");
        }
        let noisy = SimProfile::builtin("noisy").expect("known");
        assert_eq!(noisy.run_noise.as_ref().map(|n| n.cv), Some(0.1));
        assert_eq!(
            noisy
                .host_stalls
                .as_ref()
                .map(|h| (h.rate_per_s, h.duration_ms)),
            Some((0.5, 200.0))
        );
        let err = SimProfile::builtin("turbo")
            .expect_err("unknown")
            .to_string();
        assert!(err.contains("turbo") && err.contains("saturating"), "{err}");
    }

    #[test]
    fn validation_names_the_field() {
        let mut cases: Vec<(SimProfile, &str)> = vec![
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
        let stalls = |rate_per_s, duration_ms, at_ms| SimProfile {
            host_stalls: Some(HostStalls {
                rate_per_s,
                duration_ms,
                seed: None,
                at_ms,
            }),
            ..SimProfile::default()
        };
        let noise = |cv| SimProfile {
            run_noise: Some(RunNoise { cv, seed: None }),
            ..SimProfile::default()
        };
        cases.extend([
            (noise(-0.1), "`run_noise.cv`"),
            (noise(1.5), "`run_noise.cv`"),
            (noise(f64::NAN), "`run_noise.cv`"),
            (stalls(11.0, 10.0, vec![]), "`host_stalls.rate_per_s`"),
            (stalls(-1.0, 10.0, vec![]), "`host_stalls.rate_per_s`"),
            (stalls(0.5, 0.0, vec![]), "`host_stalls.duration_ms`"),
            (stalls(0.5, 20_000.0, vec![]), "`host_stalls.duration_ms`"),
            (
                stalls(0.5, f64::INFINITY, vec![]),
                "`host_stalls.duration_ms`",
            ),
            // 5/s × 300 ms = 1.5 s of stall per second.
            (stalls(5.0, 300.0, vec![]), "`host_stalls`"),
            (stalls(0.0, 100.0, vec![-5.0]), "`host_stalls.at_ms`"),
            (stalls(0.0, 100.0, vec![f64::NAN]), "`host_stalls.at_ms`"),
            (stalls(0.0, 100.0, vec![1.0; 1001]), "`host_stalls.at_ms`"),
        ]);
        // The bounds themselves are allowed.
        for ok in [
            noise(0.0),
            noise(1.0),
            stalls(10.0, 100.0, vec![]),
            stalls(0.0, 10_000.0, vec![0.0, 86_400_000.0]),
        ] {
            ok.validate().expect("at the bounds");
        }
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
