//! The exporter lcore: drains every worker ring, encodes records, writes the sinks.

use super::worker::WorkerShared;
use crate::dpdk::{self, ring::Consumer};
use crate::export::{Outputs, SinkReport};
use crate::flow::FlowRecord;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Records dequeued per ring per call.
const DEQUEUE: usize = 64;
/// Encoded bytes buffered before a sink write.
const WRITE_CHUNK: usize = 256 * 1024;
/// Seconds between publications of the sink counters while the exporter is idle.
const PUBLISH_SINKS_S: f64 = 0.1;

#[derive(Clone, Debug, Default)]
pub struct ExporterReport {
    pub records: [u64; 3],
    /// Lines written, summed over the sinks.
    pub sink_records: u64,
    pub sink_bytes: u64,
    /// Errors of the local sinks (stdout, files): the output is incomplete (exit code 1). Socket
    /// sinks' errors (a collector away) are in `sinks` only.
    pub sink_errors: u64,
    pub sink_last_error: Option<String>,
    /// Per sink, in `--output` order.
    pub sinks: Vec<SinkReport>,
    /// Seconds spent encoding and writing (excludes idle polls).
    pub busy_s: f64,
}

pub struct ExporterArgs {
    pub consumers: Vec<Consumer<FlowRecord>>,
    pub workers: Vec<Arc<WorkerShared>>,
    pub outputs: Outputs,
    pub backoff: bool,
    pub alive: Arc<AtomicBool>,
    pub report: Arc<Mutex<Option<ExporterReport>>>,
    /// Metric handles (resolved once; the exporter is not a worker, it may feed the registry).
    pub metrics: crate::metrics::ExporterMetrics,
    /// TSC ticks per second (EAL's, or estimated when EAL is not running).
    pub tsc_hz: u64,
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
    let hz = a.tsc_hz.max(1) as f64;
    let mut buf = [FlowRecord::default(); DEQUEUE];
    let mut rep = ExporterReport::default();
    let mut busy_ticks = 0u64;
    let mut idle = 0u32;
    // Sink counters go to the registry at most every PUBLISH_SINKS_S, when idle (a report per
    // sink, names cloned, so never per batch: `idle` restarts at 0 after every busy pass).
    let publish_every = (PUBLISH_SINKS_S * hz) as u64;
    let mut published = 0u64;
    let mut unflushed = false;
    loop {
        // Read the done flags before draining: a worker done before the drain has nothing left after.
        let all_done = a.workers.iter().all(|w| w.done.load(Ordering::Acquire));
        let t0 = dpdk::rdtsc();
        // One clock read per pass: NetObserv's TimeReceived has second resolution.
        let now = now_s();
        let mut got = 0usize;
        for c in a.consumers.iter_mut() {
            loop {
                let n = c.dequeue_burst(&mut buf);
                if n == 0 {
                    break;
                }
                got += n;
                let tsc = dpdk::rdtsc();
                a.outputs.encode_burst(&buf[..n], now);
                for r in &buf[..n] {
                    rep.records[r.kind as usize] += 1;
                    a.metrics.record(r);
                    if r.created_tsc != 0 {
                        a.metrics
                            .lag
                            .record(tsc.saturating_sub(r.created_tsc) as f64 / hz);
                    }
                }
                if a.outputs.pending() >= WRITE_CHUNK {
                    a.outputs.write();
                }
                if n < DEQUEUE {
                    break;
                }
            }
        }
        if got > 0 {
            a.metrics.flush();
            a.outputs.write();
            unflushed = true;
            busy_ticks += dpdk::rdtsc().wrapping_sub(t0);
            idle = 0;
            continue;
        }
        if all_done {
            break;
        }
        // Idle: publish the sinks' counters now and then.
        let now_tsc = dpdk::rdtsc();
        if now_tsc.wrapping_sub(published) >= publish_every {
            a.metrics.publish_sinks(&a.outputs.reports(), &rep.records);
            published = now_tsc;
        }
        // Idle: push buffered output to its destination so live output is timely.
        if unflushed {
            a.outputs.flush();
            unflushed = false;
        }
        idle = idle.saturating_add(1);
        if a.backoff && idle > 16 {
            // Sharing a CPU with a worker: every wake-up preempts it, so wake rarely. 1 ms holds
            // ~1k records at 1M records/s, a sliver of a 64k ring; 100 us cost two workers on
            // two CPUs a fifth of their rate in the throughput harness (1.30x vs 1.57x one).
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    a.outputs.close();
    rep.sinks = a.outputs.reports();
    a.metrics.publish_sinks(&rep.sinks, &rep.records);
    for s in &rep.sinks {
        rep.sink_records += s.records;
        rep.sink_bytes += s.bytes;
        if s.local && s.errors > 0 {
            rep.sink_errors += s.errors;
            rep.sink_last_error = s.last_error.clone();
        }
    }
    rep.busy_s = busy_ticks as f64 / hz;
    if let Ok(mut g) = a.report.lock() {
        *g = Some(rep);
    }
    0
}
