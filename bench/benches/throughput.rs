//! Throughput harness: the same packets through (1) a bare loop that only touches each packet,
//! (2) flowprobe's worker pipeline (parse + flow update + expiry + records to the probe's SPSC
//! ring, drained by an exporter thread that encodes Netify JSON), (3) the `flowscope` crate's
//! tracker. Reports Mpps, ns and cycles per packet and the ratios 2/1 and 2/3 at several
//! concurrent-flow counts, bytes per flow, peak RSS, allocations in the steady state, and
//! two-worker scaling (at `--scale-flows` sizes: by default the smallest row, eviction-bound at
//! 10k, and the largest up to 1M).
//!
//! Packets are pre-built from the project's trace generator (realistic mix, handshakes, teardown,
//! DNS, ICMP, IPv6, VLAN, Zipf popularity) into an in-memory arena of 128-byte slots (the headers;
//! the frame length is kept), replayed at memory speed in bursts of 32 without copying. The
//! arena stands in for a `net_ring` port of pre-built mbufs: the worker hands its bursts to the
//! same `Pipeline::burst` (parse, prefetch, flow update, timers, records out) whether they come
//! from mbufs or from a capture, so only the PMD's receive call is left out.
//!
//! "probe 2M" runs the same pipeline with its flow table on transparent 2 MiB pages (madvise);
//! DPDK's hugepages back mbufs and rings, which this harness does not use. Peak RSS is per row
//! (arena, table, flowscope's tracker and the exporter included).
//!
//! Run: `cargo bench -p flowprobe-bench --bench throughput -- [--flows 10000,1000000,10000000]
//! [--seconds 3] [--rounds 3] [--scale-flows 10000,1000000] [--json PATH]`. Each figure is the median of `--rounds` rounds in
//! which every measurement runs once, in turn.

use flowprobe::dpdk::ring::{self, Consumer, Producer};
use flowprobe::export::{LocalNets, NetifyEncoder};
use flowprobe::flow::{EndReason, FlowRecord, ShardConfig};
use flowprobe::pipeline::{LinkType, Pipeline, RecordOut};
use flowprobe::synth::trace::{TraceConfig, TraceGen};
use serde_json::json;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const SLOT: usize = 128;
const BURST: usize = 32;

/// Pre-built packets: 128-byte header slots, frame lengths, capture-relative timestamps. Slots
/// start on a cache line, as a DPDK mbuf's data does (a 64-byte aligned buffer and 128 bytes of
/// headroom): a large `Vec<u8>` from glibc starts 16 bytes into a page, which spread a slot's
/// headers over three lines instead of two.
struct Arena {
    data: Vec<u8>,
    /// Index of the first slot in `data` (its first cache-line boundary).
    base: usize,
    caplen: Vec<u16>,
    len: Vec<u32>,
    ts: Vec<u64>,
    span_ns: u64,
}

impl Arena {
    fn build(flows: u32, packets: u64, seed: u64) -> Arena {
        let mut g = TraceGen::new(TraceConfig {
            packets,
            concurrent_flows: flows,
            seed,
            // A 10 Mpps virtual wire: flows stay well inside the idle timeout across passes.
            pps: 10_000_000,
            ..Default::default()
        });
        let n = packets as usize;
        let mut a = Arena {
            data: vec![0; n * SLOT + 64],
            base: 0,
            caplen: Vec::with_capacity(n),
            len: Vec::with_capacity(n),
            ts: Vec::with_capacity(n),
            span_ns: 0,
        };
        a.base = a.data.as_ptr().align_offset(64);
        let mut frame = Vec::new();
        let mut i = 0;
        let mut t0 = None;
        while let Some(ts) = g.next_into(&mut frame) {
            let c = frame.len().min(SLOT);
            let at = a.base + i * SLOT;
            a.data[at..at + c].copy_from_slice(&frame[..c]);
            a.caplen.push(c as u16);
            a.len.push(frame.len() as u32);
            let t0 = *t0.get_or_insert(ts);
            a.ts.push(ts - t0);
            i += 1;
        }
        a.span_ns = a.ts.last().copied().unwrap_or(0) + 100;
        a
    }

    fn n(&self) -> usize {
        self.len.len()
    }

    #[inline]
    fn packet(&self, i: usize) -> &[u8] {
        let at = self.base + i * SLOT;
        &self.data[at..at + self.caplen[i] as usize]
    }
}

/// The probe's own worker → exporter ring (DPDK's SPSC `rte_ring` in process memory, as the
/// built-in capture reader uses): a full ring counts the record as dropped.
struct RingOut(Producer<FlowRecord>);

impl RecordOut for RingOut {
    fn push(&mut self, recs: &[FlowRecord]) -> usize {
        self.0.enqueue_burst(recs)
    }
}

/// TSC ticks per second, calibrated against the monotonic clock.
fn tsc_hz() -> f64 {
    let (t0, c0) = (Instant::now(), flowprobe::dpdk::rdtsc());
    std::thread::sleep(Duration::from_millis(200));
    let (t1, c1) = (Instant::now(), flowprobe::dpdk::rdtsc());
    (c1 - c0) as f64 / (t1 - t0).as_secs_f64()
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Run `pass` over the arena until `secs` have elapsed (at least two passes); return Mpps.
fn timed(a: &Arena, secs: f64, mut pass: impl FnMut(u64)) -> (f64, u64) {
    let start = Instant::now();
    let mut passes = 0u64;
    while passes < 2 || start.elapsed().as_secs_f64() < secs {
        pass(passes);
        passes += 1;
    }
    let pkts = passes * a.n() as u64;
    (pkts as f64 / start.elapsed().as_secs_f64() / 1e6, pkts)
}

/// (1) The limit: read each packet's first 64 bytes, in bursts, nothing else.
fn bare(a: &Arena, secs: f64) -> f64 {
    timed(a, secs, |_| {
        let mut acc = 0u64;
        for b in (0..a.n()).step_by(BURST) {
            for i in b..(b + BURST).min(a.n()) {
                let p = a.packet(i);
                let mut w = [0u8; 8];
                for c in p.chunks(8).take(8) {
                    w[..c.len()].copy_from_slice(c);
                    acc ^= u64::from_le_bytes(w);
                }
                acc = acc.wrapping_add(a.len[i] as u64);
            }
        }
        black_box(acc);
    })
    .0
}

/// Capacity with headroom over the concurrent flows. Not over the trace's working set at 10k
/// flows: closed TCP flows linger 10 s and UDP flows idle 30 s while the generator starts ~80k
/// flows per 2M packets, so that row evicts on most new flows (an eviction-bound table, as a
/// probe sees under a flood); from 1M flows up nothing is evicted.
fn capacity(flows: u32) -> u32 {
    (flows as u64 * 5 / 4 + 1024) as u32
}

fn pipeline<O: RecordOut>(flows: u32, huge: bool, out: O) -> Pipeline<O> {
    Pipeline::new(
        ShardConfig {
            huge_pages: huge,
            ..ShardConfig::new(capacity(flows), 30_000_000_000, 15_000_000_000)
        },
        LinkType::Ethernet,
        out,
    )
}

/// Forget the peak RSS so far (Linux: `5` to clear_refs resets VmHWM): per-row peaks.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// One pass over the arena in bursts, on capture time shifted by `pass` arena spans.
fn run_pass<O: RecordOut>(p: &mut Pipeline<O>, a: &Arena, pass: u64) {
    let off = 1_767_225_600_000_000_000u64 + pass * a.span_ns;
    for b in (0..a.n()).step_by(BURST) {
        let mut last = off;
        let mut pk: [(&[u8], u32, u64); BURST] = [(&[], 0, 0); BURST];
        let e = (b + BURST).min(a.n());
        for i in b..e {
            last = off + a.ts[i];
            pk[i - b] = (a.packet(i), a.len[i], last);
        }
        p.burst(&pk[..e - b]);
        p.tick(last);
    }
}

struct ProbeResult {
    mpps: f64,
    flows: u64,
    bytes_per_flow: f64,
    records: u64,
    dropped: u64,
}

/// The exporter: drains every worker's ring, encoding each record as Netify JSON, as the
/// probe's exporter lcore does (one for all workers), until `done` and the rings are empty.
/// Returns the records encoded. `cpu`: pinned there, else free to run on either CPU.
fn exporter(
    mut rxs: Vec<Consumer<FlowRecord>>,
    done: Arc<AtomicBool>,
    cpu: Option<core_affinity::CoreId>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        if let Some(c) = cpu {
            core_affinity::set_for_current(c);
        }
        let enc = NetifyEncoder::new(LocalNets::default_nets(), vec!["bench0".into()]);
        let mut out = Vec::with_capacity(1 << 20);
        let mut buf = vec![FlowRecord::default(); 64];
        let mut encoded = 0u64;
        loop {
            // The done flag before draining: a worker done before the drain has nothing left.
            let all_done = done.load(Ordering::Acquire);
            let mut got = 0;
            for rx in rxs.iter_mut() {
                loop {
                    let n = rx.dequeue_burst(&mut buf);
                    enc.encode_burst(&buf[..n], &mut out);
                    if out.len() > 1 << 19 {
                        out.clear();
                    }
                    got += n;
                    if n < buf.len() {
                        break;
                    }
                }
            }
            encoded += got as u64;
            if got == 0 {
                if all_done {
                    break;
                }
                // Back off like the real exporter on a shared CPU: the workers get the cores.
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        encoded
    })
}

/// (2) flowprobe's pipeline with an exporter thread encoding every record; `huge`: the flow table
/// on transparent 2 MiB pages. A worker pinned to `pin` gets its exporter pinned to another CPU,
/// as the probe's own layout for one worker puts its exporter lcore on the CPU the worker does
/// not use (free to float, it sometimes landed on the worker's CPU: the one-worker baseline of
/// the scaling figures moved by up to 30% between rounds).
fn probe(
    a: &Arena,
    flows: u32,
    secs: f64,
    huge: bool,
    pin: Option<core_affinity::CoreId>,
) -> ProbeResult {
    let (tx, rx): (Producer<FlowRecord>, Consumer<FlowRecord>) =
        ring::spsc_local("bench", 65536).expect("ring");
    let done = Arc::new(AtomicBool::new(false));
    let other = pin
        .and_then(|p| core_affinity::get_core_ids().and_then(|c| c.into_iter().find(|&c| c != p)));
    let exporter = exporter(vec![rx], done.clone(), other);
    let mut r = worker(a, flows, secs, huge, pin, tx);
    done.store(true, Ordering::Release);
    r.records = exporter.join().unwrap_or(0);
    r
}

/// One worker's pipeline over the arena, pinned to `pin`, its records into `tx` (`records` left
/// 0 for the caller, who runs the exporter).
fn worker(
    a: &Arena,
    flows: u32,
    secs: f64,
    huge: bool,
    pin: Option<core_affinity::CoreId>,
    tx: Producer<FlowRecord>,
) -> ProbeResult {
    if let Some(c) = pin {
        core_affinity::set_for_current(c);
    }
    let cap = capacity(flows);
    let mut p = pipeline(flows, huge, RingOut(tx));
    // Warm-up pass: fills the table (creation), then measure the steady state.
    run_pass(&mut p, a, 0);
    let mut pass_no = 1;
    let (mpps, _) = timed(a, secs, |_| {
        run_pass(&mut p, a, pass_no);
        pass_no += 1;
    });
    let live = p.shard.len();
    p.finish(EndReason::Shutdown);
    ProbeResult {
        mpps,
        flows: live,
        bytes_per_flow: p.shard.memory_bytes() as f64 / cap as f64,
        records: 0,
        dropped: p.batch.dropped.iter().sum(),
    }
}

/// Records go nowhere: counts them, allocates nothing.
struct Discard(u64);

impl RecordOut for Discard {
    fn push(&mut self, recs: &[FlowRecord]) -> usize {
        self.0 += recs.len() as u64;
        recs.len()
    }
}

/// The pipeline alone (records counted, not encoded): isolates the worker from the exporter.
fn probe_alone(a: &Arena, flows: u32, secs: f64) -> f64 {
    let mut p = pipeline(flows, false, Discard(0));
    run_pass(&mut p, a, 0);
    let mut pass_no = 1;
    let m = timed(a, secs, |_| {
        run_pass(&mut p, a, pass_no);
        pass_no += 1;
    })
    .0;
    black_box(p.batch.out.0);
    m
}

/// Heap allocations made by the pipeline over two steady-state passes (single thread, so the
/// process-wide allocation counter sees only the worker's own).
fn steady_state_allocations(a: &Arena, flows: u32) -> usize {
    let mut p = pipeline(flows, false, Discard(0));
    run_pass(&mut p, a, 0);
    let reg = Region::new(GLOBAL);
    run_pass(&mut p, a, 1);
    run_pass(&mut p, a, 2);
    let n = reg.change().allocations;
    black_box(p.batch.out.0);
    n
}

/// (3) The flowscope crate's tracker over the same bytes.
fn peer(a: &Arena, flows: u32, secs: f64) -> f64 {
    use flowscope::extract::FiveTuple;
    use flowscope::{FlowTracker, FlowTrackerConfig, PacketView, Timestamp};
    let mut cfg = FlowTrackerConfig::default();
    cfg.max_flows = flows as usize * 5 / 4 + 1024;
    let mut t = FlowTracker::<FiveTuple>::with_config(FiveTuple::bidirectional(), cfg);
    let base = 1_767_225_600u64;
    let run_pass = |t: &mut FlowTracker<FiveTuple>, pass: u64| {
        for i in 0..a.n() {
            let ns = pass * a.span_ns + a.ts[i];
            let ts = Timestamp::new(
                (base + ns / 1_000_000_000) as u32,
                (ns % 1_000_000_000) as u32,
            );
            black_box(t.track(PacketView::new(a.packet(i), ts)));
        }
    };
    run_pass(&mut t, 0);
    let mut pass_no = 1;
    timed(a, secs, |_| {
        run_pass(&mut t, pass_no);
        pass_no += 1;
    })
    .0
}

/// Two pipelines on two threads, one per CPU, each over its own arena: aggregate Mpps. Both
/// arenas are built before either starts, so the two measured windows overlap. `exporter`: one
/// exporter thread drains both workers' rings, as the probe's exporter lcore does (sharing the
/// two CPUs with the workers), else the pipelines alone.
fn two_workers(flows: u32, packets: u64, secs: f64, exporter_on: bool) -> f64 {
    let ready = Arc::new(std::sync::Barrier::new(2));
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let done = Arc::new(AtomicBool::new(false));
    let (mut txs, mut rxs) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        let (tx, rx): (Producer<FlowRecord>, Consumer<FlowRecord>) =
            ring::spsc_local("bench", 65536).expect("ring");
        txs.push(tx);
        rxs.push(rx);
    }
    let exp = exporter_on.then(|| exporter(rxs, done.clone(), None));
    let hs: Vec<_> = txs
        .into_iter()
        .enumerate()
        .map(|(w, tx)| {
            let (ready, core) = (ready.clone(), cores.get(w).copied());
            std::thread::spawn(move || {
                let a = Arena::build(flows / 2, packets / 2, 100 + w as u64);
                ready.wait();
                if exporter_on {
                    worker(&a, flows / 2, secs, false, core, tx).mpps
                } else {
                    if let Some(c) = core {
                        core_affinity::set_for_current(c);
                    }
                    probe_alone(&a, flows / 2, secs)
                }
            })
        })
        .collect();
    let mpps = hs.into_iter().map(|h| h.join().unwrap_or(0.0)).sum();
    done.store(true, Ordering::Release);
    if let Some(e) = exp {
        let _ = e.join();
    }
    mpps
}

/// The median (upper middle for an even count); `v` keeps its round order for the JSON.
fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len() / 2).copied().unwrap_or(0.0)
}

fn arg(name: &str) -> Option<String> {
    let v: Vec<String> = std::env::args().collect();
    v.iter()
        .position(|a| a == name)
        .and_then(|i| v.get(i + 1).cloned())
}

/// The measured passes of `--profile`: one function for `callgrind --toggle-collect`.
#[inline(never)]
fn profiled_passes<O: RecordOut>(p: &mut Pipeline<O>, a: &Arena, passes: u64) {
    for pass in 1..=passes {
        run_pass(p, a, pass);
    }
}

/// `--profile`: only the pipeline (records discarded) over `--packets` packets of `--flows`
/// flows, a warm-up pass then `--passes` measured ones, for instruction counts:
/// `valgrind --tool=callgrind --toggle-collect='*profiled_passes*' throughput --profile ...`;
/// instructions per packet = the collected Ir / (packets x passes).
fn profile(flows: u32) {
    let packets = arg("--packets")
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let passes = arg("--passes").and_then(|s| s.parse().ok()).unwrap_or(3);
    let a = Arena::build(flows, packets, 42);
    let mut p = pipeline(flows, false, Discard(0));
    run_pass(&mut p, &a, 0);
    profiled_passes(&mut p, &a, passes);
    let st = p.shard_stats();
    println!(
        "profile: {} packets x {passes} passes, {flows} flows; {} records, {} flows created, ended by reason {:?}",
        a.n(),
        p.batch.out.0,
        st.flows_created,
        st.flows_ended
    );
}

/// Two workers against one, `flows` split over the two (medians of `rounds`): one worker pinned
/// like one of the two, on the same arena size, with its exporter thread and alone (the
/// exporters' encoding shares the two CPUs with the workers).
fn scale(scale_flows: u32, secs: f64, rounds: usize) -> serde_json::Value {
    let (mut ones, mut one_alones, mut twos, mut two_alones) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let (with, alone) = std::thread::spawn(move || {
            let core = core_affinity::get_core_ids().and_then(|c| c.first().copied());
            let a = Arena::build(scale_flows / 2, 1_000_000, 100);
            let with = probe(&a, scale_flows / 2, secs, false, core).mpps;
            (with, probe_alone(&a, scale_flows / 2, secs))
        })
        .join()
        .unwrap_or((0.0, 0.0));
        ones.push(with);
        one_alones.push(alone);
        twos.push(two_workers(scale_flows, 2_000_000, secs, true));
        two_alones.push(two_workers(scale_flows, 2_000_000, secs, false));
    }
    let rounds_json = json!({
        "one_worker_mpps": ones, "two_workers_mpps": twos,
        "one_pipeline_alone_mpps": one_alones, "two_pipelines_alone_mpps": two_alones,
    });
    let (one, one_alone) = (median(&ones), median(&one_alones));
    let (two, two_alone) = (median(&twos), median(&two_alones));
    println!(
        "two workers, {scale_flows} flows: {two:.2} Mpps vs one {one:.2} Mpps = {:.2}x (each with its exporter); pipelines alone: {two_alone:.2} vs {one_alone:.2} = {:.2}x",
        two / one,
        two_alone / one_alone
    );
    json!({
        "flows": scale_flows, "one_worker_mpps": one, "two_workers_mpps": two, "ratio": two / one,
        "one_pipeline_alone_mpps": one_alone, "two_pipelines_alone_mpps": two_alone,
        "ratio_alone": two_alone / one_alone,
        "rounds": rounds_json
    })
}

fn main() {
    if std::env::args().any(|a| a == "--profile") {
        let f = arg("--flows")
            .and_then(|s| s.parse().ok())
            .unwrap_or(10_000);
        return profile(f);
    }
    // `cargo bench` passes `--bench`; ignore what we do not know.
    let flows: Vec<u32> = arg("--flows")
        .unwrap_or_else(|| "10000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let secs: f64 = arg("--seconds").and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let rounds: usize = arg("--rounds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    let hz = tsc_hz();
    let mut rows = Vec::new();
    println!(
        "{:>10} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8} {:>8}",
        "flows",
        "bare",
        "probe",
        "flowscope",
        "ns/pkt",
        "cyc/pkt",
        "2/1",
        "2/3",
        "probe 2M",
        "B/flow",
        "RSS MiB",
        "allocs"
    );
    for &f in &flows {
        // Enough packets that every concurrent flow is seen several times per pass.
        // (At most 20M: 2.5 GiB of arena for the 10M-flow row.)
        let packets = (f as u64 * 4).clamp(2_000_000, 20_000_000);
        reset_peak_rss();
        let a = Arena::build(f, packets, 42);
        // Rounds of all five measurements in turn, medians reported: a noisy minute on a
        // shared machine hits every column alike instead of one.
        let (mut bs, mut ps, mut hs, mut ss, mut als) = (vec![], vec![], vec![], vec![], vec![]);
        let mut p = None;
        for _ in 0..rounds {
            bs.push(bare(&a, secs));
            let r = probe(&a, f, secs, false, None);
            ps.push(r.mpps);
            p.get_or_insert(r);
            hs.push(probe(&a, f, secs, true, None).mpps);
            ss.push(peer(&a, f, secs));
            als.push(probe_alone(&a, f, secs));
        }
        let (b, s, alone) = (median(&bs), median(&ss), median(&als));
        let huge = median(&hs);
        let mut p = p.expect("one round");
        p.mpps = median(&ps);
        let steady_allocs = steady_state_allocations(&a, f);
        let rss_mib = peak_rss_kb() as f64 / 1024.0;
        let ns = 1e3 / p.mpps;
        let row = json!({
            "concurrent_flows": f,
            "packets_per_pass": a.n(),
            "bare_mpps": b,
            "probe_mpps": p.mpps,
            "probe_huge_pages_mpps": huge,
            "probe_without_exporter_mpps": alone,
            "flowscope_mpps": s,
            "probe_ns_per_packet": ns,
            "probe_cycles_per_packet": ns * hz / 1e9,
            "ratio_probe_to_bare": p.mpps / b,
            "ratio_probe_to_flowscope": p.mpps / s,
            "flows_tracked": p.flows,
            "bytes_per_flow": p.bytes_per_flow,
            "records_exported": p.records,
            "records_dropped": p.dropped,
            "steady_state_allocations": steady_allocs,
            "rounds": rounds,
            "probe_mpps_rounds": ps,
            "bare_mpps_rounds": bs,
            "peak_rss_mib": rss_mib,
        });
        println!(
            "{:>10} {:>9.2} {:>9.2} {:>9.2} {:>8.1} {:>8.1} {:>7.0}% {:>7.1}x {:>9.2} {:>9.0} {:>8.0} {:>8}  (pipeline alone {:.2} Mpps)",
            f,
            b,
            p.mpps,
            s,
            ns,
            ns * hz / 1e9,
            100.0 * p.mpps / b,
            p.mpps / s,
            huge,
            p.bytes_per_flow,
            rss_mib,
            steady_allocs,
            alone
        );
        rows.push(row);
        drop(a);
    }
    // Two-worker scaling at each `--scale-flows` size (default: the smallest and the largest
    // row up to 1M, so an eviction-bound table, where records per packet and so the exporters'
    // share of the CPUs peak, and a steady one).
    let scale_sizes: Vec<u32> = arg("--scale-flows")
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| {
            let mut v = vec![flows.first().copied().unwrap_or(10_000)];
            if let Some(&big) = flows.iter().filter(|&&f| f <= 1_000_000).max() {
                if big != v[0] {
                    v.push(big);
                }
            }
            v
        });
    let mut scaling = Vec::new();
    for &scale_flows in &scale_sizes {
        scaling.push(scale(scale_flows, secs, rounds));
    }
    let out = json!({
        "tsc_hz": hz,
        "seconds_per_measurement": secs,
        "rows": rows,
        "scaling": scaling,
        "peak_rss_kb": peak_rss_kb(),
    });
    let path = arg("--json").unwrap_or_else(|| {
        let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
        let _ = std::fs::create_dir_all(&d);
        d.join("throughput.json").to_string_lossy().into_owned()
    });
    if let Err(e) = std::fs::write(
        &path,
        serde_json::to_string_pretty(&out).unwrap_or_default(),
    ) {
        eprintln!("throughput: cannot write {path}: {e}");
    } else {
        println!("JSON: {path}");
    }
}
