//! Progress while a run is going: an indicatif bar on a terminal, a
//! one-line status every few seconds otherwise (CI logs), both on stderr so
//! stdout stays for the summary. This live display is the only part of the
//! library that writes to the terminal itself; everything else a command
//! shows travels in its [`super::Outcome`].

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::driver::{Progress, StopSignal};
use crate::workload::{Plan, StopAfter};

pub struct Display {
    done: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Display {
    pub async fn finish(self) {
        self.done.notify_one();
        let _ = self.task.await;
    }
}

pub fn spawn(plan: &Plan, state: Arc<Progress>, stop: Arc<StopSignal>) -> Display {
    let done = Arc::new(tokio::sync::Notify::new());
    let total = plan.measured_requests();
    let horizon = match plan.stop {
        StopAfter::Duration(d) => Some(d),
        StopAfter::Requests(_) => None,
    };
    let tty = std::io::stderr().is_terminal();
    let done2 = done.clone();
    let task = tokio::spawn(async move {
        let start = Instant::now();
        let bar = tty.then(|| {
            let bar = match total {
                Some(n) => indicatif::ProgressBar::new(n),
                None => {
                    indicatif::ProgressBar::new(horizon.map(|h| h.as_secs()).unwrap_or(0).max(1))
                }
            };
            let template = if total.is_some() {
                "{elapsed_precise} [{bar:40}] {pos}/{len} requests {msg}"
            } else {
                "{elapsed_precise} [{bar:40}] {pos}/{len} s {msg}"
            };
            if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        let tick = if tty {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(10)
        };
        loop {
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = done2.notified() => break,
            }
            let finished = state.finished.load(Ordering::Relaxed);
            let failed = state.failed.load(Ordering::Relaxed);
            let in_flight = state.in_flight.load(Ordering::Relaxed);
            let secs = start.elapsed().as_secs_f64();
            let msg = format!(
                "{failed} failed, {in_flight} in flight, {:.1} req/s{}",
                finished as f64 / secs.max(1e-9),
                if stop.is_stopped() { ", stopping" } else { "" }
            );
            match &bar {
                Some(b) => {
                    match total {
                        Some(_) => b.set_position(finished),
                        None => b.set_position(start.elapsed().as_secs()),
                    }
                    b.set_message(crate::wording::foreign::one_line(&msg));
                }
                None => {
                    let of = total.map(|n| format!("/{n}")).unwrap_or_default();
                    status_line(&format!(
                        "[tokengate] {secs:.0}s: {finished}{of} requests done, {msg}"
                    ));
                }
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
    });
    Display { done, task }
}

/// The one place the progress display writes a line: stderr, unbuffered, so
/// a CI log shows it as it happens. A closed stderr is not worth a panic.
/// The line holds counts only today; it goes through the one neutraliser
/// all the same, so no later field can print foreign text raw.
fn status_line(line: &str) {
    use std::io::Write as _;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", crate::wording::foreign::one_line(line));
}
