//! gentrace: writes a deterministic synthetic Ethernet capture (classic pcap) and, optionally, the
//! per-flow ground truth as JSON, for exact end-to-end checks of the probe.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use flowprobe::pcapfile::{PcapWriter, LINKTYPE_ETHERNET};
use flowprobe::synth::trace::DEFAULT_START_TS_NS;
use flowprobe::synth::{FlowKind, TraceConfig, TraceGen};

#[derive(Parser, Debug)]
#[command(about = "Generate a synthetic pcap trace with per-flow ground truth")]
struct Args {
    /// Packets to generate.
    #[arg(long)]
    packets: u64,
    /// Flows open at once.
    #[arg(long)]
    flows: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fraction of flows over IPv6.
    #[arg(long, default_value_t = 0.12)]
    ipv6_share: f64,
    /// Fraction of flows 802.1Q-tagged.
    #[arg(long, default_value_t = 0.10)]
    vlan_share: f64,
    /// Zipf exponent of flow activity (0 = all open flows equally busy).
    #[arg(long, default_value_t = 1.1)]
    zipf: f64,
    /// Timestamp of the first packet, seconds since the Unix epoch (default 2026-01-01T00:00:00Z).
    #[arg(long, default_value_t = (DEFAULT_START_TS_NS / 1_000_000_000) as f64)]
    start_ts: f64,
    /// Packet rate that spaces the timestamps.
    #[arg(long, default_value_t = 100_000)]
    pps: u64,
    /// Write nanosecond timestamps (magic 0xa1b23c4d) instead of microseconds.
    #[arg(long)]
    nanosecond: bool,
    #[arg(long)]
    out: PathBuf,
    /// Also write the ground truth JSON here.
    #[arg(long)]
    truth: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gentrace: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(a: &Args) -> Result<(), String> {
    for (name, v) in [
        ("--ipv6-share", a.ipv6_share),
        ("--vlan-share", a.vlan_share),
    ] {
        if !(0.0..=1.0).contains(&v) {
            return Err(format!("{name} must be within 0..=1, got {v}"));
        }
    }
    if a.flows == 0 || a.pps == 0 {
        return Err("--flows and --pps must be positive".to_string());
    }
    if !(a.start_ts >= 0.0 && a.start_ts < 4_294_967_296.0) {
        return Err(format!(
            "--start-ts {} is outside the range of classic pcap",
            a.start_ts
        ));
    }
    if !(a.zipf >= 0.0 && a.zipf.is_finite()) {
        return Err(format!(
            "--zipf must be a non-negative number, got {}",
            a.zipf
        ));
    }
    let cfg = TraceConfig {
        packets: a.packets,
        concurrent_flows: a.flows,
        seed: a.seed,
        start_ts_ns: (a.start_ts * 1e9).round() as u64,
        pps: a.pps,
        ipv6_share: a.ipv6_share,
        vlan_share: a.vlan_share,
        zipf_s: a.zipf,
    };
    let t0 = Instant::now();
    let file = File::create(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let io_err = |e: std::io::Error| format!("{}: {e}", a.out.display());
    let mut w = PcapWriter::new(
        BufWriter::with_capacity(4 << 20, file),
        LINKTYPE_ETHERNET,
        a.nanosecond,
        65535,
    )
    .map_err(io_err)?;
    let mut gen = TraceGen::new(cfg);
    let mut frame = Vec::with_capacity(2048);
    while let Some(ts) = gen.next_into(&mut frame) {
        w.write_packet(ts, &frame).map_err(io_err)?;
    }
    w.into_inner()
        .into_inner()
        .map_err(|e| io_err(e.into_error()))?;
    let truth = gen.finish();
    let elapsed = t0.elapsed().as_secs_f64();

    if let Some(path) = &a.truth {
        let err = |e: std::io::Error| format!("{}: {e}", path.display());
        let mut tw = BufWriter::with_capacity(1 << 20, File::create(path).map_err(err)?);
        // Written flow by flow, so a multi-million-flow truth is never one giant JSON value.
        write!(
            tw,
            "{{\"packets\":{},\"bytes\":{},\"flows\":[",
            truth.packets, truth.bytes
        )
        .map_err(err)?;
        for (i, f) in truth.flows.iter().enumerate() {
            if i > 0 {
                tw.write_all(b",\n").map_err(err)?;
            } else {
                tw.write_all(b"\n").map_err(err)?;
            }
            serde_json::to_writer(&mut tw, &f.to_json())
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        tw.write_all(b"\n]}\n").map_err(err)?;
        tw.flush().map_err(err)?;
    }

    let kinds: Vec<String> = FlowKind::ALL
        .iter()
        .map(|k| {
            format!(
                "{} {}",
                k.name(),
                truth.flows.iter().filter(|f| f.kind == *k).count()
            )
        })
        .collect();
    eprintln!(
        "gentrace: {} packets, {} bytes, {} flows ({}) -> {} in {:.2} s ({:.2} Mpps)",
        truth.packets,
        truth.bytes,
        truth.flows.len(),
        kinds.join(", "),
        a.out.display(),
        elapsed,
        truth.packets as f64 / elapsed.max(1e-9) / 1e6
    );
    Ok(())
}
