//! The HTTP face of the simulator: `app()` builds the axum router
//! (chat/completions, completions, models, health, metrics), each request is
//! timed against the performance model on absolute instants, and
//! `SimServer` binds a socket (TCP_NODELAY on every connection) and serves.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use rand::RngExt;
use rand::rngs::Xoshiro256PlusPlus;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::clock::sleep_until;

use super::error::SimError;
use super::model::{
    FaultKind, Finish, Scheduler, SlotGuard, Stream, choose_fault_at, jitter, next_word,
    output_length, request_rng,
};
use super::noise::{RunFactor, StallSchedule};
use super::profile::{SimProfile, ms};
use super::telemetry::{NoiseGauges, SimCounters, Telemetry};
use super::wire::{Api, ChunkWriter, DONE_EVENT, GenerateRequest, error_body, models_body};

/// Size of the `huge_line` fault's line.
const HUGE_LINE_BYTES: usize = 10 * 1024 * 1024;

/// Shared state of one simulated server.
#[derive(Debug)]
pub struct SimState {
    profile: SimProfile,
    sched: Arc<Scheduler>,
    telemetry: Telemetry,
    /// Arrival counter: the index that seeds each request's choices.
    arrivals: AtomicU64,
    /// Unix time of start (`created` of models and chunks).
    created: u64,
    /// When the state was made: the origin of uptime for the drift knobs
    /// and host stalls.
    started: Instant,
    /// The run-to-run slowdown of this start (1 without `run_noise`).
    run: RunFactor,
    /// The host stalls of this start (None without `host_stalls`).
    stalls: Option<Mutex<StallSchedule>>,
    /// Becomes true at shutdown: running streams end at once.
    closing: watch::Sender<bool>,
}

impl SimState {
    /// Validates the profile and sets up an idle server state; draws this
    /// start's run-to-run slowdown and host-stall seed.
    pub fn new(profile: SimProfile) -> Result<SimState, SimError> {
        profile.validate()?;
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Ok(SimState {
            sched: Arc::new(Scheduler::new(profile.slots, profile.kv_tokens)),
            run: RunFactor::draw(profile.run_noise.as_ref()),
            stalls: profile
                .host_stalls
                .as_ref()
                .map(|h| Mutex::new(StallSchedule::new(h))),
            profile,
            telemetry: Telemetry::default(),
            arrivals: AtomicU64::new(0),
            created,
            started: Instant::now(),
            closing: watch::Sender::new(false),
        })
    }

    pub fn profile(&self) -> &SimProfile {
        &self.profile
    }

    /// Snapshot of the request and fault counters.
    pub fn counters(&self) -> SimCounters {
        self.telemetry.counters()
    }

    /// The `/metrics` text.
    pub fn metrics_text(&self) -> String {
        let capacity = self
            .profile
            .kv_tokens
            .unwrap_or(u64::from(self.profile.slots) * u64::from(self.profile.max_context));
        let (host_stalls, host_stalled) = self.host_stalls();
        let noise = NoiseGauges {
            run_slowdown: self.run.factor,
            run_noise_seed: self.run.seed,
            host_stalls,
            host_stalled,
            host_stalls_seed: self.host_stalls_seed(),
        };
        self.telemetry
            .render(self.sched.snapshot(), capacity, &noise)
    }

    /// Time since the server state was made (the origin of `host_stalls`
    /// `at_ms` and of the drift knobs).
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// This start's run-to-run slowdown factor on prefill and decode times
    /// (`run_noise`); 1 without.
    pub fn run_slowdown(&self) -> f64 {
        self.run.factor
    }

    /// The seed the slowdown was drawn with (the profile's, or the fresh one
    /// drawn at start); None without `run_noise`.
    pub fn run_noise_seed(&self) -> Option<u64> {
        self.run.seed
    }

    /// The seed of the random host stalls (the profile's, or the fresh one
    /// drawn at start); None without `host_stalls`.
    pub fn host_stalls_seed(&self) -> Option<u64> {
        self.stalls.as_ref().map(|s| lock(s).seed())
    }

    /// Host stalls begun since start and the time the engine has stood
    /// still because of them; (0, 0) without `host_stalls`.
    pub fn host_stalls(&self) -> (u64, Duration) {
        match &self.stalls {
            None => (0, Duration::ZERO),
            Some(s) => lock(s).stalled_by(self.uptime()),
        }
    }

    /// Engine time at `at`: uptime minus host stalls so far (it stands still
    /// during a stall).
    fn engine_time(&self, at: Instant) -> Duration {
        let wall = at.saturating_duration_since(self.started);
        match &self.stalls {
            None => wall,
            Some(s) => lock(s).engine_at(wall),
        }
    }

    /// The instant at which the engine reaches engine time `engine`: later
    /// by every host stall that begins before it.
    fn wall_instant(&self, engine: Duration) -> Instant {
        match &self.stalls {
            None => self.started + engine,
            Some(s) => self.started + lock(s).wall_at(engine),
        }
    }

    /// Ends running streams (they are cut) so a graceful shutdown finishes.
    fn close(&self) {
        self.closing.send_replace(true);
    }
}

/// Locks the stall schedule. Its updates keep it consistent at every step
/// (one stall appended or forgotten at a time), so a poisoned lock is fine.
fn lock(s: &Mutex<StallSchedule>) -> MutexGuard<'_, StallSchedule> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// The simulator's router. Bind it yourself (tests) or use `SimServer`.
pub fn app(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/models", get(models))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn chat(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    generate(state, Api::Chat, body).await
}

async fn completions(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    generate(state, Api::Completions, body).await
}

async fn models(State(state): State<Arc<SimState>>) -> Response {
    axum::Json(models_body(&state.profile.models, state.created)).into_response()
}

async fn health() -> StatusCode {
    StatusCode::OK
}

async fn metrics(State(state): State<Arc<SimState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics_text(),
    )
        .into_response()
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn reject(state: &SimState, status: StatusCode, message: &str, code: Option<&str>) -> Response {
    state.telemetry.rejected();
    let kind = if status == StatusCode::NOT_FOUND {
        "NotFoundError"
    } else {
        "invalid_request_error"
    };
    json_response(status, error_body(message, kind, code).to_string())
}

async fn generate(state: Arc<SimState>, api: Api, body: Bytes) -> Response {
    let arrival = Instant::now();
    let index = state.arrivals.fetch_add(1, Ordering::Relaxed);
    state.telemetry.received();
    let p = &state.profile;

    let req: GenerateRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return reject(
                &state,
                StatusCode::BAD_REQUEST,
                &format!("invalid request body: {e}"),
                None,
            );
        }
    };
    if !p.models.contains(&req.model) {
        return reject(
            &state,
            StatusCode::NOT_FOUND,
            &format!("The model `{}` does not exist.", req.model),
            Some("model_not_found"),
        );
    }
    match api {
        Api::Chat if req.messages.is_none() => {
            return reject(
                &state,
                StatusCode::BAD_REQUEST,
                "missing field `messages`",
                None,
            );
        }
        Api::Completions if req.prompt.is_none() => {
            return reject(
                &state,
                StatusCode::BAD_REQUEST,
                "missing field `prompt`",
                None,
            );
        }
        _ => {}
    }
    let max_tokens = req
        .max_completion_tokens
        .or(req.max_tokens)
        .unwrap_or(p.default_max_tokens);
    if max_tokens == 0 {
        return reject(
            &state,
            StatusCode::BAD_REQUEST,
            "max_tokens must be at least 1, got 0.",
            None,
        );
    }
    let prompt_tokens = req.prompt_tokens();
    let requested = u64::from(prompt_tokens) + u64::from(max_tokens);
    if requested > u64::from(p.max_context) {
        // Wording as vLLM's (serving_engine.py) so clients classify it alike.
        let msg = format!(
            "This model's maximum context length is {} tokens. However, you requested {requested} tokens ({prompt_tokens} in the messages, {max_tokens} in the completion). Please reduce the length of the messages or completion.",
            p.max_context
        );
        return reject(&state, StatusCode::BAD_REQUEST, &msg, None);
    }

    let mut fault_rng = request_rng(p.seed, index, Stream::Fault);
    let fault = choose_fault_at(p, fault_rng.random::<f64>(), arrival - state.started);
    let mut gen_rng = request_rng(p.seed, index, Stream::Generation);
    let (out_len, finish) =
        output_length(p, &mut gen_rng, max_tokens, req.ignore_eos.unwrap_or(false));
    let streaming = req.stream.unwrap_or(false);

    match fault {
        Some(FaultKind::SlowHeaders) => {
            state.telemetry.fault(FaultKind::SlowHeaders);
            sleep_until(arrival + ms(p.faults.slow_headers_ms)).await;
        }
        Some(FaultKind::ErrorStatus) => {
            state.telemetry.fault(FaultKind::ErrorStatus);
            let status = StatusCode::from_u16(p.faults.error_status)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = error_body("simulated server error", "server_error", None);
            return json_response(status, body.to_string());
        }
        Some(FaultKind::RateLimited) => {
            state.telemetry.fault(FaultKind::RateLimited);
            let body = error_body(
                "simulated rate limit: please retry later",
                "rate_limit_exceeded",
                Some("rate_limit_exceeded"),
            );
            let mut resp = json_response(StatusCode::TOO_MANY_REQUESTS, body.to_string());
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(p.faults.retry_after_s),
            );
            return resp;
        }
        Some(FaultKind::EmptyBody) => {
            state.telemetry.fault(FaultKind::EmptyBody);
            let ct = if streaming {
                "text/event-stream"
            } else {
                "application/json"
            };
            return (StatusCode::OK, [(header::CONTENT_TYPE, ct)], Body::empty()).into_response();
        }
        Some(FaultKind::NonJsonError) => {
            state.telemetry.fault(FaultKind::NonJsonError);
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>\n",
            )
                .into_response();
        }
        _ => {}
    }

    let model = req.model.clone();
    let job = Job {
        writer: ChunkWriter::new(api, index, state.created, &model),
        api,
        arrival,
        prompt_tokens,
        max_tokens,
        out_len,
        finish,
        fault,
        cut_after: p.faults.cut_after_tokens.min(out_len.saturating_sub(1)),
        include_usage: req.stream_options.is_some_and(|o| o.include_usage),
        rng: gen_rng,
        state: Arc::clone(&state),
    };
    if streaming {
        let (tx, rx) = mpsc::channel::<Result<Bytes, StreamCut>>(64);
        tokio::spawn(job.run(Some(tx)));
        let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }));
        (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/event-stream"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response()
    } else {
        job.run(None).await.unwrap_or_else(|| {
            // Only when shutting down.
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        })
    }
}

/// The error that aborts a response body, so hyper drops the connection
/// without the final chunk: the client sees a broken stream.
#[derive(Debug, thiserror::Error)]
#[error("simulated connection cut")]
struct StreamCut;

type Tx = mpsc::Sender<Result<Bytes, StreamCut>>;

/// One admitted-or-waiting generation.
struct Job {
    state: Arc<SimState>,
    writer: ChunkWriter,
    api: Api,
    arrival: Instant,
    prompt_tokens: u32,
    max_tokens: u32,
    out_len: u32,
    finish: Finish,
    fault: Option<FaultKind>,
    cut_after: u32,
    include_usage: bool,
    rng: Xoshiro256PlusPlus,
}

/// Why waiting stopped early.
enum Interrupted {
    /// The client went away.
    ClientGone,
    /// The server is shutting down.
    Closing,
}

impl Job {
    /// Sleeps until `at`, unless the client leaves or the server closes.
    async fn wait_until(&self, at: Instant, tx: Option<&Tx>) -> Result<(), Interrupted> {
        let mut closing = self.state.closing.subscribe();
        if *closing.borrow_and_update() {
            return Err(Interrupted::Closing);
        }
        let client_gone = async {
            match tx {
                Some(tx) => tx.closed().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = sleep_until(at) => Ok(()),
            _ = client_gone => Err(Interrupted::ClientGone),
            _ = closing.wait_for(|c| *c) => Err(Interrupted::Closing),
        }
    }

    /// Sends one frame; false when the client is gone.
    async fn send(tx: Option<&Tx>, bytes: impl Into<Bytes>) -> bool {
        match tx {
            Some(tx) => tx.send(Ok(bytes.into())).await.is_ok(),
            None => true,
        }
    }

    fn interrupted(&self, why: Interrupted, tx: Option<&Tx>) {
        match why {
            Interrupted::ClientGone => self.state.telemetry.abandoned(),
            Interrupted::Closing => {
                if let Some(tx) = tx {
                    let _ = tx.try_send(Err(StreamCut));
                }
            }
        }
    }

    /// Runs the generation. Streaming (`tx` given): frames go to `tx`, the
    /// result is None. Non-streaming: returns the response at the end
    /// (None only when the server is closing).
    async fn run(mut self, tx: Option<Tx>) -> Option<Response> {
        let tx = tx.as_ref();
        let p = self.state.profile.clone();
        let sched = Arc::clone(&self.state.sched);
        let kv = u64::from(self.prompt_tokens) + u64::from(self.max_tokens);

        // Queue for a slot. The non-streaming future is simply dropped when
        // its client leaves; the streaming task watches the channel.
        let guard: SlotGuard = match tx {
            Some(t) => tokio::select! {
                g = sched.admit(kv) => g,
                _ = t.closed() => {
                    self.state.telemetry.abandoned();
                    return None;
                }
            },
            None => sched.admit(kv).await,
        };
        let admitted = Instant::now();
        self.state
            .telemetry
            .admitted(admitted - self.arrival, self.prompt_tokens);

        if self.api == Api::Chat
            && p.role_first_chunk
            && !Self::send(tx, self.writer.role_event()).await
        {
            self.state.telemetry.abandoned();
            return None;
        }

        let out_len = self.out_len;
        let k = p.tokens_per_event;
        let mid = out_len / 2;
        let stall = ms(p.faults.stall_ms);
        // Deadlines are kept in engine time (which host stalls stop) and
        // mapped to instants; without host stalls the two are the same.
        // The run's slowdown scales every prefill and step time.
        let slow = self.state.run.factor;
        let mut engine_at = self.state.engine_time(admitted)
            + p.prefill(self.prompt_tokens)
                .mul_f64(jitter(&p, &mut self.rng) * slow)
            + p.ttft_drift(admitted - self.state.started);
        let mut at = self.state.wall_instant(engine_at);
        let mut prev_at = at;
        // Text of the event being packed (streaming) or of the whole
        // response (non-streaming).
        let mut text = String::with_capacity(if tx.is_some() {
            64
        } else {
            out_len as usize * 6
        });
        let mut tokens_in_event: u32 = 0;
        let mut special_sent = false;

        for i in 0..out_len {
            if i > 0 {
                // Step time from the batch size now; added to the previous
                // scheduled instant (not the wake-up time), so no drift.
                engine_at += p
                    .step(sched.running())
                    .mul_f64(jitter(&p, &mut self.rng) * slow);
            }
            if self.fault == Some(FaultKind::Stall) && i == mid {
                self.state.telemetry.fault(FaultKind::Stall);
                engine_at += stall;
            }
            at = self.state.wall_instant(engine_at);
            if self.fault == Some(FaultKind::StreamCut) && i == self.cut_after {
                if let Err(why) = self.wait_until(at, tx).await {
                    self.interrupted(why, tx);
                    return None;
                }
                self.state.telemetry.fault(FaultKind::StreamCut);
                drop(guard);
                return Some(self.cut_response(tx).await);
            }
            text.push(' ');
            text.push_str(next_word(&mut self.rng));
            tokens_in_event += 1;
            if i == 0 {
                self.state.telemetry.first_token(at - self.arrival);
            } else {
                self.state.telemetry.next_token(at - prev_at);
            }
            prev_at = at;
            let last = i + 1 == out_len;
            // The first token goes alone (vLLM's stream_interval does the
            // same), then k tokens per event; a cut ends an event early.
            let boundary = i == 0
                || i % k == 0
                || last
                || (self.fault == Some(FaultKind::StreamCut) && i + 1 == self.cut_after);
            if !boundary {
                continue;
            }
            // Non-streaming: with a constant step nothing is observable
            // before the end, so only wait per event when the step depends
            // on the batch (its size may change meanwhile).
            if tx.is_some() || p.batch_growth > 0.0 || last {
                if let Err(why) = self.wait_until(at, tx).await {
                    self.interrupted(why, tx);
                    return None;
                }
            }
            if tx.is_none() {
                tokens_in_event = 0;
                continue;
            }
            if !special_sent && i >= mid {
                if let Some(f) = self.fault {
                    match f {
                        FaultKind::Malformed => {
                            special_sent = true;
                            self.state.telemetry.fault(f);
                            if !Self::send(
                                tx,
                                "data: {\"id\":\"broken\",\"choices\":[{\"delta\":\n\n",
                            )
                            .await
                            {
                                self.state.telemetry.abandoned();
                                return None;
                            }
                        }
                        FaultKind::InvalidUtf8 => {
                            special_sent = true;
                            self.state.telemetry.fault(f);
                            let mut ev = self.writer.content_event("@@", None).into_bytes();
                            if let Some(pos) = ev.windows(2).position(|w| w == b"@@") {
                                ev[pos] = 0xFF;
                                ev[pos + 1] = 0xFE;
                            }
                            if !Self::send(tx, ev).await {
                                self.state.telemetry.abandoned();
                                return None;
                            }
                        }
                        FaultKind::HugeLine => {
                            self.state.telemetry.fault(f);
                            let mut line = Vec::with_capacity(HUGE_LINE_BYTES);
                            line.extend_from_slice(b"data: ");
                            line.resize(HUGE_LINE_BYTES, b'x');
                            let _ = Self::send(tx, line).await;
                            return None;
                        }
                        _ => {}
                    }
                }
            }
            let finish = last.then(|| self.finish.as_str());
            if !Self::send(tx, self.writer.content_event(&text, finish)).await {
                self.state.telemetry.abandoned();
                return None;
            }
            text.clear();
            tokens_in_event = 0;
        }
        debug_assert!(tx.is_none() || tokens_in_event == 0);

        drop(guard);
        let completion = out_len;
        let valid = !matches!(
            self.fault,
            Some(FaultKind::Malformed | FaultKind::InvalidUtf8 | FaultKind::HugeLine)
        );
        if let Some(tx) = tx {
            let mut tail = String::new();
            if self.include_usage {
                tail.push_str(&self.writer.usage_event(self.prompt_tokens, completion));
            }
            tail.push_str(DONE_EVENT);
            if !Self::send(Some(tx), tail).await {
                self.state.telemetry.abandoned();
                return None;
            }
            if valid {
                self.state.telemetry.completed(at - self.arrival);
            }
            return None;
        }
        let body =
            self.writer
                .full_body(&text, self.finish.as_str(), self.prompt_tokens, completion);
        let body: Vec<u8> = match self.fault {
            Some(FaultKind::Malformed) => {
                self.state.telemetry.fault(FaultKind::Malformed);
                // Cut in the middle of the JSON.
                body.as_bytes()[..body.len() / 2].to_vec()
            }
            Some(FaultKind::InvalidUtf8) => {
                self.state.telemetry.fault(FaultKind::InvalidUtf8);
                let mut b = body.into_bytes();
                // Replace the first generated character (inside "content"
                // or "text") with invalid UTF-8.
                if let Some(pos) = b.windows(3).position(|w| w == b":\" ") {
                    b[pos + 2] = 0xFF;
                }
                b
            }
            Some(FaultKind::HugeLine) => {
                self.state.telemetry.fault(FaultKind::HugeLine);
                vec![b'x'; HUGE_LINE_BYTES]
            }
            _ => body.into_bytes(),
        };
        if valid {
            self.state.telemetry.completed(at - self.arrival);
        }
        Some(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                Body::from(body),
            )
                .into_response(),
        )
    }

    /// Ends a response abruptly: streaming, by aborting the body; for a
    /// non-streaming request, by sending headers and half a body, then
    /// aborting.
    async fn cut_response(&self, tx: Option<&Tx>) -> Response {
        if let Some(tx) = tx {
            let _ = tx.send(Err(StreamCut)).await;
            return StatusCode::OK.into_response(); // unused by the caller
        }
        // Headers and half a body first; the error comes a moment later so
        // hyper has flushed them (an error in the same poll would drop the
        // connection before the headers, which looks like a connect error).
        let body = futures_util::stream::unfold(0u8, |step| async move {
            match step {
                0 => Some((Ok(Bytes::from_static(b"{\"id\":\"sim\",\"object\":\"")), 1)),
                1 => {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    Some((Err(StreamCut), 2))
                }
                _ => None,
            }
        });
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            Body::from_stream(body),
        )
            .into_response()
    }
}

/// A running simulator on a socket.
///
/// It serves on a tokio runtime of its own, on its own threads, as a real
/// server runs in its own process: on the runtime of the client that
/// measures it, its work (token pacing, SSE framing) would delay the
/// client's wake-ups, and the client probe would rightly see a client
/// whose measurement is held up — by the endpoint it measures.
#[derive(Debug)]
pub struct SimServer {
    addr: SocketAddr,
    state: Arc<SimState>,
    shutdown: Option<oneshot::Sender<()>>,
    /// Fires when the simulator's runtime has stopped.
    done: Option<oneshot::Receiver<()>>,
}

/// Worker threads of the simulator's own runtime: the machines tokengate
/// is tested on have two cores.
const SIM_WORKER_THREADS: usize = 2;

impl SimServer {
    /// Validates the profile, binds `addr` (port 0 picks a free port) and
    /// serves on a runtime of its own until `shutdown` or drop.
    pub async fn start(profile: SimProfile, addr: SocketAddr) -> Result<SimServer, SimError> {
        let state = Arc::new(SimState::new(profile)?);
        let bind_error = |source| SimError::Bind { addr, source };
        let std_listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
        std_listener.set_nonblocking(true).map_err(bind_error)?;
        let local = std_listener.local_addr().map_err(bind_error)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(SIM_WORKER_THREADS)
            .thread_name("tokengate-sim")
            .enable_all()
            .build()
            .map_err(bind_error)?;
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener).map_err(bind_error)?
        };
        // axum::serve leaves Nagle on; without TCP_NODELAY each small SSE
        // frame can wait for the previous ACK (~15 ms seen, CRATES.md).
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let (tx, rx) = oneshot::channel::<()>();
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let router = app(Arc::clone(&state));
        std::thread::Builder::new()
            .name("tokengate-sim".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let _ = axum::serve(listener, router)
                        .with_graceful_shutdown(async move {
                            let _ = rx.await;
                        })
                        .await;
                });
                // Streams still running after the graceful shutdown are
                // cut; the runtime gets a moment to drop them.
                runtime.shutdown_timeout(Duration::from_millis(500));
                let _ = done_tx.send(());
            })
            .map_err(bind_error)?;
        Ok(SimServer {
            addr: local,
            state,
            shutdown: Some(tx),
            done: Some(done_rx),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT/v1`, what clients take as their base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Snapshot of the request and fault counters.
    pub fn counters(&self) -> SimCounters {
        self.state.counters()
    }

    /// The shared state (profile, counters, metrics text).
    pub fn state(&self) -> &Arc<SimState> {
        &self.state
    }

    /// Stops accepting, cuts running streams, and waits (at most 2 s) for
    /// connections to close.
    pub async fn shutdown(mut self) {
        self.state.close();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(done) = self.done.take() {
            // At most 2 s; past that the simulator's thread finishes on
            // its own (its runtime cuts what is left).
            let _ = tokio::time::timeout(Duration::from_secs(2), done).await;
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.state.close();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
