//! Flow counting the way nDPI's `ndpiReader` does, to compare the parser against nDPI's test
//! results (`../shared/corpus/ndpi`, see its README).
//!
//! This is a comparison aid, not the probe's flow engine: one key is one flow for the whole
//! capture (no timeouts, no TCP-state split), the left endpoint is the first packet's sender, and
//! packets nDPI ignores are ignored here for the same reasons. Pure: frames in, counters out.

use std::collections::HashMap;

use crate::parse::{self, PacketMeta, ParseError};

/// One endpoint: address (IPv4 in the first 4 bytes) and port (0 unless TCP/UDP).
pub type Endpoint = ([u8; 16], u16);

/// A flow as nDPI prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NdpiFlow {
    pub ip_version: u8,
    pub proto: u8,
    pub vlan: u16,
    /// Sender of the first packet.
    pub left: Endpoint,
    pub right: Endpoint,
    /// left→right, then right→left.
    pub packets: [u64; 2],
    /// Captured frame bytes (whole L2 frame, outer tunnel headers included).
    pub bytes: [u64; 2],
}

/// Why a frame is not counted in any flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ignored {
    /// The parser rejected it (non-IP frames are `ParseError::NotIp`).
    Parse(ParseError),
    /// Non-first IP fragment.
    Fragment,
    /// Shorter than the L2 header + 28 bytes.
    Short,
    /// IPv4 total length beyond the captured bytes.
    CutIp,
}

/// Canonical key: (ip version, proto, vlan, lower endpoint, higher endpoint).
type Key = (u8, u8, u16, Endpoint, Endpoint);

/// Aggregates frames into nDPI-style flows.
#[derive(Default)]
pub struct NdpiCompat {
    index: HashMap<Key, usize>,
    flows: Vec<NdpiFlow>,
    ignored: HashMap<Ignored, u64>,
}

impl NdpiCompat {
    pub fn new() -> Self {
        Self::default()
    }

    /// Count one captured frame of pcap link type `linktype`.
    pub fn add(&mut self, linktype: u32, frame: &[u8]) -> Result<PacketMeta, Ignored> {
        let mut m = PacketMeta::default();
        let r = ndpi_parse_into(linktype, frame, &mut m).map(|()| m);
        match r {
            Ok(m) => self.count(&m, frame.len()),
            Err(why) => *self.ignored.entry(why).or_default() += 1,
        }
        r
    }

    fn count(&mut self, m: &PacketMeta, len: usize) {
        let (src, dst) = ((m.src_ip, m.src_port), (m.dst_ip, m.dst_port));
        let key = (m.ip_version, m.proto, m.vlan, src.min(dst), src.max(dst));
        let flows = &mut self.flows;
        let i = *self.index.entry(key).or_insert_with(|| {
            flows.push(NdpiFlow {
                ip_version: m.ip_version,
                proto: m.proto,
                vlan: m.vlan,
                left: src,
                right: dst,
                packets: [0; 2],
                bytes: [0; 2],
            });
            flows.len() - 1
        });
        let f = &mut self.flows[i];
        let dir = usize::from(f.left != src);
        f.packets[dir] += 1;
        f.bytes[dir] += len as u64;
    }

    /// Flows in order of their first packet.
    pub fn flows(&self) -> &[NdpiFlow] {
        &self.flows
    }

    /// Frames not counted, per reason.
    pub fn ignored(&self) -> &HashMap<Ignored, u64> {
        &self.ignored
    }
}

/// Parse `frame` the way nDPI's reader takes packets into flows: the outer packet decides the
/// length rules (checked before unwrapping, as nDPI does), tunnels are unwrapped, non-first
/// fragments and cut or short packets are ignored, malformed IPv4 transport headers are keyed
/// leniently, and the VLAN is the innermost 802.1Q tag. `frame` must be every captured byte.
/// Used in-process by [`NdpiCompat`] and by the pipeline under `--compat ndpi`.
pub fn ndpi_parse_into(linktype: u32, frame: &[u8], m: &mut PacketMeta) -> Result<(), Ignored> {
    match parse::parse_frame_into(linktype, frame, false, m) {
        Ok(()) => {}
        Err(e @ (ParseError::Truncated | ParseError::BadHeaderLen)) => {
            *m = lenient_ipv4(linktype, frame).ok_or(Ignored::Parse(e))?;
            return Ok(());
        }
        Err(e) => return Err(Ignored::Parse(e)),
    }
    if frame.len() < usize::from(m.l3_offset) + 28 {
        return Err(Ignored::Short);
    }
    let cut = |m: &PacketMeta| {
        m.ip_version == 4 && frame.len() < usize::from(m.l3_offset) + usize::from(m.ip_len)
    };
    for decap in [false, true] {
        if decap {
            parse::parse_frame_into(linktype, frame, true, m).map_err(Ignored::Parse)?;
        }
        if m.frag_offset != 0 {
            return Err(Ignored::Fragment);
        }
        if cut(m) {
            return Err(Ignored::CutIp);
        }
    }
    m.vlan = ndpi_vlan(linktype, frame, m);
    Ok(())
}

impl Ignored {
    /// The unmatched-packet reason the pipeline counts an ignored frame under.
    pub fn reason(self) -> ParseError {
        match self {
            Ignored::Parse(e) => e,
            Ignored::Fragment => ParseError::Fragment,
            Ignored::Short | Ignored::CutIp => ParseError::Truncated,
        }
    }
}

/// nDPI reads the ports of an IPv4 packet whenever the IP payload is long enough for the
/// transport header (20 bytes TCP, 8 UDP), whatever the TCP data offset says, and keys a packet
/// with a shorter payload on ports 0; the parser rejects both. Only plain IPv4 behind Ethernet
/// (802.1Q tags), Linux SLL or raw IP is retried this way: that is where the corpus has them.
fn lenient_ipv4(linktype: u32, frame: &[u8]) -> Option<PacketMeta> {
    let l3 = match linktype {
        1 => {
            let mut off = 12;
            while matches!(frame.get(off..off + 2)?, [0x81, 0x00] | [0x88, 0xa8]) {
                off += 4;
            }
            (frame.get(off..off + 2)? == [0x08, 0x00]).then_some(off + 2)?
        }
        113 => (frame.get(14..16)? == [0x08, 0x00]).then_some(16)?,
        101 | 228 => 0,
        _ => return None,
    };
    let ip = frame.get(l3..)?;
    let hdr = ip.get(..20)?;
    let ihl = usize::from(hdr[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([hdr[2], hdr[3]]));
    let frag = u16::from_be_bytes([hdr[6], hdr[7]]) & 0x1fff;
    if hdr[0] >> 4 != 4
        || ihl < 20
        || ihl > ip.len()
        || total > ip.len()
        || total < ihl
        || frag != 0
    {
        return None;
    }
    if frame.len() < l3 + 28 {
        return None;
    }
    let mut m = PacketMeta {
        ip_version: 4,
        proto: hdr[9],
        ip_len: total as u16,
        l3_offset: l3 as u16,
        vlan: ndpi_vlan(linktype, frame, &PacketMeta::default()),
        ..PacketMeta::default()
    };
    m.src_ip[..4].copy_from_slice(&hdr[12..16]);
    m.dst_ip[..4].copy_from_slice(&hdr[16..20]);
    let need = match m.proto {
        6 => 20,
        17 => 8,
        _ => usize::MAX,
    };
    if total - ihl >= need {
        let ports = ip.get(ihl..ihl + 4)?;
        m.src_port = u16::from_be_bytes([ports[0], ports[1]]);
        m.dst_port = u16::from_be_bytes([ports[2], ports[3]]);
    }
    Some(m)
}

/// nDPI keys on the innermost of the capture's run of 802.1Q (0x8100) tags, also for tunnelled
/// flows, where the probe reports the outermost VID.
fn ndpi_vlan(linktype: u32, frame: &[u8], m: &PacketMeta) -> u16 {
    if linktype != 1 {
        return m.vlan;
    }
    let mut vlan = m.vlan;
    let mut off = 12;
    while let Some(&[0x81, 0x00, hi, lo]) = frame.get(off..off + 4) {
        vlan = u16::from_be_bytes([hi, lo]) & 0x0fff;
        off += 4;
    }
    vlan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4_udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, frag: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14];
        f[12] = 0x08;
        let total = 28u16;
        f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 1]);
        f.extend_from_slice(&frag.to_be_bytes());
        f.extend_from_slice(&[64, 17, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&[0, 8, 0, 0]);
        f
    }

    #[test]
    fn directions_and_ignores() {
        let (a, b) = ([10, 0, 0, 2], [10, 0, 0, 1]);
        let mut c = NdpiCompat::new();
        assert!(c.add(1, &v4_udp(a, b, 1000, 53, 0)).is_ok());
        let mut reply = v4_udp(b, a, 53, 1000, 0);
        reply.resize(60, 0); // Ethernet padding counts as bytes
        assert!(c.add(1, &reply).is_ok());
        assert!(c.add(1, &v4_udp(a, b, 1000, 53, 0)).is_ok());
        assert_eq!(
            c.add(1, &v4_udp(a, b, 1000, 53, 10)),
            Err(Ignored::Fragment)
        );
        let mut cut = v4_udp(a, b, 1000, 53, 0);
        cut[17] = 100; // total length 100 > captured
        assert_eq!(c.add(1, &cut), Err(Ignored::CutIp));
        assert_eq!(c.add(1, &[0u8; 20]), Err(Ignored::Parse(ParseError::NotIp)));
        assert_eq!(
            c.add(1, &v4_udp(a, b, 1000, 53, 0)[..41]),
            Err(Ignored::Parse(ParseError::Truncated))
        );
        // ICMP parses with 2 bytes of header, but nDPI wants L2 + 28 bytes.
        let mut icmp = v4_udp(a, b, 0x0800, 0, 0);
        icmp[23] = 1;
        icmp[17] = 24;
        assert_eq!(c.add(1, &icmp[..38]), Err(Ignored::Short));
        let f = c.flows();
        assert_eq!(f.len(), 1);
        let mut l = [0; 16];
        l[..4].copy_from_slice(&a);
        assert_eq!((f[0].left, f[0].proto, f[0].vlan), ((l, 1000), 17, 0));
        assert_eq!((f[0].packets, f[0].bytes), ([2, 1], [84, 60]));
        assert_eq!(c.ignored()[&Ignored::Fragment], 1);
        assert_eq!(c.ignored()[&Ignored::Parse(ParseError::Truncated)], 1);
        assert_eq!(c.ignored()[&Ignored::Short], 1);
    }

    /// The probe's flow engine under `--compat ndpi` (ShardConfig::compat_ndpi) against its own
    /// defaults, on the cases where they differ.
    #[test]
    fn pipeline_counts_like_ndpi_in_compat_mode() {
        use crate::flow::{EndReason, FlowRecord, RecordKind, ShardConfig};
        use crate::pipeline::{LinkType, Pipeline};
        use crate::synth::builder::{build, FrameSpec, L4};
        let (a, b) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let tcp = |from_a: bool, flags: u8| {
            let (s, d, sp, dp) = if from_a {
                (a, b, 1000, 80)
            } else {
                (b, a, 80, 1000)
            };
            build(&FrameSpec {
                vlans: vec![5, 7],
                ..FrameSpec::new(
                    s,
                    d,
                    L4::Tcp {
                        sport: sp,
                        dport: dp,
                        seq: 1,
                        ack: 0,
                        flags,
                        window: 100,
                        options: Vec::new(),
                        payload_len: 10,
                    },
                )
            })
        };
        let (syn, synack, ack, fin, rst) = (0x02, 0x12, 0x10, 0x11, 0x04);
        // A connection picked up at its SYN-ACK, closed by FIN both ways, then the port pair
        // reused by a new SYN and reset; then a non-first fragment of the same hosts.
        let mut frames = vec![
            tcp(false, synack),
            tcp(true, ack),
            tcp(true, fin),
            tcp(false, fin),
            tcp(true, ack),
            tcp(true, syn),
            tcp(false, rst),
        ];
        let mut frag = v4_udp([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53, 0x2000 | 100);
        frag.resize(60, 0);
        frames.push(frag);
        let run = |compat: bool| -> (Vec<FlowRecord>, u64) {
            let cfg = ShardConfig {
                compat_ndpi: compat,
                ..ShardConfig::new(100, 0, 0)
            };
            let mut p = Pipeline::new(cfg, LinkType::Ethernet, Vec::new());
            for (i, f) in frames.iter().enumerate() {
                // Hours apart: there are no timers to end anything in compat mode.
                p.packet(f, f.len() as u32, (i as u64 + 1) * 3_600_000_000_000);
            }
            p.finish(EndReason::Shutdown);
            let ends = p
                .batch
                .out
                .iter()
                .filter(|r| r.kind == RecordKind::End)
                .copied()
                .collect();
            (ends, p.unmatched[ParseError::Fragment as usize])
        };
        let (ends, frags) = run(true);
        // One key, one flow: the first packet's sender (the SYN-ACK's) is the initiator, the
        // innermost tag is the VLAN, every frame byte counts; the fragment is not counted.
        assert_eq!(ends.len(), 1, "{ends:?}");
        let e = &ends[0];
        assert_eq!((e.init_port, e.resp_port, e.vlan), (80, 1000, 7));
        let n = frames[0].len() as u64;
        assert_eq!(
            [
                e.dir[0].packets,
                e.dir[1].packets,
                e.dir[0].bytes,
                e.dir[1].bytes
            ],
            [3, 4, 3 * n, 4 * n]
        );
        assert_eq!(frags, 1);
        // The probe's defaults: the SYN-ACK's receiver initiated, the reused pair is a new flow
        // after the close, the outer VLAN keys it; the fragment is not attributed either (its
        // first fragment was never seen), but it does not reach the flow table.
        let (ends, _) = run(false);
        assert_eq!(ends.len(), 2, "{ends:?}");
        assert_eq!((ends[0].init_port, ends[0].vlan), (1000, 5));
        assert_eq!(ends[0].total_packets() + ends[1].total_packets(), 7);
    }

    #[test]
    fn malformed_transport_headers_are_keyed_like_ndpi() {
        let (a, b) = ([10, 0, 0, 2], [10, 0, 0, 1]);
        // TCP (proto 6) with 20 payload bytes whose data offset is 2: ports are read anyway.
        let mut f = v4_udp(a, b, 1000, 80, 0);
        f[23] = 6;
        f[17] = 40;
        f.resize(54, 0);
        f[34 + 12] = 0x20;
        let mut c = NdpiCompat::new();
        let m = c.add(1, &f).unwrap();
        assert_eq!((m.proto, m.src_port, m.dst_port), (6, 1000, 80));
        // TCP with only 8 payload bytes: the parser says truncated, nDPI keys on ports 0.
        let mut g = v4_udp(a, b, 1000, 80, 0);
        g[23] = 6;
        let m = c.add(1, &g).unwrap();
        assert_eq!((m.proto, m.src_port, m.dst_port), (6, 0, 0));
        assert_eq!(c.flows().len(), 2);
        assert_eq!(c.flows()[1].bytes, [42, 0]);
    }
}
