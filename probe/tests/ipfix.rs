//! IPFIX messages checked by real implementations: tshark decodes them without an error, and
//! nfcapd receives them over UDP on loopback so that `nfdump -o csv` shows the flows we sent.
//! Each test skips, saying so, where the tool is not installed.

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
    use flowprobe::synth::trace::{TraceConfig, TraceGen};
    let dir = std::env::temp_dir().join(format!("flowprobe-ipfix-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("nf")).unwrap();
    let cap = dir.join("t.pcap");
    {
        let f = std::io::BufWriter::new(std::fs::File::create(&cap).unwrap());
        let mut w = PcapWriter::new(f, LINKTYPE_ETHERNET, false, 65535).unwrap();
        let mut g = TraceGen::new(TraceConfig {
            packets: 4000,
            concurrent_flows: 100,
            seed: 9,
            ..Default::default()
        });
        let mut frame = Vec::new();
        while let Some(ts) = g.next_into(&mut frame) {
            w.write_packet(ts, &frame).unwrap();
        }
    }
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
