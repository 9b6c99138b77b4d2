//! IPFIX messages checked by real implementations: tshark decodes them without an error, and
//! nfcapd receives them over UDP on loopback so that `nfdump -o csv` shows the flows we sent.
//! Each test skips, saying so, where the tool is not installed.

mod common;

use flowprobe::flow::{DirCounters, EndReason, FlowRecord, RecordKind};
use flowprobe::ipfix::IpfixEncoder;
use flowprobe::pcapfile::{PcapWriter, LINKTYPE_ETHERNET};
use flowprobe::synth::builder::{build, FrameSpec, Payload, L4};
use std::net::{IpAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Flows with distinct ports and known counters, IPv4 and IPv6.
fn records(n: u16) -> Vec<FlowRecord> {
    (0..n)
        .map(|i| {
            let v6 = i % 4 == 3;
            let mut r = FlowRecord {
                kind: RecordKind::End,
                reason: EndReason::Closed,
                ip_version: if v6 { 6 } else { 4 },
                proto: if i % 2 == 0 { 6 } else { 17 },
                init_port: 30000 + i,
                resp_port: 53 + i % 3,
                first_ms: 1_767_225_600_000 + i as u64,
                last_ms: 1_767_225_600_900 + i as u64,
                ..Default::default()
            };
            if v6 {
                r.init_ip = "fd00::1".parse::<std::net::Ipv6Addr>().unwrap().octets();
                r.resp_ip = "2001:db8::2"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
                    .octets();
            } else {
                r.init_ip[..4].copy_from_slice(&[10, 0, (i >> 8) as u8, i as u8]);
                r.resp_ip[..4].copy_from_slice(&[198, 51, 100, 7]);
            }
            r.dir[0] = DirCounters {
                delta_packets: 1 + i as u64,
                delta_bytes: 100 * (1 + i as u64),
                ..Default::default()
            };
            r.dir[1] = DirCounters {
                delta_packets: 2 + i as u64,
                delta_bytes: 1000 * (2 + i as u64),
                ..Default::default()
            };
            r
        })
        .collect()
}

fn messages(recs: &[FlowRecord]) -> Vec<Vec<u8>> {
    let mut e = IpfixEncoder::new(42, 1400);
    let mut out = vec![e.template_message(1_767_225_601)];
    for r in recs {
        e.add(r, 1_767_225_601, &mut out);
    }
    e.flush(1_767_225_601, &mut out);
    out
}

#[test]
fn tshark_decodes_without_errors() {
    if !have("tshark") {
        eprintln!(
            "SKIP tshark_decodes_without_errors: tshark not installed (Debian package tshark)"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("flowprobe-ipfix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cap = dir.join("ipfix.pcap");
    let f = std::fs::File::create(&cap).unwrap();
    let mut w = PcapWriter::new(f, LINKTYPE_ETHERNET, false, 65535).unwrap();
    let msgs = messages(&records(60));
    for (i, m) in msgs.iter().enumerate() {
        let frame = build(&FrameSpec::new(
            "127.0.0.1".parse::<IpAddr>().unwrap(),
            "127.0.0.1".parse::<IpAddr>().unwrap(),
            L4::Udp {
                sport: 40000,
                dport: 4739,
                payload: Payload::Bytes(m.clone()),
            },
        ));
        w.write_packet(1_767_225_601_000_000_000 + i as u64, &frame)
            .unwrap();
    }
    drop(w);
    let out = Command::new("tshark")
        .args([
            "-r",
            cap.to_str().unwrap(),
            "-d",
            "udp.port==4739,cflow",
            "-V",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for bad in ["Malformed", "Expert Info (Error", "Expert Info (Warn"] {
        assert!(!text.contains(bad), "tshark reports {bad}:\n{text}");
    }
    // 60 flows: every data record decoded, with the reverse (RFC 5103) elements.
    assert_eq!(
        text.matches("Biflow Direction: Initiator (1)").count(),
        60,
        "{text}"
    );
    assert_eq!(text.matches("(Reverse Type 1 BYTES)").count(), 60);
    assert!(text.contains("Octets: 2000 (Reverse Type 1 BYTES)"));
    assert!(text.contains("Flow End Reason: End of Flow detected (3)"));
}

/// A running nfcapd writing into `dir`, listening on a free loopback UDP port.
struct Nfcapd {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Nfcapd {
    fn start(dir: &std::path::Path) -> Nfcapd {
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("timeout")
            .args([
                "-s",
                "KILL",
                "90",
                "nfcapd",
                "-b",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-w",
            ])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(800));
        Nfcapd {
            child,
            port,
            dir: dir.to_path_buf(),
        }
    }

    /// Stop (SIGTERM makes nfcapd flush its file) and return the nfdump rows as
    /// (ipkt, ibyt, opkt, obyt).
    fn stop_and_read(mut self) -> Vec<[u64; 4]> {
        std::thread::sleep(Duration::from_millis(800));
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end && self.child.try_wait().ok().flatten().is_none() {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let mut rows = Vec::new();
        for f in std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
        {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            if !name.starts_with("nfcapd.") || name.contains("current") {
                continue;
            }
            let out = Command::new("nfdump")
                .args(["-r", f.to_str().unwrap(), "-q", "-o", "csv"])
                .output()
                .unwrap();
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                // nfdump 1.7 csv: ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,...
                let c: Vec<&str> = line.split(',').collect();
                if c.len() < 15 || !c[0].starts_with("20") {
                    continue;
                }
                let n = |i: usize| c[i].trim().parse::<u64>().unwrap_or(0);
                rows.push([n(11), n(12), n(13), n(14)]);
            }
        }
        rows
    }
}

#[test]
fn nfcapd_receives_and_nfdump_shows_the_flows() {
    if !have("nfcapd") || !have("nfdump") {
        eprintln!("SKIP nfcapd_receives_and_nfdump_shows_the_flows: nfdump not installed (Debian package nfdump)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("flowprobe-nfcapd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let nf = Nfcapd::start(&dir);
    let recs = records(60);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    for m in messages(&recs) {
        sock.send_to(&m, ("127.0.0.1", nf.port)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    let rows = nf.stop_and_read();
    let sum = |i: usize| rows.iter().map(|r| r[i]).sum::<u64>();
    assert_eq!(rows.len(), 60, "one nfdump row per flow");
    assert_eq!(
        sum(0),
        recs.iter().map(|r| r.dir[0].delta_packets).sum::<u64>()
    );
    assert_eq!(
        sum(1),
        recs.iter().map(|r| r.dir[0].delta_bytes).sum::<u64>()
    );
    assert_eq!(
        sum(2),
        recs.iter().map(|r| r.dir[1].delta_packets).sum::<u64>(),
        "reverse (RFC 5103) counters"
    );
    assert_eq!(
        sum(3),
        recs.iter().map(|r| r.dir[1].delta_bytes).sum::<u64>()
    );
}

/// The probe's own IPFIX output, replayed into nfcapd, shows the same flows, packets and bytes as
/// the JSON output of the same run.
#[test]
fn replay_to_nfcapd_matches_the_json_output_of_the_same_run() {
    if !have("nfcapd") || !have("nfdump") {
        eprintln!(
            "SKIP replay_to_nfcapd_matches_the_json_output_of_the_same_run: nfdump not installed"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("flowprobe-ipfix-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("nf")).unwrap();
    let cap = replay_capture(&dir, 4000);
    let nf = Nfcapd::start(&dir.join("nf"));
    let json = dir.join("records.json");
    let out = Command::new("timeout")
        .args([
            "-s",
            "KILL",
            "120",
            env!("CARGO_BIN_EXE_flowprobe"),
            "--no-huge",
            "--metrics-listen",
            "off",
        ])
        .args([
            "--pcap",
            cap.to_str().unwrap(),
            "--stats-interval",
            "0",
            "--max-flows",
            "10000",
        ])
        .args([
            "--output",
            json.to_str().unwrap(),
            "--output",
            &format!("ipfix+udp://127.0.0.1:{}", nf.port),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nf_rows = nf.stop_and_read();
    // JSON side: flows and per-direction totals from the purge records (A = initiator).
    let mut flows = 0u64;
    let mut total_packets = 0u64;
    let mut total_bytes = 0u64;
    for l in std::fs::read_to_string(&json).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        if v["type"] == "flow_purge" {
            flows += 1;
            total_packets += v["flow"]["total_packets"].as_u64().unwrap();
            total_bytes += v["flow"]["total_bytes"].as_u64().unwrap();
        }
    }
    // nfdump side: one row per flow with forward (ipkt/ibyt) and reverse (opkt/obyt) counters.
    let rows = nf_rows.len() as u64;
    let pk: u64 = nf_rows.iter().map(|r| r[0] + r[2]).sum();
    let by: u64 = nf_rows.iter().map(|r| r[1] + r[3]).sum();
    assert!(flows > 100, "{flows}");
    assert_eq!(rows, flows, "one nfdump row per flow");
    assert_eq!(pk, total_packets);
    assert_eq!(by, total_bytes);
    assert_eq!(total_packets, 4000);
}

// ---- IPFIX over TCP (RFC 7011 §10.4) ----

/// IPFIX messages in a TCP byte stream: (set ids, sequence number, data records) per message.
/// Panics on a message whose length runs past the stream (the framing must be exact).
fn split_messages(stream: &[u8]) -> Vec<(Vec<u16>, u32, usize)> {
    let mut out = Vec::new();
    let mut o = 0;
    while o < stream.len() {
        assert!(o + 16 <= stream.len(), "truncated header at {o}");
        assert_eq!(u16::from_be_bytes([stream[o], stream[o + 1]]), 10);
        let len = u16::from_be_bytes([stream[o + 2], stream[o + 3]]) as usize;
        assert!(len >= 16 && o + len <= stream.len(), "bad length at {o}");
        let m = &stream[o..o + len];
        let seq = u32::from_be_bytes([m[8], m[9], m[10], m[11]]);
        let mut sets = Vec::new();
        let mut s = 16;
        while s + 4 <= len {
            sets.push(u16::from_be_bytes([m[s], m[s + 1]]));
            s += u16::from_be_bytes([m[s + 2], m[s + 3]]) as usize;
        }
        assert_eq!(s, len, "sets fill the message");
        out.push((sets, seq, flowprobe::ipfix::data_records_in(m)));
        o += len;
    }
    out
}

/// The stream ends at a message boundary.
fn whole_messages(stream: &[u8]) -> bool {
    let mut o = 0;
    while o + 4 <= stream.len() {
        o += u16::from_be_bytes([stream[o + 2], stream[o + 3]]).max(4) as usize;
    }
    o == stream.len()
}

/// Write TCP connections (client → collector byte streams) to a capture as real TCP segments:
/// handshake, data in MSS-sized segments (so messages span segments, as on the wire), FIN.
fn tcp_capture(path: &std::path::Path, port: u16, conns: &[Vec<u8>]) {
    let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w = PcapWriter::new(f, LINKTYPE_ETHERNET, false, 65535).unwrap();
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let mut ts = 1_767_225_601_000_000_000u64;
    for (i, data) in conns.iter().enumerate() {
        let cport = 50000 + i as u16;
        let (mut cseq, sseq) = (1000u32, 9000u32);
        let mut seg = |from_client: bool, seq: u32, ack: u32, flags: u8, payload: &[u8]| {
            let (src, dst) = if from_client {
                (cport, port)
            } else {
                (port, cport)
            };
            let mut frame = build(&FrameSpec::new(
                lo,
                lo,
                L4::Tcp {
                    sport: src,
                    dport: dst,
                    seq,
                    ack,
                    flags,
                    window: 65535,
                    options: Vec::new(),
                    payload_len: payload.len(),
                },
            ));
            // Ethernet 14 + IPv4 20 + TCP 20, then the payload (checksums are not verified).
            frame[54..54 + payload.len()].copy_from_slice(payload);
            ts += 1000;
            w.write_packet(ts, &frame).unwrap();
        };
        seg(true, cseq, 0, 0x02, &[]);
        seg(false, sseq, cseq + 1, 0x12, &[]);
        cseq += 1;
        seg(true, cseq, sseq + 1, 0x10, &[]);
        for chunk in data.chunks(1448) {
            seg(true, cseq, sseq + 1, 0x18, chunk);
            cseq = cseq.wrapping_add(chunk.len() as u32);
        }
        seg(true, cseq, sseq + 1, 0x11, &[]);
        seg(false, sseq + 1, cseq + 1, 0x11, &[]);
    }
}

/// What tshark decodes from a capture of IPFIX over TCP on `port`: (data records, octets, packets),
/// forward and reverse counters added up. Fails on any malformed packet or expert error/warning.
fn tshark_tcp_totals(cap: &std::path::Path, port: u16) -> (u64, u64, u64) {
    let out = Command::new("tshark")
        .args(["-r", cap.to_str().unwrap()])
        .args(["-d", &format!("tcp.port=={port},cflow"), "-V"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for bad in ["Malformed", "Expert Info (Error", "Expert Info (Warn"] {
        assert!(!text.contains(bad), "tshark reports {bad}:\n{text}");
    }
    let num = |l: &str, p: &str| -> Option<u64> {
        l.trim_start()
            .strip_prefix(p)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    let (mut recs, mut octets, mut packets) = (0, 0, 0);
    for l in text.lines() {
        if l.contains("Biflow Direction: Initiator (1)") {
            recs += 1;
        }
        octets += num(l, "Octets: ").unwrap_or(0);
        packets += num(l, "Packets: ").unwrap_or(0);
    }
    (recs, octets, packets)
}

/// A test collector: accepts connections one after the other and keeps each one's byte stream.
struct TcpCollector {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Vec<u8>>>,
}

impl TcpCollector {
    fn start() -> TcpCollector {
        use std::io::Read;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        l.set_nonblocking(true).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let st = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut conns = Vec::new();
            let end = Instant::now() + Duration::from_secs(100);
            while Instant::now() < end {
                match l.accept() {
                    Ok((mut s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                        let mut v = Vec::new();
                        let _ = s.read_to_end(&mut v);
                        conns.push(v);
                    }
                    Err(_) if st.load(std::sync::atomic::Ordering::Relaxed) => break,
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            conns
        });
        TcpCollector { port, stop, thread }
    }

    fn stop(self) -> Vec<Vec<u8>> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

fn replay_capture(dir: &std::path::Path, packets: u64) -> std::path::PathBuf {
    let cap = dir.join("t.pcap");
    common::write_trace(
        &cap,
        flowprobe::synth::trace::TraceConfig {
            packets,
            concurrent_flows: 100,
            seed: 9,
            ..Default::default()
        },
    );
    cap
}

fn run_probe(args: &[&str]) -> (serde_json::Value, String) {
    let out = Command::new("timeout")
        .args(["-s", "KILL", "120", env!("CARGO_BIN_EXE_flowprobe")])
        .args(["--no-huge", "--metrics-listen", "off"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let summary = stderr
        .lines()
        .filter(|l| l.contains("\"type\":\"summary\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .next_back()
        .expect("a summary line");
    (summary, stderr)
}

/// JSON side of a run: (flows, total packets, total bytes) from the purge records.
fn json_totals(path: &std::path::Path) -> (u64, u64, u64) {
    let (mut flows, mut packets, mut bytes) = (0, 0, 0);
    for l in std::fs::read_to_string(path).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        if v["type"] == "flow_purge" {
            flows += 1;
            packets += v["flow"]["total_packets"].as_u64().unwrap();
            bytes += v["flow"]["total_bytes"].as_u64().unwrap();
        }
    }
    (flows, packets, bytes)
}

fn sink<'a>(summary: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    summary["output"]["sinks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str().unwrap().starts_with(name))
        .unwrap_or_else(|| panic!("no sink {name} in {summary}"))
}

/// The probe's IPFIX over TCP, captured as a TCP stream and decoded by tshark, shows the same
/// flows, packets and bytes as the JSON output of the same run.
#[test]
fn tcp_replay_decoded_by_tshark_matches_the_json_output_of_the_same_run() {
    if !have("tshark") {
        eprintln!("SKIP tcp_replay_decoded_by_tshark_matches_the_json_output_of_the_same_run: tshark not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("flowprobe-ipfix-tcp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cap = replay_capture(&dir, 4000);
    let col = TcpCollector::start();
    let port = col.port;
    let json = dir.join("records.json");
    let (summary, _) = run_probe(&[
        "--pcap",
        cap.to_str().unwrap(),
        "--stats-interval",
        "0",
        "--output",
        json.to_str().unwrap(),
        "--output",
        &format!("ipfix+tcp://127.0.0.1:{port}"),
    ]);
    let conns = col.stop();
    let (flows, packets, bytes) = json_totals(&json);
    assert!(flows > 100, "{flows}");
    assert_eq!(packets, 4000);
    let s = sink(&summary, "ipfix+tcp://");
    assert_eq!(s["records"], flows, "{s}");
    assert_eq!(
        (s["lost"].as_u64(), s["reconnects"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(conns.len(), 1, "one connection");
    let msgs = split_messages(&conns[0]);
    assert_eq!(
        msgs[0].0,
        vec![2],
        "the connection starts with the template set"
    );
    assert!(
        msgs.iter().any(|m| m.2 > 100),
        "messages larger than a UDP datagram's"
    );
    let pcap = dir.join("tcp.pcap");
    tcp_capture(&pcap, port, &conns);
    assert_eq!(tshark_tcp_totals(&pcap, port), (flows, bytes, packets));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A collector that goes away and comes back on the same port: the sink reconnects, sends the
/// templates again (the second connection decodes on its own), continues the sequence numbers,
/// and every record is either delivered or counted as lost.
#[test]
fn tcp_collector_restart_gets_the_templates_again() {
    use flowprobe::export::{Format, OutputSpec, Sink, SinkOptions};
    use std::io::Read;
    use std::net::TcpListener;
    let l1 = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l1.local_addr().unwrap().port();
    let spec = OutputSpec::parse(&format!("ipfix+tcp://127.0.0.1:{port}"), Format::Netify).unwrap();
    let mut sink = Sink::open_spec(&spec, &SinkOptions::default()).unwrap();
    let recs = records(60);
    let (mut c1, _) = l1.accept().unwrap();
    c1.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for r in &recs[..30] {
        sink.encode_ipfix(r, 1_767_225_601);
    }
    sink.flush();
    // Read whole messages until the first 30 records are in, then the collector goes away.
    let mut first = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = c1.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed early");
        first.extend_from_slice(&buf[..n]);
        if whole_messages(&first) && split_messages(&first).iter().map(|x| x.2).sum::<usize>() == 30
        {
            break;
        }
    }
    // Listener first: the sink must not reconnect to it before it is gone.
    drop(l1);
    drop(c1);
    for r in &recs[30..] {
        sink.encode_ipfix(r, 1_767_225_601);
    }
    sink.flush();
    // Down for a while: the sink notices, its connection attempts are refused (backoff).
    std::thread::sleep(Duration::from_millis(400));
    let l2 = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (mut c2, _) = l2.accept().unwrap();
    sink.close();
    let mut second = Vec::new();
    c2.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c2.read_to_end(&mut second).unwrap();
    let rep = sink.report();
    assert_eq!(
        (rep.records, rep.lost, rep.reconnects),
        (60, 0, 1),
        "{rep:?}"
    );
    assert!(
        rep.errors >= 1,
        "refused connection attempts are counted: {rep:?}"
    );
    let (m1, m2) = (split_messages(&first), split_messages(&second));
    for m in [&m1, &m2] {
        assert_eq!(
            m[0].0,
            vec![2],
            "every connection starts with the templates"
        );
    }
    // Sequence numbers count data records across connections: no gap, no reuse.
    let data2: Vec<_> = m2.iter().filter(|m| m.2 > 0).collect();
    assert_eq!(data2[0].1, 30, "{m2:?}");
    assert_eq!(data2.iter().map(|m| m.2).sum::<usize>(), 30);
    if !have("tshark") {
        eprintln!("SKIP tcp_collector_restart_gets_the_templates_again (tshark part): tshark not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("flowprobe-ipfix-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Each connection alone: the second decodes with the templates it carries itself.
    for (i, conn) in [first, second].iter().enumerate() {
        let pcap = dir.join(format!("conn{i}.pcap"));
        tcp_capture(&pcap, port, std::slice::from_ref(conn));
        let want = &recs[i * 30..(i + 1) * 30];
        let octets: u64 = want
            .iter()
            .map(|r| r.dir[0].delta_bytes + r.dir[1].delta_bytes)
            .sum();
        let packets: u64 = want
            .iter()
            .map(|r| r.dir[0].delta_packets + r.dir[1].delta_packets)
            .sum();
        assert_eq!(tshark_tcp_totals(&pcap, port), (30, octets, packets));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Nobody listening: the run still ends on time with exit 0, and every record is counted lost.
#[test]
fn tcp_dead_collector_loses_records_without_blocking() {
    let dir = std::env::temp_dir().join(format!("flowprobe-ipfix-dead-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cap = replay_capture(&dir, 2000);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let json = dir.join("records.json");
    let t = Instant::now();
    let (summary, _) = run_probe(&[
        "--pcap",
        cap.to_str().unwrap(),
        "--stats-interval",
        "0",
        "--output-drain-timeout",
        "500ms",
        "--output",
        json.to_str().unwrap(),
        "--output",
        &format!("ipfix+tcp://127.0.0.1:{port}"),
    ]);
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    let (flows, _, _) = json_totals(&json);
    let s = sink(&summary, "ipfix+tcp://");
    assert_eq!(
        (s["records"].as_u64(), s["lost"].as_u64()),
        (Some(0), Some(flows)),
        "{s}"
    );
    assert!(s["errors"].as_u64().unwrap() >= 1, "{s}");
    let _ = std::fs::remove_dir_all(&dir);
}
