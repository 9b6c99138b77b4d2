//! The worker lcore loop: burst → prefetch → parse → shard update → timers → records to the ring.

use crate::dpdk::mbuf::{Burst, TimestampField};
use crate::dpdk::ring::Producer;
use crate::dpdk::{self, port::Port};
use crate::flow::{EndReason, FlowRecord, RecordKind, ShardConfig, ShardStats};
use crate::metrics::{WorkerSnapshot, SNAPSHOT_SLOTS};
use crate::pipeline::{LinkType, Pipeline, RecordOut, UNMATCHED_REASONS};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Packets per RX burst.
pub const BURST: usize = 32;
/// Bursts between publications of the progress counters.
const PUBLISH_EVERY: u32 = 256;

/// Converts the TSC to epoch nanoseconds; read once per burst in live mode.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub tsc0: u64,
    pub hz: u64,
    pub epoch_ns0: u64,
}

impl Clock {
    pub fn start() -> Clock {
        let epoch_ns0 = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Clock {
            tsc0: dpdk::rdtsc(),
            hz: dpdk::tsc_hz().max(1),
            epoch_ns0,
        }
    }

    #[inline]
    pub fn now(&self) -> u64 {
        let d = dpdk::rdtsc().wrapping_sub(self.tsc0) as u128;
        self.epoch_ns0 + (d * 1_000_000_000 / self.hz as u128) as u64
    }

    pub fn ticks(&self, d: Duration) -> u64 {
        (d.as_nanos() * self.hz as u128 / 1_000_000_000) as u64
    }
}

/// What the worker reports when it ends.
#[derive(Clone, Debug, Default)]
pub struct WorkerReport {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub unmatched: [u64; UNMATCHED_REASONS],
    pub shard: ShardStats,
    pub dropped: [u64; 3],
    pub bursts: u64,
    pub empty_polls: u64,
    pub table_bytes: usize,
    /// Replay ended without every expected packet (stall); the count that arrived.
    pub replay_short: Option<u64>,
}

/// State shared with the main lcore and the exporter.
pub struct WorkerShared {
    /// Set (Release) after the final records were handed to the ring, or when the worker panicked
    /// (then `failed` is set first).
    pub done: AtomicBool,
    /// The worker panicked: its flows' records not yet in the ring are lost.
    pub failed: AtomicBool,
    pub rx_packets: AtomicU64,
    /// The latest published counters (relaxed stores every few hundred bursts; read by main).
    pub slots: [AtomicU64; SNAPSHOT_SLOTS],
    pub report: Mutex<Option<WorkerReport>>,
}

impl Default for WorkerShared {
    fn default() -> Self {
        WorkerShared {
            done: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            rx_packets: AtomicU64::new(0),
            slots: std::array::from_fn(|_| AtomicU64::new(0)),
            report: Mutex::new(None),
        }
    }
}

impl WorkerShared {
    /// Read the latest published counters.
    pub fn snapshot(&self) -> WorkerSnapshot {
        let v: [u64; SNAPSHOT_SLOTS] =
            std::array::from_fn(|i| self.slots[i].load(Ordering::Relaxed));
        WorkerSnapshot::from_slots(&v)
    }

    fn publish(&self, s: &WorkerSnapshot) {
        for (a, v) in self.slots.iter().zip(s.to_slots()) {
            a.store(v, Ordering::Relaxed);
        }
    }
}

/// Replay bookkeeping: how many packets the capture holds for this queue.
#[derive(Clone, Copy, Debug)]
pub struct Replay {
    pub expected_packets: u64,
    /// mbuf timestamp units in ns (the PMD's unit).
    pub ts_unit_ns: u64,
}

pub struct WorkerArgs {
    pub index: usize,
    pub port: u16,
    pub queue: u16,
    pub shard: ShardConfig,
    pub link: LinkType,
    /// Taken by the worker when it starts (the one producer of its ring).
    pub producer: Option<Producer<FlowRecord>>,
    pub ring_wait: bool,
    pub stop: Arc<AtomicBool>,
    pub exporter_alive: Arc<AtomicBool>,
    pub replay: Option<Replay>,
    pub ts_field: Option<TimestampField>,
    pub clock: Clock,
    pub backoff: bool,
    pub shared: Arc<WorkerShared>,
    /// Usable slots of the ring (for the occupancy gauge).
    pub ring_capacity: u64,
    /// Key tunnelled traffic on the inner flow.
    pub decap: bool,
}

/// An offline worker's capture, opened (and its header checked) before the workers start.
pub enum Feed {
    /// Classic pcap, already being read ahead.
    Classic(crate::pcapfile::ClassicFeed),
    /// Any other capture the reader takes (pcapng), past its header.
    Reader(crate::pcapfile::CaptureReader<std::io::BufReader<std::fs::File>>),
}

/// The ring as the pipeline's output, with the configured full-ring policy.
struct RingOut {
    p: Producer<FlowRecord>,
    wait: bool,
    exporter_alive: Arc<AtomicBool>,
}

impl RecordOut for RingOut {
    #[inline]
    fn push(&mut self, recs: &[FlowRecord]) -> usize {
        let mut n = self.p.enqueue_burst(recs);
        // Back-pressure only where asked (replays): a file does not lose packets while we wait.
        while self.wait && n < recs.len() && self.exporter_alive.load(Ordering::Relaxed) {
            std::hint::spin_loop();
            n += self.p.enqueue_burst(&recs[n..]);
        }
        n
    }
}

/// Sleep after a run of empty polls when the lcore shares its CPU.
struct Backoff {
    on: bool,
    empty: u32,
}

impl Backoff {
    #[inline]
    fn idle(&mut self) {
        self.empty = self.empty.saturating_add(1);
        if self.on && self.empty > 64 {
            let us = (self.empty as u64 / 64).min(20) * 25;
            std::thread::sleep(Duration::from_micros(us));
        }
    }
    #[inline]
    fn busy(&mut self) {
        self.empty = 0;
    }
}

fn snapshot(
    pipe: &Pipeline<RingOut>,
    bursts: u64,
    empty_polls: u64,
    ring_capacity: u64,
) -> WorkerSnapshot {
    let st = pipe.shard_stats();
    WorkerSnapshot {
        packets: pipe.rx_packets,
        bytes: pipe.rx_bytes,
        bursts,
        empty_polls,
        unmatched: pipe.unmatched,
        flows_created_by_l4: st.flows_created_by_l4,
        flows_ended: st.flows_ended,
        records: st.records,
        dropped: pipe.batch.dropped,
        flows: st.active(),
        capacity: pipe.shard.config().capacity as u64,
        ring_free: pipe.batch.out.p.free_count() as u64,
        ring_capacity,
        clock_backwards: st.clock_backwards,
        frag_overflow: pipe.frag_overflows,
    }
}

/// Test hook, read once per worker at start-up: `FLOWPROBE_TEST_PANIC=WORKER:BURSTS` makes worker
/// `WORKER` panic after `BURSTS` bursts, to test that a panicking worker ends the probe with an
/// error instead of hanging it. Costs one integer compare per burst.
const TEST_PANIC_ENV: &str = "FLOWPROBE_TEST_PANIC";

fn test_panic_at(index: usize) -> u64 {
    std::env::var(TEST_PANIC_ENV)
        .ok()
        .and_then(|v| {
            let (w, n) = v.split_once(':')?;
            (w.parse::<usize>().ok()? == index).then(|| n.parse::<u64>().ok())?
        })
        .unwrap_or(u64::MAX)
}

#[inline]
fn check_test_panic(at: u64, bursts: u64) {
    if bursts == at {
        panic!("{TEST_PANIC_ENV}: test panic after {bursts} bursts");
    }
}

/// Marks the worker done (and failed) if it unwinds, so that neither the main lcore nor the
/// exporter waits forever for a worker that will never finish.
struct PanicGuard(Arc<WorkerShared>);

impl Drop for PanicGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.failed.store(true, Ordering::Release);
            self.0.done.store(true, Ordering::Release);
        }
    }
}

/// The worker's pipeline (its ring as the output) and what `end` needs, from its arguments.
fn start(a: &mut WorkerArgs) -> (Pipeline<RingOut>, Ends) {
    let ends = Ends {
        shared: a.shared.clone(),
        ring_capacity: a.ring_capacity,
        panic_at: test_panic_at(a.index),
    };
    let producer = a
        .producer
        .take()
        .expect("a worker's ring producer is taken once");
    let mut pipe = Pipeline::new(
        a.shard,
        a.link,
        RingOut {
            p: producer,
            wait: a.ring_wait,
            exporter_alive: a.exporter_alive.clone(),
        },
    );
    pipe.set_decap(a.decap);
    (pipe, ends)
}

pub fn run(mut a: WorkerArgs) -> i32 {
    let _guard = PanicGuard(a.shared.clone());
    let (mut pipe, ends) = start(&mut a);
    let mut burst: Burst<BURST> = Burst::default();
    let mut backoff = Backoff {
        on: a.backoff,
        empty: 0,
    };
    let (mut bursts, mut empty_polls) = (0u64, 0u64);
    let mut since_publish = 0u32;
    let mut last_ts = 0u64;
    let stall_check = a.clock.ticks(Duration::from_millis(500));
    let stall_give_up = a.clock.ticks(Duration::from_secs(10));
    let mut last_progress_tsc = dpdk::rdtsc();
    let mut last_check_tsc = last_progress_tsc;
    let mut replay_short = None;
    loop {
        let n = burst.rx(a.port, a.queue);
        if n == 0 {
            empty_polls += 1;
            if a.replay.is_some() && a.ts_field.is_some() {
                // The capture clock only moves with packets; flush what the last burst produced.
                pipe.batch.flush();
            } else {
                pipe.batch.stamp = dpdk::rdtsc();
                pipe.tick(a.clock.now());
            }
            if a.stop.load(Ordering::Relaxed) {
                break;
            }
            if let Some(r) = a.replay {
                if pipe.rx_packets >= r.expected_packets {
                    break;
                }
                // Packets the PMD could not deliver (errors) never arrive: ask the port.
                let t = dpdk::rdtsc();
                if t.wrapping_sub(last_check_tsc) > stall_check {
                    last_check_tsc = t;
                    let s = Port::stats(a.port);
                    let q = a.queue as usize;
                    let seen = s.q_ipackets.get(q).copied().unwrap_or(0)
                        + s.q_errors.get(q).copied().unwrap_or(0);
                    if seen >= r.expected_packets && seen > pipe.rx_packets {
                        break;
                    }
                    if t.wrapping_sub(last_progress_tsc) > stall_give_up {
                        replay_short = Some(pipe.rx_packets);
                        break;
                    }
                }
            }
            // Idle: publish now and then so the metrics stay fresh without traffic.
            if empty_polls % 4096 == 0 {
                a.shared
                    .publish(&snapshot(&pipe, bursts, empty_polls, a.ring_capacity));
            }
            backoff.idle();
            continue;
        }
        backoff.busy();
        bursts += 1;
        check_test_panic(ends.panic_at, bursts);
        // One relaxed load per burst: a saturated port never has an empty poll to notice a stop.
        if a.stop.load(Ordering::Relaxed) {
            burst.free();
            break;
        }
        last_progress_tsc = if a.replay.is_some() {
            dpdk::rdtsc()
        } else {
            last_progress_tsc
        };
        pipe.batch.stamp = dpdk::rdtsc();
        let capture_clock = a.replay.is_some() && a.ts_field.is_some();
        let now = if capture_clock { 0 } else { a.clock.now() };
        // Hand the burst to the pipeline, which prefetches every packet's headers, parses all
        // of it, warms the flow-table lines, and updates in order.
        let mut pkts: [(&[u8], u32, u64); BURST] = [(&[], 0, 0); BURST];
        for (i, slot) in pkts.iter_mut().enumerate().take(n) {
            let ts = match (a.replay, a.ts_field) {
                (Some(r), Some(f)) => burst
                    .timestamp(i, f)
                    .map(|t| t.saturating_mul(r.ts_unit_ns))
                    .unwrap_or(last_ts),
                _ => now,
            };
            last_ts = ts;
            let (data, len) = burst.packet(i);
            *slot = (data, len, ts);
        }
        pipe.burst(&pkts[..n]);
        burst.free();
        pipe.tick(if capture_clock { last_ts } else { now });
        since_publish += 1;
        if since_publish >= PUBLISH_EVERY {
            since_publish = 0;
            a.shared
                .rx_packets
                .store(pipe.rx_packets, Ordering::Relaxed);
            a.shared
                .publish(&snapshot(&pipe, bursts, empty_polls, a.ring_capacity));
        }
    }
    end(pipe, &ends, bursts, empty_polls, replay_short);
    0
}

/// What the end of a worker needs once the rest of its arguments were moved into the loop.
struct Ends {
    shared: Arc<WorkerShared>,
    ring_capacity: u64,
    /// Burst count at which the test hook panics (`u64::MAX`: never).
    panic_at: u64,
}

/// Flush every flow, publish the final counters and the report, then mark the worker done.
fn end(
    mut pipe: Pipeline<RingOut>,
    a: &Ends,
    bursts: u64,
    empty_polls: u64,
    replay_short: Option<u64>,
) {
    pipe.batch.stamp = dpdk::rdtsc();
    pipe.finish(EndReason::Shutdown);
    let report = WorkerReport {
        rx_packets: pipe.rx_packets,
        rx_bytes: pipe.rx_bytes,
        unmatched: pipe.unmatched,
        shard: *pipe.shard_stats(),
        dropped: [
            pipe.dropped(RecordKind::Start),
            pipe.dropped(RecordKind::Stats),
            pipe.dropped(RecordKind::End),
        ],
        bursts,
        empty_polls,
        table_bytes: pipe.shard.memory_bytes(),
        replay_short,
    };
    a.shared
        .rx_packets
        .store(pipe.rx_packets, Ordering::Relaxed);
    a.shared
        .publish(&snapshot(&pipe, bursts, empty_polls, a.ring_capacity));
    if let Ok(mut g) = a.shared.report.lock() {
        *g = Some(report);
    }
    a.shared.done.store(true, Ordering::Release);
}

/// The offline worker: reads a capture file itself (no port, no copy into mbufs) and feeds the
/// same pipeline in bursts, on the capture's timestamps (ns), with each packet's link type.
/// Frame bytes are the captured length, as the net_pcap vdev counts them (`pkt_len`).
/// Stops at the end of the file, on a read error (reported), or on a stop signal.
pub fn run_offline(mut a: WorkerArgs, feed: Feed, path: std::path::PathBuf) -> i32 {
    let _guard = PanicGuard(a.shared.clone());
    let t0 = std::time::Instant::now();
    let (mut pipe, ends) = start(&mut a);
    let t_table = t0.elapsed();
    let (bursts, rc) = match feed {
        Feed::Classic(feed) => replay_classic(&mut a, &mut pipe, feed, &path, ends.panic_at),
        Feed::Reader(reader) => replay_any(&mut a, &mut pipe, reader, &path, ends.panic_at),
    };
    let t_replay = t0.elapsed();
    end(pipe, &ends, bursts, 0, None);
    if std::env::var_os("FLOWPROBE_DEBUG").is_some() {
        eprintln!(
            "flowprobe: worker{}: table ready {:.1} ms, replay {:.1} ms, final flush {:.1} ms",
            a.index,
            t_table.as_secs_f64() * 1e3,
            (t_replay - t_table).as_secs_f64() * 1e3,
            (t0.elapsed() - t_replay).as_secs_f64() * 1e3
        );
    }
    rc
}

/// Publish the progress counters every `PUBLISH_EVERY` bursts (called once per burst).
fn maybe_publish(
    a: &WorkerArgs,
    pipe: &Pipeline<RingOut>,
    bursts: u64,
    since: &mut u32,
    panic_at: u64,
) {
    check_test_panic(panic_at, bursts);
    *since += 1;
    if *since >= PUBLISH_EVERY {
        *since = 0;
        a.shared
            .rx_packets
            .store(pipe.rx_packets, Ordering::Relaxed);
        a.shared
            .publish(&snapshot(pipe, bursts, 0, a.ring_capacity));
    }
}

/// Classic pcap: bursts straight out of the reader's chunk buffer (one link type per file).
fn replay_classic(
    a: &mut WorkerArgs,
    pipe: &mut Pipeline<RingOut>,
    mut r: crate::pcapfile::ClassicFeed,
    path: &std::path::Path,
    panic_at: u64,
) -> (u64, i32) {
    pipe.set_link(LinkType::from_pcap(r.linktype()));
    let (mut bursts, mut since_publish) = (0u64, 0u32);
    while !a.stop.load(Ordering::Relaxed) {
        let mut pkts: [crate::pcapfile::BurstPacket; BURST] = [(&[], 0, 0); BURST];
        let n = match r.next_burst(&mut pkts) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                eprintln!("flowprobe: capture {}: {e}", path.display());
                return (bursts, 1);
            }
        };
        bursts += 1;
        pipe.batch.stamp = dpdk::rdtsc();
        pipe.burst(&pkts[..n]);
        pipe.tick(pkts[n - 1].2);
        maybe_publish(a, pipe, bursts, &mut since_publish, panic_at);
    }
    (bursts, 0)
}

/// Any capture the [`crate::pcapfile::CaptureReader`] reads (pcapng: link type per interface).
fn replay_any(
    a: &mut WorkerArgs,
    pipe: &mut Pipeline<RingOut>,
    mut reader: crate::pcapfile::CaptureReader<std::io::BufReader<std::fs::File>>,
    path: &std::path::Path,
    panic_at: u64,
) -> (u64, i32) {
    let mut bufs: Vec<Vec<u8>> = (0..BURST).map(|_| Vec::with_capacity(2048)).collect();
    let mut meta = [(0u64, 0u32, 0u32); BURST];
    let mut bursts = 0u64;
    let mut since_publish = 0u32;
    let mut rc = 0;
    let mut link = None;
    'outer: loop {
        if a.stop.load(Ordering::Relaxed) {
            break;
        }
        let mut n = 0;
        let mut next_link = None;
        while n < BURST {
            match reader.next_packet(&mut bufs[n]) {
                Ok(Some(r)) => {
                    if link.is_some_and(|l| l != r.linktype) && n > 0 {
                        // A pcapng interface with another link type: end the burst here.
                        next_link = Some((r, std::mem::take(&mut bufs[n])));
                        break;
                    }
                    link = Some(r.linktype);
                    meta[n] = (r.ts_ns, r.caplen, r.linktype);
                    n += 1;
                }
                Ok(None) => {
                    if n == 0 {
                        break 'outer;
                    }
                    break;
                }
                Err(e) => {
                    eprintln!("flowprobe: capture {}: {e}", path.display());
                    rc = 1;
                    break;
                }
            }
        }
        if n > 0 {
            bursts += 1;
            pipe.set_link(LinkType::from_pcap(meta[0].2));
            pipe.batch.stamp = dpdk::rdtsc();
            let mut pkts: [(&[u8], u32, u64); BURST] = [(&[], 0, 0); BURST];
            for (i, slot) in pkts.iter_mut().enumerate().take(n) {
                *slot = (&bufs[i][..], meta[i].1, meta[i].0);
            }
            pipe.burst(&pkts[..n]);
            pipe.tick(meta[n - 1].0);
        }
        if let Some((r, b)) = next_link {
            bufs[0] = b;
            meta[0] = (r.ts_ns, r.caplen, r.linktype);
            link = Some(r.linktype);
            pipe.set_link(LinkType::from_pcap(r.linktype));
            let pk = [(&bufs[0][..], r.caplen, r.ts_ns)];
            pipe.burst(&pk);
        }
        if rc != 0 {
            break;
        }
        maybe_publish(a, pipe, bursts, &mut since_publish, panic_at);
    }
    (bursts, rc)
}
