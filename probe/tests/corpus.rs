//! The parser against real captures of other projects (`../shared/corpus`, see its README):
//! nDPI's per-flow results and tcpdump's malformed-packet collection. Both skip, saying so,
//! when the corpus is absent.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use flowprobe::compat::{Ignored, NdpiCompat, NdpiFlow};
use flowprobe::parse::{self, ParseError};
use flowprobe::pcapfile::CaptureReader;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");

fn corpus_dir(sub: &str) -> Option<PathBuf> {
    let d = Path::new(CORPUS).join(sub);
    if d.is_dir() {
        Some(d)
    } else {
        eprintln!("SKIP: {} is absent", d.display());
        None
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn report_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// Read every packet of a capture; `Err` is the message of the error that stopped it.
fn for_each_packet(path: &Path, mut f: impl FnMut(u32, &[u8])) -> Result<u64, String> {
    let mut r = CaptureReader::open(path).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        match r.next_packet(&mut buf) {
            Ok(Some(rec)) => {
                f(rec.linktype, &buf);
                n += 1;
            }
            Ok(None) => return Ok(n),
            Err(e) => return Err(format!("after {n} packets: {e}")),
        }
    }
}

/// A flow line of an nDPI `.out` file.
#[derive(Clone, Debug)]
struct Expected {
    proto: u8,
    vlan: u16,
    left: String,
    right: String,
    packets: [u64; 2],
    bytes: [u64; 2],
    line: String,
}

fn proto_number(name: &str) -> Option<u8> {
    Some(match name {
        "TCP" => 6,
        "UDP" => 17,
        "ICMP" => 1,
        "ICMPV6" => 58,
        "IGMP" => 2,
        "VRRP" => 112,
        "ESP" => 50,
        "AH" => 51,
        "SCTP" => 132,
        "OSPF" => 89,
        "PIM" => 103,
        "PGM" => 113,
        "GRE" => 47,
        n => return n.parse().ok(),
    })
}

/// Endpoint text reduced so nDPI's `:0:` → `::` rewrite and std's `::` compression compare
/// equal: IPv6 groups without the empty and zero ones (lossy, but unique within a capture).
fn canon_endpoint(ep: &str) -> String {
    let (ip, port) = ep.rsplit_once(':').unwrap_or((ep, "0"));
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if ip.contains(':') {
        let groups: Vec<&str> = ip
            .split(':')
            .filter(|g| !g.is_empty() && !g.trim_start_matches('0').is_empty())
            .collect();
        format!("[{}]:{port}", groups.join(":"))
    } else {
        format!("{ip}:{port}")
    }
}

fn endpoint_text(ip_version: u8, ep: ([u8; 16], u16)) -> String {
    let (ip, port) = ep;
    let ip = if ip_version == 4 {
        Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string()
    } else {
        Ipv6Addr::from(ip).to_string()
    };
    canon_endpoint(&format!("{ip}:{port}"))
}

fn parse_out(text: &str) -> Vec<Expected> {
    let mut v = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix('\t') else {
            continue;
        };
        let Some((num, rest)) = rest.split_once('\t') else {
            continue;
        };
        if num.parse::<u32>().is_err() {
            continue;
        }
        let mut it = rest.splitn(5, ' ');
        let (Some(proto), Some(left), Some(dir), Some(right), Some(tail)) =
            (it.next(), it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        if dir != "<->" && dir != "->" {
            continue;
        }
        let Some(proto) = proto_number(proto) else {
            continue;
        };
        let vlan = tail
            .split_once("[VLAN: ")
            .and_then(|(_, v)| v.split(']').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        // "[7 pkts/4845 bytes <-> 73 pkts/178280 bytes]"
        let Some(counters) = tail
            .find(" pkts/")
            .and_then(|i| tail[..i].rfind('[').map(|s| &tail[s + 1..]))
            .and_then(|c| c.split(']').next())
        else {
            continue;
        };
        let w: Vec<&str> = counters.split_whitespace().collect();
        let num = |s: &str| s.trim_start_matches("pkts/").parse::<u64>().unwrap_or(0);
        if w.len() != 7 {
            continue;
        }
        v.push(Expected {
            proto,
            vlan,
            left: canon_endpoint(left),
            right: canon_endpoint(right),
            packets: [num(w[0]), num(w[4])],
            bytes: [num(w[1]), num(w[5])],
            line: line.chars().take(160).collect(),
        });
    }
    v
}

#[derive(Default)]
struct Totals {
    files: usize,
    total: usize,
    matched: usize,
    swapped: usize,
    counts_differ: usize,
    missing: usize,
    extra: usize,
    read_errors: usize,
}

impl Totals {
    /// The flow counts both nDPI comparisons report.
    fn counts(&self) -> String {
        format!(
            "{} files, {} flows: {} matched ({:.2}%), {} left/right swapped, {} counts differ, {} \
             missing, {} extra in ours",
            self.files,
            self.total,
            self.matched,
            self.matched as f64 * 100.0 / self.total.max(1) as f64,
            self.swapped,
            self.counts_differ,
            self.missing,
            self.extra
        )
    }
}

/// One of our flows, endpoints as canonical text (see `canon_endpoint`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Ours {
    proto: u8,
    vlan: u16,
    /// Initiator (first packet's sender), then the other side.
    left: String,
    right: String,
    /// left→right, right→left.
    packets: [u64; 2],
    bytes: [u64; 2],
}

fn compare_file(pcap: &Path, expected: &[Expected], t: &mut Totals, report: &mut String) {
    let name = pcap.file_name().unwrap().to_string_lossy().into_owned();
    let mut compat = NdpiCompat::new();
    let mut linktypes: HashMap<u32, u64> = HashMap::new();
    let read = for_each_packet(pcap, |lt, frame| {
        *linktypes.entry(lt).or_default() += 1;
        let _ = compat.add(lt, frame);
        for decap in [false, true] {
            // The fast path for common shapes agrees with the layered parser.
            assert_eq!(
                parse::parse_frame(lt, frame, decap),
                parse::parse_frame_reference(lt, frame, decap),
                "{}",
                pcap.display()
            );
        }
    });
    if let Err(e) = &read {
        t.read_errors += 1;
        let _ = writeln!(report, "{name}: read error {e}");
    }
    let ours: Vec<Ours> = compat
        .flows()
        .iter()
        .map(|f: &NdpiFlow| Ours {
            proto: f.proto,
            vlan: f.vlan,
            left: endpoint_text(f.ip_version, f.left),
            right: endpoint_text(f.ip_version, f.right),
            packets: f.packets,
            bytes: f.bytes,
        })
        .collect();
    let context = format!("link types {linktypes:?}, ignored {:?}", compat.ignored());
    compare_flows(&name, &context, &ours, expected, t, report);
}

/// Flow by flow: the key (protocol, VLAN, endpoints) must exist on both sides, with the same
/// initiator and the same per-direction packets and bytes. Every difference goes to `report`.
fn compare_flows(
    name: &str,
    context: &str,
    ours: &[Ours],
    expected: &[Expected],
    t: &mut Totals,
    report: &mut String,
) {
    type K = (u8, u16, String, String);
    let mut mine: HashMap<K, (&Ours, bool)> = HashMap::new();
    for f in ours {
        let key = if f.left <= f.right {
            (f.proto, f.vlan, f.left.clone(), f.right.clone())
        } else {
            (f.proto, f.vlan, f.right.clone(), f.left.clone())
        };
        mine.insert(key, (f, false));
    }
    let mut diffs = String::new();
    for e in expected {
        t.total += 1;
        let key = if e.left <= e.right {
            (e.proto, e.vlan, e.left.clone(), e.right.clone())
        } else {
            (e.proto, e.vlan, e.right.clone(), e.left.clone())
        };
        let Some((f, seen)) = mine.get_mut(&key) else {
            t.missing += 1;
            let _ = writeln!(diffs, "  missing (ours: no such key): {}", e.line);
            continue;
        };
        *seen = true;
        let same_side = f.left == e.left;
        let (p, b) = if same_side {
            (f.packets, f.bytes)
        } else {
            ([f.packets[1], f.packets[0]], [f.bytes[1], f.bytes[0]])
        };
        if (p, b) == (e.packets, e.bytes) {
            if same_side {
                t.matched += 1;
            } else {
                t.swapped += 1;
                let _ = writeln!(
                    diffs,
                    "  left/right swapped (first packet seen differently): {}",
                    e.line
                );
            }
        } else {
            t.counts_differ += 1;
            let _ = writeln!(
                diffs,
                "  counts differ: ours {:?} pkts {:?} bytes, nDPI {:?} {:?}: {}",
                p, b, e.packets, e.bytes, e.line
            );
        }
    }
    for (k, (_, seen)) in &mine {
        if !seen {
            t.extra += 1;
            let _ = writeln!(diffs, "  extra (not in nDPI): {k:?}");
        }
    }
    if !diffs.is_empty() {
        let _ = writeln!(report, "{name}: {context}\n{diffs}");
    }
}

/// Every nDPI capture, flow by flow, against `result/NAME.out`.
#[test]
fn ndpi_flows_match() {
    let Some(dir) = corpus_dir("ndpi") else {
        return;
    };
    let started = std::time::Instant::now();
    let mut t = Totals::default();
    let mut report = String::new();
    for pcap in files(&dir.join("pcap")) {
        let name = pcap.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(out) = std::fs::read(dir.join("result").join(format!("{name}.out"))) else {
            continue;
        };
        let expected = parse_out(&String::from_utf8_lossy(&out));
        t.files += 1;
        compare_file(&pcap, &expected, &mut t, &mut report);
    }
    let summary = format!(
        "nDPI corpus: {}, {} files with read errors ({:.1}s)\n",
        t.counts(),
        t.read_errors,
        started.elapsed().as_secs_f64()
    );
    let path = report_path("ndpi-report.txt");
    std::fs::write(&path, format!("{summary}\n{report}")).unwrap();
    eprintln!("{summary}report: {}", path.display());
    assert!(t.total > 8000, "{summary}");
    assert!(
        t.matched * 1000 >= t.total * MATCH_FLOOR_PER_MILLE,
        "{summary}"
    );
}

/// Our flows for one capture from the built binary under `--compat ndpi`: its `flow` records give
/// the key and the initiator, its `flow_purge` records the counters (summed per digest).
fn binary_flows(bin: &str, pcap: &Path) -> Result<Vec<Ours>, String> {
    let out = std::process::Command::new("timeout")
        .args([
            "-s",
            "KILL",
            "120",
            bin,
            "--no-huge",
            "--metrics-listen",
            "off",
        ])
        .args([
            "--compat",
            "ndpi",
            "--stats-interval",
            "0",
            "--max-flows",
            "65536",
        ])
        .arg("--pcap")
        .arg(pcap)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "exit {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    let mut flows: Vec<Ours> = Vec::new();
    let mut by_digest: HashMap<String, (usize, bool)> = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let r: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let f = &r["flow"];
        let digest = f["digest"].as_str().unwrap_or_default().to_string();
        let num = |k: &str| f[k].as_u64().unwrap_or(0);
        match r["type"].as_str() {
            Some("flow") => {
                let ep = |side: &str| {
                    canon_endpoint(&format!(
                        "{}:{}",
                        f[format!("{side}_ip")].as_str().unwrap_or_default(),
                        num(&format!("{side}_port"))
                    ))
                };
                let local_first = f["local_origin"].as_bool().unwrap_or(true);
                let (l, o) = (ep("local"), ep("other"));
                let (left, right) = if local_first { (l, o) } else { (o, l) };
                by_digest.insert(digest, (flows.len(), local_first));
                flows.push(Ours {
                    proto: num("ip_protocol") as u8,
                    vlan: num("vlan_id") as u16,
                    left,
                    right,
                    packets: [0; 2],
                    bytes: [0; 2],
                });
            }
            Some("flow_purge") => {
                let &(i, local_first) = by_digest
                    .get(&digest)
                    .ok_or_else(|| format!("purge before its flow record: {line}"))?;
                let (lp, lb, op, ob) = (
                    num("local_packets"),
                    num("local_bytes"),
                    num("other_packets"),
                    num("other_bytes"),
                );
                let (p, b) = if local_first {
                    ([lp, op], [lb, ob])
                } else {
                    ([op, lp], [ob, lb])
                };
                let f = &mut flows[i];
                for d in 0..2 {
                    f.packets[d] += p[d];
                    f.bytes[d] += b[d];
                }
            }
            _ => {}
        }
    }
    Ok(flows)
}

/// Every nDPI capture through the built binary (`--compat ndpi`, the built-in capture reader),
/// compared flow by flow like `ndpi_flows_match`, and against the in-process comparison: the
/// probe's own flow engine must count exactly what `NdpiCompat` counts.
#[test]
fn ndpi_flows_match_through_the_binary() {
    let Some(dir) = corpus_dir("ndpi") else {
        return;
    };
    // Absent when the binary is not built (`--no-default-features`: no DPDK).
    let Some(bin) = option_env!("CARGO_BIN_EXE_flowprobe") else {
        eprintln!("SKIP: the flowprobe binary is not built");
        return;
    };
    let started = std::time::Instant::now();
    let mut work: Vec<(PathBuf, Vec<Expected>)> = Vec::new();
    for pcap in files(&dir.join("pcap")) {
        let name = pcap.file_name().unwrap().to_string_lossy().into_owned();
        if let Ok(out) = std::fs::read(dir.join("result").join(format!("{name}.out"))) {
            work.push((pcap, parse_out(&String::from_utf8_lossy(&out))));
        }
    }
    // One probe process per capture, as many at a time as there are CPUs.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(vec![None; work.len()]);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((pcap, _)) = work.get(i) else {
                    break;
                };
                let r = binary_flows(bin, pcap);
                results.lock().unwrap()[i] = Some(r);
            });
        }
    });
    let mut t = Totals::default();
    let (mut report, mut differ_from_in_process, mut failed) =
        (String::new(), Vec::new(), Vec::new());
    // Captures of the cases the comparison mode exists for, to show the run covered them.
    #[derive(Default)]
    struct Cover {
        vlan: std::collections::BTreeSet<String>,
        tunnels: std::collections::BTreeSet<String>,
        fragments: std::collections::BTreeSet<String>,
        non_ethernet: std::collections::BTreeSet<String>,
    }
    let mut cover = Cover::default();
    for ((pcap, expected), r) in work.iter().zip(results.into_inner().unwrap()) {
        let name = pcap.file_name().unwrap().to_string_lossy().into_owned();
        t.files += 1;
        // The same capture in-process.
        let mut compat = NdpiCompat::new();
        let read = for_each_packet(pcap, |lt, frame| {
            let r = compat.add(lt, frame);
            if lt != 1 {
                cover.non_ethernet.insert(name.clone());
            }
            if r.is_ok_and(|m| m.tunnel != parse::Tunnel::None) {
                cover.tunnels.insert(name.clone());
            }
            if r == Err(Ignored::Fragment) {
                cover.fragments.insert(name.clone());
            }
        });
        if expected.iter().any(|e| e.vlan != 0) {
            cover.vlan.insert(name.clone());
        }
        let ours = match (r.unwrap(), &read) {
            (Ok(f), _) => f,
            // A capture the reader rejects is an error exit of the probe (after the records of
            // the packets before the damage: none in this corpus).
            (Err(e), Err(_)) => {
                t.read_errors += 1;
                let _ = writeln!(report, "{name}: unreadable capture, the probe says: {e}");
                Vec::new()
            }
            (Err(e), Ok(_)) => {
                failed.push(name.clone());
                let _ = writeln!(report, "{name}: the probe failed: {e}");
                Vec::new()
            }
        };
        compare_flows(
            &name,
            "through the binary",
            &ours,
            expected,
            &mut t,
            &mut report,
        );
        let mut inproc: Vec<Ours> = compat
            .flows()
            .iter()
            .map(|f| Ours {
                proto: f.proto,
                vlan: f.vlan,
                left: endpoint_text(f.ip_version, f.left),
                right: endpoint_text(f.ip_version, f.right),
                packets: f.packets,
                bytes: f.bytes,
            })
            .collect();
        let mut ours = ours;
        let order = |a: &Ours, b: &Ours| {
            (a.proto, a.vlan, &a.left, &a.right).cmp(&(b.proto, b.vlan, &b.left, &b.right))
        };
        ours.sort_by(order);
        inproc.sort_by(order);
        if ours != inproc {
            differ_from_in_process.push(name.clone());
            let _ = writeln!(
                report,
                "{name}: binary and in-process differ:\n  binary     {ours:?}\n  in-process {inproc:?}"
            );
        }
    }
    let summary = format!(
        "nDPI corpus through flowprobe --compat ndpi: {}, {} unreadable captures, {} failed runs; \
         {} files differ from the in-process comparison ({:.1}s)\n",
        t.counts(),
        t.read_errors,
        failed.len(),
        differ_from_in_process.len(),
        started.elapsed().as_secs_f64()
    );
    let summary = format!(
        "{summary}covering {} captures with VLAN flows, {} with tunnels unwrapped, {} with \
         non-first fragments ignored, {} with non-Ethernet link types\n",
        cover.vlan.len(),
        cover.tunnels.len(),
        cover.fragments.len(),
        cover.non_ethernet.len()
    );
    let path = report_path("ndpi-binary-report.txt");
    std::fs::write(&path, format!("{summary}\n{report}")).unwrap();
    eprintln!("{summary}report: {}", path.display());
    assert!(t.total > 8000, "{summary}");
    assert!(failed.is_empty(), "{summary}{failed:?}");
    for (what, set) in [
        ("VLAN", &cover.vlan),
        ("tunnels", &cover.tunnels),
        ("fragments", &cover.fragments),
        ("non-Ethernet", &cover.non_ethernet),
    ] {
        assert!(set.len() >= 3, "{what}: {set:?}");
    }
    assert!(
        differ_from_in_process.is_empty(),
        "{summary}{differ_from_in_process:?}"
    );
    assert!(
        t.matched * 1000 >= t.total * MATCH_FLOOR_PER_MILLE,
        "{summary}"
    );
}

/// The match rate reached (per mille, rounded down); the test fails if the parser regresses.
const MATCH_FLOOR_PER_MILLE: usize = 999;

/// Every tcpdump capture: every packet read is parsed and is either Ok or a counted error;
/// a corrupt file is an error from the reader, never a panic or a hang.
#[test]
fn tcpdump_captures_parse_or_count() {
    let Some(dir) = corpus_dir("tcpdump") else {
        return;
    };
    let mut packets = 0u64;
    let mut ok = 0u64;
    let mut errs = [0u64; ParseError::COUNT];
    let mut tunnelled = 0u64;
    let mut fragments = 0u64;
    let (mut read_ok, mut read_err, mut not_capture) = (0, 0, 0);
    let mut report = String::new();
    for path in files(&dir) {
        let mut first_byte = [0u8; 4];
        if std::fs::File::open(&path)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut first_byte))
            .is_err()
        {
            not_capture += 1;
            continue;
        }
        let res = for_each_packet(&path, |lt, frame| {
            packets += 1;
            for decap in [false, true] {
                // The fast path for common shapes agrees with the layered parser.
                assert_eq!(
                    parse::parse_frame(lt, frame, decap),
                    parse::parse_frame_reference(lt, frame, decap),
                    "{}",
                    path.display()
                );
                match parse::parse_frame(lt, frame, decap) {
                    Ok(m) => {
                        if decap {
                            ok += 1;
                            tunnelled += u64::from(m.tunnel != parse::Tunnel::None);
                            fragments += u64::from(m.frag_offset != 0);
                        }
                        assert!(usize::from(m.payload_offset) <= frame.len());
                        assert!(m.l3_offset <= m.l4_offset && m.l4_offset <= m.payload_offset);
                    }
                    Err(e) => {
                        if decap {
                            errs[e as usize] += 1;
                        }
                    }
                }
            }
        });
        match res {
            Ok(_) => read_ok += 1,
            Err(e) => {
                read_err += 1;
                let _ = writeln!(report, "{}: {e}", path.display());
            }
        }
    }
    let counted: u64 = errs.iter().sum();
    let mut summary = format!(
        "tcpdump corpus: {read_ok} files read, {read_err} stopped by a reader error, \
         {not_capture} empty; {packets} packets: {ok} ok ({tunnelled} unwrapped from tunnels, \
         {fragments} non-first fragments), {counted} counted errors:"
    );
    for e in ParseError::ALL {
        if errs[e as usize] != 0 {
            let _ = write!(summary, " {}={}", e.name(), errs[e as usize]);
        }
    }
    let path = report_path("tcpdump-report.txt");
    std::fs::write(&path, format!("{summary}\n{report}")).unwrap();
    eprintln!("{summary}\nreport: {}", path.display());
    assert_eq!(ok + counted, packets, "accounting identity");
    assert!(read_ok > 700, "{summary}");
    assert!(ok > packets / 2, "{summary}");
}

#[test]
fn endpoint_canonical_forms_agree() {
    let mut ip = [0u8; 16];
    ip[..4].copy_from_slice(&[0x26, 0x00, 0x19, 0x01]);
    ip[6..8].copy_from_slice(&[0x7a, 0x0b]);
    assert_eq!(
        endpoint_text(6, (ip, 443)),
        canon_endpoint("2600:1901::7a0b:::443")
    );
    assert_eq!(
        canon_endpoint("2600:1901::7a0b:::443"),
        "[2600:1901:7a0b]:443"
    );
    assert_eq!(
        endpoint_text(4, ([10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 53)),
        "10.0.0.1:53"
    );
    let e = parse_out(
        "\t1\tTCP 192.168.1.13:55523 <-> 178.62.197.130:443 [VLAN: 5][proto: x][51 pkts/4260 bytes <-> 58 pkts/69722 bytes][x]\n",
    );
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].proto, e[0].vlan), (6, 5));
    assert_eq!((e[0].packets, e[0].bytes), ([51, 58], [4260, 69722]));
    let _ = Ignored::Short;
}

/// Every tcpdump capture through the whole worker pipeline (parser, fragment table, flow table,
/// timers): the accounting identity holds per file, and every flow ends in exactly one record.
#[test]
fn tcpdump_captures_keep_the_accounting_identity_in_the_pipeline() {
    use flowprobe::flow::{EndReason, RecordKind, ShardConfig};
    use flowprobe::pipeline::{LinkType, Pipeline};
    let Some(dir) = corpus_dir("tcpdump") else {
        return;
    };
    let (mut files_seen, mut packets) = (0u64, 0u64);
    for path in files(&dir) {
        // Small table and short timers: eviction, expiry and reports all happen on this corpus.
        let mut p = Pipeline::new(
            ShardConfig {
                active_timeout_ns: 60_000_000_000,
                ..ShardConfig::new(64, 5_000_000_000, 1_000_000_000)
            },
            LinkType::Ethernet,
            Vec::new(),
        );
        let mut r = match CaptureReader::open(&path) {
            Ok(r) => r,
            Err(_) => continue,
        };
        let mut buf = Vec::new();
        while let Ok(Some(rec)) = r.next_packet(&mut buf) {
            p.set_link(LinkType::from_pcap(rec.linktype));
            p.packet(&buf, rec.orig_len.max(buf.len() as u32), rec.ts_ns);
            p.tick(rec.ts_ns);
        }
        p.finish(EndReason::Shutdown);
        let st = *p.shard_stats();
        let ends: Vec<_> = p
            .batch
            .out
            .iter()
            .filter(|r| r.kind == RecordKind::End)
            .collect();
        let purged: u64 = ends.iter().map(|r| r.total_packets()).sum();
        assert_eq!(
            st.packets + p.unmatched_total(),
            p.rx_packets,
            "{}: attributed + unmatched = received",
            path.display()
        );
        assert_eq!(
            purged,
            st.packets,
            "{}: end records carry every attributed packet",
            path.display()
        );
        assert_eq!(
            ends.len() as u64,
            st.flows_created,
            "{}: one end record per flow",
            path.display()
        );
        files_seen += 1;
        packets += p.rx_packets;
    }
    eprintln!("pipeline accounting over the tcpdump corpus: {files_seen} files, {packets} packets");
    assert!(files_seen > 700);
}
