//! The workload digest and shape: what must match for two runs to be
//! comparable (DESIGN.md §5) — prompts and their token counts, max_tokens,
//! sampling, ignore_eos, stop, the load shape, warm-up, cancellations,
//! streaming, the API kind and the seed. The digest is sha256 over them; the
//! shape is the same facts in words (`load: closed, concurrency 16`), so a
//! refusal can say which field differs instead of printing two digests.
//!
//! Not in either: the sample size (request count or duration) — a run of 100
//! requests measures the same thing as one of 200, only less precisely, and
//! the gate's statistics account for the size — and the endpoint URL, model
//! name, key and metadata, which may change under test.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::file::Arrival;
use super::plan::{LoadPlan, Plan, Warmup};
use crate::client::Prompt;

/// Version of the digest input. 2: the stop condition (`requests`,
/// `duration`) left the digest.
const DIGEST_VERSION: u32 = 2;

#[derive(Serialize)]
struct DigestInput<'a> {
    v: u32,
    api: &'a str,
    streaming: bool,
    seed: u64,
    round_robin: bool,
    classes: Vec<ClassDigest<'a>>,
    load: String,
    warmup: String,
    cancel: Option<(f64, u32)>,
}

#[derive(Serialize)]
struct ClassDigest<'a> {
    name: &'a str,
    weight: f64,
    max_tokens: Option<u32>,
    ignore_eos: bool,
    stop: &'a [String],
    temperature: Option<f64>,
    top_p: Option<f64>,
    /// Prompts made by the synthetic generator (see `synthetic`).
    synthetic: bool,
    /// (sha256 of the prompt text or messages, token count), in pool order;
    /// for a synthetic class only its first prompt: the pool's size follows
    /// the planned request count, and each prompt is a pure function of
    /// (seed, class, index), so the first one pins the generator.
    prompts: Vec<(String, u32)>,
}

fn class_digests(plan: &Plan) -> Vec<ClassDigest<'_>> {
    plan.classes
        .iter()
        .map(|c| ClassDigest {
            name: &c.name,
            weight: c.weight,
            max_tokens: c.sampling.max_tokens,
            ignore_eos: c.sampling.ignore_eos,
            stop: &c.sampling.stop,
            temperature: c.sampling.temperature,
            top_p: c.sampling.top_p,
            synthetic: c.synthetic,
            prompts: c
                .entries
                .iter()
                .take(if c.synthetic { 1 } else { usize::MAX })
                .map(|&i| {
                    let e = &plan.prompts[i];
                    let text = match &*e.prompt {
                        Prompt::Text(t) => t.clone(),
                        Prompt::Chat(m) => m
                            .iter()
                            .map(|m| format!("{}:{}", m.role, m.content))
                            .collect::<Vec<_>>()
                            .join("\u{1e}"),
                    };
                    (
                        crate::bundle::hex_sha256(text.as_bytes()),
                        plan.prompt_tokens(e),
                    )
                })
                .collect(),
        })
        .collect()
}

pub fn workload_digest(plan: &Plan) -> String {
    let load = match &plan.load {
        LoadPlan::Closed {
            concurrency,
            think_time,
        } => format!("closed c={concurrency} think={}us", think_time.as_micros()),
        LoadPlan::Open { rate, arrival, .. } => format!("open rate={rate} arrival={arrival:?}"),
    };
    let warmup = match plan.warmup {
        Warmup::None => "none".to_string(),
        Warmup::Requests(n) => format!("requests={n}"),
        Warmup::Duration(d) => format!("duration={}ms", d.as_millis()),
    };
    let input = DigestInput {
        v: DIGEST_VERSION,
        api: plan.api.as_str(),
        streaming: plan.streaming,
        seed: plan.seed,
        round_robin: plan.round_robin,
        classes: class_digests(plan),
        load,
        warmup,
        cancel: plan.cancel.map(|c| (c.probability, c.after_events)),
    };
    let json = serde_json::to_vec(&input).expect("digest input is plain data");
    format!("sha256:{}", crate::bundle::hex_sha256(&json))
}

/// The digest's inputs in words, one entry per field, for
/// `context.workload_shape`. Per-class fields are named plainly for a
/// single class (`max_tokens`) and `CLASS.FIELD` for a mix
/// (`short.max_tokens`). The prompts are summarized as their number, total
/// tokens and a short digest of (text, token count) pairs, so a changed
/// prompt shows without printing it.
pub fn workload_shape(plan: &Plan) -> BTreeMap<String, String> {
    let mut shape = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        shape.insert(k.to_owned(), v);
    };
    put("api", plan.api.as_str().to_owned());
    put("streaming", plan.streaming.to_string());
    put("seed", plan.seed.to_string());
    put(
        "prompt_order",
        if plan.round_robin {
            "round robin"
        } else {
            "weighted draw"
        }
        .to_owned(),
    );
    put(
        "load",
        match &plan.load {
            LoadPlan::Closed {
                concurrency,
                think_time,
            } if think_time.is_zero() => format!("closed, concurrency {concurrency}"),
            LoadPlan::Closed {
                concurrency,
                think_time,
            } => format!(
                "closed, concurrency {concurrency}, think time {}",
                duration_words(*think_time)
            ),
            LoadPlan::Open { rate, arrival, .. } => format!(
                "open, {rate} req/s, {} arrivals",
                match arrival {
                    Arrival::Constant => "constant",
                    Arrival::Poisson => "poisson",
                }
            ),
        },
    );
    put(
        "warmup",
        match plan.warmup {
            Warmup::None => "none".to_owned(),
            Warmup::Requests(n) => format!("{n} requests"),
            Warmup::Duration(d) => duration_words(d),
        },
    );
    put(
        "cancel",
        match plan.cancel {
            None => "none".to_owned(),
            Some(c) => format!(
                "{} % of requests, after {} events",
                c.probability * 100.0,
                c.after_events
            ),
        },
    );
    let classes = class_digests(plan);
    put(
        "classes",
        if classes.len() == 1 {
            classes[0].name.to_owned()
        } else {
            classes
                .iter()
                .map(|c| format!("{} ({} %)", c.name, round_share(c.weight)))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    let single = classes.len() == 1;
    for c in &classes {
        let key = |field: &str| {
            if single {
                field.to_owned()
            } else {
                format!("{}.{field}", c.name)
            }
        };
        let or_default = |v: Option<String>| v.unwrap_or_else(|| "server default".to_owned());
        shape.insert(
            key("max_tokens"),
            or_default(c.max_tokens.map(|m| m.to_string())),
        );
        shape.insert(key("ignore_eos"), c.ignore_eos.to_string());
        shape.insert(
            key("temperature"),
            or_default(c.temperature.map(|t| t.to_string())),
        );
        shape.insert(key("top_p"), or_default(c.top_p.map(|t| t.to_string())));
        shape.insert(
            key("stop"),
            if c.stop.is_empty() {
                "none".to_owned()
            } else {
                c.stop
                    .iter()
                    .map(|s| format!("{s:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        );
        let json = serde_json::to_vec(&c.prompts).expect("prompt list is plain data");
        let short = &crate::bundle::hex_sha256(&json)[..12];
        let tokens: u64 = c.prompts.iter().map(|(_, t)| u64::from(*t)).sum();
        shape.insert(
            key("prompts"),
            if c.synthetic {
                format!("synthetic, {tokens} tokens each, sha256 {short}")
            } else {
                format!(
                    "{} prompts, {tokens} tokens, sha256 {short}",
                    c.prompts.len()
                )
            },
        );
    }
    shape
}

/// A class weight as a percentage with at most one decimal.
fn round_share(weight: f64) -> f64 {
    (weight * 1000.0).round() / 10.0
}

/// `500ms`, `2s`, `800µs`: the workload file's own duration grammar.
fn duration_words(d: Duration) -> String {
    let us = d.as_micros();
    if us % 1_000_000 == 0 {
        format!("{}s", us / 1_000_000)
    } else if us % 1000 == 0 {
        format!("{}ms", us / 1000)
    } else {
        format!("{us}µs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_workload_grammar() {
        assert_eq!(duration_words(Duration::from_secs(2)), "2s");
        assert_eq!(duration_words(Duration::from_millis(1500)), "1500ms");
        assert_eq!(duration_words(Duration::from_micros(800)), "800µs");
        assert_eq!(round_share(1.0 / 3.0), 33.3);
    }
}
