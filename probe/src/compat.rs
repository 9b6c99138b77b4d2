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
        let r = self.classify(linktype, frame);
        match r {
            Ok(m) => self.count(&m, frame.len()),
            Err(why) => *self.ignored.entry(why).or_default() += 1,
        }
        r
    }

    fn classify(&self, linktype: u32, frame: &[u8]) -> Result<PacketMeta, Ignored> {
        // The outer packet decides the length rules (nDPI checks it before unwrapping).
        let outer = parse::parse_frame(linktype, frame, false).map_err(Ignored::Parse)?;
        if frame.len() < usize::from(outer.l3_offset) + 28 {
            return Err(Ignored::Short);
        }
        if outer.frag_offset != 0 {
            return Err(Ignored::Fragment);
        }
        let cut = |m: &PacketMeta| {
            m.ip_version == 4 && frame.len() < usize::from(m.l3_offset) + usize::from(m.ip_len)
        };
        if cut(&outer) {
            return Err(Ignored::CutIp);
        }
        let m = parse::parse_frame(linktype, frame, true).map_err(Ignored::Parse)?;
        if m.frag_offset != 0 {
            return Err(Ignored::Fragment);
        }
        if cut(&m) {
            return Err(Ignored::CutIp);
        }
        Ok(PacketMeta {
            vlan: ndpi_vlan(linktype, frame, &m),
            ..m
        })
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
}
