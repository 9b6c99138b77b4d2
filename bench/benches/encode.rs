//! Record encoding cost: Netify JSON line and NetObserv lines (flowLogs + conversation record).
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flowprobe::flow::RecordKind;
use flowprobe::metrics::{ExporterMetrics, MetricsHandle};
use flowprobe_bench::{encoders, sample_record};

fn encode(c: &mut Criterion) {
    let (enc, nob) = encoders();
    let r = sample_record(RecordKind::End, false);
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
    // A ring burst of 64 mixed records (ports, kinds, versions vary) one by one and as a burst
    // (digests first): per-record cost is the time / 64.
    let burst: Vec<_> = (0..64u16)
        .map(|i| {
            let kind = [RecordKind::End, RecordKind::Start, RecordKind::Stats][usize::from(i % 3)];
            let mut r = sample_record(kind, i % 8 == 7);
            r.init_port = 40000 + i;
            r
        })
        .collect();
    g.throughput(Throughput::Elements(burst.len() as u64));
    g.bench_function("netify_64_one_by_one", |b| {
        b.iter(|| {
            out.clear();
            for r in std::hint::black_box(&burst) {
                enc.encode(r, &mut out);
            }
            out.len()
        })
    });
    g.bench_function("netify_64_burst", |b| {
        b.iter(|| {
            out.clear();
            enc.encode_burst(std::hint::black_box(&burst), &mut out);
            out.len()
        })
    });
    // What the exporter does per end record besides writing: the Netify line and the metrics
    // (byte counters, the flow histograms, the lag histogram), flushed once per burst.
    let ends: Vec<_> = (0..64u16)
        .map(|i| {
            let mut r = sample_record(RecordKind::End, i % 8 == 7);
            r.init_port = 40000 + i;
            r.last_ms = r.first_ms + u64::from(i) * 37;
            r
        })
        .collect();
    let mut m = ExporterMetrics::new(Some(&MetricsHandle::default()), &[]);
    g.bench_function("exporter_64_end_records", |b| {
        b.iter(|| {
            out.clear();
            enc.encode_burst(std::hint::black_box(&ends), &mut out);
            for r in &ends {
                m.record(r);
                m.lag.record(1e-4);
            }
            m.flush();
            out.len()
        })
    });
    g.throughput(Throughput::Elements(1));
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
