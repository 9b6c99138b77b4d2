//! Process orchestration: EAL, ports, rings, lcores, orderly stop, and the final summary.

pub mod exporter;
pub mod worker;

use crate::config::{self, Config, Machine, Source};
use crate::dpdk::eal::Eal;
use crate::dpdk::mbuf::TimestampField;
use crate::dpdk::mempool::Mempool;
use crate::dpdk::port::{Port, PortConfig, PortStats};
use crate::dpdk::ring;
use crate::export::Outputs;
use crate::flow::{EndReason, FlowRecord, RecordKind, ShardConfig};
use crate::pcapfile;
use crate::pipeline::{unmatched_reason_name, LinkType, UNMATCHED_REASONS};
use exporter::{ExporterArgs, ExporterReport};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use worker::{Clock, Replay, WorkerArgs, WorkerReport, WorkerShared};

/// net_pcap (22.11) stamps mbufs with the capture time in microseconds (sec * 1e6 + usec, also for
/// nanosecond files, which libpcap hands over in µs); `probe/tests/replay.rs` checks the exported times.
const PCAP_TS_UNIT_NS: u64 = 1000;

/// A fatal start-up or run error: printed as one line, exit code 1.
pub type Fail = String;

fn free_hugepages() -> u64 {
    std::fs::read_to_string("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn machine() -> Machine {
    let cpus = core_affinity::get_core_ids()
        .map(|v| v.into_iter().map(|c| c.id).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| vec![0]);
    Machine {
        cpus,
        free_hugepages: free_hugepages(),
    }
}

/// One capture to replay, checked before EAL starts. The built-in reader only checks the header
/// here (a missing or foreign file still fails with one line) and counts the packets while it
/// replays them: reading an 800 MB capture twice cost a fifth of the run. The net_pcap vdev needs
/// the count up front (the worker cannot tell the end of the file from a pause).
struct Capture {
    /// `None`: counted during the replay (built-in reader).
    counted: Option<(u64, u64)>,
    link: LinkType,
    /// Built-in reader: the capture, opened once (classic pcap: read ahead from the start, on
    /// `reader_cpu`).
    feed: Option<worker::Feed>,
}

fn check_captures(
    files: &[std::path::PathBuf],
    scan: bool,
    reader_cpu: Option<usize>,
) -> Result<Vec<Capture>, Fail> {
    files
        .iter()
        .map(|f| {
            let fail = |e: std::io::Error| format!("capture {}: {e}", f.display());
            if !scan {
                // Mapped and replayed in place; read ahead into chunks where mapping fails; other
                // formats (pcapng) go to the worker through the reader opened here.
                let classic = match crate::dpdk::mapped::Mapped::open(f).map_err(fail)? {
                    Some(m) => pcapfile::ClassicFeed::start_mapped(Arc::new(m), reader_cpu),
                    None => pcapfile::ClassicFeed::start(f, reader_cpu),
                }
                .map_err(fail)?;
                let feed = match classic {
                    Some(c) => worker::Feed::Classic(c),
                    None => worker::Feed::Reader(pcapfile::CaptureReader::open(f).map_err(fail)?),
                };
                return Ok(Capture {
                    counted: None,
                    link: LinkType::Ethernet,
                    feed: Some(feed),
                });
            }
            let s = pcapfile::scan(f).map_err(|e| format!("capture {}: {e}", f.display()))?;
            let lt = s.link_types.first().copied().unwrap_or(1);
            if s.link_types.iter().any(|&l| l != lt) {
                eprintln!(
                    "flowprobe: warning: {} mixes link types {:?}; decoding all as {lt}",
                    f.display(),
                    s.link_types
                );
            }
            Ok(Capture {
                counted: Some((s.packets, s.captured_bytes)),
                link: LinkType::from_pcap(lt),
                feed: None,
            })
        })
        .collect()
}

/// A launched worker or exporter: on an EAL lcore, or (no EAL) on a pinned thread.
enum Running {
    Lcore(u32),
    Thread(std::thread::JoinHandle<i32>),
}

impl Running {
    fn wait(self, eal: Option<&Eal>) -> i32 {
        match (self, eal) {
            (Running::Lcore(l), Some(eal)) => eal.wait(l),
            (Running::Thread(h), _) => {
                let name = h.thread().name().unwrap_or("thread").to_string();
                h.join().unwrap_or_else(|e| {
                    let msg = e
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| e.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    eprintln!("flowprobe: {name} panicked: {msg}");
                    -1
                })
            }
            (Running::Lcore(_), None) => -1,
        }
    }
}

/// Run `f` on `lcore`: through EAL when it is up, else on a thread pinned to that lcore's CPU in
/// the derived `--lcores` map (same placement either way).
fn launch<F>(
    eal: Option<&Eal>,
    map: &Option<config::LcoreMap>,
    lcore: u32,
    name: &str,
    f: F,
) -> Result<Running, Fail>
where
    F: FnOnce() -> i32 + Send + 'static,
{
    if let Some(eal) = eal {
        eal.launch(lcore, name, f).map_err(|e| e.to_string())?;
        return Ok(Running::Lcore(lcore));
    }
    let cpu = map.as_ref().and_then(|m| m.cpu(lcore));
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            if let Some(id) = cpu {
                core_affinity::set_for_current(core_affinity::CoreId { id });
            }
            f()
        })
        .map(Running::Thread)
        .map_err(|e| format!("starting thread {name}: {e}"))
}

/// TSC ticks per second without EAL (which measures it during init): the TSC against the
/// monotonic clock since start-up, over at least 2 ms (0.1% is plenty for the lag histogram).
fn tsc_hz_estimate(t0: Instant, tsc0: u64) -> u64 {
    while t0.elapsed() < Duration::from_millis(2) {
        std::hint::spin_loop();
    }
    let ticks = crate::dpdk::rdtsc().wrapping_sub(tsc0);
    (ticks as f64 / t0.elapsed().as_secs_f64()) as u64
}

/// One worker's placement.
struct Placement {
    lcore: u32,
    port: u16,
    queue: u16,
    shares_cpu: bool,
}

/// Run the probe to completion. Returns the process exit code.
pub fn run(cfg: Config) -> Result<i32, Fail> {
    let started = Instant::now();
    let tsc_at_start = crate::dpdk::rdtsc();
    // FLOWPROBE_DEBUG: where the wall time goes, phase by phase (start-up and shutdown included).
    let debug = std::env::var_os("FLOWPROBE_DEBUG").is_some();
    let phase = |name: &str| {
        if debug {
            eprintln!(
                "flowprobe: phase {name} at {:.1} ms",
                started.elapsed().as_secs_f64() * 1e3
            );
        }
    };
    let m = machine();
    let null_queues = cfg.rx_queues.unwrap_or(1) as usize;
    // The derived lcore layout (the user's EAL arguments bring their own).
    let lmap = match &cfg.source {
        Source::Pcap(files) => Some(config::map_lcores(&m.cpus, files.len())),
        Source::Null => Some(config::map_lcores(&m.cpus, null_queues)),
        Source::Eal => None,
    };
    // The capture readers share the exporter's CPU (workers get the others).
    let reader_cpu = lmap.as_ref().and_then(|l| l.cpu(l.exporter));
    let mut captures = match &cfg.source {
        Source::Pcap(files) => Some(check_captures(files, cfg.pcap_vdev, reader_cpu)?),
        _ => None,
    };
    phase("captures checked");
    // Open the output before EAL so a bad path fails fast with one line. Threads the sinks start
    // (socket senders, librdkafka's) are made on the exporter's CPU and inherit it: left free,
    // they preempt the workers' busy-polling lcores.
    let mut outputs = crate::dpdk::affinity::with_cpu(reader_cpu, || {
        Outputs::open(
            &cfg.outputs,
            &cfg.sink_options,
            cfg.local_nets.clone(),
            cfg.subnet_labels.clone(),
        )
    })?;

    // Metrics endpoint before EAL: a bad address fails fast, and the HTTP thread is not pinned to
    // the main lcore's CPU.
    // With `--metrics-listen off` no recorder is installed (the metrics calls are no-ops): nothing
    // could read it, and building it calibrates a clock by spinning for up to 200 ms.
    let metrics_stop = Arc::new(AtomicBool::new(false));
    let mut metrics_handle = None;
    if let Some(addr) = cfg.metrics_listen {
        let h = crate::metrics::install()?;
        let bound = crate::metrics::serve(addr, h.clone(), metrics_stop.clone())
            .map_err(|e| format!("--metrics-listen {addr}: {e}"))?;
        eprintln!("flowprobe: metrics on http://{bound}/metrics");
        metrics_handle = Some(h);
    }
    let start_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);

    let record_size = std::mem::size_of::<FlowRecord>();
    let eal_args = match (&cfg.source, &lmap) {
        (Source::Pcap(files), Some(map)) => {
            // The built-in reader needs no port and no mbufs: only lcores and rings.
            let queues = if cfg.pcap_vdev { files.len() } else { 0 };
            let mem = cfg.mem_mb.unwrap_or(config::memory_mb(
                queues,
                files.len(),
                cfg.ring_size,
                record_size,
            ));
            let vdevs = if cfg.pcap_vdev {
                vec![config::pcap_vdev(files)?]
            } else {
                Vec::new()
            };
            config::eal_args_for(&cfg, &vdevs, map, &m, mem)?
        }
        (Source::Null, Some(map)) => {
            let q = null_queues;
            let mem = cfg
                .mem_mb
                .unwrap_or(config::memory_mb(q, q, cfg.ring_size, record_size));
            let vdev = "net_null0,copy=1,size=64".to_string();
            config::eal_args_for(&cfg, &[vdev], map, &m, mem)?
        }
        // Source::Eal: the user's EAL arguments (no derived map).
        _ => cfg.eal_args.clone(),
    };
    if debug {
        eprintln!("flowprobe: EAL arguments: {}", eal_args.join(" "));
    }
    phase("outputs open");
    // The built-in capture reader needs no port, no mbuf and no EAL memory: it runs on plain
    // threads pinned like the lcores would be, with its rings in process memory. EAL start-up
    // (driver plugins, a 100 ms TSC calibration sleep) took longer than replaying a 1M-packet file.
    let offline = matches!(cfg.source, Source::Pcap(_)) && !cfg.pcap_vdev;
    let eal = if offline {
        None
    } else {
        Some(Eal::init("flowprobe", &eal_args).map_err(|e| e.to_string())?)
    };
    phase(if offline {
        "EAL skipped (built-in reader)"
    } else {
        "EAL initialised"
    });
    let tsc_hz = match &eal {
        Some(_) => crate::dpdk::tsc_hz(),
        None => tsc_hz_estimate(started, tsc_at_start),
    };
    let eal_ref = || eal.as_ref().expect("EAL is initialised for ports");
    let nports = if offline { 0 } else { eal_ref().port_count() };
    if nports == 0 && !offline {
        return Err(match &cfg.source {
            Source::Pcap(_) => "the pcap vdev probed no port (see the EAL lines above)".into(),
            Source::Null => "the null vdev probed no port (see the EAL lines above)".into(),
            Source::Eal => {
                "EAL found no usable port: check the -a/--vdev arguments and driver binding".into()
            }
        });
    }

    // Placement: worker i polls (port, queue).
    let (placements, exporter_lcore, queues_per_port) = match &lmap {
        Some(map) => {
            let p = map
                .workers
                .iter()
                .enumerate()
                .map(|(i, &l)| Placement {
                    lcore: l,
                    port: 0,
                    queue: i as u16,
                    shares_cpu: map.worker_shares_cpu[i],
                })
                .collect::<Vec<_>>();
            let q = p.len() as u16;
            // The built-in capture reader has no port to configure.
            (p, map.exporter, if offline { Vec::new() } else { vec![q] })
        }
        None => {
            let eal = eal_ref();
            let lcores = eal.worker_lcores();
            if lcores.len() < 2 {
                return Err(format!(
                    "{} worker lcore(s): need at least 2 (one worker and the exporter); give more with -l",
                    lcores.len()
                ));
            }
            let exporter = *lcores.last().unwrap_or(&0);
            let avail = lcores.len() - 1;
            let qpp = cfg
                .rx_queues
                .map(|q| q as usize)
                .unwrap_or((avail / nports as usize).max(1));
            if qpp * nports as usize > avail {
                return Err(format!(
                    "{nports} port(s) x {qpp} queue(s) need {} worker lcores, {avail} available",
                    qpp * nports as usize
                ));
            }
            let mut p = Vec::new();
            for port in 0..nports {
                for q in 0..qpp {
                    let lcore = lcores[p.len()];
                    let cpu = eal.lcore_cpu(lcore);
                    let shares = lcores
                        .iter()
                        .filter(|&&l| l != lcore && eal.lcore_cpu(l) == cpu)
                        .count()
                        > 0;
                    p.push(Placement {
                        lcore,
                        port,
                        queue: q as u16,
                        shares_cpu: shares,
                    });
                }
            }
            (p, exporter, vec![qpp as u16; nports as usize])
        }
    };

    // Pools and ports (ports only once their pool exists; dropped in reverse order).
    let mut pools = Vec::new();
    let mut ports = Vec::new();
    let mut ifaces = Vec::new();
    for (pid, &nq) in queues_per_port.iter().enumerate() {
        let pid = pid as u16;
        let pool = Mempool::new(
            &format!("mbuf_p{pid}"),
            config::MBUFS_PER_QUEUE * nq as u32,
            256,
            (2048 + 128) as u16,
            -1,
        )
        .map_err(|e| e.to_string())?;
        let pc = PortConfig {
            rx_queues: nq,
            rx_desc: config::RX_DESC,
            timestamps: captures.is_some(),
            promiscuous: matches!(cfg.source, Source::Eal),
        };
        let mut port = Port::configure(pid, &pc, &pool).map_err(|e| e.to_string())?;
        for n in &port.notes {
            eprintln!("flowprobe: {n}");
        }
        port.start().map_err(|e| e.to_string())?;
        ifaces.push(match &cfg.source {
            Source::Pcap(_) => "pcap0".to_string(),
            _ => port.name().to_string(),
        });
        pools.push(pool);
        ports.push(port);
    }
    // net_pcap stamps every mbuf with the capture time through the registered dynamic field even
    // though it does not advertise the offload; other PMDs register it when the offload is on.
    let ts_field = match &eal {
        Some(e) if captures.is_some() || ports.iter().all(|p| p.timestamps) => {
            TimestampField::lookup(e)
        }
        _ => None,
    };
    if offline {
        // Same interface name as the vdev path: the digests (and so the records) are identical.
        ifaces.push("pcap0".to_string());
    } else if captures.is_some() && ts_field.is_none() {
        eprintln!(
            "flowprobe: warning: no RX timestamps from the pcap vdev; replay runs on the TSC clock"
        );
    }

    let nworkers = placements.len();
    let max_shard = crate::flow::shard::MAX_SHARD_CAPACITY;
    let per_worker = match u32::try_from((cfg.max_flows / nworkers as u64).max(1)) {
        Ok(n) if n <= max_shard => n,
        _ => {
            return Err(format!(
                "--max-flows {} over {nworkers} worker(s) exceeds {max_shard} flows per worker: \
                 lower it or add workers (RX queues)",
                cfg.max_flows
            ))
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register_conditional_shutdown(
        signal_hook::consts::SIGINT,
        130,
        stop.clone(),
    )
    .and_then(|_| signal_hook::flag::register(signal_hook::consts::SIGINT, stop.clone()))
    .and_then(|_| signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone()))
    .map_err(|e| format!("installing signal handlers: {e}"))?;
    let exporter_alive = Arc::new(AtomicBool::new(true));
    let clock = Clock::start();
    let backoff_for = |shares: bool| cfg.idle_backoff.unwrap_or(shares);

    let mut running = Vec::new();
    let mut consumers = Vec::new();
    let mut shared = Vec::new();
    let mut table_bytes = 0usize;
    for (i, pl) in placements.iter().enumerate() {
        let name = format!("rec{i}");
        let (prod, cons) = if offline {
            ring::spsc_local::<FlowRecord>(&name, cfg.ring_size)
        } else {
            ring::spsc::<FlowRecord>(&name, cfg.ring_size, -1)
        }
        .map_err(|e| e.to_string())?;
        consumers.push(cons);
        let sh = Arc::new(WorkerShared::default());
        shared.push(sh.clone());
        let mut sc = ShardConfig::new(per_worker, 0, cfg.stats_interval_ns);
        sc.tcp_timeout_ns = cfg.tcp_timeout_ns;
        sc.udp_timeout_ns = cfg.udp_timeout_ns;
        sc.icmp_timeout_ns = cfg.icmp_timeout_ns;
        sc.other_timeout_ns = cfg.other_timeout_ns;
        sc.active_timeout_ns = cfg.active_timeout_ns;
        sc.tcp_closed_timeout_ns = cfg.tcp_close_linger_ns;
        sc.compat_ndpi = cfg.compat_ndpi;
        sc.worker = i as u8;
        // A replay has no packet to lose while the kernel assembles a 2 MiB page; a live port
        // keeps 4 KiB pages (no compaction stall while the table fills).
        sc.huge_pages = offline;
        sc.port = pl.port;
        table_bytes += per_worker as usize * crate::flow::Shard::entry_size();
        let feed = captures.as_mut().and_then(|c| c[i].feed.take());
        let (replay, link) = match &captures {
            Some(c) => (
                Some(Replay {
                    // The built-in reader ends at the end of its file.
                    expected_packets: c[i].counted.map_or(u64::MAX, |(p, _)| p),
                    ts_unit_ns: PCAP_TS_UNIT_NS,
                }),
                c[i].link,
            ),
            None => (None, LinkType::Ethernet),
        };
        let args = WorkerArgs {
            index: i,
            port: pl.port,
            queue: pl.queue,
            shard: sc,
            link,
            producer: Some(prod),
            ring_wait: cfg.ring_wait,
            stop: stop.clone(),
            exporter_alive: exporter_alive.clone(),
            replay,
            ts_field,
            clock,
            backoff: backoff_for(pl.shares_cpu),
            shared: sh,
            ring_capacity: cfg.ring_size.next_power_of_two() as u64 - 1,
            decap: cfg.decap,
        };
        // Built-in reader (the only one with a feed): the worker replays the capture itself.
        let offline_input = match (feed, &cfg.source) {
            (Some(feed), Source::Pcap(files)) => Some((feed, files[i].clone())),
            _ => None,
        };
        let job = move || match offline_input {
            Some((feed, f)) => worker::run_offline(args, feed, f),
            None => worker::run(args),
        };
        running.push(launch(
            eal.as_ref(),
            &lmap,
            pl.lcore,
            &format!("worker{i}"),
            job,
        )?);
    }
    eprintln!(
        "flowprobe: {} worker(s), flow table {} flows/worker, {} B/flow entry, {:.1} MiB in slabs (+ index)",
        nworkers,
        per_worker,
        crate::flow::Shard::entry_size(),
        table_bytes as f64 / (1 << 20) as f64
    );
    let exp_report = Arc::new(Mutex::new(None));
    outputs.set_ifaces(ifaces.clone());
    let metrics = crate::metrics::ExporterMetrics::new(metrics_handle.as_ref(), &outputs.reports());
    let eargs = ExporterArgs {
        consumers,
        workers: shared.clone(),
        outputs,
        // The exporter shares the main lcore's CPU in the derived layouts.
        backoff: cfg.idle_backoff.unwrap_or(true),
        alive: exporter_alive.clone(),
        report: exp_report.clone(),
        metrics,
        tsc_hz,
    };
    let exporter_job = launch(eal.as_ref(), &lmap, exporter_lcore, "exporter", move || {
        exporter::run(eargs)
    })?;

    let publisher = crate::metrics::Publisher::new(
        &ports
            .iter()
            .zip(&ifaces)
            .map(|(p, n)| (n.clone(), p.rx_queues()))
            .collect::<Vec<_>>(),
        nworkers,
        env!("CARGO_PKG_VERSION"),
        &crate::dpdk::version(),
        start_epoch,
    );
    let publish = || {
        let ws: Vec<_> = shared.iter().map(|s| s.snapshot()).collect();
        let ps: Vec<_> = ports
            .iter()
            .zip(&ifaces)
            .map(|(p, n)| port_snapshot(n, &Port::stats(p.id())))
            .collect();
        publisher.publish(&ws, &ps);
    };

    phase("lcores launched");
    // Main lcore: wait for the end of the captures, a signal, or --duration; publish metrics.
    let run_start = Instant::now();
    let mut last_publish = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(1));
        if last_publish.elapsed() >= Duration::from_millis(250) {
            publish();
            last_publish = Instant::now();
        }
        if shared.iter().all(|s| s.done.load(Ordering::Acquire)) {
            break;
        }
        // A panicked worker is done but lost its flows: stop the others (they flush and the
        // exporter drains what reached the rings) and fail the run instead of running on.
        if shared.iter().any(|s| s.failed.load(Ordering::Acquire)) {
            stop.store(true, Ordering::Relaxed);
        }
        if cfg.duration_ns > 0 && run_start.elapsed().as_nanos() as u64 >= cfg.duration_ns {
            stop.store(true, Ordering::Relaxed);
        }
    }
    phase("workers done");
    // EAL's wait spins: let the exporter (which shares this CPU) finish first.
    while exporter_alive.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(1));
    }
    // Each panicked worker's join reports it on one line (`flowprobe: workerN panicked: ...`).
    let mut rc = 0;
    for job in running.into_iter().chain([exporter_job]) {
        if job.wait(eal.as_ref()) != 0 {
            rc = 1;
        }
    }
    phase("exporter done");
    let elapsed = run_start.elapsed();
    publish();
    let port_stats: Vec<PortStats> = ports.iter().map(|p| Port::stats(p.id())).collect();
    let reports: Vec<WorkerReport> = shared
        .iter()
        .map(|s| {
            s.report
                .lock()
                .ok()
                .and_then(|g| g.clone())
                .unwrap_or_default()
        })
        .collect();
    let exp = exp_report
        .lock()
        .ok()
        .and_then(|g| g.clone())
        .unwrap_or_default();
    print_summary(
        &cfg,
        captures.as_deref(),
        &reports,
        &exp,
        &port_stats,
        &ifaces,
        elapsed,
        started.elapsed(),
    );
    for r in &reports {
        if let Some(n) = r.replay_short {
            eprintln!(
                "flowprobe: warning: replay stalled after {n} packets; the capture holds more"
            );
        }
    }
    if exp.sink_errors > 0 {
        eprintln!(
            "flowprobe: output errors: {} ({})",
            exp.sink_errors,
            exp.sink_last_error.unwrap_or_default()
        );
        rc = 1;
    }
    // Keep serving the final values for a scraper (--linger); a signal ends the wait.
    if cfg.linger_ns > 0 && cfg.metrics_listen.is_some() {
        let until = Instant::now() + Duration::from_nanos(cfg.linger_ns);
        let lingered = Arc::new(AtomicBool::new(false));
        let _ = signal_hook::flag::register(signal_hook::consts::SIGINT, lingered.clone());
        let _ = signal_hook::flag::register(signal_hook::consts::SIGTERM, lingered.clone());
        while Instant::now() < until && !lingered.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    metrics_stop.store(true, Ordering::Relaxed);
    drop(ports);
    drop(pools);
    drop(eal);
    phase("EAL cleaned up");
    Ok(rc)
}

fn port_snapshot(name: &str, s: &PortStats) -> crate::metrics::PortSnapshot {
    crate::metrics::PortSnapshot {
        name: name.to_string(),
        ipackets: s.ipackets,
        ibytes: s.ibytes,
        imissed: s.imissed,
        ierrors: s.ierrors,
        rx_nombuf: s.rx_nombuf,
        q_ipackets: s.q_ipackets.clone(),
        q_errors: s.q_errors.clone(),
    }
}

#[allow(clippy::too_many_arguments)]
fn print_summary(
    cfg: &Config,
    captures: Option<&[Capture]>,
    w: &[WorkerReport],
    exp: &ExporterReport,
    ports: &[PortStats],
    ifaces: &[String],
    run: Duration,
    total: Duration,
) {
    let sum = |f: &dyn Fn(&WorkerReport) -> u64| w.iter().map(f).sum::<u64>();
    let rx = sum(&|r| r.rx_packets);
    let unmatched = sum(&|r| r.unmatched.iter().sum());
    let mut by_reason = serde_json::Map::new();
    for i in 0..UNMATCHED_REASONS {
        let n = sum(&|r| r.unmatched[i]);
        if n > 0 {
            by_reason.insert(unmatched_reason_name(i).into(), n.into());
        }
    }
    let mut ended = serde_json::Map::new();
    for reason in EndReason::ENDS {
        ended.insert(reason.name().into(), sum(&|r| r.shard.ended(reason)).into());
    }
    let rec = |k: RecordKind| {
        json!({
            "produced": sum(&|r| r.shard.records[k as usize]),
            "dropped": sum(&|r| r.dropped[k as usize]),
            "exported": exp.records[k as usize],
        })
    };
    let exported: u64 = exp.records.iter().sum();
    let mut summary = json!({
        "type": "summary",
        "workers": w.len(),
        "packets_received": rx,
        "bytes_received": sum(&|r| r.rx_bytes),
        "packets_attributed": sum(&|r| r.shard.packets),
        "packets_unmatched": unmatched,
        "unmatched_by_reason": by_reason,
        "flows_created": sum(&|r| r.shard.flows_created),
        "flows_ended": ended,
        "records": {
            "flow": rec(RecordKind::Start),
            "flow_stats": rec(RecordKind::Stats),
            "flow_purge": rec(RecordKind::End),
        },
        "clock_backwards": sum(&|r| r.shard.clock_backwards),
        "ports": ports.iter().zip(ifaces).map(|(p, name)| json!({
            "name": name,
            "ipackets": p.ipackets, "ibytes": p.ibytes, "imissed": p.imissed,
            "ierrors": p.ierrors, "rx_nombuf": p.rx_nombuf,
        })).collect::<Vec<_>>(),
        "output": {
            "records": exp.sink_records, "bytes": exp.sink_bytes, "errors": exp.sink_errors,
            "sinks": exp.sinks.iter().map(|s| json!({
                "name": s.name, "format": s.format, "records": s.records, "bytes": s.bytes,
                "errors": s.errors, "reconnects": s.reconnects, "lost": s.lost,
                "failed": s.failed, "retries": s.retries,
                "rotations": s.rotations,
            })).collect::<Vec<_>>(),
        },
        "run_seconds": run.as_secs_f64(),
        "wall_seconds": total.as_secs_f64(),
        "packets_per_second": rx as f64 / run.as_secs_f64().max(1e-9),
        "exporter_busy_seconds": exp.busy_s,
        "exporter_records_per_second": if exp.busy_s > 0.0 { exported as f64 / exp.busy_s } else { 0.0 },
        "worker_empty_polls": sum(&|r| r.empty_polls),
        "worker_bursts": sum(&|r| r.bursts),
    });
    if let Some(c) = captures {
        // The built-in reader counted them (its workers received exactly the capture's packets).
        let (p, b) = c.iter().zip(w).fold((0, 0), |(p, b), (c, r)| {
            let (cp, cb) = c.counted.unwrap_or((r.rx_packets, r.rx_bytes));
            (p + cp, b + cb)
        });
        summary["capture_packets"] = p.into();
        summary["capture_bytes"] = b.into();
    }
    let _ = cfg;
    eprintln!("{summary}");
}
