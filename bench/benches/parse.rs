//! Parse cost per packet over frames of the generated trace mix.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flowprobe::synth::trace::{TraceConfig, TraceGen};

fn frames(n: u64) -> Vec<Vec<u8>> {
    TraceGen::new(TraceConfig {
        packets: n,
        ..Default::default()
    })
    .map(|(_, f)| f)
    .collect()
}

fn parse(c: &mut Criterion) {
    let fs = frames(4096);
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(fs.len() as u64));
    g.bench_function("trace_mix", |b| {
        b.iter(|| {
            let mut ok = 0u32;
            for f in &fs {
                ok += flowprobe::parse::parse_ethernet(std::hint::black_box(f)).is_ok() as u32;
            }
            ok
        })
    });
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
