//! What the encoders' flow identities are made of: the two endpoints in canonical order and a
//! 64-bit FNV-1a hash. Kafka's message key (`flow_key`), NetObserv's `_HashId` and Netify's
//! digest each feed these in their own order, which must not change (the values are output).

use crate::flow::FlowRecord;

/// A flow endpoint: the address bytes of the record's IP version, and the port.
pub(crate) type Endpoint<'a> = (&'a [u8], u16);

/// The record's two endpoints, the lower first: the same for both directions of a flow.
#[inline]
pub(crate) fn endpoints(r: &FlowRecord) -> [Endpoint<'_>; 2] {
    let alen = if r.ip_version == 4 { 4 } else { 16 };
    let a = (&r.init_ip[..alen], r.init_port);
    let b = (&r.resp_ip[..alen], r.resp_port);
    if a <= b {
        [a, b]
    } else {
        [b, a]
    }
}

/// Feed `eat` the flow's tuple as Kafka's key and Netify's digest hash it: IP version and
/// protocol, VLAN, the two addresses, then the two ports (endpoints in canonical order).
#[inline]
pub(crate) fn tuple(r: &FlowRecord, mut eat: impl FnMut(&[u8])) {
    let [lo, hi] = endpoints(r);
    eat(&[r.ip_version, r.proto]);
    eat(&r.vlan.to_be_bytes());
    eat(lo.0);
    eat(hi.0);
    eat(&lo.1.to_be_bytes());
    eat(&hi.1.to_be_bytes());
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
