//! Shard update cost per packet with a given number of concurrent flows (time passed in).
//!
//! Every flow is created first (the table holds exactly `flows` entries, no eviction); each
//! iteration then updates 1,000 existing flows in a scattered order (an odd stride through the
//! flow numbers), so the slab and the index are hit like a busy link hits them, not sequentially.
//! Packet metadata is built on the fly from the flow number (a few stores, in cache) so a 10M-flow
//! run does not measure misses on a metadata array instead of the table.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use flowprobe::flow::{FlowRecord, RecordSink, Shard, ShardConfig};
use flowprobe::parse::PacketMeta;

struct Count(u64);
impl RecordSink for Count {
    fn emit(&mut self, _r: &FlowRecord) {
        self.0 += 1;
    }
}

#[inline]
fn meta(i: u32) -> PacketMeta {
    let mut m = PacketMeta {
        ip_version: 4,
        proto: 17,
        src_port: (i & 0xffff) as u16,
        dst_port: 53,
        ip_len: 100,
        ttl: 64,
        ..Default::default()
    };
    m.src_ip[..4].copy_from_slice(&(0x0a00_0000 | (i >> 16)).to_be_bytes());
    m.dst_ip[..4].copy_from_slice(&[192, 0, 2, 1]);
    m
}

/// Packets per iteration.
const BATCH: u32 = 1000;

fn shard(c: &mut Criterion) {
    let mut g = c.benchmark_group("shard_update");
    let mut sizes = vec![1_000u32, 100_000, 1_000_000];
    // 10M flows need ~2.4 GB; opt in with FLOWPROBE_BENCH_10M=1.
    if std::env::var_os("FLOWPROBE_BENCH_10M").is_some() {
        sizes.push(10_000_000);
    }
    for flows in sizes {
        let mut sh = Shard::new(ShardConfig::new(flows, 0, 0));
        let mut sink = Count(0);
        for i in 0..flows {
            sh.update(&meta(i), 128, 1, &mut sink);
        }
        assert_eq!(sh.len(), flows as u64);
        eprintln!(
            "shard_update/{flows}: entry {} bytes, {:.1} bytes/flow with the index, table {:.1} MB",
            Shard::entry_size(),
            sh.bytes_per_flow(),
            sh.memory_bytes() as f64 / 1e6
        );
        // Large odd stride: consecutive packets land far apart in the slab.
        let stride = (flows / 2 + 7919) | 1;
        let mut i = 0u32;
        let mut now = 2u64;
        g.throughput(Throughput::Elements(BATCH as u64));
        g.bench_function(BenchmarkId::from_parameter(flows), |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    i = (i + stride) % flows;
                    now += 1;
                    sh.update(&meta(i), 128, now, &mut sink);
                }
            })
        });
        assert_eq!(sh.len(), flows as u64, "no flow was evicted or created");
    }
    g.finish();
}

criterion_group!(benches, shard);
criterion_main!(benches);
