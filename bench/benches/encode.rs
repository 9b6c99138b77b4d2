//! Record encoding cost (Netify JSON line).
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flowprobe::export::{LocalNets, NetifyEncoder};
use flowprobe::flow::{FlowRecord, RecordKind};

fn encode(c: &mut Criterion) {
    let enc = NetifyEncoder::new(LocalNets::default_nets(), vec!["pcap0".into()]);
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
    g.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
