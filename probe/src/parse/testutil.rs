//! Tiny frame builders for the parser tests. Checksums are left zero: the parser ignores them.

pub const DST_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
pub const SRC_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
pub const V4_SRC: [u8; 4] = [10, 0, 0, 1];
pub const V4_DST: [u8; 4] = [192, 168, 1, 2];
pub const V4_TTL: u8 = 64;
/// TOS with DSCP 46 (EF) and ECN 0.
pub const V4_TOS: u8 = 0xb8;
pub const V6_SRC: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const V6_DST: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xef,
];
pub const V6_HOP_LIMIT: u8 = 57;
/// Traffic class with DSCP 10 (AF11) and ECN 1.
pub const V6_TCLASS: u8 = 0x29;

/// Ethernet II header, VLAN tags as (TPID, TCI), outermost first.
pub fn eth(tags: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&DST_MAC);
    f.extend_from_slice(&SRC_MAC);
    for &(tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// IPv4 header (IHL from `options`, which must be a multiple of 4) + payload, with a correct
/// total length. `frag` is the raw flags/fragment-offset field.
pub fn ipv4(proto: u8, frag: u16, options: &[u8], payload: &[u8]) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let hlen = 20 + options.len();
    let total = (hlen + payload.len()) as u16;
    let mut p = vec![0x40 | (hlen / 4) as u8, V4_TOS];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0x12, 0x34]); // id
    p.extend_from_slice(&frag.to_be_bytes());
    p.extend_from_slice(&[V4_TTL, proto, 0, 0]);
    p.extend_from_slice(&V4_SRC);
    p.extend_from_slice(&V4_DST);
    p.extend_from_slice(options);
    p.extend_from_slice(payload);
    p
}

/// IPv6 header + `rest` (extension headers and transport), with a correct payload length.
pub fn ipv6(next: u8, rest: &[u8]) -> Vec<u8> {
    let mut p = vec![
        0x60 | (V6_TCLASS >> 4),
        (V6_TCLASS << 4) | 0x0a, // flow label 0xabcde
        0xbc,
        0xde,
    ];
    p.extend_from_slice(&(rest.len() as u16).to_be_bytes());
    p.extend_from_slice(&[next, V6_HOP_LIMIT]);
    p.extend_from_slice(&V6_SRC);
    p.extend_from_slice(&V6_DST);
    p.extend_from_slice(rest);
    p
}

/// Generic IPv6 extension header (hop-by-hop, routing, destination options) of
/// `(len_units + 1) * 8` bytes, padded with PadN-looking bytes.
pub fn ext_generic(next: u8, len_units: u8) -> Vec<u8> {
    let mut e = vec![next, len_units];
    e.resize((usize::from(len_units) + 1) * 8, 0x01);
    e
}

/// IPv6 fragment header; `offset` in 8-byte units.
pub fn ext_fragment(next: u8, offset: u16, more: bool) -> Vec<u8> {
    let field = (offset << 3) | u16::from(more);
    let mut e = vec![next, 0];
    e.extend_from_slice(&field.to_be_bytes());
    e.extend_from_slice(&0xdead_beef_u32.to_be_bytes()); // identification
    e
}

/// TCP header with `options` (multiple of 4) followed by `payload`.
#[allow(clippy::too_many_arguments)]
pub fn tcp(
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let doff = ((20 + options.len()) / 4) as u8;
    let mut s = Vec::new();
    s.extend_from_slice(&sport.to_be_bytes());
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&seq.to_be_bytes());
    s.extend_from_slice(&ack.to_be_bytes());
    s.extend_from_slice(&[doff << 4, flags]);
    s.extend_from_slice(&window.to_be_bytes());
    s.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    s.extend_from_slice(options);
    s.extend_from_slice(payload);
    s
}

pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(&sport.to_be_bytes());
    d.extend_from_slice(&dport.to_be_bytes());
    d.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(payload);
    d
}

/// ICMP / ICMPv6 message: type, code, zero checksum, 4-byte rest-of-header, body.
pub fn icmp(ty: u8, code: u8, rest: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(body);
    m
}

/// Concatenate header pieces.
pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}
