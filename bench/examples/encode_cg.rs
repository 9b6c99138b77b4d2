//! Instructions per encoded record (exact, unlike wall time on a shared machine):
//!
//! ```text
//! cargo build --release -p flowprobe-bench --example encode_cg
//! valgrind --tool=callgrind --toggle-collect='encode_cg::run*' \
//!     target/release/examples/encode_cg KIND N [v6]
//! ```
//!
//! encodes one record (KIND: start, stats, purge, digest, nob_start, nob_purge) N times and
//! prints it; Ir / N is the cost per record. Valgrind hides SHA-NI, so the digest's SHA-1 runs
//! the portable rounds here (about 1400 of its instructions) where the hardware uses SHA-NI.
use flowprobe::export::{LocalNets, NetObservEncoder, NetifyEncoder, SubnetLabels};
use flowprobe::flow::{DirCounters, FlowRecord, RecordKind};
use std::hint::black_box;

#[inline(never)]
fn run(
    enc: &NetifyEncoder,
    nob: &NetObservEncoder,
    kind: &str,
    r: &FlowRecord,
    n: u64,
    out: &mut Vec<u8>,
) -> usize {
    let mut len = 0;
    for _ in 0..n {
        out.clear();
        match kind {
            "netify" => enc.encode(black_box(r), out),
            "digest" => enc.digest(black_box(r), out),
            _ => {
                nob.encode(black_box(r), 1_767_225_600, out);
            }
        }
        len += out.len();
    }
    len
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (kind, rk) = match a[1].as_str() {
        "start" => ("netify", RecordKind::Start),
        "stats" => ("netify", RecordKind::Stats),
        "purge" => ("netify", RecordKind::End),
        "digest" => ("digest", RecordKind::End),
        "nob_start" => ("nob", RecordKind::Start),
        "nob_purge" => ("nob", RecordKind::End),
        k => panic!("kind {k}"),
    };
    let n: u64 = a[2].parse().unwrap();
    let v6 = a.get(3).is_some_and(|s| s == "v6");
    let mut r = FlowRecord {
        kind: rk,
        reason: if rk == RecordKind::End {
            flowprobe::flow::EndReason::Expired
        } else {
            Default::default()
        },
        ip_version: if v6 { 6 } else { 4 },
        proto: 6,
        init_port: 40000,
        resp_port: 443,
        first_ms: 1_764_528_000_123,
        last_ms: 1_764_528_061_456,
        ..Default::default()
    };
    if v6 {
        r.init_ip = "fd00:1:2::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        r.resp_ip = "2001:db8:85a3::8a2e:370:7334"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
    } else {
        r.init_ip[..4].copy_from_slice(&[10, 0, 0, 1]);
        r.resp_ip[..4].copy_from_slice(&[198, 51, 100, 1]);
    }
    let d = DirCounters {
        packets: 10,
        bytes: 5000,
        delta_packets: 4,
        delta_bytes: 2000,
        rate: 1234,
        mac: [2, 0, 0, 0, 0, 0xaa],
        ..Default::default()
    };
    r.dir = [d, d];
    let mut out = Vec::with_capacity(1 << 16);
    let enc = NetifyEncoder::new(LocalNets::default_nets(), vec!["pcap0".into()]);
    let nob = NetObservEncoder::new(
        LocalNets::default_nets(),
        SubnetLabels::parse(&["10.0.0.0/8=corp"]).unwrap(),
        vec!["pcap0".into()],
    );
    let len = run(&enc, &nob, kind, &r, n, &mut out);
    println!("{} bytes/record", len as u64 / n.max(1));
    print!("{}", String::from_utf8_lossy(&out));
}
