//! Command line → validated configuration. Pure: no DPDK, no I/O except reading capture headers.

use crate::export::sink::parse_size;
use crate::export::{Format, KafkaOptions, LocalNets, OutputSpec, SinkOptions, SubnetLabels};
use clap::Parser;
use std::path::PathBuf;

/// Parse a duration with a unit: `500ms`, `30s`, `5m`, `2h`, `1d`; a bare `0` disables.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(0);
    }
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .ok_or_else(|| format!("invalid duration '{s}': missing unit (ms, s, m, h, d)"))?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration '{s}': bad number"))?;
    let mul: f64 = match unit {
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        "d" => 86400e9,
        _ => return Err(format!("invalid duration '{s}': unknown unit '{unit}'")),
    };
    let ns = v * mul;
    if !(0.0..=1e19).contains(&ns) {
        return Err(format!("invalid duration '{s}': out of range"));
    }
    Ok(ns as u64)
}

fn duration_arg(s: &str) -> Result<u64, String> {
    parse_duration(s)
}

/// flowprobe: a DPDK flow probe. Replays captures (`--pcap`), runs on `net_null` (`--null`), or on
/// real ports given as EAL arguments after `--`.
#[derive(Parser, Debug, Clone)]
#[command(name = "flowprobe", version, about, long_about = None)]
pub struct Cli {
    /// Replay a capture through the net_pcap vdev (repeatable: one RX queue and worker per file).
    #[arg(long, value_name = "FILE")]
    pub pcap: Vec<PathBuf>,

    /// How `--pcap` files are read: `fast` (flowprobe's own reader feeds the workers, no copy into
    /// mbufs) or `vdev` (DPDK's net_pcap PMD, one RX queue per file).
    #[arg(long, default_value = "fast", value_parser = ["fast", "vdev"])]
    pub pcap_reader: String,

    /// Key tunnelled traffic (GRE, VXLAN, Geneve, GTP-U, IP-in-IP, ...) on the outer flow instead
    /// of the inner one.
    #[arg(long)]
    pub no_decap: bool,

    /// Count flows the way a peer's test suite does, to compare results with it: `ndpi` (nDPI's
    /// ndpiReader on a capture: no timeouts, one key is one flow for the whole run even across
    /// FIN/RST, the first packet's sender is the initiator, non-first IP fragments and cut or
    /// short packets are not counted, VLAN = innermost 802.1Q tag). Use with `--pcap`.
    #[arg(
        long,
        value_name = "PEER",
        value_parser = ["ndpi"],
        conflicts_with_all = [
            "no_decap", "idle_timeout", "tcp_timeout", "udp_timeout", "icmp_timeout",
            "other_timeout",
        ]
    )]
    pub compat: Option<String>,

    /// Use the net_null vdev (smoke tests and benchmarks); stops on a signal or after --duration.
    #[arg(long, conflicts_with = "pcap")]
    pub null: bool,

    /// Stop after this long (e.g. 10s). 0 = run until a signal (or the end of the captures).
    #[arg(long, value_parser = duration_arg, default_value = "0", value_name = "DUR")]
    pub duration: u64,

    /// Idle timeout of every protocol (refined by the per-protocol options). 0 disables.
    /// Default: per protocol (TCP 5m, UDP 60s, ICMP 30s, other 60s).
    #[arg(long, value_parser = duration_arg, value_name = "DUR")]
    pub idle_timeout: Option<u64>,

    /// Idle timeout of open TCP flows.
    #[arg(long, value_parser = duration_arg, value_name = "DUR")]
    pub tcp_timeout: Option<u64>,

    /// Idle timeout of UDP flows.
    #[arg(long, value_parser = duration_arg, value_name = "DUR")]
    pub udp_timeout: Option<u64>,

    /// Idle timeout of ICMP/ICMPv6 flows.
    #[arg(long, value_parser = duration_arg, value_name = "DUR")]
    pub icmp_timeout: Option<u64>,

    /// Idle timeout of other protocols (GRE, ESP, SCTP, ...).
    #[arg(long, value_parser = duration_arg, value_name = "DUR")]
    pub other_timeout: Option<u64>,

    /// Active timeout: a flow older than this is ended (`active`) and continues as a new segment
    /// with the same orientation. 0 disables.
    #[arg(long, value_parser = duration_arg, default_value = "30m", value_name = "DUR")]
    pub active_timeout: u64,

    /// How long a closed TCP flow (FIN both ways, or RST) lingers for trailing packets.
    /// (Default: Linux conntrack's CLOSE timeout.)
    #[arg(long, value_parser = duration_arg, default_value = "10s", value_name = "DUR")]
    pub tcp_close_linger: u64,

    /// Period of flow_stats records for live flows (Netify's default: 15 s). 0 disables.
    #[arg(long, value_parser = duration_arg, default_value = "15s", value_name = "DUR")]
    pub stats_interval: u64,

    /// Flow table capacity in total, split evenly over the workers.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub max_flows: u64,

    /// Local network prefix (repeatable). Default: RFC 1918, RFC 4193 and link-local.
    #[arg(long = "local-net", value_name = "CIDR")]
    pub local_net: Vec<String>,

    /// Where records go (repeatable): `[netify:|netobserv:]TARGET` with TARGET `-` (stdout),
    /// `file:PATH` or a plain path, `tcp://HOST:PORT`, `unix:PATH`; or `ipfix+udp://HOST:PORT`,
    /// `ipfix+tcp://HOST:PORT` (IPFIX, RFC 7011/5103); `[netify:|netobserv:]kafka://BROKER[,BROKER]/TOPIC`
    /// (one JSON record per message, keyed by flow). Default: `-`.
    #[arg(long, short = 'o', value_name = "SPEC")]
    pub output: Vec<String>,

    /// Format of the outputs without a `netify:`/`netobserv:` prefix.
    #[arg(long, default_value = "netify", value_parser = ["netify", "netobserv"])]
    pub format: String,

    /// NetObserv SrcSubnetLabel/DstSubnetLabel: name a prefix (repeatable; longest prefix wins).
    #[arg(long = "subnet-label", value_name = "CIDR=NAME")]
    pub subnet_label: Vec<String>,

    /// Rotate file outputs before they pass this size (e.g. 100M; 0 = never).
    #[arg(long, value_parser = parse_size, default_value = "0", value_name = "SIZE")]
    pub output_rotate_size: u64,

    /// Rotated files kept: PATH.1 (newest) .. PATH.N.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub output_rotate_keep: u32,

    /// Memory per socket output (tcp, unix, ipfix+tcp) for records its collector has not taken
    /// yet; beyond it records are counted as lost.
    #[arg(long, value_parser = parse_size, default_value = "4M", value_name = "SIZE")]
    pub output_buffer: u64,

    /// At stop, how long socket outputs may take to deliver what they hold.
    #[arg(long, value_parser = duration_arg, default_value = "5s", value_name = "DUR")]
    pub output_drain_timeout: u64,

    /// Compression of kafka:// outputs (librdkafka compression.codec).
    #[arg(long, default_value = "lz4", value_parser = ["none", "gzip", "snappy", "lz4"], value_name = "CODEC")]
    pub kafka_compression: String,

    /// A librdkafka producer property for kafka:// outputs (repeatable; applied last, so it
    /// overrides flowprobe's own settings), e.g. `acks=all`, `linger.ms=100`.
    #[arg(long = "kafka-opt", value_name = "KEY=VALUE")]
    pub kafka_opt: Vec<String>,

    /// RX queues (and workers) per port for --null and hardware ports. Default: 1 for --null,
    /// else as many as the worker lcores allow.
    #[arg(long, value_name = "N")]
    pub rx_queues: Option<u16>,

    /// Records each worker→exporter ring holds.
    #[arg(long, default_value_t = 65536, value_name = "N")]
    pub ring_size: u32,

    /// What a worker does when its ring is full: `drop` (count and go on; never blocks RX) or
    /// `wait` (back-pressure; only sensible for replays). Default: wait for --pcap, else drop.
    #[arg(long, value_parser = ["drop", "wait"], value_name = "POLICY")]
    pub ring_full: Option<String>,

    /// Never use hugepages (DPDK --no-huge).
    #[arg(long)]
    pub no_huge: bool,

    /// Require hugepages: fail if none are free.
    #[arg(long, conflicts_with = "no_huge")]
    pub huge: bool,

    /// DPDK memory in MB (default: derived from queues and rings).
    #[arg(long, value_name = "MB")]
    pub mem: Option<u32>,

    /// Idle lcores sleep briefly after empty polls: auto (when they share a core), on, off.
    #[arg(long, default_value = "auto", value_parser = ["auto", "on", "off"])]
    pub idle_backoff: String,

    /// Serve Prometheus metrics on ADDR:PORT (`/metrics`); `off` disables. Loopback by default.
    #[arg(long, default_value = "127.0.0.1:9464", value_name = "ADDR:PORT")]
    pub metrics_listen: String,

    /// After the end of a replay (everything exported), keep serving /metrics this long.
    #[arg(long, value_parser = duration_arg, default_value = "0", value_name = "DUR")]
    pub linger: u64,

    /// EAL arguments for real hardware (e.g. `-- -l 0-5 -a 0000:3b:00.0`).
    #[arg(last = true, value_name = "EAL_ARGS")]
    pub eal_args: Vec<String>,
}

/// Where packets come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Pcap(Vec<PathBuf>),
    Null,
    /// Ports probed by EAL from the user's arguments.
    Eal,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub source: Source,
    pub duration_ns: u64,
    /// Idle timeouts: TCP open, UDP, ICMP, other.
    pub tcp_timeout_ns: u64,
    pub udp_timeout_ns: u64,
    pub icmp_timeout_ns: u64,
    pub other_timeout_ns: u64,
    pub active_timeout_ns: u64,
    pub tcp_close_linger_ns: u64,
    pub stats_interval_ns: u64,
    pub max_flows: u64,
    pub local_nets: LocalNets,
    /// Outputs in `--output` order (at least one).
    pub outputs: Vec<OutputSpec>,
    pub sink_options: SinkOptions,
    pub subnet_labels: SubnetLabels,
    pub rx_queues: Option<u16>,
    pub ring_size: u32,
    pub ring_wait: bool,
    pub no_huge: bool,
    pub huge: bool,
    pub mem_mb: Option<u32>,
    pub idle_backoff: Option<bool>,
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Read `--pcap` files through the net_pcap vdev instead of the built-in reader.
    pub pcap_vdev: bool,
    pub decap: bool,
    /// `--compat ndpi`: nDPI's counting rules (timeouts are all 0 then).
    pub compat_ndpi: bool,
    pub linger_ns: u64,
    pub eal_args: Vec<String>,
}

impl Config {
    pub fn from_cli(cli: Cli) -> Result<Config, String> {
        let source = if !cli.pcap.is_empty() {
            if !cli.eal_args.is_empty() {
                return Err(
                    "--pcap derives its own EAL arguments; do not pass any after --".into(),
                );
            }
            Source::Pcap(cli.pcap.clone())
        } else if cli.null {
            if !cli.eal_args.is_empty() {
                return Err(
                    "--null derives its own EAL arguments; do not pass any after --".into(),
                );
            }
            Source::Null
        } else if !cli.eal_args.is_empty() {
            Source::Eal
        } else {
            return Err(
                "no packet source: give --pcap FILE, --null, or EAL arguments after --".into(),
            );
        };
        if cli.max_flows == 0 {
            return Err("--max-flows must be at least 1".into());
        }
        if cli.ring_size < 64 {
            return Err("--ring-size must be at least 64".into());
        }
        if cli.rx_queues == Some(0) {
            return Err("--rx-queues must be at least 1".into());
        }
        let local_nets = if cli.local_net.is_empty() {
            LocalNets::default_nets()
        } else {
            LocalNets::parse(&cli.local_net)?
        };
        let default_format = Format::parse(&cli.format)?;
        let outputs = if cli.output.is_empty() {
            vec![OutputSpec::parse("-", default_format)?]
        } else {
            cli.output
                .iter()
                .map(|o| OutputSpec::parse(o, default_format))
                .collect::<Result<Vec<_>, _>>()?
        };
        for (i, o) in outputs.iter().enumerate() {
            if outputs[..i].iter().any(|p| p.target == o.target) {
                return Err(format!("--output {} is given twice", o.name()));
            }
        }
        if cli.output_buffer == 0 {
            return Err("--output-buffer must be at least 1 byte".into());
        }
        let kafka_props = cli
            .kafka_opt
            .iter()
            .map(|o| match o.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
                _ => Err(format!("invalid --kafka-opt '{o}': expected KEY=VALUE")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sink_options = SinkOptions {
            rotate_size: cli.output_rotate_size,
            rotate_keep: cli.output_rotate_keep,
            buffer_bytes: usize::try_from(cli.output_buffer).unwrap_or(usize::MAX),
            drain_timeout: std::time::Duration::from_nanos(cli.output_drain_timeout),
            kafka: KafkaOptions {
                compression: cli.kafka_compression.clone(),
                props: kafka_props,
            },
        };
        let subnet_labels = SubnetLabels::parse(&cli.subnet_label)?;
        let ring_wait = match cli.ring_full.as_deref() {
            Some("wait") => true,
            Some(_) => false,
            None => matches!(source, Source::Pcap(_)),
        };
        let compat_ndpi = cli.compat.as_deref() == Some("ndpi");
        if compat_ndpi && !matches!(source, Source::Pcap(_)) {
            return Err("--compat ndpi compares results on captures: use it with --pcap".into());
        }
        if compat_ndpi && cli.pcap_reader == "vdev" {
            // nDPI's length rules need every captured byte; the vdev hands the worker a frame's
            // first mbuf segment only.
            return Err(
                "--compat ndpi needs the built-in capture reader (--pcap-reader fast)".into(),
            );
        }
        // nDPI's reader has no timers: a flow lasts as long as the capture.
        let timeout = |t: Option<u64>, default: u64| {
            if compat_ndpi {
                0
            } else {
                t.or(cli.idle_timeout).unwrap_or(default)
            }
        };
        Ok(Config {
            source,
            duration_ns: cli.duration,
            tcp_timeout_ns: timeout(cli.tcp_timeout, crate::flow::shard::DEFAULT_TCP_NS),
            udp_timeout_ns: timeout(cli.udp_timeout, crate::flow::shard::DEFAULT_UDP_NS),
            icmp_timeout_ns: timeout(cli.icmp_timeout, crate::flow::shard::DEFAULT_ICMP_NS),
            other_timeout_ns: timeout(cli.other_timeout, crate::flow::shard::DEFAULT_OTHER_NS),
            active_timeout_ns: if compat_ndpi { 0 } else { cli.active_timeout },
            tcp_close_linger_ns: if compat_ndpi { 0 } else { cli.tcp_close_linger },
            stats_interval_ns: cli.stats_interval,
            max_flows: cli.max_flows,
            local_nets,
            outputs,
            sink_options,
            subnet_labels,
            rx_queues: cli.rx_queues,
            ring_size: cli.ring_size,
            ring_wait,
            no_huge: cli.no_huge,
            huge: cli.huge,
            mem_mb: cli.mem,
            idle_backoff: match cli.idle_backoff.as_str() {
                "on" => Some(true),
                "off" => Some(false),
                _ => None,
            },
            metrics_listen: match cli.metrics_listen.as_str() {
                "off" | "none" | "" => None,
                a => Some(a.parse().map_err(|_| {
                    format!("invalid --metrics-listen '{a}': expected ADDR:PORT (e.g. 127.0.0.1:9464) or off")
                })?),
            },
            linger_ns: cli.linger,
            pcap_vdev: cli.pcap_reader == "vdev",
            decap: !cli.no_decap,
            compat_ndpi,
            eal_args: cli.eal_args,
        })
    }
}

/// Inputs to the EAL argument derivation, read from the machine by the caller.
#[derive(Clone, Debug)]
pub struct Machine {
    /// CPUs this process may run on.
    pub cpus: Vec<usize>,
    /// Free 2 MiB hugepages.
    pub free_hugepages: u64,
}

/// The lcore layout: main + workers + exporter, and which of them share a CPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LcoreMap {
    /// The CPU of each lcore, by lcore id.
    pub cpus: Vec<usize>,
    /// Worker lcore ids in order (worker i polls queue i).
    pub workers: Vec<u32>,
    pub exporter: u32,
    /// Per worker: shares its CPU with another busy lcore.
    pub worker_shares_cpu: Vec<bool>,
}

impl LcoreMap {
    /// The `--lcores` value, e.g. `0@0,1@1,2@0`.
    pub fn lcores_arg(&self) -> String {
        let parts: Vec<String> = self
            .cpus
            .iter()
            .enumerate()
            .map(|(lcore, cpu)| format!("{lcore}@{cpu}"))
            .collect();
        parts.join(",")
    }

    /// The CPU `lcore` runs on.
    pub fn cpu(&self, lcore: u32) -> Option<usize> {
        self.cpus.get(lcore as usize).copied()
    }
}

/// Map `workers` worker lcores and one exporter onto the CPUs: lcore 0 (main, mostly asleep) and
/// the exporter on the first CPU, workers spread over the others (all CPUs when there is only one).
pub fn map_lcores(cpus: &[usize], workers: usize) -> LcoreMap {
    let first = cpus.first().copied().unwrap_or(0);
    let pool: Vec<usize> = if cpus.len() > 1 {
        cpus[1..].to_vec()
    } else {
        vec![first]
    };
    let wcpu: Vec<usize> = (0..workers).map(|i| pool[i % pool.len()]).collect();
    let shares = wcpu
        .iter()
        .map(|c| *c == first || wcpu.iter().filter(|x| *x == c).count() > 1)
        .collect();
    // Lcore 0 (main), then the workers, then the exporter.
    let mut cpus = vec![first];
    cpus.extend(&wcpu);
    cpus.push(first);
    let exporter = workers as u32 + 1;
    LcoreMap {
        cpus,
        workers: (1..=workers as u32).collect(),
        exporter,
        worker_shares_cpu: shares,
    }
}

/// DPDK memory needed in MB for `queues` RX queues and `workers` rings.
pub fn memory_mb(queues: usize, workers: usize, ring_size: u32, record_size: usize) -> u32 {
    let pool = queues as u64 * crate::config::MBUFS_PER_QUEUE as u64 * 2560;
    let rings = workers as u64 * ring_size.next_power_of_two() as u64 * record_size as u64;
    let mb = (pool + rings) / (1 << 20) + 128;
    mb.next_multiple_of(64) as u32
}

/// Mbufs in the pool per RX queue: descriptors + bursts in flight + per-lcore caches.
pub const MBUFS_PER_QUEUE: u32 = 4095;
pub const RX_DESC: u16 = 1024;

/// Derive the EAL argv for the vdev modes.
pub fn eal_args_for(
    cfg: &Config,
    vdevs: &[String],
    map: &LcoreMap,
    machine: &Machine,
    mem_mb: u32,
) -> Result<Vec<String>, String> {
    let mut a = vec![
        "--lcores".to_string(),
        map.lcores_arg(),
        "--no-pci".to_string(),
        "--log-level=notice".to_string(),
    ];
    for v in vdevs {
        a.push("--vdev".into());
        a.push(v.clone());
    }
    let pages_needed = (mem_mb as u64).div_ceil(2);
    let huge_ok = machine.free_hugepages >= pages_needed;
    if cfg.huge && !huge_ok {
        return Err(format!(
            "--huge: {} free 2 MiB hugepages, {} needed (reserve them: scripts/hugepages.sh {})",
            machine.free_hugepages, pages_needed, pages_needed
        ));
    }
    if huge_ok && !cfg.no_huge {
        // In-memory: no shared config or hugepage files left behind.
        a.push("--in-memory".into());
    } else {
        a.push("--no-huge".into());
        a.push("--no-shconf".into());
    }
    a.push("-m".into());
    a.push(mem_mb.to_string());
    Ok(a)
}

/// Build the net_pcap vdev string: one RX queue per capture file.
pub fn pcap_vdev(files: &[PathBuf]) -> Result<String, String> {
    let mut s = String::from("net_pcap0");
    for f in files {
        let p = f.to_string_lossy();
        if p.contains(',') || p.contains('=') {
            return Err(format!(
                "capture path {p}: ',' and '=' cannot be passed through the pcap vdev arguments"
            ));
        }
        s.push_str(",rx_pcap=");
        s.push_str(&p);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), 500_000_000);
        assert_eq!(parse_duration("30s").unwrap(), 30_000_000_000);
        assert_eq!(parse_duration("5m").unwrap(), 300_000_000_000);
        assert_eq!(parse_duration("1.5s").unwrap(), 1_500_000_000);
        assert_eq!(parse_duration("0").unwrap(), 0);
        assert!(parse_duration("30").unwrap_err().contains("missing unit"));
        assert!(parse_duration("3x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("-3s").is_err());
    }

    #[test]
    fn lcore_map_on_two_cpus() {
        let m = map_lcores(&[0, 1], 1);
        assert_eq!(m.lcores_arg(), "0@0,1@1,2@0");
        assert_eq!(m.workers, vec![1]);
        assert_eq!(m.exporter, 2);
        assert_eq!((m.cpu(1), m.cpu(2), m.cpu(3)), (Some(1), Some(0), None));
        assert_eq!(m.worker_shares_cpu, vec![false]);
        let m = map_lcores(&[0, 1], 2);
        assert_eq!(m.lcores_arg(), "0@0,1@1,2@1,3@0");
        assert_eq!(m.worker_shares_cpu, vec![true, true]);
        let m = map_lcores(&[3], 1);
        assert_eq!(m.lcores_arg(), "0@3,1@3,2@3");
        assert_eq!(m.worker_shares_cpu, vec![true]);
    }

    fn cfg(args: &[&str]) -> Result<Config, String> {
        let mut v = vec!["flowprobe"];
        v.extend_from_slice(args);
        Config::from_cli(Cli::try_parse_from(v).map_err(|e| e.to_string())?)
    }

    #[test]
    fn cli_validation() {
        assert!(cfg(&[]).unwrap_err().contains("no packet source"));
        let c = cfg(&["--pcap", "a.pcap", "--pcap", "b.pcap"]).unwrap();
        assert_eq!(
            c.source,
            Source::Pcap(vec!["a.pcap".into(), "b.pcap".into()])
        );
        assert!(c.ring_wait);
        assert_eq!(c.stats_interval_ns, 15_000_000_000);
        assert_eq!(c.tcp_timeout_ns, 300_000_000_000);
        assert_eq!(c.udp_timeout_ns, 60_000_000_000);
        let c = cfg(&[
            "--pcap",
            "a",
            "--idle-timeout",
            "10s",
            "--udp-timeout",
            "3s",
        ])
        .unwrap();
        assert_eq!(
            (c.tcp_timeout_ns, c.udp_timeout_ns, c.icmp_timeout_ns),
            (10_000_000_000, 3_000_000_000, 10_000_000_000)
        );
        let c = cfg(&["--null", "--duration", "2s"]).unwrap();
        assert!(!c.ring_wait);
        assert_eq!(c.duration_ns, 2_000_000_000);
        assert!(cfg(&["--null", "--local-net", "10.0.0.0/40"]).is_err());
        assert!(cfg(&["--null", "--max-flows", "0"]).is_err());
        assert!(cfg(&["--null", "--idle-timeout", "abc"]).is_err());
        assert_eq!(
            cfg(&["--", "-l", "0-3"]).unwrap().eal_args,
            vec!["-l".to_string(), "0-3".to_string()]
        );
    }

    #[test]
    fn compat_ndpi_disables_every_timer() {
        let c = cfg(&["--pcap", "a.pcap", "--compat", "ndpi"]).unwrap();
        assert!(c.compat_ndpi && c.decap);
        assert_eq!(
            (
                c.tcp_timeout_ns,
                c.udp_timeout_ns,
                c.icmp_timeout_ns,
                c.other_timeout_ns,
                c.active_timeout_ns,
                c.tcp_close_linger_ns
            ),
            (0, 0, 0, 0, 0, 0)
        );
        assert!(!cfg(&["--pcap", "a.pcap"]).unwrap().compat_ndpi);
        assert!(cfg(&["--pcap", "a", "--compat", "wireshark"]).is_err());
        assert!(cfg(&["--null", "--compat", "ndpi"])
            .unwrap_err()
            .contains("--pcap"));
        assert!(
            cfg(&["--pcap", "a", "--compat", "ndpi", "--pcap-reader", "vdev"])
                .unwrap_err()
                .contains("built-in")
        );
        for other in [
            ["--no-decap", ""],
            ["--idle-timeout", "5s"],
            ["--udp-timeout", "5s"],
        ] {
            let mut a = vec!["--pcap", "a", "--compat", "ndpi"];
            a.extend(other.iter().filter(|s| !s.is_empty()));
            assert!(cfg(&a).is_err(), "{other:?}");
        }
    }

    #[test]
    fn output_options() {
        let c = cfg(&["--null"]).unwrap();
        assert_eq!(
            c.outputs,
            vec![OutputSpec::parse("-", Format::Netify).unwrap()]
        );
        assert_eq!(c.sink_options, SinkOptions::default());
        let c = cfg(&[
            "--null",
            "--format",
            "netobserv",
            "-o",
            "-",
            "-o",
            "netify:file:/tmp/x.json",
            "--output",
            "tcp://127.0.0.1:9000",
            "--subnet-label",
            "10.0.0.0/8=corp",
            "--output-rotate-size",
            "100M",
            "--output-rotate-keep",
            "3",
            "--output-buffer",
            "64K",
            "--output-drain-timeout",
            "1s",
        ])
        .unwrap();
        let f: Vec<_> = c.outputs.iter().map(|o| o.format).collect();
        assert_eq!(f, [Format::NetObserv, Format::Netify, Format::NetObserv]);
        assert_eq!(c.sink_options.rotate_size, 100 << 20);
        assert_eq!(c.sink_options.rotate_keep, 3);
        assert_eq!(c.sink_options.buffer_bytes, 64 << 10);
        assert_eq!(c.sink_options.drain_timeout.as_secs(), 1);
        assert_eq!(
            c.subnet_labels
                .label(4, &[10, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Some("corp")
        );
        assert!(cfg(&["--null", "-o", "a.json", "-o", "file:a.json"])
            .unwrap_err()
            .contains("twice"));
        assert!(cfg(&["--null", "-o", "tcp://nohost"]).is_err());
        assert!(cfg(&["--null", "--subnet-label", "10.0.0.0/8"]).is_err());
        assert!(cfg(&["--null", "--format", "ipfix"]).is_err());
        let c = cfg(&[
            "--null",
            "-o",
            "kafka://127.0.0.1:9092/flows",
            "--kafka-compression",
            "gzip",
            "--kafka-opt",
            "acks=all",
            "--kafka-opt",
            "client.id=a=b",
        ])
        .unwrap();
        assert_eq!(c.outputs[0].format, Format::Netify);
        assert_eq!(c.sink_options.kafka.compression, "gzip");
        assert_eq!(
            c.sink_options.kafka.props,
            vec![
                ("acks".to_string(), "all".to_string()),
                ("client.id".to_string(), "a=b".to_string())
            ]
        );
        assert!(cfg(&["--null", "--kafka-opt", "acks"])
            .unwrap_err()
            .contains("KEY=VALUE"));
        assert!(cfg(&["--null", "--kafka-compression", "brotli"]).is_err());
    }

    #[test]
    fn eal_args_choose_memory_mode() {
        let c = cfg(&["--null"]).unwrap();
        let map = map_lcores(&[0, 1], 1);
        let no = Machine {
            cpus: vec![0, 1],
            free_hugepages: 0,
        };
        let a = eal_args_for(&c, &["net_null0".into()], &map, &no, 256).unwrap();
        assert!(a.contains(&"--no-huge".to_string()));
        assert!(a.contains(&"--no-shconf".to_string()));
        let yes = Machine {
            cpus: vec![0, 1],
            free_hugepages: 1024,
        };
        let a = eal_args_for(&c, &["net_null0".into()], &map, &yes, 256).unwrap();
        assert!(a.contains(&"--in-memory".to_string()));
        let c = cfg(&["--null", "--huge"]).unwrap();
        assert!(eal_args_for(&c, &[], &map, &no, 256)
            .unwrap_err()
            .contains("hugepages"));
    }

    #[test]
    fn pcap_vdev_string() {
        assert_eq!(
            pcap_vdev(&["/a.pcap".into(), "/b.pcap".into()]).unwrap(),
            "net_pcap0,rx_pcap=/a.pcap,rx_pcap=/b.pcap"
        );
        assert!(pcap_vdev(&["/a,b.pcap".into()]).is_err());
    }
}
