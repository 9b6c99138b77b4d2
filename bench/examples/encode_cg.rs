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
use flowprobe::export::{NetObservEncoder, NetifyEncoder};
use flowprobe::flow::{FlowRecord, RecordKind};
use flowprobe_bench::{encoders, sample_record};
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
    // The encode bench's record and encoders.
    let r = sample_record(rk, v6);
    let (enc, nob) = encoders();
    let mut out = Vec::with_capacity(1 << 16);
    let len = run(&enc, &nob, kind, &r, n, &mut out);
    println!("{} bytes/record", len as u64 / n.max(1));
    print!("{}", String::from_utf8_lossy(&out));
}
