//! A precise `sleep_until` for the simulator's token schedule.
//!
//! tokio's timer wheel has 1 ms ticks and rounds deadlines up, so a token
//! due at t leaves at t + 0…1 ms (+ wake-up), a bias a client measuring
//! TTFT/TPOT to ±0.5 ms would see. Here one OS thread keeps a heap of
//! deadlines and waits on a condition variable with a nanosecond timeout
//! (futex/hrtimer on Linux, ~50–100 µs slack), then wakes the waiting task
//! through a oneshot channel.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Instant;

use tokio::sync::oneshot;

struct Entry {
    at: Instant,
    seq: u64,
    tx: oneshot::Sender<()>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Default)]
struct Heap {
    entries: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

struct Timer {
    heap: Mutex<Heap>,
    cv: Condvar,
}

fn timer() -> Option<&'static Timer> {
    static TIMER: OnceLock<Option<&'static Timer>> = OnceLock::new();
    *TIMER.get_or_init(|| {
        let t: &'static Timer = Box::leak(Box::new(Timer {
            heap: Mutex::new(Heap::default()),
            cv: Condvar::new(),
        }));
        // If the thread cannot be spawned, fall back to tokio's timer.
        std::thread::Builder::new()
            .name("tokengate-sim-clock".into())
            .spawn(move || run(t))
            .ok()
            .map(|_| t)
    })
}

fn run(t: &'static Timer) {
    let mut heap = t.heap.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let now = Instant::now();
        while heap.entries.peek().is_some_and(|e| e.0.at <= now) {
            if let Some(Reverse(e)) = heap.entries.pop() {
                // The sleeper may be gone (client left); nothing to do then.
                let _ = e.tx.send(());
            }
        }
        heap = match heap.entries.peek().map(|e| e.0.at) {
            Some(next) => {
                t.cv.wait_timeout(heap, next.saturating_duration_since(now))
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
            None => t.cv.wait(heap).unwrap_or_else(|e| e.into_inner()),
        };
    }
}

/// Sleeps until `at` with sub-millisecond precision. Cancel-safe.
pub async fn sleep_until(at: tokio::time::Instant) {
    let at_std = at.into_std();
    if at_std <= Instant::now() {
        return;
    }
    let Some(t) = timer() else {
        tokio::time::sleep_until(at).await;
        return;
    };
    let (tx, rx) = oneshot::channel();
    {
        let mut heap = t.heap.lock().unwrap_or_else(|e| e.into_inner());
        heap.seq += 1;
        let seq = heap.seq;
        let earliest = heap.entries.peek().is_none_or(|e| at_std < e.0.at);
        heap.entries.push(Reverse(Entry {
            at: at_std,
            seq,
            tx,
        }));
        if earliest {
            t.cv.notify_one();
        }
    }
    // The sender is dropped only after sending; either way it is time.
    let _ = rx.await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wakes_within_a_fraction_of_a_millisecond() {
        let mut late = Vec::new();
        for i in 0..20u64 {
            let at = tokio::time::Instant::now() + Duration::from_micros(3_000 + 137 * i);
            sleep_until(at).await;
            late.push(tokio::time::Instant::now() - at);
        }
        late.sort();
        // Median lateness well under tokio's 1 ms tick.
        assert!(late[10] < Duration::from_micros(600), "{late:?}");
    }
}
