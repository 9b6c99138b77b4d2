//! Shard update cost per packet with a given number of concurrent flows (time passed in).
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use flowprobe::flow::{FlowRecord, RecordSink, Shard, ShardConfig};
use flowprobe::parse::PacketMeta;

struct Count(u64);
impl RecordSink for Count {
    fn emit(&mut self, _r: &FlowRecord) {
        self.0 += 1;
    }
}

fn metas(flows: u32) -> Vec<PacketMeta> {
    (0..flows)
        .map(|i| {
            let mut m = PacketMeta {
                ip_version: 4,
                proto: 17,
                src_port: (i & 0xffff) as u16,
                dst_port: 53,
                ip_len: 100,
                ..Default::default()
            };
            m.src_ip[..4].copy_from_slice(&(0x0a00_0000 | (i >> 16)).to_be_bytes());
            m.dst_ip[..4].copy_from_slice(&[192, 0, 2, 1]);
            m
        })
        .collect()
}

fn shard(c: &mut Criterion) {
    let mut g = c.benchmark_group("shard_update");
    for flows in [1_000u32, 100_000] {
        let ms = metas(flows);
        let mut sh = Shard::new(ShardConfig::new(flows * 2, 0, 0));
        let mut sink = Count(0);
        for m in &ms {
            sh.update(m, 128, 1, &mut sink);
        }
        let mut now = 2u64;
        g.throughput(Throughput::Elements(ms.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(flows), &ms, |b, ms| {
            b.iter(|| {
                for m in ms {
                    now += 1;
                    sh.update(m, 128, now, &mut sink);
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, shard);
criterion_main!(benches);
