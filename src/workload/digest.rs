//! The workload digest: sha256 of everything that must match for two runs to
//! be comparable (DESIGN.md §5): prompts and their token counts, max_tokens,
//! sampling, ignore_eos, stop, the load shape, the request count or duration,
//! warm-up, cancellations, streaming and the API kind. Not in it: the
//! endpoint URL, model name, key and metadata — those may change under test.

use serde::Serialize;

use super::plan::{LoadPlan, Plan, StopAfter, Warmup};
use crate::client::Prompt;

#[derive(Serialize)]
struct DigestInput<'a> {
    v: u32,
    api: &'a str,
    streaming: bool,
    seed: u64,
    round_robin: bool,
    classes: Vec<ClassDigest<'a>>,
    load: String,
    stop: String,
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
    prompts: Vec<(String, u32)>,
}

pub fn workload_digest(plan: &Plan) -> String {
    let classes = plan
        .classes
        .iter()
        .map(|c| ClassDigest {
            name: &c.name,
            weight: c.weight,
            max_tokens: c.sampling.max_tokens,
            ignore_eos: c.sampling.ignore_eos,
            stop: &c.sampling.stop,
            temperature: c.sampling.temperature,
            top_p: c.sampling.top_p,
            prompts: c
                .entries
                .iter()
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
                    (crate::bundle::hex_sha256(text.as_bytes()), e.tokens)
                })
                .collect(),
        })
        .collect();
    let load = match &plan.load {
        LoadPlan::Closed {
            concurrency,
            think_time,
        } => format!("closed c={concurrency} think={}us", think_time.as_micros()),
        LoadPlan::Open { rate, arrival, .. } => format!("open rate={rate} arrival={arrival:?}"),
    };
    let stop = match plan.stop {
        StopAfter::Requests(n) => format!("requests={n}"),
        StopAfter::Duration(d) => format!("duration={}ms", d.as_millis()),
    };
    let warmup = match plan.warmup {
        Warmup::None => "none".to_string(),
        Warmup::Requests(n) => format!("requests={n}"),
        Warmup::Duration(d) => format!("duration={}ms", d.as_millis()),
    };
    let input = DigestInput {
        v: 1,
        api: plan.api.as_str(),
        streaming: plan.streaming,
        seed: plan.seed,
        round_robin: plan.round_robin,
        classes,
        load,
        stop,
        warmup,
        cancel: plan.cancel.map(|c| (c.probability, c.after_events)),
    };
    let json = serde_json::to_vec(&input).expect("digest input is plain data");
    format!("sha256:{}", crate::bundle::hex_sha256(&json))
}
