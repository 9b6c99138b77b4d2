//! End-to-end: captures with known content replayed through the net_pcap vdev by the real binary.

mod common;

use common::*;
use flowprobe::synth::trace::TraceConfig;
use std::collections::HashMap;

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const FIN: u8 = 0x01;
const RST: u8 = 0x04;

/// Key the truth the way the probe keys flows: VLAN, protocol, endpoints (ports only for TCP/UDP).
fn truth_by_endpoints(
    truth: &flowprobe::synth::trace::TraceTruth,
) -> HashMap<(u64, u64, String, String), [u64; 4]> {
    let mut m: HashMap<(u64, u64, String, String), [u64; 4]> = HashMap::new();
    for f in &truth.flows {
        let ep = |a: &std::net::SocketAddr| {
            let port = if f.proto == 6 || f.proto == 17 {
                a.port()
            } else {
                0
            };
            format!("{}:{}", a.ip(), port)
        };
        let e = m
            .entry((
                f.proto as u64,
                f.vlan as u64,
                ep(&f.initiator),
                ep(&f.responder),
            ))
            .or_default();
        e[0] += f.initiator_packets;
        e[1] += f.initiator_bytes;
        e[2] += f.responder_packets;
        e[3] += f.responder_bytes;
    }
    m
}

fn records_by_endpoints(
    records: &[serde_json::Value],
) -> HashMap<(u64, u64, String, String), [u64; 4]> {
    let mut m: HashMap<(u64, u64, String, String), [u64; 4]> = HashMap::new();
    for t in totals(records).values() {
        assert_eq!(t.purges as usize, t.reasons.len());
        let e = m
            .entry((t.proto, t.vlan, t.initiator.clone(), t.responder.clone()))
            .or_default();
        e[0] += t.init_packets;
        e[1] += t.init_bytes;
        e[2] += t.resp_packets;
        e[3] += t.resp_bytes;
    }
    m
}

#[test]
fn generated_trace_matches_truth_per_flow_and_direction() {
    let dir = scratch("truth");
    let cap = dir.join("t.pcap");
    let truth = write_trace(
        &cap,
        TraceConfig {
            packets: 20_000,
            concurrent_flows: 200,
            seed: 7,
            ..Default::default()
        },
    );
    let r = run(&[
        "--pcap",
        cap.to_str().unwrap(),
        "--idle-timeout",
        "0",
        "--max-flows",
        "100000",
    ]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    assert_eq!(r.summary["packets_received"], 20_000);
    assert_eq!(r.summary["packets_unmatched"], 0);
    let want = truth_by_endpoints(&truth);
    let got = records_by_endpoints(&r.records);
    assert_eq!(got.len(), want.len(), "number of distinct flows");
    for (k, w) in &want {
        assert_eq!(got.get(k), Some(w), "flow {k:?}");
    }
    // Every flow record has exactly one purge; nothing dropped on the way.
    let starts = count(&r.records, "flow");
    assert_eq!(starts, count(&r.records, "flow_purge"));
    assert_eq!(r.summary["records"]["flow_purge"]["dropped"], 0);
    assert_eq!(r.summary["flows_created"], starts as u64);
}

#[test]
fn accounting_identity_with_unmatched_packets() {
    let dir = scratch("unmatched");
    let cap = dir.join("u.pcap");
    let mut frames = Vec::new();
    let mut t = T0;
    for i in 0..50u16 {
        frames.push((t, udp("10.0.0.1", 1000 + i % 5, "192.0.2.1", 53, 40)));
        t += 1_000_000;
    }
    // ARP-like frame (not IP), a frame cut inside the IP header, and a runt.
    let mut arp = vec![0xffu8; 12];
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&[0u8; 28]);
    frames.push((t, arp));
    let cut = udp("10.0.0.1", 1, "192.0.2.1", 2, 10)[..20].to_vec();
    frames.push((t, cut));
    frames.push((t, vec![0u8; 6]));
    write_frames(&cap, &frames);
    let r = run(&["--pcap", cap.to_str().unwrap(), "--max-flows", "1000"]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let purged: u64 = r
        .records
        .iter()
        .filter(|v| v["type"] == "flow_purge")
        .map(|v| v["flow"]["total_packets"].as_u64().unwrap())
        .sum();
    let unmatched = r.summary["packets_unmatched"].as_u64().unwrap();
    assert_eq!(unmatched, 3);
    assert_eq!(r.summary["unmatched_by_reason"]["not_ip"], 1);
    assert_eq!(r.summary["unmatched_by_reason"]["truncated"], 2);
    assert_eq!(purged, 50);
    assert_eq!(purged + unmatched, frames.len() as u64);
    assert_eq!(r.summary["capture_packets"], frames.len() as u64);
    assert_eq!(count(&r.records, "flow_purge"), 5);
}

#[test]
fn end_reasons_fin_rst_idle_and_stop_on_capture_time() {
    let dir = scratch("ends");
    let cap = dir.join("e.pcap");
    let (a, b) = ("10.0.0.1", "198.51.100.1");
    let ms = 1_000_000u64;
    let f = vec![
        // Flow 1: handshake, data both ways, FIN both ways, last ACK: closed.
        (T0, tcp(a, 1001, b, 80, SYN, 100, 0)),
        (T0 + ms, tcp(b, 80, a, 1001, SYN | ACK, 500, 0)),
        (T0 + 2 * ms, tcp(a, 1001, b, 80, ACK, 101, 0)),
        (T0 + 3 * ms, tcp(a, 1001, b, 80, ACK, 101, 300)),
        (T0 + 4 * ms, tcp(b, 80, a, 1001, ACK, 501, 1200)),
        (T0 + 5 * ms, tcp(a, 1001, b, 80, FIN | ACK, 401, 0)),
        (T0 + 6 * ms, tcp(b, 80, a, 1001, FIN | ACK, 1701, 0)),
        (T0 + 7 * ms, tcp(a, 1001, b, 80, ACK, 402, 0)),
        // Flow 2: SYN, RST.
        (T0 + 8 * ms, tcp(a, 1002, b, 81, SYN, 7, 0)),
        (T0 + 9 * ms, tcp(b, 81, a, 1002, RST | ACK, 0, 0)),
        // Flow 3: UDP, then silent for longer than the idle timeout (5 s) while flow 4 goes on.
        (T0 + 10 * ms, udp(a, 5000, b, 53, 30)),
        (T0 + 11 * ms, udp(b, 53, a, 5000, 90)),
        // Flow 4: UDP alive until the end of the capture.
        (T0 + 12 * ms, udp(a, 6000, b, 123, 48)),
        (T0 + 4 * S, udp(a, 6000, b, 123, 48)),
        (T0 + 8 * S, udp(a, 6000, b, 123, 48)),
        (T0 + 9 * S, udp(b, 123, a, 6000, 48)),
    ];
    write_frames(&cap, &f);
    let r = run(&[
        "--pcap",
        cap.to_str().unwrap(),
        "--idle-timeout",
        "5s",
        "--stats-interval",
        "0",
        "--max-flows",
        "1000",
    ]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let tot = totals(&r.records);
    let by_resp: HashMap<String, &Totals> =
        tot.values().map(|t| (t.responder.clone(), t)).collect();
    let f1 = by_resp[&format!("{b}:80")];
    assert_eq!(f1.reasons, vec!["closed"]);
    assert_eq!((f1.init_packets, f1.resp_packets), (5, 3));
    // Frame bytes as captured (short frames carry Ethernet padding to 60 bytes).
    let len = |i: usize| f[i].1.len() as u64;
    assert_eq!(
        f1.init_bytes,
        [0, 2, 3, 5, 7].iter().map(|&i| len(i)).sum::<u64>()
    );
    assert_eq!(
        f1.resp_bytes,
        [1, 4, 6].iter().map(|&i| len(i)).sum::<u64>()
    );
    assert_eq!(f1.init_bytes, 4 * 60 + 54 + 300);
    let f2 = by_resp[&format!("{b}:81")];
    assert_eq!(f2.reasons, vec!["closed"]);
    assert_eq!((f2.init_packets, f2.resp_packets), (1, 1));
    let f3 = by_resp[&format!("{b}:53")];
    assert_eq!(f3.reasons, vec!["expired"]);
    assert_eq!((f3.init_packets, f3.resp_packets), (1, 1));
    let f4 = by_resp[&format!("{b}:123")];
    assert_eq!(f4.reasons, vec!["shutdown"]);
    assert_eq!((f4.init_packets, f4.resp_packets), (3, 1));
    assert_eq!(r.summary["flows_ended"]["closed"], 2);
    assert_eq!(r.summary["flows_ended"]["expired"], 1);
    assert_eq!(r.summary["flows_ended"]["shutdown"], 1);

    // Times come from the capture (ms precision), not the wall clock.
    let purge_of = |port: u16| {
        r.records
            .iter()
            .filter(|v| v["type"] == "flow_purge")
            .find(|v| {
                v["flow"]["digest"]
                    == r.records
                        .iter()
                        .find(|s| s["type"] == "flow" && s["flow"]["other_port"] == port)
                        .unwrap()["flow"]["digest"]
            })
            .unwrap()
            .clone()
    };
    let first = r
        .records
        .iter()
        .find(|v| v["type"] == "flow" && v["flow"]["other_port"] == 80)
        .unwrap();
    assert_eq!(first["flow"]["first_seen_at"], T0 / 1_000_000);
    assert_eq!(
        purge_of(80)["flow"]["last_seen_at"],
        (T0 + 7 * ms) / 1_000_000
    );
    assert_eq!(
        purge_of(123)["flow"]["last_seen_at"],
        (T0 + 9 * S) / 1_000_000
    );
    // The expired flow left when the capture clock passed its timeout, before the flows still alive.
    let pos = |port: u16| {
        let d = purge_of(port)["flow"]["digest"].clone();
        r.records
            .iter()
            .position(|v| v["type"] == "flow_purge" && v["flow"]["digest"] == d)
            .unwrap()
    };
    assert!(pos(53) < pos(123));
}

#[test]
fn stats_records_every_interval_sum_to_the_purge() {
    let dir = scratch("stats");
    let cap = dir.join("s.pcap");
    // One UDP flow with a packet every second for 40 s: reports due at 15 s and 30 s.
    let frames: Vec<_> = (0..40u64)
        .map(|i| {
            (
                T0 + i * S,
                if i % 2 == 0 {
                    udp("10.1.1.1", 4000, "203.0.113.9", 443, 100)
                } else {
                    udp("203.0.113.9", 443, "10.1.1.1", 4000, 1000)
                },
            )
        })
        .collect();
    write_frames(&cap, &frames);
    let r = run(&[
        "--pcap",
        cap.to_str().unwrap(),
        "--stats-interval",
        "15s",
        "--max-flows",
        "100",
    ]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    assert_eq!(count(&r.records, "flow_stats"), 2);
    let t = totals(&r.records);
    let t = t.values().next().unwrap();
    assert_eq!((t.init_packets, t.resp_packets), (20, 20));
    assert_eq!(t.total_packets, 40);
    assert_eq!(t.init_bytes, 20 * 142);
    assert_eq!(t.resp_bytes, 20 * 1042);
    let s0 = r
        .records
        .iter()
        .find(|v| v["type"] == "flow_stats")
        .unwrap();
    // Due at 15 s: it covers 0..14 s, when the packet at 15 s crosses the due time.
    assert_eq!(s0["flow"]["local_packets"], 8);
    assert_eq!(s0["flow"]["total_packets"], 15);
    assert_eq!(s0["internal"], false);
}

#[test]
fn two_captures_two_workers_same_totals() {
    let dir = scratch("two");
    let a = dir.join("a.pcap");
    let b = dir.join("b.pcap");
    let ta = write_trace(
        &a,
        TraceConfig {
            packets: 5000,
            seed: 11,
            ..Default::default()
        },
    );
    let tb = write_trace(
        &b,
        TraceConfig {
            packets: 7000,
            seed: 12,
            ..Default::default()
        },
    );
    let both = run(&[
        "--pcap",
        a.to_str().unwrap(),
        "--pcap",
        b.to_str().unwrap(),
        "--max-flows",
        "20000",
    ]);
    assert_eq!(both.code, 0, "stderr: {}", both.stderr);
    assert_eq!(both.summary["workers"], 2);
    assert_eq!(both.summary["packets_received"], 12_000);
    let ra = run(&["--pcap", a.to_str().unwrap(), "--max-flows", "20000"]);
    let rb = run(&["--pcap", b.to_str().unwrap(), "--max-flows", "20000"]);
    let sum = |r: &Run, k: &str| {
        r.records
            .iter()
            .filter(|v| v["type"] == "flow_purge")
            .map(|v| v["flow"][k].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(sum(&both, "total_packets"), ta.packets + tb.packets);
    assert_eq!(sum(&both, "total_bytes"), ta.bytes + tb.bytes);
    assert_eq!(
        sum(&both, "total_packets"),
        sum(&ra, "total_packets") + sum(&rb, "total_packets")
    );
    assert_eq!(
        count(&both.records, "flow_purge"),
        count(&ra.records, "flow_purge") + count(&rb.records, "flow_purge")
    );
}

#[test]
fn full_table_evicts_and_accounting_still_closes() {
    let dir = scratch("evict");
    let cap = dir.join("f.pcap");
    // 3,000 single-SYN flows into a 100-flow table.
    let frames: Vec<_> = (0..3000u32)
        .map(|i| {
            (
                T0 + i as u64 * 1000,
                tcp(
                    &format!("10.9.{}.{}", i / 250, i % 250 + 1),
                    40000 + (i % 1000) as u16,
                    "198.51.100.80",
                    443,
                    SYN,
                    i,
                    0,
                ),
            )
        })
        .collect();
    write_frames(&cap, &frames);
    let r = run(&["--pcap", cap.to_str().unwrap(), "--max-flows", "100"]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    assert_eq!(r.summary["flows_ended"]["evicted"], 2900);
    assert_eq!(r.summary["flows_ended"]["shutdown"], 100);
    assert_eq!(count(&r.records, "flow_purge"), 3000);
    let purged: u64 = r
        .records
        .iter()
        .filter(|v| v["type"] == "flow_purge")
        .map(|v| v["flow"]["total_packets"].as_u64().unwrap())
        .sum();
    assert_eq!(purged, 3000);
}

#[test]
fn output_file_gets_the_records() {
    let dir = scratch("outfile");
    let cap = dir.join("o.pcap");
    write_trace(
        &cap,
        TraceConfig {
            packets: 1000,
            seed: 3,
            ..Default::default()
        },
    );
    let out = dir.join("records.json");
    let r = run(&[
        "--pcap",
        cap.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--max-flows",
        "1000",
    ]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    assert!(r.records.is_empty(), "nothing on stdout");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len() as u64,
        r.summary["output"]["records"].as_u64().unwrap()
    );
    let purged: u64 = lines
        .iter()
        .filter(|v| v["type"] == "flow_purge")
        .map(|v| v["flow"]["total_packets"].as_u64().unwrap())
        .sum();
    assert_eq!(purged, 1000);
}

#[test]
fn shipped_sample_is_what_the_generator_makes() {
    // tests/README.md gives the command; this checks the committed bytes against it.
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/sample.pcap");
    let dir = scratch("sample");
    let regen = dir.join("sample.pcap");
    let truth = write_trace(
        &regen,
        TraceConfig {
            packets: 1400,
            concurrent_flows: 60,
            seed: 1,
            start_ts_ns: 1_767_225_600 * S,
            pps: 10_000,
            ..Default::default()
        },
    );
    assert_eq!(
        std::fs::read(&sample).unwrap(),
        std::fs::read(&regen).unwrap()
    );
    let r = run(&["--pcap", sample.to_str().unwrap(), "--max-flows", "10000"]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let purged: u64 = r
        .records
        .iter()
        .filter(|v| v["type"] == "flow_purge")
        .map(|v| v["flow"]["total_packets"].as_u64().unwrap())
        .sum();
    assert_eq!(purged, truth.packets);
    assert_eq!(count(&r.records, "flow_purge"), truth.flows.len());
}

#[test]
fn builtin_reader_and_pcap_vdev_give_identical_records() {
    let dir = scratch("readers");
    let cap = dir.join("r.pcap");
    // The generated trace, with every 7th frame cut to 96 captured bytes (a snaplen): both
    // readers must count the captured length.
    {
        let full = dir.join("full.pcap");
        write_trace(
            &full,
            TraceConfig {
                packets: 8000,
                concurrent_flows: 300,
                seed: 21,
                vlan_share: 0.3,
                ipv6_share: 0.3,
                ..Default::default()
            },
        );
        let mut r = flowprobe::pcapfile::CaptureReader::open(&full).unwrap();
        let f = std::fs::File::create(&cap).unwrap();
        let mut w = flowprobe::pcapfile::PcapWriter::new(
            std::io::BufWriter::new(f),
            flowprobe::pcapfile::LINKTYPE_ETHERNET,
            true,
            65535,
        )
        .unwrap();
        let mut buf = Vec::new();
        let mut i = 0;
        while let Some(rec) = r.next_packet(&mut buf).unwrap() {
            if i % 7 == 0 && buf.len() > 96 {
                w.write_packet_truncated(rec.ts_ns, &buf[..96], rec.orig_len)
                    .unwrap();
            } else {
                w.write_packet(rec.ts_ns, &buf).unwrap();
            }
            i += 1;
        }
    }
    let args = |reader: &'static str| {
        vec![
            "--pcap".to_string(),
            cap.to_str().unwrap().to_string(),
            "--pcap-reader".to_string(),
            reader.to_string(),
            "--max-flows".to_string(),
            "2000".to_string(),
            "--idle-timeout".to_string(),
            "20ms".to_string(),
            "--stats-interval".to_string(),
            "10ms".to_string(),
        ]
    };
    let fast_args = args("fast");
    let vdev_args = args("vdev");
    let fast = run(&fast_args.iter().map(String::as_str).collect::<Vec<_>>());
    let vdev = run(&vdev_args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(fast.code, 0, "stderr: {}", fast.stderr);
    assert_eq!(vdev.code, 0, "stderr: {}", vdev.stderr);
    // The built-in reader runs without the EAL and must not call into DPDK (a timestamp field
    // lookup without it logged EAL memzone errors).
    assert!(
        !fast.stderr.contains("EAL") && !fast.stderr.contains("MBUF"),
        "{}",
        fast.stderr
    );
    assert!(
        count(&fast.records, "flow_stats") > 0
            && fast.summary["flows_ended"]["expired"].as_u64().unwrap() > 0
    );
    assert_eq!(fast.records.len(), vdev.records.len());
    assert_eq!(
        fast.records, vdev.records,
        "same records, in the same order"
    );
    assert_eq!(fast.summary["packets_received"], 8000);
    let captured = std::fs::metadata(&cap).unwrap().len() - 24 - 16 * 8000;
    assert_eq!(
        fast.summary["bytes_received"], captured,
        "captured bytes, not wire bytes"
    );
    assert_eq!(
        fast.summary["ports"].as_array().unwrap().len(),
        0,
        "no port on the built-in path"
    );
}

/// Wrap `inner` (bytes after the outer UDP header) in an outer IPv4/UDP frame.
fn outer_udp(src: &str, sport: u16, dst: &str, dport: u16, inner: Vec<u8>) -> Vec<u8> {
    use flowprobe::synth::builder::{build, FrameSpec, Payload, L4};
    build(&FrameSpec::new(
        src.parse().unwrap(),
        dst.parse().unwrap(),
        L4::Udp {
            sport,
            dport,
            payload: Payload::Bytes(inner),
        },
    ))
}

/// An IPv4 frame of protocol `proto` whose payload is `payload` (no L4 checksum to fix).
fn ipv4_raw(src: &str, dst: &str, proto: u8, payload: &[u8]) -> Vec<u8> {
    use flowprobe::synth::builder::{build, FrameSpec, L4};
    let mut f = build(&FrameSpec::new(
        src.parse().unwrap(),
        dst.parse().unwrap(),
        L4::Raw {
            proto,
            payload_len: payload.len(),
        },
    ));
    f[34..34 + payload.len()].copy_from_slice(payload);
    f
}

/// An ICMPv4 error (`ty`/`code`, unused rest-of-header) quoting `quote` (IP header + 8 bytes).
fn icmp_error(src: &str, dst: &str, ty: u8, code: u8, quote: &[u8]) -> Vec<u8> {
    use flowprobe::synth::builder::{build, checksum, FrameSpec, L4};
    let mut f = build(&FrameSpec::new(
        src.parse().unwrap(),
        dst.parse().unwrap(),
        L4::Icmp {
            ty,
            code,
            id: 0,
            seq: 0,
            payload_len: quote.len(),
        },
    ));
    f[42..42 + quote.len()].copy_from_slice(quote);
    f[36..38].copy_from_slice(&[0, 0]);
    let c = checksum(&f[34..42 + quote.len()], 0);
    f[36..38].copy_from_slice(&c.to_be_bytes());
    f
}

#[test]
fn tunnel_metadata_and_icmp_errors_reach_netify_records() {
    let dir = scratch("tunnels");
    let cap = dir.join("t.pcap");
    let ms = 1_000_000u64;
    // VXLAN (VNI 4242) carrying an Ethernet frame with a UDP flow.
    let mut vx = vec![0x08, 0, 0, 0, 0x00, 0x10, 0x92, 0];
    vx.extend(udp("172.16.0.1", 1111, "172.16.0.2", 2222, 20));
    // GTP-U (TEID 0x01020304) carrying an IP packet (no Ethernet).
    let ip_in = &udp("172.16.1.1", 3333, "172.16.1.2", 4444, 20)[14..];
    let ip_in = &ip_in[..u16::from_be_bytes([ip_in[2], ip_in[3]]) as usize];
    let mut gtp = vec![0x30, 0xff];
    gtp.extend((ip_in.len() as u16).to_be_bytes());
    gtp.extend([1, 2, 3, 4]);
    gtp.extend(ip_in);
    // GRE with key 77 carrying an IPv4 TCP SYN.
    let syn = &tcp("172.16.2.1", 5555, "172.16.2.2", 80, SYN, 1, 0)[14..];
    let mut gre = vec![0x20, 0x00, 0x08, 0x00, 0, 0, 0, 77];
    gre.extend(&syn[..u16::from_be_bytes([syn[2], syn[3]]) as usize]);
    // A plain UDP flow, an ICMP port unreachable quoting it, and one quoting an unknown flow.
    let plain = udp("10.0.0.1", 5000, "10.0.0.2", 9999, 30);
    let unknown = udp("10.0.0.1", 5001, "10.0.0.2", 9999, 30);
    let frames = vec![
        (T0, outer_udp("192.0.2.1", 40000, "192.0.2.2", 4789, vx)),
        (
            T0 + ms,
            outer_udp("192.0.2.3", 2152, "192.0.2.4", 2152, gtp),
        ),
        (T0 + 2 * ms, ipv4_raw("192.0.2.5", "192.0.2.6", 47, &gre)),
        (T0 + 3 * ms, plain.clone()),
        (
            T0 + 4 * ms,
            icmp_error("10.0.0.2", "10.0.0.1", 3, 3, &plain[14..42]),
        ),
        (
            T0 + 5 * ms,
            icmp_error("10.0.0.2", "10.0.0.1", 3, 3, &unknown[14..42]),
        ),
    ];
    write_frames(&cap, &frames);
    let r = run(&["--pcap", cap.to_str().unwrap(), "--max-flows", "1000"]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let starts: Vec<_> = r.records.iter().filter(|v| v["type"] == "flow").collect();
    let start = |port: u64| {
        starts
            .iter()
            .find(|v| v["flow"]["other_port"] == port || v["flow"]["local_port"] == port)
            .unwrap_or_else(|| panic!("no flow with port {port}"))
    };
    let tunnel = |port: u64| start(port)["flow"]["tunnel"].clone();
    let t = tunnel(2222);
    assert_eq!(t["type"], "vxlan");
    assert_eq!(t["id"], 4242);
    assert_eq!(t["outer_ip_version"], 4);
    assert_eq!(
        (t["outer_src_ip"].as_str(), t["outer_dst_ip"].as_str()),
        (Some("192.0.2.1"), Some("192.0.2.2"))
    );
    let t = tunnel(4444);
    assert_eq!(t["type"], "gtpu");
    assert_eq!(t["id"], 0x01020304);
    assert_eq!(
        (t["outer_src_ip"].as_str(), t["outer_dst_ip"].as_str()),
        (Some("192.0.2.3"), Some("192.0.2.4"))
    );
    let t = tunnel(80);
    assert_eq!(t["type"], "gre");
    assert_eq!(t["id"], 77);
    assert_eq!(
        (t["outer_src_ip"].as_str(), t["outer_dst_ip"].as_str()),
        (Some("192.0.2.5"), Some("192.0.2.6"))
    );
    // Inner endpoints are the flow's; plain flows carry no tunnel object.
    assert!(starts
        .iter()
        .any(|v| v["flow"]["local_ip"] == "172.16.2.1" || v["flow"]["other_ip"] == "172.16.2.1"));
    assert!(start(9999)["flow"].get("tunnel").is_none());
    let icmp_start = starts
        .iter()
        .find(|v| v["flow"]["ip_protocol"] == 1)
        .unwrap();
    assert!(icmp_start["flow"].get("tunnel").is_none());
    // Five flows (three inner, the UDP one, the ICMP one holding both errors); every packet counted once.
    assert_eq!(starts.len(), 5);
    let purges: Vec<_> = r
        .records
        .iter()
        .filter(|v| v["type"] == "flow_purge")
        .collect();
    assert_eq!(purges.len(), 5);
    let purged: u64 = purges
        .iter()
        .map(|v| v["flow"]["total_packets"].as_u64().unwrap())
        .sum();
    assert_eq!(purged, frames.len() as u64);
    assert_eq!(r.summary["packets_unmatched"], 0);
    let purge_of = |s: &serde_json::Value| {
        purges
            .iter()
            .find(|p| p["flow"]["digest"] == s["flow"]["digest"])
            .unwrap()
    };
    let e = &purge_of(start(9999))["flow"]["flowprobe_icmp_errors"];
    assert_eq!(
        (e["count"].as_u64(), e["type"].as_u64(), e["code"].as_u64()),
        (Some(1), Some(3), Some(3))
    );
    assert_eq!(purge_of(start(9999))["flow"]["total_packets"], 1);
    assert_eq!(purge_of(icmp_start)["flow"]["total_packets"], 2);
    let with_errors = purges
        .iter()
        .filter(|p| p["flow"].get("flowprobe_icmp_errors").is_some())
        .count();
    assert_eq!(with_errors, 1, "the unknown quote charged nothing");
}

#[test]
fn panicking_worker_ends_the_probe_with_an_error() {
    let dir = scratch("panic");
    let (a, b) = (dir.join("a.pcap"), dir.join("b.pcap"));
    for (p, seed) in [(&a, 21), (&b, 22)] {
        write_trace(
            p,
            TraceConfig {
                packets: 20_000,
                seed,
                ..Default::default()
            },
        );
    }
    // Test hook: worker 0 panics after 3 bursts; worker 1 is stopped (or ends) and flushes.
    // Both worker loops: the built-in reader and the pcap vdev (the live-port loop).
    for reader in ["fast", "vdev"] {
        let t0 = std::time::Instant::now();
        let out = std::process::Command::new("timeout")
            .args([
                "-s",
                "KILL",
                "60",
                env!("CARGO_BIN_EXE_flowprobe"),
                "--no-huge",
            ])
            .args(["--metrics-listen", "127.0.0.1:0", "--max-flows", "100000"])
            .args(["--pcap", a.to_str().unwrap(), "--pcap", b.to_str().unwrap()])
            .args(["--pcap-reader", reader])
            .env("FLOWPROBE_TEST_PANIC", "0:3")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{reader}: not killed by the timeout: {stderr}"
        );
        assert!(t0.elapsed() < std::time::Duration::from_secs(30));
        assert_eq!(
            stderr
                .lines()
                .filter(|l| l.starts_with("flowprobe: ") && l.contains("worker0 panicked"))
                .count(),
            1,
            "{stderr}"
        );
        assert!(!stderr.contains("worker1 panicked"), "{stderr}");
        // The exporter still drained the healthy worker: its flows have purge records.
        let purges = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("\"type\":\"flow_purge\""))
            .count();
        assert!(purges > 0, "{reader}: stdout had no purge records");
    }
}
