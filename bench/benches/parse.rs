//! Parse cost per packet: the generated trace mix (plain Ethernet TCP/UDP), and a mix closer to
//! a carrier or data-centre tap: VLAN-tagged, IPv6 with extension headers, VXLAN and GTP-U
//! tunnels unwrapped to the inner flow.
use criterion::{criterion_group, Criterion, Throughput};
use flowprobe::parse::{parse_frame, parse_frame_into, PacketMeta};
use flowprobe::synth::trace::{TraceConfig, TraceGen};

fn frames(n: u64) -> Vec<Vec<u8>> {
    TraceGen::new(TraceConfig {
        packets: n,
        ..Default::default()
    })
    .map(|(_, f)| f)
    .collect()
}

/// Insert an 802.1Q tag after the MACs.
fn tagged(f: &[u8], vid: u16) -> Vec<u8> {
    let mut out = f[..12].to_vec();
    out.extend_from_slice(&[0x81, 0x00]);
    out.extend_from_slice(&vid.to_be_bytes());
    out.extend_from_slice(&f[12..]);
    out
}

/// The IP packet of an Ethernet frame (after any 802.1Q tags).
fn ip_of(f: &[u8]) -> &[u8] {
    let mut off = 12;
    while f.get(off..off + 2) == Some(&[0x81, 0x00]) {
        off += 4;
    }
    &f[(off + 2).min(f.len())..]
}

fn ipv4_udp(dport: u16, payload: &[u8]) -> Vec<u8> {
    let total = (28 + payload.len()) as u16;
    let mut p = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0x40,
        0,
        64,
        17,
        0,
        0,
    ];
    p.extend_from_slice(&[10, 1, 0, 1, 10, 2, 0, 1]);
    p.extend_from_slice(&40000u16.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// IPv6 with hop-by-hop and destination options, then TCP with timestamps.
fn ipv6_ext(i: u16) -> Vec<u8> {
    let mut tcp = vec![0u8; 32];
    tcp[0..2].copy_from_slice(&(32768 + i).to_be_bytes());
    tcp[2..4].copy_from_slice(&443u16.to_be_bytes());
    tcp[12] = 8 << 4;
    tcp[13] = 0x10;
    tcp.extend_from_slice(&[0; 100]);
    let mut rest = vec![60, 0, 1, 4, 0, 0, 0, 0]; // hop-by-hop -> dest options
    rest.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]); // dest options -> TCP
    rest.extend_from_slice(&tcp);
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(rest.len() as u16).to_be_bytes());
    p.extend_from_slice(&[0, 64]);
    p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    p.extend_from_slice(&[
        0x20,
        1,
        0xd,
        0xb8,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        (i >> 8) as u8,
        i as u8,
    ]);
    p.extend_from_slice(&rest);
    eth(0x86dd, &p)
}

/// 100 frames: 60 plain, 15 VLAN, 10 IPv6 with extension headers, 8 VXLAN, 7 GTP-U.
fn realistic(plain: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut p = plain.iter().cycle();
    for i in 0..4096u16 {
        let f = p.next().unwrap();
        let frame = match i % 100 {
            0..=59 => f.clone(),
            60..=74 => tagged(f, 100 + i % 7),
            75..=84 => ipv6_ext(i),
            85..=92 => {
                let mut vx = vec![0x08, 0, 0, 0, 0, 0x10, 0x01, 0];
                vx.extend_from_slice(f);
                eth(0x0800, &ipv4_udp(4789, &vx))
            }
            _ => {
                let inner = ip_of(f);
                let mut gtp = vec![0x30, 0xff];
                gtp.extend_from_slice(&(inner.len() as u16).to_be_bytes());
                gtp.extend_from_slice(&u32::from(i).to_be_bytes());
                gtp.extend_from_slice(inner);
                eth(0x0800, &ipv4_udp(2152, &gtp))
            }
        };
        out.push(frame);
    }
    out
}

const SLOT: usize = 192;

/// Frames cut to their first `SLOT` bytes, back to back, with their cut lengths.
fn arena(frames: &[Vec<u8>]) -> (Vec<u8>, Vec<usize>) {
    let mut a = vec![0u8; frames.len() * SLOT];
    let mut lens = Vec::with_capacity(frames.len());
    for (i, f) in frames.iter().enumerate() {
        let n = f.len().min(SLOT);
        a[i * SLOT..i * SLOT + n].copy_from_slice(&f[..n]);
        lens.push(n);
    }
    (a, lens)
}

/// The two benchmark inputs: (trace mix, realistic mix), each frame a slice of its arena slot.
fn inputs() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let fs = frames(4096);
    let mix = realistic(&fs);
    let ok = mix
        .iter()
        .filter(|f| parse_frame(1, f, true).is_ok())
        .count();
    let tunnelled = mix
        .iter()
        .filter(|f| {
            parse_frame(1, f, true).is_ok_and(|m| m.tunnel != flowprobe::parse::Tunnel::None)
        })
        .count();
    eprintln!(
        "realistic mix: {} frames, {ok} parse, {tunnelled} unwrapped; {}",
        mix.len(),
        composition(&mix)
    );
    eprintln!("trace mix: {}", composition(&fs));
    assert!(ok * 100 >= mix.len() * 95 && tunnelled * 100 >= mix.len() * 10);
    (fs, mix)
}

/// What a mix holds, so the printed mix can be checked against the issue's.
fn composition(frames: &[Vec<u8>]) -> String {
    use std::collections::BTreeMap;
    let mut c: BTreeMap<String, usize> = BTreeMap::new();
    for f in frames {
        let k = match parse_frame(1, f, true) {
            Ok(m) => format!(
                "{:?}{}/v{}/{}",
                m.tunnel,
                if m.vlan != 0 { "+vlan" } else { "" },
                m.ip_version,
                match m.proto {
                    6 => "tcp",
                    17 => "udp",
                    1 | 58 => "icmp",
                    _ => "other",
                }
            ),
            Err(e) => format!("err {e:?}"),
        };
        *c.entry(k).or_default() += 1;
    }
    format!("{c:?}")
}

fn slots(a: &(Vec<u8>, Vec<usize>)) -> Vec<&[u8]> {
    a.0.chunks(SLOT).zip(&a.1).map(|(c, &n)| &c[..n]).collect()
}

/// One pass over `frames` into the reused slot `m`, as the worker does.
#[inline(never)]
fn pass(frames: &[&[u8]], decap: bool, m: &mut PacketMeta) -> u32 {
    let mut ok = 0u32;
    for f in frames {
        ok += parse_frame_into(1, std::hint::black_box(f), decap, m).is_ok() as u32;
    }
    std::hint::black_box(&m);
    ok
}

fn parse(c: &mut Criterion) {
    let (fs, mix) = inputs();
    // The worker prefetches a burst's headers before parsing; the equivalent here is to keep the
    // headers (first 192 bytes: deep enough for every tunnel in the mix) in one contiguous arena
    // that the hardware prefetcher streams, instead of 4096 scattered heap frames whose first
    // touch would measure DRAM latency, not parsing.
    let (fs, mix) = (arena(&fs), arena(&mix));
    let (fs, mix) = (slots(&fs), slots(&mix));
    // The hot path parses into a reused PacketMeta (no 164-byte result to move).
    let mut m = PacketMeta::default();
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(fs.len() as u64));
    g.bench_function("trace_mix", |b| b.iter(|| pass(&fs, false, &mut m)));
    g.throughput(Throughput::Elements(mix.len() as u64));
    g.bench_function("realistic_mix_decap", |b| {
        b.iter(|| pass(&mix, true, &mut m))
    });
    // The same mix with its headers spread over 64 arena copies (48 MiB, beyond the 32 MiB L3):
    // every first touch comes from DRAM with only the hardware prefetcher's help, no software
    // prefetch. A pessimistic bound, not the worker's case.
    let copies: Vec<&[u8]> = (0..64).flat_map(|_| mix.iter().copied()).collect();
    let cold = arena(&copies.iter().map(|f| f.to_vec()).collect::<Vec<_>>());
    let cold = slots(&cold);
    g.throughput(Throughput::Elements(cold.len() as u64));
    g.sample_size(20);
    g.bench_function("realistic_mix_decap_beyond_llc", |b| {
        b.iter(|| pass(&cold, true, &mut m))
    });
    g.finish();
}

/// `PARSE_LOOP=trace|realistic:N`: N passes over one mix and nothing else, for instruction
/// counts under callgrind (instructions/packet = (Ir(N) - Ir(0)) / (N * 4096)).
fn fixed_loop(spec: &str) {
    let (which, n) = spec.split_once(':').expect("PARSE_LOOP=trace|realistic:N");
    let n: u32 = n.parse().expect("N");
    let (fs, mix) = inputs();
    let (fs, mix) = (arena(&fs), arena(&mix));
    let (frames, decap) = match which {
        "trace" => (slots(&fs), false),
        "realistic" => (slots(&mix), true),
        _ => panic!("PARSE_LOOP=trace|realistic:N"),
    };
    let mut m = PacketMeta::default();
    let mut ok = 0u64;
    for _ in 0..n {
        ok += u64::from(pass(&frames, decap, &mut m));
    }
    eprintln!("{which}: {n} passes, {ok} parsed");
}

criterion_group!(benches, parse);

fn main() {
    if let Ok(spec) = std::env::var("PARSE_LOOP") {
        return fixed_loop(&spec);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
