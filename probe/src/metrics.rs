//! Prometheus metrics: names, a recorder, a tiny HTTP endpoint, and publication of snapshots.
//!
//! Workers never touch this module: they keep plain counters and publish them to atomics every few
//! hundred bursts; the main lcore reads those, the port counters and the exporter's counters, and
//! sets the metric values here (absolute counters), off the packet path.
//!
//! Cardinality: every label value is a small enum or a configuration name (worker index, port
//! name, queue index, sink name, reason). Never a flow key or an address.

use crate::flow::{EndReason, RecordKind};
use crate::pipeline::{unmatched_reason_name, UNMATCHED_REASONS};
use metrics::{
    counter, gauge, Counter, Gauge, Histogram, Key, KeyName, Metadata, SharedString, Unit,
};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const PREFIX: &str = "flowprobe_";

/// Histogram buckets: flow durations in seconds, packets and bytes per flow, exporter lag.
pub const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 1800.0, 3600.0,
];
pub const PACKET_BUCKETS: [f64; 10] = [1.0, 2.0, 4.0, 10.0, 20.0, 50.0, 100.0, 1e3, 1e4, 1e5];
pub const BYTE_BUCKETS: [f64; 10] = [
    64.0, 128.0, 512.0, 1500.0, 4096.0, 16384.0, 65536.0, 1e6, 1e7, 1e8,
];
pub const LAG_BUCKETS: [f64; 10] = [1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1.0];

/// Histogram buckets of a metric by name; other histograms get Prometheus' default buckets.
fn buckets_for(name: &str) -> &'static [f64] {
    const DEFAULT: [f64; 11] = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    match name {
        "flowprobe_flow_duration_seconds" => &DURATION_BUCKETS,
        "flowprobe_flow_packets" => &PACKET_BUCKETS,
        "flowprobe_flow_bytes" => &BYTE_BUCKETS,
        "flowprobe_exporter_lag_seconds" => &LAG_BUCKETS,
        _ => &DEFAULT,
    }
}

/// A fixed-bucket histogram: a record is a bucket index and two atomic updates, nothing is
/// kept per sample (so nothing grows between scrapes) and no clock is read.
struct BucketHistogram {
    bounds: &'static [f64],
    /// Per bucket (not cumulative), the last one is +Inf.
    counts: Vec<AtomicU64>,
    /// f64 bits.
    sum: AtomicU64,
}

impl BucketHistogram {
    fn new(bounds: &'static [f64]) -> Self {
        BucketHistogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Index of the bucket counting `v`: `le` buckets, the first bound >= v, i.e. the number of
    /// (sorted) bounds below `v`. Counted without branches: a binary search's branches depend
    /// on the value and mispredict about every other sample.
    #[inline]
    fn bucket(&self, v: f64) -> usize {
        self.bounds.iter().map(|&b| usize::from(b < v)).sum()
    }

    fn add_sum(&self, v: f64) {
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                Some((f64::from_bits(s) + v).to_bits())
            });
    }
}

impl metrics::HistogramFn for BucketHistogram {
    fn record(&self, v: f64) {
        self.counts[self.bucket(v)].fetch_add(1, Ordering::Relaxed);
        self.add_sum(v);
    }
}

/// A histogram one thread records (the exporter's): samples are counted in plain memory and
/// added to the shared buckets at [`LocalHistogram::flush`], one atomic add per touched bucket
/// a batch instead of two locked read-modify-writes a sample (the exporter's four histograms
/// cost ~43 ns an end record that way, as much as a third of encoding it).
pub struct LocalHistogram {
    shared: Arc<BucketHistogram>,
    counts: Vec<u64>,
    sum: f64,
    n: u64,
}

impl LocalHistogram {
    fn new(shared: Arc<BucketHistogram>) -> Self {
        LocalHistogram {
            counts: vec![0; shared.counts.len()],
            shared,
            sum: 0.0,
            n: 0,
        }
    }

    #[inline]
    pub fn record(&mut self, v: f64) {
        self.counts[self.shared.bucket(v)] += 1;
        self.sum += v;
        self.n += 1;
    }

    /// Add what was recorded since the last flush to the shared histogram.
    pub fn flush(&mut self) {
        if self.n == 0 {
            return;
        }
        for (c, a) in self.counts.iter_mut().zip(&self.shared.counts) {
            if *c > 0 {
                a.fetch_add(std::mem::take(c), Ordering::Relaxed);
            }
        }
        self.shared.add_sum(std::mem::take(&mut self.sum));
        self.n = 0;
    }
}

#[derive(Default)]
struct Registry {
    counters: HashMap<Key, Arc<AtomicU64>>,
    /// f64 bits (`metrics`' `GaugeFn` for `AtomicU64`).
    gauges: HashMap<Key, Arc<AtomicU64>>,
    histograms: HashMap<Key, Arc<BucketHistogram>>,
    help: HashMap<String, String>,
}

/// One series' value at render time.
enum Series<'a> {
    Counter(u64),
    Gauge(f64),
    Histogram(&'a BucketHistogram),
}
/// A metric name's type and its series (label text, value).
type Family<'a> = (&'static str, Vec<(String, Series<'a>)>);

/// The process's metrics recorder and the handle that renders it (Prometheus text format 0.0.4).
///
/// Our own rather than metrics-exporter-prometheus's: building that one calibrates quanta's TSC
/// clock by spinning for up to 200 ms (140 ms seen on this VM, longer than a 1M-packet replay), its
/// histograms read that clock and keep every sample until a scrape (unbounded without one), and
/// flowprobe needs only counters, gauges and fixed-bucket histograms.
#[derive(Clone, Default)]
pub struct MetricsHandle {
    reg: Arc<Mutex<Registry>>,
}

impl MetricsHandle {
    fn reg(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.reg.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The histogram series `key` (registered on first use, with its name's buckets): what
    /// `histogram!` records into, and the exporter's local histograms flush into.
    fn histogram(&self, key: &Key) -> Arc<BucketHistogram> {
        self.reg()
            .histograms
            .entry(key.clone())
            .or_insert_with(|| Arc::new(BucketHistogram::new(buckets_for(key.name()))))
            .clone()
    }

    /// Every metric in the Prometheus text exposition format, grouped by name in name order.
    pub fn render(&self) -> String {
        let reg = self.reg();
        let mut by_name: BTreeMap<&str, Family> = BTreeMap::new();
        for (k, c) in &reg.counters {
            by_name
                .entry(k.name())
                .or_insert(("counter", Vec::new()))
                .1
                .push((labels(k), Series::Counter(c.load(Ordering::Relaxed))));
        }
        for (k, g) in &reg.gauges {
            by_name
                .entry(k.name())
                .or_insert(("gauge", Vec::new()))
                .1
                .push((
                    labels(k),
                    Series::Gauge(f64::from_bits(g.load(Ordering::Relaxed))),
                ));
        }
        for (k, h) in &reg.histograms {
            by_name
                .entry(k.name())
                .or_insert(("histogram", Vec::new()))
                .1
                .push((labels(k), Series::Histogram(h)));
        }
        let mut out = String::with_capacity(16 * 1024);
        for (name, (ty, mut series)) in by_name {
            series.sort_by(|a, b| a.0.cmp(&b.0));
            if let Some(h) = reg.help.get(name) {
                let h = h.replace('\\', "\\\\").replace('\n', "\\n");
                out.push_str(&format!("# HELP {name} {h}\n"));
            }
            out.push_str(&format!("# TYPE {name} {ty}\n"));
            for (l, s) in series {
                let braces = |l: &str| {
                    if l.is_empty() {
                        String::new()
                    } else {
                        format!("{{{l}}}")
                    }
                };
                match s {
                    Series::Counter(v) => out.push_str(&format!("{name}{} {v}\n", braces(&l))),
                    Series::Gauge(v) => {
                        out.push_str(&format!("{name}{} {}\n", braces(&l), float(v)))
                    }
                    Series::Histogram(h) => {
                        let sep = if l.is_empty() { "" } else { "," };
                        let mut cum = 0u64;
                        for (i, c) in h.counts.iter().enumerate() {
                            cum += c.load(Ordering::Relaxed);
                            let le = h.bounds.get(i).map_or("+Inf".to_string(), |&b| float(b));
                            out.push_str(&format!("{name}_bucket{{{l}{sep}le=\"{le}\"}} {cum}\n"));
                        }
                        let sum = f64::from_bits(h.sum.load(Ordering::Relaxed));
                        out.push_str(&format!("{name}_sum{} {}\n", braces(&l), float(sum)));
                        out.push_str(&format!("{name}_count{} {cum}\n", braces(&l)));
                    }
                }
            }
        }
        out
    }
}

/// `a="x",b="y"` with the exposition format's escapes.
fn labels(k: &Key) -> String {
    let mut s = String::new();
    for (i, l) in k.labels().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let v = l
            .value()
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        s.push_str(&format!("{}=\"{v}\"", l.key()));
    }
    s
}

fn float(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        v.to_string()
    }
}

struct Recorder(MetricsHandle);

impl Recorder {
    fn describe(&self, key: KeyName, help: SharedString) {
        self.0
            .reg()
            .help
            .entry(key.as_str().to_string())
            .or_insert_with(|| help.to_string());
    }
}

impl metrics::Recorder for Recorder {
    fn describe_counter(&self, key: KeyName, _: Option<Unit>, help: SharedString) {
        self.describe(key, help)
    }
    fn describe_gauge(&self, key: KeyName, _: Option<Unit>, help: SharedString) {
        self.describe(key, help)
    }
    fn describe_histogram(&self, key: KeyName, _: Option<Unit>, help: SharedString) {
        self.describe(key, help)
    }
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let mut reg = self.0.reg();
        Counter::from_arc(reg.counters.entry(key.clone()).or_default().clone())
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let mut reg = self.0.reg();
        Gauge::from_arc(
            reg.gauges
                .entry(key.clone())
                .or_insert_with(|| Arc::new(AtomicU64::new(0f64.to_bits())))
                .clone(),
        )
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.0.histogram(key))
    }
}

/// Install the global recorder (once per process) and return the handle that renders it.
pub fn install() -> Result<MetricsHandle, String> {
    let handle = MetricsHandle::default();
    metrics::set_global_recorder(Recorder(handle.clone()))
        .map_err(|e| format!("metrics recorder: {e}"))?;
    describe();
    Ok(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "flowprobe_flows_created_total",
        "Flows created, by L4 protocol (tcp, udp, other)."
    );
    describe_counter!(
        "flowprobe_flows_ended_total",
        "Flows ended, by reason (closed, expired, active, evicted, shutdown)."
    );
    describe_gauge!("flowprobe_flows_active", "Flows in the flow tables.");
    describe_counter!(
        "flowprobe_packets_total",
        "Packets received by the workers."
    );
    describe_counter!(
        "flowprobe_packets_unmatched_total",
        "Packets not attributed to a flow, by reason."
    );
    describe_counter!(
        "flowprobe_bytes_total",
        Unit::Bytes,
        "Frame bytes of reported flows, by side (initiator, responder)."
    );
    describe_histogram!(
        "flowprobe_flow_duration_seconds",
        Unit::Seconds,
        "Duration of ended flows."
    );
    describe_histogram!("flowprobe_flow_packets", "Packets of ended flows.");
    describe_histogram!(
        "flowprobe_flow_bytes",
        Unit::Bytes,
        "Frame bytes of ended flows."
    );
    describe_counter!("flowprobe_anomalies_total", "Anomalies by kind (flow_table_eviction, retransmission, ooo_segment, fragment_table_overflow, clock_backwards).");
    describe_counter!(
        "flowprobe_port_rx_packets_total",
        "NIC: packets received (rte_eth_stats ipackets)."
    );
    describe_counter!(
        "flowprobe_port_rx_bytes_total",
        Unit::Bytes,
        "NIC: bytes received (ibytes)."
    );
    describe_counter!(
        "flowprobe_port_rx_missed_total",
        "NIC: packets dropped by the NIC for lack of RX descriptors (imissed)."
    );
    describe_counter!(
        "flowprobe_port_rx_errors_total",
        "NIC: erroneous received packets (ierrors)."
    );
    describe_counter!(
        "flowprobe_port_rx_nombuf_total",
        "NIC: RX mbuf allocation failures (rx_nombuf)."
    );
    describe_counter!(
        "flowprobe_queue_rx_packets_total",
        "NIC: packets received per RX queue."
    );
    describe_counter!(
        "flowprobe_queue_rx_errors_total",
        "NIC: packets dropped per RX queue."
    );
    describe_counter!(
        "flowprobe_worker_packets_total",
        "Packets handled per worker."
    );
    describe_counter!(
        "flowprobe_worker_bytes_total",
        Unit::Bytes,
        "Frame bytes handled per worker."
    );
    describe_counter!(
        "flowprobe_worker_bursts_total",
        "Non-empty RX bursts per worker."
    );
    describe_counter!(
        "flowprobe_worker_empty_polls_total",
        "Empty RX polls per worker."
    );
    describe_gauge!(
        "flowprobe_worker_busy_ratio",
        "Share of a worker's polls that returned packets."
    );
    describe_gauge!("flowprobe_worker_flows", "Flows in a worker's table.");
    describe_gauge!(
        "flowprobe_worker_table_capacity",
        "Flow capacity of a worker's table."
    );
    describe_gauge!(
        "flowprobe_worker_load_factor",
        "Occupancy of a worker's table (flows / capacity)."
    );
    describe_gauge!(
        "flowprobe_ring_records",
        "Records waiting in a worker's ring to the exporter."
    );
    describe_gauge!("flowprobe_ring_capacity", "Capacity of a worker's ring.");
    describe_counter!(
        "flowprobe_ring_dropped_total",
        "Records dropped because a worker's ring was full, by record type."
    );
    describe_counter!(
        "flowprobe_records_total",
        "Records produced by the workers, by record type."
    );
    describe_counter!(
        "flowprobe_exporter_records_total",
        "Records encoded by the exporter, by record type and format."
    );
    describe_counter!(
        "flowprobe_sink_records_total",
        "Records written per sink (Kafka: delivered, acknowledged by the broker)."
    );
    describe_counter!(
        "flowprobe_sink_bytes_total",
        Unit::Bytes,
        "Bytes written per sink."
    );
    describe_counter!(
        "flowprobe_sink_errors_total",
        "Write errors per sink (Kafka: client errors such as a broker down)."
    );
    describe_counter!("flowprobe_sink_reconnects_total", "Reconnections per sink.");
    describe_counter!(
        "flowprobe_sink_lost_total",
        "Records lost per sink (buffer full or sink down; Kafka: producer queue full)."
    );
    describe_counter!(
        "flowprobe_sink_failed_total",
        "Kafka: records whose delivery failed or was still pending when the drain timeout ran out."
    );
    describe_counter!(
        "flowprobe_sink_retries_total",
        "Kafka: produce requests retried (librdkafka txretries)."
    );
    describe_histogram!(
        "flowprobe_exporter_lag_seconds",
        Unit::Seconds,
        "Time from a record's creation by a worker to its write."
    );
    describe_gauge!("flowprobe_build_info", "Build information (value 1).");
    describe_gauge!(
        "flowprobe_start_time_seconds",
        Unit::Seconds,
        "Start time of the process, seconds since the epoch."
    );
}

/// Serve `GET /metrics` on `addr` from a plain thread; returns the bound address.
/// One short request per connection; nothing here runs on an lcore.
pub fn serve(
    addr: SocketAddr,
    handle: MetricsHandle,
    stop: Arc<AtomicBool>,
) -> std::io::Result<SocketAddr> {
    let l = TcpListener::bind(addr)?;
    let local = l.local_addr()?;
    l.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("metrics-http".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                        let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
                        let _ = answer(s, &handle);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        })?;
    Ok(local)
}

fn answer(s: std::net::TcpStream, handle: &MetricsHandle) -> std::io::Result<()> {
    let mut r = BufReader::new(s.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    // Drain the headers.
    let mut h = String::new();
    while r.read_line(&mut h)? > 2 {
        h.clear();
    }
    let mut w = s;
    let path = line.split_whitespace().nth(1).unwrap_or("");
    if line.starts_with("GET ") && (path == "/metrics" || path.starts_with("/metrics?")) {
        let body = handle.render();
        write!(
            w,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            body.len(),
            body
        )
    } else {
        let body = "flowprobe: see /metrics\n";
        write!(
            w,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            body.len(),
            body
        )
    }
}

/// A worker's counters as published (plain numbers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerSnapshot {
    pub packets: u64,
    pub bytes: u64,
    pub bursts: u64,
    pub empty_polls: u64,
    pub unmatched: [u64; UNMATCHED_REASONS],
    pub flows_created_by_l4: [u64; 3],
    pub flows_ended: [u64; 6],
    pub records: [u64; 3],
    pub dropped: [u64; 3],
    pub flows: u64,
    pub capacity: u64,
    pub ring_free: u64,
    pub ring_capacity: u64,
    pub clock_backwards: u64,
    pub frag_overflow: u64,
}

/// Port counters as published.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortSnapshot {
    pub name: String,
    pub ipackets: u64,
    pub ibytes: u64,
    pub imissed: u64,
    pub ierrors: u64,
    pub rx_nombuf: u64,
    pub q_ipackets: Vec<u64>,
    pub q_errors: Vec<u64>,
}

/// Metric handles of one worker, resolved once.
struct WorkerHandles {
    packets: Counter,
    bytes: Counter,
    bursts: Counter,
    empty: Counter,
    busy: Gauge,
    flows: Gauge,
    capacity: Gauge,
    load: Gauge,
    ring_records: Gauge,
    ring_capacity: Gauge,
    dropped: [Counter; 3],
}

/// Metric handles of one port: rx packets, bytes, missed, errors, nombuf, then per queue.
struct PortHandles {
    packets: Counter,
    bytes: Counter,
    missed: Counter,
    errors: Counter,
    nombuf: Counter,
    queues: Vec<(Counter, Counter)>,
}

/// Publishes snapshots into the registry. Owned by the main lcore.
pub struct Publisher {
    workers: Vec<WorkerHandles>,
    ports: Vec<PortHandles>,
    created: [Counter; 3],
    /// Indexed by `EndReason as usize - 1` (`None` is not an end).
    ended: [Counter; 5],
    unmatched: Vec<Counter>,
    records: [Counter; 3],
    active: Gauge,
    packets: Counter,
    eviction: Counter,
    clock_backwards: Counter,
    frag_overflow: Counter,
}

const L4: [&str; 3] = ["tcp", "udp", "other"];

impl Publisher {
    /// `ports`: (name, number of RX queues); `workers`: how many.
    pub fn new(
        ports: &[(String, u16)],
        workers: usize,
        version: &str,
        dpdk: &str,
        start_epoch_s: f64,
    ) -> Publisher {
        gauge!("flowprobe_build_info", "version" => version.to_string(), "dpdk" => dpdk.to_string()).set(1.0);
        gauge!("flowprobe_start_time_seconds").set(start_epoch_s);
        let workers = (0..workers)
            .map(|i| {
                let w = i.to_string();
                WorkerHandles {
                    packets: counter!("flowprobe_worker_packets_total", "worker" => w.clone()),
                    bytes: counter!("flowprobe_worker_bytes_total", "worker" => w.clone()),
                    bursts: counter!("flowprobe_worker_bursts_total", "worker" => w.clone()),
                    empty: counter!("flowprobe_worker_empty_polls_total", "worker" => w.clone()),
                    busy: gauge!("flowprobe_worker_busy_ratio", "worker" => w.clone()),
                    flows: gauge!("flowprobe_worker_flows", "worker" => w.clone()),
                    capacity: gauge!("flowprobe_worker_table_capacity", "worker" => w.clone()),
                    load: gauge!("flowprobe_worker_load_factor", "worker" => w.clone()),
                    ring_records: gauge!("flowprobe_ring_records", "worker" => w.clone()),
                    ring_capacity: gauge!("flowprobe_ring_capacity", "worker" => w.clone()),
                    dropped: RecordKind::ALL.map(|k| {
                        counter!("flowprobe_ring_dropped_total", "worker" => w.clone(), "type" => k.name())
                    }),
                }
            })
            .collect();
        let ports = ports
            .iter()
            .map(|(name, nq)| {
                let p = name.clone();
                PortHandles {
                    packets: counter!("flowprobe_port_rx_packets_total", "port" => p.clone()),
                    bytes: counter!("flowprobe_port_rx_bytes_total", "port" => p.clone()),
                    missed: counter!("flowprobe_port_rx_missed_total", "port" => p.clone()),
                    errors: counter!("flowprobe_port_rx_errors_total", "port" => p.clone()),
                    nombuf: counter!("flowprobe_port_rx_nombuf_total", "port" => p.clone()),
                    queues: (0..*nq)
                        .map(|q| {
                            (
                                counter!("flowprobe_queue_rx_packets_total", "port" => p.clone(), "queue" => q.to_string()),
                                counter!("flowprobe_queue_rx_errors_total", "port" => p.clone(), "queue" => q.to_string()),
                            )
                        })
                        .collect(),
                }
            })
            .collect();
        Publisher {
            workers,
            ports,
            created: L4.map(|l| counter!("flowprobe_flows_created_total", "l4" => l)),
            ended: EndReason::ENDS.map(|r| counter!("flowprobe_flows_ended_total", "reason" => r.name())),
            unmatched: (0..UNMATCHED_REASONS)
                .map(|i| counter!("flowprobe_packets_unmatched_total", "reason" => unmatched_reason_name(i)))
                .collect(),
            records: RecordKind::ALL.map(|k| counter!("flowprobe_records_total", "type" => k.name())),
            active: gauge!("flowprobe_flows_active"),
            packets: counter!("flowprobe_packets_total"),
            eviction: counter!("flowprobe_anomalies_total", "kind" => "flow_table_eviction"),
            clock_backwards: counter!("flowprobe_anomalies_total", "kind" => "clock_backwards"),
            frag_overflow: counter!("flowprobe_anomalies_total", "kind" => "fragment_table_overflow"),
        }
    }

    /// Set every metric from the latest snapshots (absolute values: idempotent).
    pub fn publish(&self, ws: &[WorkerSnapshot], ps: &[PortSnapshot]) {
        let mut tot = WorkerSnapshot::default();
        for (h, w) in self.workers.iter().zip(ws) {
            h.packets.absolute(w.packets);
            h.bytes.absolute(w.bytes);
            h.bursts.absolute(w.bursts);
            h.empty.absolute(w.empty_polls);
            let polls = w.bursts + w.empty_polls;
            h.busy.set(if polls == 0 {
                0.0
            } else {
                w.bursts as f64 / polls as f64
            });
            h.flows.set(w.flows as f64);
            h.capacity.set(w.capacity as f64);
            h.load.set(if w.capacity == 0 {
                0.0
            } else {
                w.flows as f64 / w.capacity as f64
            });
            h.ring_records
                .set(w.ring_capacity.saturating_sub(w.ring_free) as f64);
            h.ring_capacity.set(w.ring_capacity as f64);
            for k in 0..3 {
                h.dropped[k].absolute(w.dropped[k]);
                tot.records[k] += w.records[k];
            }
            tot.packets += w.packets;
            tot.flows += w.flows;
            tot.clock_backwards += w.clock_backwards;
            tot.frag_overflow += w.frag_overflow;
            for i in 0..3 {
                tot.flows_created_by_l4[i] += w.flows_created_by_l4[i];
            }
            for i in 0..6 {
                tot.flows_ended[i] += w.flows_ended[i];
            }
            for i in 0..UNMATCHED_REASONS {
                tot.unmatched[i] += w.unmatched[i];
            }
        }
        for i in 0..3 {
            self.created[i].absolute(tot.flows_created_by_l4[i]);
            self.records[i].absolute(tot.records[i]);
        }
        for r in EndReason::ENDS {
            self.ended[r as usize - 1].absolute(tot.flows_ended[r as usize]);
        }
        for (c, v) in self.unmatched.iter().zip(tot.unmatched) {
            c.absolute(v);
        }
        self.active.set(tot.flows as f64);
        self.packets.absolute(tot.packets);
        self.eviction
            .absolute(tot.flows_ended[EndReason::Evicted as usize]);
        self.clock_backwards.absolute(tot.clock_backwards);
        self.frag_overflow.absolute(tot.frag_overflow);
        for (h, p) in self.ports.iter().zip(ps) {
            h.packets.absolute(p.ipackets);
            h.bytes.absolute(p.ibytes);
            h.missed.absolute(p.imissed);
            h.errors.absolute(p.ierrors);
            h.nombuf.absolute(p.rx_nombuf);
            for (q, (qp, qe)) in h.queues.iter().enumerate() {
                qp.absolute(p.q_ipackets.get(q).copied().unwrap_or(0));
                qe.absolute(p.q_errors.get(q).copied().unwrap_or(0));
            }
        }
    }
}

/// Exporter-side metric handles: fed by the exporter lcore (never by a worker). Counter deltas
/// and histogram samples are summed per drained batch (`flush`), not added per record.
pub struct ExporterMetrics {
    pub bytes_initiator: Counter,
    pub bytes_responder: Counter,
    pub duration: LocalHistogram,
    pub packets: LocalHistogram,
    pub bytes: LocalHistogram,
    pub retrans: Counter,
    pub ooo: Counter,
    pub lag: LocalHistogram,
    /// Not yet added: initiator bytes, responder bytes, retransmissions, out-of-order segments.
    pending: [u64; 4],
    /// Per sink, in `--output` order.
    sinks: Vec<SinkHandles>,
    /// `flowprobe_exporter_records_total` per format in use, indexed by `RecordKind as usize`.
    records: Vec<[Counter; 3]>,
}

/// One sink's counters.
struct SinkHandles {
    records: Counter,
    bytes: Counter,
    errors: Counter,
    reconnects: Counter,
    lost: Counter,
    failed: Counter,
    retries: Counter,
}

impl SinkHandles {
    fn new(name: &str) -> Self {
        // `sink` is the configured output name (a path or collector address from the command
        // line, not a flow address): bounded by the number of --output options.
        let n = name.to_string();
        SinkHandles {
            records: counter!("flowprobe_sink_records_total", "sink" => n.clone()),
            bytes: counter!("flowprobe_sink_bytes_total", "sink" => n.clone()),
            errors: counter!("flowprobe_sink_errors_total", "sink" => n.clone()),
            reconnects: counter!("flowprobe_sink_reconnects_total", "sink" => n.clone()),
            lost: counter!("flowprobe_sink_lost_total", "sink" => n.clone()),
            failed: counter!("flowprobe_sink_failed_total", "sink" => n.clone()),
            retries: counter!("flowprobe_sink_retries_total", "sink" => n),
        }
    }
}

impl ExporterMetrics {
    /// `sinks`: the outputs' reports, for their names and formats (the handles are resolved here,
    /// once, not at every publication).
    /// `handle`: the installed recorder's (`None` without one: the histograms then count into
    /// nothing anyone reads, as the `metrics` calls do).
    pub fn new(handle: Option<&MetricsHandle>, sinks: &[crate::export::SinkReport]) -> Self {
        let mut formats: Vec<&'static str> = sinks.iter().map(|s| s.format).collect();
        formats.sort_unstable();
        formats.dedup();
        let hist = |name: &'static str| {
            LocalHistogram::new(match handle {
                Some(h) => h.histogram(&Key::from_static_name(name)),
                None => Arc::new(BucketHistogram::new(buckets_for(name))),
            })
        };
        ExporterMetrics {
            bytes_initiator: counter!("flowprobe_bytes_total", "side" => "initiator"),
            bytes_responder: counter!("flowprobe_bytes_total", "side" => "responder"),
            duration: hist("flowprobe_flow_duration_seconds"),
            packets: hist("flowprobe_flow_packets"),
            bytes: hist("flowprobe_flow_bytes"),
            retrans: counter!("flowprobe_anomalies_total", "kind" => "retransmission"),
            ooo: counter!("flowprobe_anomalies_total", "kind" => "ooo_segment"),
            lag: hist("flowprobe_exporter_lag_seconds"),
            pending: [0; 4],
            sinks: sinks.iter().map(|s| SinkHandles::new(&s.name)).collect(),
            records: formats
                .into_iter()
                .map(|f| {
                    RecordKind::ALL.map(|k| {
                        counter!("flowprobe_exporter_records_total", "type" => k.name(), "format" => f)
                    })
                })
                .collect(),
        }
    }

    /// Account one record: byte deltas by side, and for end records the flow histograms.
    /// Counters reach the registry at the next `flush`.
    #[inline]
    pub fn record(&mut self, r: &crate::flow::FlowRecord) {
        if r.kind == RecordKind::Start {
            return;
        }
        self.pending[0] += r.dir[0].delta_bytes;
        self.pending[1] += r.dir[1].delta_bytes;
        if r.kind == RecordKind::End {
            let d = r.last_ms.saturating_sub(r.first_ms) as f64 / 1000.0;
            self.duration.record(d);
            self.packets.record(r.total_packets() as f64);
            self.bytes.record(r.total_bytes() as f64);
            self.pending[2] += r.tcp_retrans as u64;
            self.pending[3] += r.tcp_seq_errors as u64;
        }
    }

    /// Add the counters and histogram samples summed since the last call (once per drained
    /// batch).
    pub fn flush(&mut self) {
        for h in [
            &mut self.duration,
            &mut self.packets,
            &mut self.bytes,
            &mut self.lag,
        ] {
            h.flush();
        }
        let [i, r, t, o] = std::mem::take(&mut self.pending);
        for (c, v) in [
            (&self.bytes_initiator, i),
            (&self.bytes_responder, r),
            (&self.retrans, t),
            (&self.ooo, o),
        ] {
            if v > 0 {
                c.increment(v);
            }
        }
    }
}

impl ExporterMetrics {
    /// Sink and per-type counters from the exporter's own tallies (absolute values). `sinks`: the
    /// reports of the sinks given to `new`, in the same order.
    pub fn publish_sinks(&self, sinks: &[crate::export::SinkReport], records: &[u64; 3]) {
        debug_assert_eq!(sinks.len(), self.sinks.len());
        for (h, s) in self.sinks.iter().zip(sinks) {
            h.records.absolute(s.records);
            h.bytes.absolute(s.bytes);
            h.errors.absolute(s.errors);
            h.reconnects.absolute(s.reconnects);
            h.lost.absolute(s.lost);
            h.failed.absolute(s.failed);
            h.retries.absolute(s.retries);
        }
        for by_kind in &self.records {
            for (c, &n) in by_kind.iter().zip(records) {
                c.absolute(n);
            }
        }
    }
}

/// Number of u64 slots a [`WorkerSnapshot`] occupies when published.
pub const SNAPSHOT_SLOTS: usize = 11 + UNMATCHED_REASONS + 3 + 6 + 3 + 3;

impl WorkerSnapshot {
    /// Flatten for publication through atomics (the order is private to this pair of functions).
    pub fn to_slots(&self) -> [u64; SNAPSHOT_SLOTS] {
        let mut v = [0u64; SNAPSHOT_SLOTS];
        let head = [
            self.packets,
            self.bytes,
            self.bursts,
            self.empty_polls,
            self.flows,
            self.capacity,
            self.ring_free,
            self.ring_capacity,
            self.clock_backwards,
            self.frag_overflow,
            0,
        ];
        let all = head
            .iter()
            .chain(&self.unmatched)
            .chain(&self.flows_created_by_l4)
            .chain(&self.flows_ended)
            .chain(&self.records)
            .chain(&self.dropped);
        for (slot, x) in v.iter_mut().zip(all) {
            *slot = *x;
        }
        v
    }

    pub fn from_slots(v: &[u64; SNAPSHOT_SLOTS]) -> WorkerSnapshot {
        let mut it = v.iter().copied();
        let mut next = || it.next().unwrap_or(0);
        let mut s = WorkerSnapshot {
            packets: next(),
            bytes: next(),
            bursts: next(),
            empty_polls: next(),
            flows: next(),
            capacity: next(),
            ring_free: next(),
            ring_capacity: next(),
            clock_backwards: next(),
            frag_overflow: next(),
            ..Default::default()
        };
        next();
        for x in s.unmatched.iter_mut() {
            *x = next();
        }
        for x in s.flows_created_by_l4.iter_mut() {
            *x = next();
        }
        for x in s.flows_ended.iter_mut() {
            *x = next();
        }
        for x in s.records.iter_mut() {
            *x = next();
        }
        for x in s.dropped.iter_mut() {
            *x = next();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_exposition_format() {
        let h = MetricsHandle::default();
        let rec = Recorder(h.clone());
        metrics::with_local_recorder(&rec, || {
            metrics::describe_counter!("flowprobe_x_total", "Xs seen.\nSecond line.");
            counter!("flowprobe_x_total", "sink" => "a\"b\\c").increment(3);
            counter!("flowprobe_x_total", "sink" => "a\"b\\c").absolute(7);
            counter!("flowprobe_x_total", "sink" => "plain").increment(1);
            gauge!("flowprobe_g").set(0.25);
            let p = metrics::histogram!("flowprobe_flow_packets");
            for v in [1.0, 1.0, 3.0, 1e9] {
                p.record(v);
            }
        });
        let text = h.render();
        let expect = [
            "# HELP flowprobe_x_total Xs seen.\\nSecond line.",
            "# TYPE flowprobe_x_total counter",
            "flowprobe_x_total{sink=\"a\\\"b\\\\c\"} 7",
            "flowprobe_x_total{sink=\"plain\"} 1",
            "# TYPE flowprobe_g gauge",
            "flowprobe_g 0.25",
            "# TYPE flowprobe_flow_packets histogram",
            "flowprobe_flow_packets_bucket{le=\"1\"} 2",
            "flowprobe_flow_packets_bucket{le=\"2\"} 2",
            "flowprobe_flow_packets_bucket{le=\"4\"} 3",
            "flowprobe_flow_packets_bucket{le=\"100000\"} 3",
            "flowprobe_flow_packets_bucket{le=\"+Inf\"} 4",
            "flowprobe_flow_packets_sum 1000000005",
            "flowprobe_flow_packets_count 4",
        ];
        for l in expect {
            assert!(text.lines().any(|x| x == l), "missing {l:?} in\n{text}");
        }
        // Families are contiguous and sorted by name.
        let types: Vec<_> = text.lines().filter(|l| l.starts_with("# TYPE")).collect();
        assert_eq!(
            types,
            [
                "# TYPE flowprobe_flow_packets histogram",
                "# TYPE flowprobe_g gauge",
                "# TYPE flowprobe_x_total counter"
            ]
        );
    }

    /// The exporter's local histograms render exactly what recording every sample into the
    /// shared one renders, once flushed (and nothing before).
    #[test]
    fn local_histograms_match_direct_recording() {
        let values: Vec<f64> = (0..500)
            .map(|i| (i as f64 * 0.37).exp2() % 1e6)
            .chain([0.0, 1.0, 64.0, 1e5, 1e8, 1e9, f64::INFINITY])
            .collect();
        let direct = MetricsHandle::default();
        metrics::with_local_recorder(&Recorder(direct.clone()), || {
            let h = metrics::histogram!("flowprobe_flow_bytes");
            for &v in &values {
                h.record(v);
            }
        });
        let local = MetricsHandle::default();
        let mut m = ExporterMetrics::new(Some(&local), &[]);
        for &v in &values {
            m.bytes.record(v);
        }
        let series = |h: &MetricsHandle| -> Vec<String> {
            h.render()
                .lines()
                .filter(|l| l.starts_with("flowprobe_flow_bytes"))
                .map(str::to_owned)
                .collect()
        };
        assert!(series(&local)
            .iter()
            .any(|l| l == "flowprobe_flow_bytes_count 0"));
        m.flush();
        assert_eq!(series(&local), series(&direct));
        assert!(series(&direct)
            .iter()
            .any(|l| l == "flowprobe_flow_bytes_count 507"));
        m.flush();
        assert_eq!(
            series(&local),
            series(&direct),
            "a second flush adds nothing"
        );
    }

    /// The branch-free bucket index is the binary search's for every bucket layout.
    #[test]
    fn bucket_index_is_the_first_bound_not_below() {
        for bounds in [
            &DURATION_BUCKETS[..],
            &PACKET_BUCKETS,
            &BYTE_BUCKETS,
            &LAG_BUCKETS,
            buckets_for("other"),
        ] {
            let h = BucketHistogram::new(Box::leak(bounds.to_vec().into_boxed_slice()));
            let probes = bounds
                .iter()
                .flat_map(|&b| [b, b * 0.999, b * 1.001, -b])
                .chain([0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN]);
            for v in probes {
                assert_eq!(h.bucket(v), bounds.partition_point(|&b| b < v), "{v}");
            }
        }
    }

    #[test]
    fn snapshot_slots_round_trip() {
        let mut s = WorkerSnapshot {
            packets: 1,
            bytes: 2,
            bursts: 3,
            empty_polls: 4,
            flows: 5,
            capacity: 6,
            ring_free: 7,
            ring_capacity: 8,
            clock_backwards: 9,
            frag_overflow: 10,
            ..Default::default()
        };
        for (i, x) in s.unmatched.iter_mut().enumerate() {
            *x = 100 + i as u64;
        }
        s.flows_created_by_l4 = [11, 12, 13];
        s.flows_ended = [0, 21, 22, 23, 24, 25];
        s.records = [31, 32, 33];
        s.dropped = [41, 42, 43];
        assert_eq!(WorkerSnapshot::from_slots(&s.to_slots()), s);
    }
}
