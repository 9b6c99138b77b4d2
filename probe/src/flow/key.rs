//! Canonical bidirectional flow key: A→B and B→A map to the same key.

use crate::parse::PacketMeta;

/// The endpoints in a fixed order: `(lo_ip, lo_port) <= (hi_ip, hi_port)`, the addresses compared
/// as native-endian integers (an order, not the numeric one).
///
/// 40 bytes kept as five native words (the `lo` address, the `hi` address, then ports, VLAN,
/// protocol and IP version packed in one): built, compared and hashed a word at a time, without
/// the field-by-field stores, loads and short-circuit compares of a struct of byte arrays.
#[derive(Clone, Copy, Debug, Default, Eq)]
#[repr(C)]
pub struct FlowKey {
    /// `lo` address in words 0-1, `hi` in 2-3 (the bytes of each as native-endian u64s).
    ip: [u64; 4],
    /// `lo_port | hi_port << 16 | vlan << 32 | proto << 48 | ip_version << 56`.
    tail: u64,
}

impl PartialEq for FlowKey {
    /// Word by word without short-circuiting between fields (on x86-64-v3 one 32-byte compare
    /// for the addresses and one for the rest).
    #[inline(always)]
    fn eq(&self, o: &Self) -> bool {
        ((self.ip[0] ^ o.ip[0])
            | (self.ip[1] ^ o.ip[1])
            | (self.ip[2] ^ o.ip[2])
            | (self.ip[3] ^ o.ip[3])
            | (self.tail ^ o.tail))
            == 0
    }
}

/// The words of an address read as a native `u128` (bytes 0..8 first, as stored).
#[inline(always)]
fn halves(v: u128) -> (u64, u64) {
    if cfg!(target_endian = "little") {
        (v as u64, (v >> 64) as u64)
    } else {
        ((v >> 64) as u64, v as u64)
    }
}

#[inline(always)]
fn bytes(a: u64, b: u64) -> [u8; 16] {
    let mut o = [0u8; 16];
    o[..8].copy_from_slice(&a.to_ne_bytes());
    o[8..].copy_from_slice(&b.to_ne_bytes());
    o
}

impl FlowKey {
    /// The key of a packet and whether its sender is the `lo` endpoint.
    /// Ports are only part of the key for TCP and UDP (the parser leaves them 0 otherwise).
    /// Branch-free: which side is `lo` is a coin toss per packet on a bidirectional link, so a
    /// branch on it mispredicts about every other packet; the sides are picked with masks.
    #[inline]
    pub fn from_meta(m: &PacketMeta) -> (FlowKey, bool) {
        // Any total order makes the key canonical; the addresses as native integers need no
        // byte swaps (so `lo` is not always the numerically lower address).
        let (sa, da) = (u128::from_ne_bytes(m.src_ip), u128::from_ne_bytes(m.dst_ip));
        let src_is_lo = (sa < da) | ((sa == da) & (m.src_port <= m.dst_port));
        let mask = u128::from(src_is_lo).wrapping_neg();
        let lo = da ^ ((sa ^ da) & mask);
        let (l0, l1) = halves(lo);
        let (h0, h1) = halves(lo ^ sa ^ da);
        // Adjacent in `PacketMeta` in this order: one 8-byte load. The ports are swapped (their
        // xor into both halves) unless the sender is `lo`, with the mask, not a branch.
        let tail = m.src_port as u64
            | (m.dst_port as u64) << 16
            | (m.vlan as u64) << 32
            | (m.proto as u64) << 48
            | (m.ip_version as u64) << 56;
        let d = u64::from(m.src_port ^ m.dst_port);
        let swap = (d | d << 16) & !(mask as u64);
        (
            FlowKey {
                ip: [l0, l1, h0, h1],
                tail: tail ^ swap,
            },
            src_is_lo,
        )
    }

    pub fn lo_ip(&self) -> [u8; 16] {
        bytes(self.ip[0], self.ip[1])
    }
    pub fn hi_ip(&self) -> [u8; 16] {
        bytes(self.ip[2], self.ip[3])
    }
    pub fn lo_port(&self) -> u16 {
        self.tail as u16
    }
    pub fn hi_port(&self) -> u16 {
        (self.tail >> 16) as u16
    }
    pub fn vlan(&self) -> u16 {
        (self.tail >> 32) as u16
    }
    pub fn proto(&self) -> u8 {
        (self.tail >> 48) as u8
    }
    pub fn ip_version(&self) -> u8 {
        (self.tail >> 56) as u8
    }

    /// The key of the packet an ICMP error quotes (same IP version and VLAN as the error; ports
    /// 0 unless TCP/UDP, as for any key).
    pub fn quoted(m: &PacketMeta) -> FlowKey {
        let q = PacketMeta {
            ip_version: m.ip_version,
            vlan: m.vlan,
            proto: m.icmp_inner_proto,
            src_ip: m.icmp_inner_src_ip,
            dst_ip: m.icmp_inner_dst_ip,
            src_port: m.icmp_inner_src_port,
            dst_port: m.icmp_inner_dst_port,
            ..PacketMeta::default()
        };
        FlowKey::from_meta(&q).0
    }

    /// A fast 64-bit hash of the key: its five 8-byte words folded pairwise with 64x64->128-bit
    /// multiplies (high half xor low half, as wyhash/aHash do). The three multiplies are
    /// independent but the last, so they overlap; the sequential multiply-xorshift rounds this
    /// replaced cost ~15 more instructions a packet and a 5-multiply dependency chain.
    /// Deterministic (no per-process seed) so shard layouts and benchmarks are reproducible;
    /// an attacker who can choose addresses can only lengthen probe sequences, not break results.
    #[inline]
    pub fn hash64(&self) -> u64 {
        let a = fold(
            self.ip[0] ^ 0x243F_6A88_85A3_08D3,
            self.ip[1] ^ 0x1319_8A2E_0370_7344,
        );
        let b = fold(
            self.ip[2] ^ 0xA409_3822_299F_31D0,
            self.ip[3] ^ 0x082E_FA98_EC4E_6C89,
        );
        fold(
            self.tail ^ a ^ 0x4528_21E6_38D0_1377,
            b ^ 0xBE54_66CF_34E9_0C6C,
        )
    }
}

/// Multiply to 128 bits and fold the halves: every input bit reaches the middle output bits.
#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let p = a as u128 * b as u128;
    p as u64 ^ (p >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16) -> PacketMeta {
        let mut m = PacketMeta {
            ip_version: 4,
            proto: 6,
            src_port: sp,
            dst_port: dp,
            vlan: 7,
            ..Default::default()
        };
        m.src_ip[..4].copy_from_slice(&src);
        m.dst_ip[..4].copy_from_slice(&dst);
        m
    }

    #[test]
    fn both_directions_give_one_key() {
        let a = meta([10, 0, 0, 1], 40000, [192, 0, 2, 9], 443);
        let b = meta([192, 0, 2, 9], 443, [10, 0, 0, 1], 40000);
        let (ka, a_lo) = FlowKey::from_meta(&a);
        let (kb, b_lo) = FlowKey::from_meta(&b);
        assert_eq!(ka, kb);
        assert_eq!(ka.hash64(), kb.hash64());
        assert!(a_lo);
        assert!(!b_lo);
        assert_eq!(ka.lo_port(), 40000);
        assert_eq!(ka.hi_port(), 443);
        assert_eq!(ka.vlan(), 7);
        assert_eq!(ka.proto(), 6);
        assert_eq!(ka.ip_version(), 4);
        assert_eq!(ka.lo_ip()[..4], [10, 0, 0, 1]);
        assert_eq!(ka.hi_ip()[..4], [192, 0, 2, 9]);
        assert_eq!(ka.lo_ip()[4..], [0; 12]);
    }

    #[test]
    fn key_symmetry_over_many_tuples() {
        let mut x: u64 = 0x1234_5678;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = x.to_le_bytes();
            let a = meta(
                [b[0], b[1], 0, 1],
                x as u16,
                [b[2], b[3], 1, 2],
                (x >> 16) as u16,
            );
            let r = meta(
                [b[2], b[3], 1, 2],
                (x >> 16) as u16,
                [b[0], b[1], 0, 1],
                x as u16,
            );
            let (ka, la) = FlowKey::from_meta(&a);
            let (kr, lr) = FlowKey::from_meta(&r);
            assert_eq!(ka, kr);
            assert_ne!(la, lr);
        }
    }

    #[test]
    fn hash_spreads_similar_keys_over_buckets() {
        // Keys differing in one port, one address byte or both (a scan, a busy server): the top
        // bits (the index's home bucket) must spread them about evenly, and so must the tag bits.
        for shift in [64 - 16, 64 - 27 - 10] {
            let mut buckets = vec![0u32; 1 << 16];
            let n = 1u32 << 18;
            for i in 0..n {
                let m = meta(
                    [10, 0, (i >> 8) as u8, i as u8],
                    (i >> 16) as u16 * 7 + 1024,
                    [192, 0, 2, 1],
                    443,
                );
                let h = FlowKey::from_meta(&m).0.hash64();
                buckets[((h >> shift) & 0xffff) as usize] += 1;
            }
            // Mean 4 per bucket; a uniform hash's largest bucket is ~15, its empty share ~1.8%.
            let max = *buckets.iter().max().unwrap();
            let empty = buckets.iter().filter(|&&c| c == 0).count();
            assert!(max <= 20, "largest bucket {max} (shift {shift})");
            assert!(
                empty < 1 << 16 >> 5,
                "{empty} empty buckets (shift {shift})"
            );
        }
    }

    #[test]
    fn vlan_and_proto_separate_flows() {
        let a = meta([10, 0, 0, 1], 1, [10, 0, 0, 2], 2);
        let mut b = a;
        b.vlan = 8;
        let mut c = a;
        c.proto = 17;
        let ka = FlowKey::from_meta(&a).0;
        assert_ne!(ka, FlowKey::from_meta(&b).0);
        assert_ne!(ka, FlowKey::from_meta(&c).0);
        assert_ne!(ka.hash64(), FlowKey::from_meta(&b).0.hash64());
    }
}
