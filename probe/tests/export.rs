//! Export formats and sinks end to end: golden outputs of a hand-made capture in both formats,
//! the field-name schema, several outputs at once, file rotation, and a TCP collector that goes
//! away mid-replay (delivered + lost = produced).
//!
//! Golden files: `probe/tests/golden/`. After an intended change of the output, regenerate them
//! with `FLOWPROBE_BLESS=1 cargo test -p flowprobe --test export` and review the diff.

mod common;

use common::*;
use flowprobe::synth::builder::{build, FrameSpec, Payload, L4};
use flowprobe::synth::trace::TraceConfig;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MS: u64 = 1_000_000;

/// NetObserv reference field names (netobserv-flow-format.txt) that a NIC probe can fill, plus
/// the documented additions (`flowprobe::export::netobserv::ADDED_FIELDS`).
const NETOBSERV_REFERENCE: [&str; 29] = [
    "Bytes",
    "DnsFlags",
    "DnsFlagsResponseCode",
    "DnsId",
    "DnsLatencyMs",
    "Dscp",
    "DstAddr",
    "DstMac",
    "DstPort",
    "DstSubnetLabel",
    "Duplicate",
    "Flags",
    "FlowDirection",
    "IcmpCode",
    "IcmpType",
    "IfDirections",
    "Interfaces",
    "Packets",
    "Proto",
    "SrcAddr",
    "SrcMac",
    "SrcPort",
    "SrcSubnetLabel",
    "TimeFlowEndMs",
    "TimeFlowRttNs",
    "TimeFlowStartMs",
    "TimeReceived",
    "_HashId",
    "_RecordType",
];

fn frame(src: &str, dst: &str, l4: L4, mac: u8, dscp: u8) -> Vec<u8> {
    let mut s = FrameSpec::new(
        src.parse::<IpAddr>().unwrap(),
        dst.parse::<IpAddr>().unwrap(),
        l4,
    );
    s.src_mac = [0x02, 0, 0, 0, 0, mac];
    s.dst_mac = [0x02, 0, 0, 0, 0, mac ^ 1];
    s.dscp = dscp;
    build(&s)
}

fn seg(sport: u16, dport: u16, flags: u8, seq: u32, ack: u32, len: usize) -> L4 {
    L4::Tcp {
        sport,
        dport,
        seq,
        ack,
        flags,
        window: 1000,
        options: Vec::new(),
        payload_len: len,
    }
}

fn dns(id: u16, flags: u16) -> Payload {
    let mut b = vec![0u8; 12];
    b[0..2].copy_from_slice(&id.to_be_bytes());
    b[2..4].copy_from_slice(&flags.to_be_bytes());
    b[5] = 1; // QDCOUNT
    Payload::Bytes(b)
}

/// The golden capture: a TCP connection local → remote (handshake, data both ways, FIN both
/// ways), a DNS query answered NXDOMAIN between two local hosts, and an ICMP echo from outside.
fn golden_capture(path: &Path) {
    let (c, s) = ("10.0.0.1", "198.51.100.10");
    let t = |ms: u64| T0 + ms * MS;
    let frames = vec![
        (t(0), frame(c, s, seg(40000, 80, 0x02, 100, 0, 0), 0x0a, 10)),
        (
            t(2),
            frame(s, c, seg(80, 40000, 0x12, 500, 101, 0), 0x0b, 0),
        ),
        (
            t(3),
            frame(c, s, seg(40000, 80, 0x10, 101, 501, 0), 0x0a, 10),
        ),
        (
            t(10),
            frame(c, s, seg(40000, 80, 0x18, 101, 501, 100), 0x0a, 10),
        ),
        (
            t(20),
            frame(s, c, seg(80, 40000, 0x18, 501, 201, 500), 0x0b, 0),
        ),
        (
            t(30),
            frame(
                c,
                "10.0.0.53",
                L4::Udp {
                    sport: 5353,
                    dport: 53,
                    payload: dns(0x1234, 0x0100),
                },
                0x0a,
                0,
            ),
        ),
        (
            t(42),
            frame(
                "10.0.0.53",
                c,
                L4::Udp {
                    sport: 53,
                    dport: 5353,
                    payload: dns(0x1234, 0x8183),
                },
                0x0c,
                0,
            ),
        ),
        (
            t(50),
            frame(
                "203.0.113.9",
                c,
                L4::Icmp {
                    ty: 8,
                    code: 0,
                    id: 7,
                    seq: 1,
                    payload_len: 56,
                },
                0x0d,
                0,
            ),
        ),
        (
            t(1500),
            frame(c, s, seg(40000, 80, 0x11, 201, 1001, 0), 0x0a, 10),
        ),
        (
            t(1501),
            frame(s, c, seg(80, 40000, 0x11, 1001, 202, 0), 0x0b, 0),
        ),
        (
            t(1502),
            frame(c, s, seg(40000, 80, 0x10, 202, 1002, 0), 0x0a, 10),
        ),
        // Late packet: moves capture time past the linger so the TCP flow ends as closed.
        (
            t(3000),
            frame(
                c,
                "10.0.0.53",
                L4::Udp {
                    sport: 5353,
                    dport: 53,
                    payload: dns(0x1235, 0x0100),
                },
                0x0a,
                0,
            ),
        ),
    ];
    write_frames(path, &frames);
}

/// Replace the value of `"TimeReceived":N` by 0 (the only wall-clock field).
fn normalize(text: &str) -> String {
    const K: &str = "\"TimeReceived\":";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(K) {
        out.push_str(&rest[..i + K.len()]);
        rest = rest[i + K.len()..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push('0');
    }
    out.push_str(rest);
    out
}

fn golden(name: &str, actual: &str) {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("FLOWPROBE_BLESS").is_some() {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e} (FLOWPROBE_BLESS=1 creates it)", p.display()));
    if expected != actual {
        for (i, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
            if e != a {
                panic!("{name} line {}:\nexpected {e}\nactual   {a}", i + 1);
            }
        }
        panic!(
            "{name}: {} lines expected, {} produced",
            expected.lines().count(),
            actual.lines().count()
        );
    }
}

fn lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {l}: {e}")))
        .collect()
}

fn keys(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Value::Object(m) = v {
        for (k, x) in m {
            let name = format!("{prefix}{k}");
            keys(x, &format!("{name}."), out);
            out.insert(name);
        }
    }
}

#[test]
fn golden_outputs_in_both_formats_and_schema() {
    let dir = scratch("golden");
    let cap = dir.join("g.pcap");
    golden_capture(&cap);
    let (a, b) = (dir.join("netify.json"), dir.join("netobserv.json"));
    let r = run(&[
        "--pcap",
        cap.to_str().unwrap(),
        "--stats-interval",
        "1s",
        "--tcp-close-linger",
        "100ms",
        "--subnet-label",
        "10.0.0.0/24=lab",
        "--subnet-label",
        "198.51.100.0/24=web",
        "-o",
        &format!("netify:{}", a.display()),
        "-o",
        &format!("netobserv:file:{}", b.display()),
    ]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    assert!(r.records.is_empty(), "nothing on stdout");
    let netify_text = std::fs::read_to_string(&a).unwrap();
    let netobserv_text = std::fs::read_to_string(&b).unwrap();
    let sinks = r.summary["output"]["sinks"].as_array().unwrap();
    assert_eq!(sinks.len(), 2);
    assert_eq!(sinks[0]["format"], "netify");
    assert_eq!(sinks[1]["format"], "netobserv");
    assert_eq!(sinks[0]["records"], netify_text.lines().count() as u64);
    assert_eq!(sinks[1]["records"], netobserv_text.lines().count() as u64);
    assert_eq!(sinks[0]["bytes"], netify_text.len() as u64);
    for s in sinks {
        assert_eq!(s["lost"], 0);
        assert_eq!(s["errors"], 0);
    }
    golden("netify.jsonl", &netify_text);
    golden("netobserv.jsonl", &normalize(&netobserv_text));

    // Real values (independent of the golden files).
    let no = lines(&b);
    let tcp_end = no
        .iter()
        .find(|v| v["_RecordType"] == "endConnection" && v["Proto"] == 6)
        .expect("TCP endConnection");
    assert_eq!(tcp_end["SrcAddr"], "10.0.0.1");
    assert_eq!(tcp_end["DstAddr"], "198.51.100.10");
    assert_eq!(tcp_end["SrcSubnetLabel"], "lab");
    assert_eq!(tcp_end["DstSubnetLabel"], "web");
    assert_eq!(tcp_end["Packets"], 8);
    assert_eq!(tcp_end["Packets_AB"], 5);
    assert_eq!(tcp_end["Packets_BA"], 3);
    assert_eq!(tcp_end["EndReason"], "closed");
    assert_eq!(tcp_end["FlowDirection"], 1);
    assert_eq!(tcp_end["SrcMac"], "02:00:00:00:00:0a");
    assert_eq!(tcp_end["DstMac"], "02:00:00:00:00:0b");
    assert_eq!(tcp_end["TimeFlowStartMs"], T0 / MS);
    assert_eq!(tcp_end["TimeFlowEndMs"], T0 / MS + 1502);
    let hash = tcp_end["_HashId"].clone();
    let tcp_logs: Vec<&Value> = no
        .iter()
        .filter(|v| v["_RecordType"] == "flowLog" && v["_HashId"] == hash)
        .collect();
    let sum = |src: &str, k: &str| -> u64 {
        tcp_logs
            .iter()
            .filter(|v| v["SrcAddr"] == src)
            .map(|v| v[k].as_u64().unwrap())
            .sum()
    };
    assert_eq!(sum("10.0.0.1", "Packets"), 5, "flowLogs sum to the totals");
    assert_eq!(sum("198.51.100.10", "Packets"), 3);
    assert_eq!(
        sum("10.0.0.1", "Bytes"),
        tcp_end["Bytes_AB"].as_u64().unwrap()
    );
    assert_eq!(
        sum("198.51.100.10", "Bytes"),
        tcp_end["Bytes_BA"].as_u64().unwrap()
    );
    for v in &tcp_logs {
        let ingress = v["SrcAddr"] == "198.51.100.10";
        assert_eq!(v["FlowDirection"], if ingress { 0 } else { 1 });
    }
    let icmp = no.iter().find(|v| v["Proto"] == 1).expect("ICMP record");
    assert_eq!(icmp["IcmpType"], 8);
    assert_eq!(icmp["FlowDirection"], 0);
    let inner = no
        .iter()
        .find(|v| v["Proto"] == 17 && v["_RecordType"] == "newConnection")
        .unwrap();
    assert_eq!(inner["FlowDirection"], 2, "both ends local");
    assert_eq!(inner["DstPort"], 53);

    // Schema: every emitted name is in the reference list or a documented addition.
    let mut allowed: BTreeSet<String> = NETOBSERV_REFERENCE.iter().map(|s| s.to_string()).collect();
    allowed.extend(
        flowprobe::export::netobserv::ADDED_FIELDS
            .iter()
            .map(|s| s.to_string()),
    );
    let mut seen = BTreeSet::new();
    for v in &no {
        keys(v, "", &mut seen);
        assert!(v["TimeReceived"].as_u64().unwrap() > 1_700_000_000);
        assert_eq!(v["Duplicate"], false);
    }
    let unknown: Vec<_> = seen.difference(&allowed).collect();
    assert!(
        unknown.is_empty(),
        "undocumented NetObserv fields: {unknown:?}"
    );
    for f in flowprobe::export::netobserv::FIELDS {
        assert!(
            allowed.contains(f),
            "{f} is neither reference nor documented"
        );
    }

    let netify_allowed: BTreeSet<&str> = [
        "type",
        "interface",
        "internal",
        "reason",
        "flow",
        "flow.digest",
        "flow.digest_prev",
        "flow.ip_version",
        "flow.ip_protocol",
        "flow.vlan_id",
        "flow.local_origin",
        "flow.local_ip",
        "flow.local_mac",
        "flow.local_port",
        "flow.other_ip",
        "flow.other_mac",
        "flow.other_port",
        "flow.other_type",
        "flow.first_seen_at",
        "flow.last_seen_at",
        "flow.detection_packets",
        "flow.local_bytes",
        "flow.local_packets",
        "flow.local_rate",
        "flow.other_bytes",
        "flow.other_packets",
        "flow.other_rate",
        "flow.tcp",
        "flow.tcp.resets",
        "flow.tcp.retrans",
        "flow.tcp.seq_errors",
        "flow.total_bytes",
        "flow.total_packets",
        "flow.tunnel",
        "flow.tunnel.type",
        "flow.tunnel.id",
        "flow.tunnel.outer_ip_version",
        "flow.tunnel.outer_src_ip",
        "flow.tunnel.outer_dst_ip",
    ]
    .into_iter()
    .collect();
    let mut seen = BTreeSet::new();
    let ny = lines(&a);
    for v in &ny {
        keys(v, "", &mut seen);
    }
    for k in &seen {
        assert!(
            netify_allowed.contains(k.as_str()),
            "undocumented Netify field {k}"
        );
    }
    // The Netify view of the same traffic: the TCP purge closes with the same totals.
    let purge = ny
        .iter()
        .find(|v| v["type"] == "flow_purge" && v["flow"].get("tcp").is_some())
        .unwrap();
    assert_eq!(purge["reason"], "closed");
    assert_eq!(purge["flow"]["total_packets"], 8);
    assert_eq!(purge["flow"]["total_bytes"], tcp_end["Bytes"]);
}

#[test]
fn global_format_and_file_rotation() {
    let dir = scratch("rotate");
    let cap = dir.join("r.pcap");
    write_trace(
        &cap,
        TraceConfig {
            packets: 3000,
            seed: 5,
            ..Default::default()
        },
    );
    let out = dir.join("r.json");
    let r = run(&[
        "--pcap",
        cap.to_str().unwrap(),
        "--format",
        "netobserv",
        "-o",
        out.to_str().unwrap(),
        "--output-rotate-size",
        "16K",
        "--output-rotate-keep",
        "1000",
    ]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let s = &r.summary["output"]["sinks"][0];
    let rotations = s["rotations"].as_u64().unwrap();
    assert!(rotations >= 2, "{s}");
    // Every file is under the limit, holds whole lines, and together they hold every line.
    let mut files = vec![out.clone()];
    for i in 1..=rotations {
        files.push(PathBuf::from(format!("{}.{i}", out.display())));
    }
    assert!(!Path::new(&format!("{}.{}", out.display(), rotations + 1)).exists());
    let mut total_lines = 0u64;
    let mut packets = 0u64;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            text.len() <= 16 << 10,
            "{} is {} bytes",
            f.display(),
            text.len()
        );
        assert!(text.ends_with('\n'));
        for l in text.lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            if v["_RecordType"] == "flowLog" {
                packets += v["Packets"].as_u64().unwrap();
            }
            total_lines += 1;
        }
    }
    assert_eq!(total_lines, s["records"].as_u64().unwrap());
    assert_eq!(
        packets, 3000,
        "the flowLogs of all files sum to the capture"
    );
}

/// A collector on 127.0.0.1: reads `first` lines from its first connection, then goes away in
/// order (half-close, read to EOF, stop listening) for `down`, listens again on the same port and
/// reads everything until EOF. Returns the lines delivered.
fn collector(listener: TcpListener, first: usize, down: Duration) -> (u64, bool) {
    let port = listener.local_addr().unwrap().port();
    let deadline = Instant::now() + Duration::from_secs(60);
    let (c, _) = listener.accept().unwrap();
    let mut n = 0u64;
    let mut r = BufReader::new(c);
    let mut line = String::new();
    while (n as usize) < first {
        line.clear();
        if r.read_line(&mut line).unwrap() == 0 {
            // flowprobe finished before the stop point: nothing more to test on this connection.
            return (n, false);
        }
        assert!(line.ends_with('\n'));
        n += 1;
    }
    drop(listener);
    r.get_ref().shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    n += rest.iter().filter(|&&b| b == b'\n').count() as u64;
    std::thread::sleep(down);
    let listener = loop {
        match TcpListener::bind(("127.0.0.1", port)) {
            Ok(l) => break l,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("rebind {port}: {e}"),
        }
    };
    listener.set_nonblocking(true).unwrap();
    let c: TcpStream = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("accept: {e}"),
        }
    };
    c.set_nonblocking(false).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut all = Vec::new();
    BufReader::new(c).read_to_end(&mut all).unwrap();
    assert!(all.is_empty() || all.ends_with(b"\n"), "whole lines only");
    n += all.iter().filter(|&&b| b == b'\n').count() as u64;
    (n, true)
}

#[test]
fn tcp_collector_restart_mid_replay_accounts_every_record() {
    let dir = scratch("tcpsink");
    let cap = dir.join("t.pcap");
    write_trace(
        &cap,
        TraceConfig {
            packets: 60_000,
            concurrent_flows: 2000,
            seed: 9,
            ..Default::default()
        },
    );
    // A small receive window: the probe cannot have its whole output in the kernel's buffers
    // (several MB on loopback) before the collector goes away, however late the collector
    // thread runs, so the restart really is mid-replay.
    let listener = {
        use socket2::{Domain, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.set_recv_buffer_size(4096).unwrap();
        // As std's bind does: the collector rebinds this port while the old connection lingers.
        s.set_reuse_address(true).unwrap();
        s.bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
        s.listen(16).unwrap();
        TcpListener::from(s)
    };
    let port = listener.local_addr().unwrap().port();
    let coll = std::thread::spawn(move || collector(listener, 200, Duration::from_millis(400)));
    let out = Command::new("timeout")
        .args([
            "-s",
            "KILL",
            "120",
            env!("CARGO_BIN_EXE_flowprobe"),
            "--no-huge",
        ])
        .args([
            "--metrics-listen",
            "off",
            "--pcap",
            cap.to_str().unwrap(),
            "--ring-full",
            "wait",
            "--output",
            &format!("tcp://127.0.0.1:{port}"),
            "--output-buffer",
            "16K",
            "--output-drain-timeout",
            "20s",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    let summary: Value = stderr
        .lines()
        .filter(|l| l.contains("\"type\":\"summary\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .next_back()
        .expect("summary line");
    let (delivered, restarted) = coll.join().unwrap();
    let recs = &summary["records"];
    let produced: u64 = ["flow", "flow_stats", "flow_purge"]
        .iter()
        .map(|k| recs[k]["exported"].as_u64().unwrap())
        .sum();
    let dropped: u64 = ["flow", "flow_stats", "flow_purge"]
        .iter()
        .map(|k| recs[k]["dropped"].as_u64().unwrap())
        .sum();
    assert_eq!(
        dropped, 0,
        "--ring-full wait loses nothing before the exporter"
    );
    let s = &summary["output"]["sinks"][0];
    let (written, lost) = (s["records"].as_u64().unwrap(), s["lost"].as_u64().unwrap());
    assert!(
        restarted,
        "the collector stopped mid-replay and came back: {s}"
    );
    assert!(produced > 2000, "{produced}");
    assert_eq!(
        delivered, written,
        "every line written reached the collector: {s}"
    );
    assert_eq!(delivered + lost, produced, "{s}");
    assert!(s["reconnects"].as_u64().unwrap() >= 1, "{s}");
    assert!(
        lost > 0,
        "a 16 KiB buffer overflows while the collector is away: {s}"
    );
}
