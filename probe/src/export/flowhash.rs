//! What the encoders' flow identities are made of: the two endpoints in canonical order and a
//! 64-bit FNV-1a hash. Kafka's message key (`flow_key`), NetObserv's `_HashId` and Netify's
//! digest each feed these in their own order, which must not change (the values are output).

use crate::flow::FlowRecord;

/// A flow endpoint: the address bytes of the record's IP version, and the port.
pub(crate) type Endpoint<'a> = (&'a [u8], u16);

/// Whether the initiator is the lower endpoint: (address, port) compared as big-endian integers,
/// which orders them as the byte-wise comparison did (without a `memcmp` call).
#[inline]
fn init_is_lower(r: &FlowRecord) -> bool {
    if r.ip_version == 4 {
        let a = |ip: &[u8; 16]| u32::from_be_bytes([ip[0], ip[1], ip[2], ip[3]]);
        (a(&r.init_ip), r.init_port) <= (a(&r.resp_ip), r.resp_port)
    } else {
        (u128::from_be_bytes(r.init_ip), r.init_port)
            <= (u128::from_be_bytes(r.resp_ip), r.resp_port)
    }
}

/// The record's two endpoints, the lower first: the same for both directions of a flow.
#[inline]
pub(crate) fn endpoints(r: &FlowRecord) -> [Endpoint<'_>; 2] {
    let alen = if r.ip_version == 4 { 4 } else { 16 };
    let a = (&r.init_ip[..alen], r.init_port);
    let b = (&r.resp_ip[..alen], r.resp_port);
    if init_is_lower(r) {
        [a, b]
    } else {
        [b, a]
    }
}

/// Longest `tuple`: IPv6.
pub(crate) const TUPLE_MAX: usize = 40;

/// Write the flow's tuple as Kafka's key and Netify's digest hash it into `buf`, returning its
/// length: IP version and protocol, VLAN, the two addresses, then the two ports (endpoints in
/// canonical order). Fixed-size copies per version (no `memcpy` calls).
#[inline]
pub(crate) fn tuple(r: &FlowRecord, buf: &mut [u8; TUPLE_MAX]) -> usize {
    let (lo, lp, hi, hp) = if init_is_lower(r) {
        (&r.init_ip, r.init_port, &r.resp_ip, r.resp_port)
    } else {
        (&r.resp_ip, r.resp_port, &r.init_ip, r.init_port)
    };
    buf[0] = r.ip_version;
    buf[1] = r.proto;
    buf[2..4].copy_from_slice(&r.vlan.to_be_bytes());
    let n = if r.ip_version == 4 {
        buf[4..8].copy_from_slice(&lo[..4]);
        buf[8..12].copy_from_slice(&hi[..4]);
        12
    } else {
        buf[4..20].copy_from_slice(lo);
        buf[20..36].copy_from_slice(hi);
        36
    };
    buf[n..n + 2].copy_from_slice(&lp.to_be_bytes());
    buf[n + 2..n + 4].copy_from_slice(&hp.to_be_bytes());
    n + 4
}

/// 64-bit FNV-1a, fed piece by piece.
pub(crate) struct Fnv1a(u64);

impl Fnv1a {
    #[inline]
    pub(crate) fn new() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    #[inline]
    pub(crate) fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }

    #[inline]
    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tuple as the byte-wise endpoint order built it: version, protocol, VLAN, lower then
    /// higher address, lower then higher port.
    #[test]
    fn tuple_orders_endpoints_bytewise() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..20_000 {
            let mut r = FlowRecord {
                ip_version: if i % 2 == 0 { 4 } else { 6 },
                proto: 6,
                vlan: rnd() as u16,
                init_port: rnd() as u16 & 3,
                resp_port: rnd() as u16 & 3,
                ..Default::default()
            };
            // Few distinct values: equal addresses (ports decide) are common.
            for b in r.init_ip.iter_mut().chain(r.resp_ip.iter_mut()) {
                *b = rnd() as u8 & 1;
            }
            let alen = if r.ip_version == 4 { 4 } else { 16 };
            let a = (&r.init_ip[..alen], r.init_port);
            let b = (&r.resp_ip[..alen], r.resp_port);
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let mut want = vec![r.ip_version, r.proto];
            want.extend_from_slice(&r.vlan.to_be_bytes());
            want.extend_from_slice(lo.0);
            want.extend_from_slice(hi.0);
            want.extend_from_slice(&lo.1.to_be_bytes());
            want.extend_from_slice(&hi.1.to_be_bytes());
            let mut t = [0; TUPLE_MAX];
            let n = tuple(&r, &mut t);
            assert_eq!(&t[..n], &want[..]);
            assert_eq!(endpoints(&r), [lo, hi]);
        }
    }
}
