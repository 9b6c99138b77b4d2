//! Record encoding cost: Netify JSON line and NetObserv lines (flowLogs + conversation record).
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flowprobe::export::{LocalNets, NetObservEncoder, NetifyEncoder, SubnetLabels};
use flowprobe::flow::{DirCounters, FlowRecord, RecordKind};

fn encode(c: &mut Criterion) {
    let enc = NetifyEncoder::new(LocalNets::default_nets(), vec!["pcap0".into()]);
    let nob = NetObservEncoder::new(
        LocalNets::default_nets(),
        SubnetLabels::parse(&["10.0.0.0/8=corp"]).unwrap(),
        vec!["pcap0".into()],
    );
    let mut r = FlowRecord {
        kind: RecordKind::End,
        ip_version: 4,
        proto: 6,
        init_port: 40000,
        resp_port: 443,
        ..Default::default()
    };
    r.init_ip[..4].copy_from_slice(&[10, 0, 0, 1]);
    r.resp_ip[..4].copy_from_slice(&[198, 51, 100, 1]);
    let d = DirCounters {
        packets: 10,
        bytes: 5000,
        delta_packets: 4,
        delta_bytes: 2000,
        ..Default::default()
    };
    r.dir = [d, d];
    let mut out = Vec::with_capacity(1 << 20);
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("netify_purge", |b| {
        b.iter(|| {
            out.clear();
            enc.encode(std::hint::black_box(&r), &mut out);
            out.len()
        })
    });
    let mut start = r;
    start.kind = RecordKind::Start;
    g.bench_function("netify_start", |b| {
        b.iter(|| {
            out.clear();
            enc.encode(std::hint::black_box(&start), &mut out);
            out.len()
        })
    });
    let mut stats = r;
    stats.kind = RecordKind::Stats;
    g.bench_function("netify_stats", |b| {
        b.iter(|| {
            out.clear();
            enc.encode(std::hint::black_box(&stats), &mut out);
            out.len()
        })
    });
    // The SHA-1 flow digest alone (part of every Netify record).
    g.bench_function("netify_digest", |b| {
        b.iter(|| {
            out.clear();
            enc.digest(std::hint::black_box(&r), &mut out);
            out.len()
        })
    });
    g.bench_function("netobserv_start_1_line", |b| {
        b.iter(|| {
            out.clear();
            nob.encode(std::hint::black_box(&start), 1_767_225_600, &mut out);
            out.len()
        })
    });
    // One End record with traffic both ways: two flowLogs and the endConnection.
    g.bench_function("netobserv_purge_3_lines", |b| {
        b.iter(|| {
            out.clear();
            nob.encode(std::hint::black_box(&r), 1_767_225_600, &mut out);
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
