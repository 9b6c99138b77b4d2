//! Helpers for the integration tests: write captures, run the built binary, read its records.
#![allow(dead_code)]

use flowprobe::pcapfile::{PcapWriter, LINKTYPE_ETHERNET};
use flowprobe::synth::builder::{build, FrameSpec, Payload, L4};
use flowprobe::synth::trace::{TraceConfig, TraceGen, TraceTruth};
use serde_json::Value;
use std::collections::HashMap;
use std::io::BufWriter;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const S: u64 = 1_000_000_000;
pub const T0: u64 = 1_767_225_600 * S;

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("flowprobe-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Write a generated trace and return its ground truth.
pub fn write_trace(path: &Path, cfg: TraceConfig) -> TraceTruth {
    let f = std::fs::File::create(path).unwrap();
    let mut w = PcapWriter::new(BufWriter::new(f), LINKTYPE_ETHERNET, false, 65535).unwrap();
    let mut gen = TraceGen::new(cfg);
    let mut frame = Vec::new();
    while let Some(ts) = gen.next_into(&mut frame) {
        w.write_packet(ts, &frame).unwrap();
    }
    drop(w);
    gen.finish()
}

/// Write hand-made frames `(ts_ns, bytes)`.
pub fn write_frames(path: &Path, frames: &[(u64, Vec<u8>)]) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = PcapWriter::new(BufWriter::new(f), LINKTYPE_ETHERNET, false, 65535).unwrap();
    for (ts, b) in frames {
        w.write_packet(*ts, b).unwrap();
    }
}

pub fn tcp(
    src: &str,
    sport: u16,
    dst: &str,
    dport: u16,
    flags: u8,
    seq: u32,
    payload: usize,
) -> Vec<u8> {
    build(&FrameSpec::new(
        src.parse::<IpAddr>().unwrap(),
        dst.parse::<IpAddr>().unwrap(),
        L4::Tcp {
            sport,
            dport,
            seq,
            ack: 0,
            flags,
            window: 1000,
            options: Vec::new(),
            payload_len: payload,
        },
    ))
}

pub fn udp(src: &str, sport: u16, dst: &str, dport: u16, payload: usize) -> Vec<u8> {
    build(&FrameSpec::new(
        src.parse::<IpAddr>().unwrap(),
        dst.parse::<IpAddr>().unwrap(),
        L4::Udp {
            sport,
            dport,
            payload: Payload::Len(payload),
        },
    ))
}

pub struct Run {
    pub code: i32,
    pub records: Vec<Value>,
    pub summary: Value,
    pub stderr: String,
}

/// Run flowprobe with `args` (no hugepages: tests must not depend on them).
pub fn run(args: &[&str]) -> Run {
    // Every run is bounded: a hung probe fails the test instead of hanging the suite.
    let out = Command::new("timeout")
        .args([
            "-s",
            "KILL",
            "120",
            env!("CARGO_BIN_EXE_flowprobe"),
            "--no-huge",
        ])
        // Tests run in parallel: an ephemeral metrics port each.
        .args(["--metrics-listen", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run flowprobe");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let records = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .collect();
    let summary = stderr
        .lines()
        .filter(|l| l.starts_with("{\"") && l.contains("\"type\":\"summary\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .next_back()
        .unwrap_or(Value::Null);
    Run {
        code: out.status.code().unwrap_or(-1),
        records,
        summary,
        stderr,
    }
}

/// Per-digest totals rebuilt from the records: (initiator, responder) packets and bytes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Totals {
    pub proto: u64,
    pub vlan: u64,
    pub initiator: String,
    pub responder: String,
    pub init_packets: u64,
    pub init_bytes: u64,
    pub resp_packets: u64,
    pub resp_bytes: u64,
    pub total_packets: u64,
    pub purges: u64,
    pub reasons: Vec<String>,
}

/// Join `flow`, `flow_stats` and `flow_purge` records by digest.
pub fn totals(records: &[Value]) -> HashMap<String, Totals> {
    let mut m: HashMap<String, Totals> = HashMap::new();
    let mut origin: HashMap<String, bool> = HashMap::new();
    for r in records {
        let f = &r["flow"];
        let d = f["digest"].as_str().unwrap().to_string();
        match r["type"].as_str().unwrap() {
            "flow" => {
                let lo = f["local_origin"].as_bool().unwrap();
                origin.insert(d.clone(), lo);
                let ep = |s: &str| {
                    format!(
                        "{}:{}",
                        f[format!("{s}_ip")].as_str().unwrap(),
                        f[format!("{s}_port")]
                    )
                };
                let t = m.entry(d).or_default();
                t.proto = f["ip_protocol"].as_u64().unwrap();
                t.vlan = f["vlan_id"].as_u64().unwrap();
                let (i, o) = if lo {
                    ("local", "other")
                } else {
                    ("other", "local")
                };
                t.initiator = ep(i);
                t.responder = ep(o);
            }
            kind @ ("flow_stats" | "flow_purge") => {
                let lo = *origin.get(&d).expect("stats/purge before its flow record");
                let t = m.entry(d).or_default();
                let g = |k: &str| f[k].as_u64().unwrap();
                let (ip, ib, rp, rb) = if lo {
                    (
                        g("local_packets"),
                        g("local_bytes"),
                        g("other_packets"),
                        g("other_bytes"),
                    )
                } else {
                    (
                        g("other_packets"),
                        g("other_bytes"),
                        g("local_packets"),
                        g("local_bytes"),
                    )
                };
                t.init_packets += ip;
                t.init_bytes += ib;
                t.resp_packets += rp;
                t.resp_bytes += rb;
                if kind == "flow_purge" {
                    t.purges += 1;
                    t.total_packets += g("total_packets");
                    t.reasons.push(r["reason"].as_str().unwrap().to_string());
                }
            }
            other => panic!("unknown record type {other}"),
        }
    }
    m
}

pub fn count(records: &[Value], ty: &str) -> usize {
    records.iter().filter(|r| r["type"] == ty).count()
}

/// GET `path` from the HTTP server at `addr` (the metrics endpoint); asserts a 200, returns the
/// body.
pub fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}
