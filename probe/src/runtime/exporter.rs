//! The exporter lcore: drains every worker ring, encodes records, writes the sinks.

use super::worker::WorkerShared;
use crate::dpdk::{self, ring::Consumer};
use crate::export::{NetifyEncoder, Sink};
use crate::flow::FlowRecord;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Records dequeued per ring per call.
const DEQUEUE: usize = 64;
/// Encoded bytes buffered before a sink write.
const WRITE_CHUNK: usize = 256 * 1024;

#[derive(Clone, Debug, Default)]
pub struct ExporterReport {
    pub records: [u64; 3],
    pub sink_records: u64,
    pub sink_bytes: u64,
    pub sink_errors: u64,
    pub sink_last_error: Option<String>,
    /// Seconds spent encoding and writing (excludes idle polls).
    pub busy_s: f64,
}

pub struct ExporterArgs {
    pub consumers: Vec<Consumer<FlowRecord>>,
    pub workers: Vec<Arc<WorkerShared>>,
    pub encoder: NetifyEncoder,
    pub sink: Sink,
    pub backoff: bool,
    pub alive: Arc<AtomicBool>,
    pub report: Arc<Mutex<Option<ExporterReport>>>,
}

pub fn run(mut a: ExporterArgs) -> i32 {
    // Mark the exporter gone whatever happens, so waiting workers stop waiting.
    struct Alive(Arc<AtomicBool>);
    impl Drop for Alive {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Release);
        }
    }
    let _alive = Alive(a.alive.clone());
    let hz = dpdk::tsc_hz().max(1) as f64;
    let mut buf = [FlowRecord::default(); DEQUEUE];
    let mut out: Vec<u8> = Vec::with_capacity(WRITE_CHUNK + 64 * 1024);
    let mut pending = 0u64;
    let mut rep = ExporterReport::default();
    let mut busy_ticks = 0u64;
    let mut idle = 0u32;
    let mut unflushed = false;
    loop {
        // Read the done flags before draining: a worker done before the drain has nothing left after.
        let all_done = a.workers.iter().all(|w| w.done.load(Ordering::Acquire));
        let t0 = dpdk::rdtsc();
        let mut got = 0usize;
        for c in a.consumers.iter_mut() {
            loop {
                let n = c.dequeue_burst(&mut buf);
                if n == 0 {
                    break;
                }
                got += n;
                for r in &buf[..n] {
                    a.encoder.encode(r, &mut out);
                    rep.records[r.kind as usize] += 1;
                }
                pending += n as u64;
                if out.len() >= WRITE_CHUNK {
                    a.sink.write(&out, pending);
                    out.clear();
                    pending = 0;
                }
                if n < DEQUEUE {
                    break;
                }
            }
        }
        if !out.is_empty() {
            a.sink.write(&out, pending);
            out.clear();
            pending = 0;
            unflushed = true;
        }
        if got > 0 {
            busy_ticks += dpdk::rdtsc().wrapping_sub(t0);
            idle = 0;
            continue;
        }
        if all_done {
            break;
        }
        // Idle: push buffered output to its destination so live output is timely.
        if unflushed {
            a.sink.flush();
            unflushed = false;
        }
        idle = idle.saturating_add(1);
        if a.backoff && idle > 16 {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    a.sink.close();
    rep.sink_records = a.sink.records;
    rep.sink_bytes = a.sink.bytes;
    rep.sink_errors = a.sink.errors;
    rep.sink_last_error = a.sink.last_error.clone();
    rep.busy_s = busy_ticks as f64 / hz;
    if let Ok(mut g) = a.report.lock() {
        *g = Some(rep);
    }
    0
}
