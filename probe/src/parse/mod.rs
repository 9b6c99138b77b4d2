//! Packet parser: checked views over `&[u8]` producing a compact `Copy` [`PacketMeta`].
//!
//! [`parse_frame`] is the entry point: pcap link type (Ethernet, Linux SLL/SLL2, raw IP, BSD
//! loopback, PPP, Cisco HDLC, PPI), then VLAN tags / MPLS / PPPoE, IPv4 or IPv6, the transport
//! header, and with `decap` the tunnels inside (see `tunnel.rs`), each level bounded.
//!
//! Pure and allocation-free. Every rejection is a [`ParseError`] that the worker counts by reason;
//! nothing is logged per packet.
//!
//! Each layer checks the length it needs once (`view` hands out a fixed-size array), then reads
//! at constant indices, so no read can go out of bounds and no input can panic. A frame cut short
//! by the capture is fine as long as every header that is read is present: the probe counts frame
//! bytes and never needs the payload.

mod ethernet;
mod fast;
mod ipv4;
mod ipv6;
mod l4;
mod link;
#[cfg(test)]
mod testutil;
mod tunnel;

use link::L3;

/// VLAN tags walked before giving up with [`ParseError::VlanDepth`].
pub const MAX_VLAN_TAGS: usize = 4;
/// IPv6 extension headers walked before giving up with [`ParseError::ExtHeaderDepth`].
pub const MAX_IPV6_EXT_HEADERS: usize = 8;
/// MPLS labels walked before giving up with [`ParseError::MplsDepth`].
pub const MAX_MPLS_LABELS: usize = 8;
/// Nested tunnels unwrapped before giving up with [`ParseError::TunnelDepth`] (GRE in GTP-U in
/// VXLAN is already exotic; a loop of IP-in-IP is an attack).
pub const MAX_TUNNEL_DEPTH: usize = 3;

// Offsets are stored as u16. The deepest header stack of one level (tags, IPv6 + largest ext
// headers, TCP with options) stays far below that; across nested tunnels `parse_frame` caps the
// frame it looks at to u16::MAX bytes, so the `as u16` casts in the submodules cannot truncate.
const _: () =
    assert!(14 + 4 * MAX_VLAN_TAGS + 40 + MAX_IPV6_EXT_HEADERS * 256 * 8 + 60 <= u16::MAX as usize);

/// Outcome of a successful parse: everything the flow engine needs, no borrowed bytes.
///
/// `repr(C)` with the fields in groups, so the fast path can reset a reused slot in a few wide
/// stores: the fields every parse writes whole first, then everything else (the addresses, whose
/// last 12 bytes stay zero for IPv4, the transport fields, and those only fragments, tunnels and
/// ICMP errors fill) in one run (see `fast::reset`). The order is otherwise free.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct PacketMeta {
    // Written by every parse.
    /// Destination first, as in the Ethernet header: one 12-byte copy.
    pub dst_mac: [u8; 6],
    pub src_mac: [u8; 6],
    // Ports, VLAN, protocol and IP version adjacent, in the order of `FlowKey`'s last word:
    // read as one 8-byte load.
    /// TCP/UDP ports; 0 for every other protocol.
    pub src_port: u16,
    pub dst_port: u16,
    /// Outermost 802.1Q VLAN id (12 bits), 0 when untagged.
    pub vlan: u16,
    /// IP protocol of the transport header (after IPv6 extension headers).
    pub proto: u8,
    /// 4 or 6.
    pub ip_version: u8,
    /// Bytes of the IP packet as the IP header states it (IPv4 total length, IPv6 40 + payload length).
    pub ip_len: u16,
    /// Offset of the IP header in the frame.
    pub l3_offset: u16,
    /// Offset of the transport header in the frame.
    pub l4_offset: u16,
    /// Offset of the transport payload in the frame: the end of the last header parsed (TCP/UDP
    /// header end, else `l4_offset`), so it equals the frame length when there is no payload and
    /// no Ethernet padding.
    pub payload_offset: u16,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// DSCP (upper 6 bits of TOS / traffic class).
    pub dscp: u8,

    // Addresses.
    /// IPv4 addresses use the first 4 bytes, the rest are zero.
    pub src_ip: [u8; 16],
    pub dst_ip: [u8; 16],

    // Transport.
    // The two bytes before `tcp_seq` fill its alignment gap, and the fragment flags the one
    // before `ip_id`: no padding splits the run of stores of `fast::reset`.
    /// TCP flags byte (CWR..FIN), 0 for non-TCP.
    pub tcp_flags: u8,
    /// ICMP / ICMPv6 type and code (0 for other protocols).
    pub icmp_type: u8,
    pub tcp_seq: u32,
    pub icmp_code: u8,
    /// A DNS header was read: UDP from/to port 53 with at least 12 payload bytes.
    pub dns: bool,
    pub dns_id: u16,
    /// DNS flags word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE).
    pub dns_flags: u16,
    /// TCP MSS option (0 = absent) and window-scale shift (`tcp_wscale`, last), from SYN
    /// segments.
    pub tcp_mss: u16,

    // Fragments, tunnels, ICMP errors.
    /// Fragment offset in 8-byte units; non-zero means a non-first fragment (no L4 header).
    pub frag_offset: u16,
    /// The packet is a first fragment (more fragments follow); its L4 header is present.
    pub first_fragment: bool,
    /// The IP "more fragments" flag.
    pub more_fragments: bool,
    /// IPv4 identification or IPv6 fragment identification of a fragmented packet (0 otherwise).
    /// Key of the fragment table, with the addresses and the protocol.
    pub ip_id: u32,
    /// Tunnel id: GRE key, VXLAN/Geneve VNI, GTP-U TEID, ERSPAN session (0 when none).
    pub tunnel_id: u32,
    /// ICMP errors (v4 types 3, 4, 5, 11, 12; v6 types 1-4) quote the header of the packet that
    /// caused them: its protocol (`icmp_inner_proto`, 0 when no quote could be read), addresses
    /// (same IP version as the ICMP packet) and TCP/UDP ports, so the flow engine can charge the
    /// error to the offending flow. The ICMP packet itself stays the flow key.
    pub icmp_inner_src_port: u16,
    pub icmp_inner_dst_port: u16,
    /// Outer IP endpoints of the tunnel (`outer_ip_version` 0 when not tunnelled).
    pub outer_src_ip: [u8; 16],
    pub outer_dst_ip: [u8; 16],
    pub icmp_inner_src_ip: [u8; 16],
    pub icmp_inner_dst_ip: [u8; 16],
    /// Tunnel the flow was carried in (outermost), `Tunnel::None` when not decapsulated.
    pub tunnel: Tunnel,
    pub outer_ip_version: u8,
    pub icmp_inner_proto: u8,
    // Last: `None` leaves its second byte undefined, which would split the run of stores.
    pub tcp_wscale: Option<u8>,
}

/// Every field non-zero: what a reused slot may hold before a parse. The unit tests and the
/// fuzz target check that parsing into it gives exactly a fresh parse's result.
#[doc(hidden)]
pub const DIRTY_SLOT: PacketMeta = PacketMeta {
    src_mac: [0xee; 6],
    dst_mac: [0xee; 6],
    vlan: 0xfff,
    ip_version: 9,
    src_ip: [0xee; 16],
    dst_ip: [0xee; 16],
    proto: 0xee,
    src_port: 0xeeee,
    dst_port: 0xeeee,
    tcp_flags: 0xee,
    tcp_seq: 0xeeee_eeee,
    icmp_type: 0xee,
    icmp_code: 0xee,
    ttl: 0xee,
    dscp: 0xee,
    ip_len: 0xeeee,
    l3_offset: 0xeeee,
    l4_offset: 0xeeee,
    payload_offset: 0xeeee,
    first_fragment: true,
    ip_id: 0xeeee_eeee,
    frag_offset: 0xeeee,
    more_fragments: true,
    tcp_mss: 0xeeee,
    tcp_wscale: Some(0xee),
    dns: true,
    dns_id: 0xeeee,
    dns_flags: 0xeeee,
    tunnel: Tunnel::Tzsp,
    tunnel_id: 0xeeee_eeee,
    outer_ip_version: 0xee,
    outer_src_ip: [0xee; 16],
    outer_dst_ip: [0xee; 16],
    icmp_inner_proto: 0xee,
    icmp_inner_src_ip: [0xee; 16],
    icmp_inner_dst_ip: [0xee; 16],
    icmp_inner_src_port: 0xeeee,
    icmp_inner_dst_port: 0xeeee,
};

/// Encapsulations the parser unwraps to key on the inner flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Tunnel {
    #[default]
    None = 0,
    Gre,
    Erspan,
    Vxlan,
    Geneve,
    GtpU,
    /// IP-in-IP, 6in4, 4in6, 6in6.
    IpInIp,
    Pptp,
    /// CAPWAP data channel (UDP 5247).
    Capwap,
    /// TaZmen Sniffer Protocol (UDP 37008), remote capture.
    Tzsp,
}

/// Why a frame was not attributed to a flow. Small and `Copy`: counted per reason, never logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ParseError {
    /// Frame ends inside a header that must be read.
    Truncated = 0,
    /// Not IPv4/IPv6 (ARP, LLDP, ...).
    NotIp,
    /// IP version nibble disagrees with the ethertype.
    BadIpVersion,
    /// IPv4 IHL < 5; TCP data offset < 5. (A header cut by the frame end is `Truncated`.)
    BadHeaderLen,
    /// IP total length smaller than its header.
    BadTotalLen,
    /// More VLAN tags than the parser walks.
    VlanDepth,
    /// More IPv6 extension headers than the parser walks.
    ExtHeaderDepth,
    /// Non-first IP fragment the flow engine could not attribute (counted by the flow engine;
    /// the parser returns such fragments as `Ok` with `frag_offset != 0`).
    Fragment,
    /// A pcap link type the parser does not know.
    UnsupportedLinkType,
    /// More MPLS labels than the parser walks.
    MplsDepth,
    /// More nested tunnels than the parser unwraps.
    TunnelDepth,
}

impl ParseError {
    pub const COUNT: usize = 11;
    pub const ALL: [ParseError; Self::COUNT] = [
        ParseError::Truncated,
        ParseError::NotIp,
        ParseError::BadIpVersion,
        ParseError::BadHeaderLen,
        ParseError::BadTotalLen,
        ParseError::VlanDepth,
        ParseError::ExtHeaderDepth,
        ParseError::Fragment,
        ParseError::UnsupportedLinkType,
        ParseError::MplsDepth,
        ParseError::TunnelDepth,
    ];
    /// Stable snake_case name used in summaries and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            ParseError::Truncated => "truncated",
            ParseError::NotIp => "not_ip",
            ParseError::BadIpVersion => "bad_ip_version",
            ParseError::BadHeaderLen => "bad_header_len",
            ParseError::BadTotalLen => "bad_total_len",
            ParseError::VlanDepth => "vlan_depth",
            ParseError::ExtHeaderDepth => "ext_header_depth",
            ParseError::Fragment => "fragment",
            ParseError::UnsupportedLinkType => "unsupported_link_type",
            ParseError::MplsDepth => "mpls_depth",
            ParseError::TunnelDepth => "tunnel_depth",
        }
    }
}

/// Parse a captured frame of pcap link type `linktype` (`LINKTYPE_*` values: Ethernet 1, Linux
/// SLL 113 / SLL2 276, raw IP 101 / 12 / 14 / 228 / 229, BSD NULL 0 and LOOP 108, PPP 9,
/// PPP-in-HDLC 50, Cisco HDLC 104).
///
/// With `decap`, tunnels (GRE, ERSPAN, PPTP, VXLAN, Geneve, GTP-U, CAPWAP, TZSP, IP-in-IP) are
/// unwrapped up to [`MAX_TUNNEL_DEPTH`] levels: the result describes the inner flow, the
/// outermost tunnel is in `tunnel`/`tunnel_id`/`outer_*`, and the offsets point into the inner
/// packet. Without it the outer packet is the flow.
#[inline]
pub fn parse_frame(linktype: u32, frame: &[u8], decap: bool) -> Result<PacketMeta, ParseError> {
    let mut meta = PacketMeta::default();
    parse_frame_into(linktype, frame, decap, &mut meta)?;
    Ok(meta)
}

/// [`parse_frame`] into a caller's `PacketMeta` (every field is overwritten, whatever it held):
/// the hot path keeps one per burst slot instead of moving a 164-byte result around.
#[inline]
pub fn parse_frame_into(
    linktype: u32,
    frame: &[u8],
    decap: bool,
    meta: &mut PacketMeta,
) -> Result<(), ParseError> {
    if linktype == link::LINKTYPE_ETHERNET {
        // Capped there only where it matters (see `fast::parse`).
        return fast::parse(frame, decap, meta);
    }
    general(linktype, cap(frame), decap, meta)
}

/// [`parse_frame_into`] for an Ethernet frame (`linktype` 1), for a caller that tested the link
/// type once for many frames.
#[inline]
pub fn parse_ethernet_into(
    frame: &[u8],
    decap: bool,
    meta: &mut PacketMeta,
) -> Result<(), ParseError> {
    fast::parse(frame, decap, meta)
}

/// Headers are never this deep in a real frame; the cap keeps every offset within u16 (a
/// header crossing it reads as truncated), and the payload beyond is never read anyway.
#[inline(always)]
fn cap(frame: &[u8]) -> &[u8] {
    &frame[..frame.len().min(usize::from(u16::MAX))]
}

/// The layered parser alone, without the fast path for common shapes: what the fast path is
/// checked against (unit tests, corpus tests, fuzz target). Same contract as [`parse_frame`].
#[doc(hidden)]
pub fn parse_frame_reference(
    linktype: u32,
    frame: &[u8],
    decap: bool,
) -> Result<PacketMeta, ParseError> {
    let mut meta = PacketMeta::default();
    general(linktype, cap(frame), decap, &mut meta).map(|()| meta)
}

/// Every link type and shape, layer by layer, from a reset `PacketMeta`.
#[inline(never)]
fn general(
    linktype: u32,
    frame: &[u8],
    decap: bool,
    meta: &mut PacketMeta,
) -> Result<(), ParseError> {
    *meta = PacketMeta::default();
    let (l3, off) = link::parse(linktype, frame, meta)?;
    parse_network(frame, l3, off, decap, meta)
}

/// Parse an Ethernet II frame (with up to [`MAX_VLAN_TAGS`] 802.1Q/802.1ad tags, MPLS, PPPoE),
/// without unwrapping tunnels.
#[inline]
pub fn parse_ethernet(frame: &[u8]) -> Result<PacketMeta, ParseError> {
    parse_frame(link::LINKTYPE_ETHERNET, frame, false)
}

/// Parse a packet that starts at the IP header (raw-IP link types): the version nibble picks
/// IPv4 or IPv6; MACs and `vlan` stay 0. Tunnels are not unwrapped.
#[inline]
pub fn parse_ip(packet: &[u8]) -> Result<PacketMeta, ParseError> {
    parse_frame(link::LINKTYPE_RAW, packet, false)
}

/// The IP layer and, with `decap`, every tunnel inside it (a loop, not recursion, so the depth
/// bound is explicit).
#[inline]
fn parse_network(
    frame: &[u8],
    mut l3: L3,
    mut off: usize,
    decap: bool,
    meta: &mut PacketMeta,
) -> Result<(), ParseError> {
    let mut depth = 0;
    loop {
        match l3 {
            L3::V4 => ipv4::parse(frame, off, meta)?,
            L3::V6 => ipv6::parse(frame, off, meta)?,
            L3::ByNibble => match frame.get(off) {
                Some(b) if b >> 4 == 4 => ipv4::parse(frame, off, meta)?,
                Some(b) if b >> 4 == 6 => ipv6::parse(frame, off, meta)?,
                Some(_) => return fail(ParseError::BadIpVersion),
                None => return fail(ParseError::Truncated),
            },
        }
        if !decap {
            return Ok(());
        }
        let Some(t) = tunnel::detect(frame, meta) else {
            return Ok(());
        };
        if depth == MAX_TUNNEL_DEPTH {
            return fail(ParseError::TunnelDepth);
        }
        depth += 1;
        // The outermost tunnel names the flow's transport; inner L2 does not replace the
        // capture's MACs, but an inner VLAN tag is the one that separates the inner flows.
        let outer = *meta;
        *meta = PacketMeta {
            src_mac: outer.src_mac,
            dst_mac: outer.dst_mac,
            vlan: outer.vlan,
            tunnel: outer.tunnel,
            tunnel_id: outer.tunnel_id,
            outer_ip_version: outer.outer_ip_version,
            outer_src_ip: outer.outer_src_ip,
            outer_dst_ip: outer.outer_dst_ip,
            ..PacketMeta::default()
        };
        if outer.tunnel == Tunnel::None {
            meta.tunnel = t.kind;
            meta.tunnel_id = t.id;
            meta.outer_ip_version = outer.ip_version;
            meta.outer_src_ip = outer.src_ip;
            meta.outer_dst_ip = outer.dst_ip;
        }
        (l3, off) = match t.inner {
            tunnel::Inner::Ip(l3) => (l3, t.off),
            tunnel::Inner::Ethertype(et) => link::ethertype(frame, et, t.off)?,
            tunnel::Inner::Ethernet => {
                let mut inner = PacketMeta::default();
                let (et, off) = ethernet::parse(frame, t.off, &mut inner)?;
                if inner.vlan != 0 {
                    meta.vlan = inner.vlan;
                }
                link::ethertype(frame, et, off)?
            }
        };
    }
}

/// The single length check of a header: `N` bytes at `off` as a fixed-size array, so the reads
/// that follow use constant indices the compiler proves in bounds.
#[inline(always)]
fn view<const N: usize>(buf: &[u8], off: usize) -> Result<&[u8; N], ParseError> {
    match buf.get(off..).and_then(<[u8]>::first_chunk::<N>) {
        Some(hdr) => Ok(hdr),
        None => fail(ParseError::Truncated),
    }
}

/// Error path, marked cold so the accept path is laid out straight.
#[cold]
#[inline]
fn fail<T>(err: ParseError) -> Result<T, ParseError> {
    Err(err)
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    /// Hand-written Ethernet + IPv4 + TCP frame with 4 payload bytes.
    const TCP_V4: [u8; 58] = [
        0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x5c, // dst mac
        0x3c, 0xfd, 0xfe, 0x00, 0x11, 0x22, // src mac
        0x08, 0x00, // IPv4
        0x45, 0x10, 0x00, 0x2c, // v4, IHL 5, TOS 0x10, total length 44
        0x1c, 0x46, 0x40, 0x00, // id, DF
        0x3f, 0x06, 0x00, 0x00, // TTL 63, TCP, checksum
        0xc0, 0xa8, 0x00, 0x0a, // 192.168.0.10
        0x08, 0x08, 0x04, 0x04, // 8.8.4.4
        0xc3, 0x50, 0x01, 0xbb, // 50000 -> 443
        0x12, 0x34, 0x56, 0x78, // seq
        0x9a, 0xbc, 0xde, 0xf0, // ack
        0x50, 0x18, 0x01, 0xf5, // doff 5, PSH|ACK, window 501
        0x00, 0x00, 0x00, 0x00, // checksum, urgent
        0xde, 0xad, 0xbe, 0xef, // payload
    ];

    fn tcp_v4_meta() -> PacketMeta {
        PacketMeta {
            src_mac: [0x3c, 0xfd, 0xfe, 0x00, 0x11, 0x22],
            dst_mac: [0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x5c],
            vlan: 0,
            ip_version: 4,
            src_ip: [192, 168, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            dst_ip: [8, 8, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            proto: 6,
            src_port: 50000,
            dst_port: 443,
            tcp_flags: 0x18,
            tcp_seq: 0x1234_5678,
            icmp_type: 0,
            icmp_code: 0,
            ttl: 63,
            dscp: 4,
            ip_len: 44,
            l3_offset: 14,
            l4_offset: 34,
            payload_offset: 54,
            first_fragment: false,
            ..Default::default()
        }
    }

    #[test]
    fn plain_ipv4_tcp_every_field() {
        assert_eq!(parse_ethernet(&TCP_V4), Ok(tcp_v4_meta()));
    }

    #[test]
    fn every_truncation_of_ipv4_tcp() {
        let full = tcp_v4_meta();
        for n in 0..=TCP_V4.len() {
            let got = parse_ethernet(&TCP_V4[..n]);
            if n < 54 {
                assert_eq!(got, Err(ParseError::Truncated), "len {n}");
            } else {
                // The payload is never read: a cut payload yields the same metadata.
                assert_eq!(got, Ok(full), "len {n}");
            }
        }
    }

    #[test]
    fn every_truncation_of_tagged_ipv6_with_ext_headers() {
        let rest = cat(&[
            &ext_generic(44, 1),
            &ext_fragment(6, 0, true),
            &tcp(1, 2, 3, 4, 0x02, 5, &[1, 1, 1, 1], b"xyz"),
        ]);
        let frame = eth(&[(0x88a8, 1), (0x8100, 2)], 0x86dd, &ipv6(0, &rest));
        let headers_end = 22 + 40 + 16 + 8 + 24;
        let full = parse_ethernet(&frame).unwrap();
        assert_eq!(full.payload_offset as usize, headers_end);
        assert!(full.first_fragment);
        for n in 0..=frame.len() {
            let got = parse_ethernet(&frame[..n]);
            if n < headers_end {
                assert_eq!(got, Err(ParseError::Truncated), "len {n}");
            } else {
                assert_eq!(got, Ok(full), "len {n}");
            }
        }
    }

    #[test]
    fn parse_ip_matches_parse_ethernet_shifted() {
        let m = parse_ip(&TCP_V4[14..]).unwrap();
        let e = tcp_v4_meta();
        assert_eq!((m.src_mac, m.dst_mac, m.vlan), ([0; 6], [0; 6], 0));
        assert_eq!((m.src_ip, m.dst_ip, m.proto), (e.src_ip, e.dst_ip, 6));
        assert_eq!(
            (m.src_port, m.dst_port, m.tcp_seq),
            (50000, 443, 0x1234_5678)
        );
        assert_eq!((m.l3_offset, m.l4_offset, m.payload_offset), (0, 20, 40));
    }

    #[test]
    fn frames_beyond_u16_parse_on_their_first_64k() {
        let mut big = TCP_V4.to_vec();
        big.resize(70_000, 0xaa);
        assert_eq!(parse_ethernet(&big), Ok(tcp_v4_meta()));
        // Headers that only end past 64 KiB (four IPv6 levels of 8 × 2 KiB hop-by-hop options,
        // IPv6-in-IPv6) read as cut instead of wrapping the u16 offsets.
        let level = |last: u8, inner: &[u8]| {
            let chain: Vec<u8> = (0..MAX_IPV6_EXT_HEADERS)
                .flat_map(|i| {
                    ext_generic(
                        if i + 1 == MAX_IPV6_EXT_HEADERS {
                            last
                        } else {
                            0
                        },
                        255,
                    )
                })
                .collect();
            ipv6(0, &cat(&[&chain, inner]))
        };
        let mut p = level(59, &[]);
        for _ in 0..3 {
            p = level(41, &p);
        }
        assert!(p.len() > 65_535);
        let outer = parse_frame(101, &p, false).unwrap();
        assert_eq!(outer.l4_offset as usize, 40 + MAX_IPV6_EXT_HEADERS * 2048);
        assert_eq!(parse_frame(101, &p, true), Err(ParseError::Truncated));
    }

    #[test]
    fn parse_ip_rejects_empty_and_unknown_version() {
        assert_eq!(parse_ip(&[]), Err(ParseError::Truncated));
        assert_eq!(parse_ip(&[0x00; 40]), Err(ParseError::BadIpVersion));
        assert_eq!(parse_ip(&[0x55; 40]), Err(ParseError::BadIpVersion));
        assert_eq!(parse_ip(&[0x45]), Err(ParseError::Truncated));
        assert_eq!(parse_ip(&[0x60; 39]), Err(ParseError::Truncated));
    }

    #[test]
    fn error_table_is_consistent() {
        for (i, e) in ParseError::ALL.iter().enumerate() {
            assert_eq!(*e as usize, i);
        }
        let names: Vec<&str> = ParseError::ALL.iter().map(|e| e.name()).collect();
        assert_eq!(
            names,
            [
                "truncated",
                "not_ip",
                "bad_ip_version",
                "bad_header_len",
                "bad_total_len",
                "vlan_depth",
                "ext_header_depth",
                "fragment",
                "unsupported_link_type",
                "mpls_depth",
                "tunnel_depth"
            ]
        );
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Structural invariants every accepted frame must satisfy.
    fn check_ok(m: &PacketMeta, len: usize) {
        assert!(m.l3_offset <= m.l4_offset, "{m:?}");
        assert!(m.l4_offset <= m.payload_offset, "{m:?}");
        assert!(m.payload_offset as usize <= len, "{m:?} len {len}");
        assert!(m.vlan <= 0x0fff);
        assert!(m.dscp < 64);
        match m.ip_version {
            4 => {
                assert_eq!(&m.src_ip[4..], &[0; 12]);
                assert!(m.l4_offset >= m.l3_offset + 20);
            }
            6 => assert!(m.l4_offset >= m.l3_offset + 40),
            v => panic!("ip_version {v}"),
        }
        if !matches!(m.proto, 6 | 17) {
            assert_eq!((m.src_port, m.dst_port), (0, 0));
        }
        if m.proto != 6 {
            assert_eq!((m.tcp_flags, m.tcp_seq), (0, 0));
        }
        if !matches!(m.proto, 1 | 58) {
            assert_eq!((m.icmp_type, m.icmp_code), (0, 0));
        }
    }

    #[test]
    fn random_and_mutated_frames_never_panic() {
        let seeds: Vec<Vec<u8>> = vec![
            TCP_V4.to_vec(),
            eth(
                &[(0x8100, 5)],
                0x0800,
                &ipv4(17, 0x2000, &[1, 1, 1, 0], &udp(1, 2, &[3; 9])),
            ),
            eth(&[], 0x0800, &ipv4(1, 0, &[], &icmp(8, 0, [0; 4], &[0; 8]))),
            eth(
                &[(0x88a8, 7), (0x8100, 8)],
                0x86dd,
                &ipv6(
                    0,
                    &cat(&[
                        &ext_generic(60, 0),
                        &ext_generic(44, 0),
                        &ext_fragment(6, 0, true),
                        &tcp(9, 10, 11, 12, 0x10, 13, &[1, 1, 1, 1], &[0; 6]),
                    ]),
                ),
            ),
            eth(&[], 0x86dd, &ipv6(58, &icmp(128, 0, [0; 4], &[0; 4]))),
            eth(
                &[],
                0x86dd,
                &ipv6(
                    51,
                    &cat(&[&[17, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], &udp(4, 5, &[])]),
                ),
            ),
        ];
        for s in &seeds {
            check_ok(&parse_ethernet(s).unwrap(), s.len());
        }
        const ETHERTYPES: [u16; 6] = [0x0800, 0x86dd, 0x8100, 0x88a8, 0x9100, 0x0806];
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut buf = [0u8; 256];
        let (mut ok, mut seen) = (0usize, [0usize; ParseError::COUNT]);
        for i in 0..200_000 {
            let len = if i % 2 == 0 {
                // Random bytes, steered towards the IP parsers with a plausible ethertype and
                // version nibble so that deeper layers see garbage too.
                let len = rng.below(160);
                for b in &mut buf[..len] {
                    *b = rng.next() as u8;
                }
                if len >= 15 && rng.below(4) != 0 {
                    let et = ETHERTYPES[rng.below(ETHERTYPES.len())];
                    buf[12..14].copy_from_slice(&et.to_be_bytes());
                    let ver = if rng.below(2) == 0 {
                        0x40 | (5 + rng.below(3) as u8)
                    } else {
                        0x60
                    };
                    buf[14] = ver;
                }
                len
            } else {
                let seed = &seeds[rng.below(seeds.len())];
                buf[..seed.len()].copy_from_slice(seed);
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(seed.len());
                    if rng.below(2) == 0 {
                        buf[at] ^= 1 << rng.below(8);
                    } else {
                        buf[at] = rng.next() as u8;
                    }
                }
                if rng.below(4) == 0 {
                    rng.below(seed.len() + 1)
                } else {
                    seed.len()
                }
            };
            let frame = &buf[..len];
            for decap in [false, true] {
                assert_eq!(
                    parse_frame(1, frame, decap),
                    parse_frame_reference(1, frame, decap),
                    "{frame:02x?}"
                );
            }
            match parse_ethernet(frame) {
                Ok(m) => {
                    ok += 1;
                    check_ok(&m, len);
                }
                Err(e) => seen[e as usize] += 1,
            }
            if let Some(ip) = frame.get(14..) {
                if let Ok(m) = parse_ip(ip) {
                    check_ok(&m, ip.len());
                    assert_eq!((m.vlan, m.src_mac), (0, [0; 6]));
                }
            }
        }
        assert_eq!(ok + seen.iter().sum::<usize>(), 200_000);
        // Mutating a few bytes leaves most valid frames parseable.
        assert!(ok > 40_000, "ok {ok}");
        for e in [
            ParseError::Truncated,
            ParseError::NotIp,
            ParseError::BadIpVersion,
            ParseError::BadHeaderLen,
            ParseError::BadTotalLen,
        ] {
            assert!(
                seen[e as usize] > 100,
                "{} seen {}",
                e.name(),
                seen[e as usize]
            );
        }
    }

    #[test]
    fn random_tunnels_and_link_types_never_panic() {
        let inner = ipv4(6, 0, &[], &tcp(1, 2, 3, 4, 0x02, 5, &[2, 4, 5, 0xb4], &[]));
        let gre = cat(&[&[0x30, 0, 0x08, 0], &[0, 0, 0, 9, 0, 0, 0, 1], &inner]);
        let seeds: Vec<Vec<u8>> = vec![
            eth(
                &[],
                0x0800,
                &ipv4(
                    17,
                    0,
                    &[],
                    &udp(
                        9,
                        4789,
                        &cat(&[&[8, 0, 0, 0, 0, 0, 1, 0], &eth(&[], 0x0800, &inner)]),
                    ),
                ),
            ),
            eth(
                &[],
                0x0800,
                &ipv4(
                    17,
                    0,
                    &[],
                    &udp(
                        2152,
                        2152,
                        &cat(&[
                            &[0x34, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0, 0, 0],
                            &inner,
                        ]),
                    ),
                ),
            ),
            eth(&[(0x8100, 3)], 0x0800, &ipv4(47, 0, &[], &gre)),
            eth(
                &[],
                0x86dd,
                &ipv6(4, &ipv4(41, 0, &[], &ipv6(17, &udp(53, 53, &[0; 12])))),
            ),
            eth(
                &[],
                0x8847,
                &cat(&[
                    &[0, 0, 1, 64],
                    &ipv4(1, 0, &[], &icmp(3, 3, [0; 4], &inner)),
                ]),
            ),
            eth(
                &[],
                0x8864,
                &cat(&[&[0x11, 0, 0, 1, 0, 40, 0, 0x21], &inner]),
            ),
            // Shapes of the fast path: VXLAN around a tagged IPv6 frame with hop-by-hop and
            // destination options, GTP-U around IPv6 UDP/DNS, a tagged DNS query, TCP SYN with
            // options.
            eth(
                &[(0x8100, 9)],
                0x0800,
                &ipv4(
                    17,
                    0,
                    &[],
                    &udp(
                        9,
                        4789,
                        &cat(&[
                            &[8, 0, 0, 0, 0, 0, 1, 0],
                            &eth(
                                &[(0x8100, 33)],
                                0x86dd,
                                &ipv6(
                                    0,
                                    &cat(&[
                                        &ext_generic(60, 0),
                                        &ext_generic(6, 1),
                                        &tcp(7, 8, 9, 10, 0x02, 11, &[2, 4, 5, 0xb4], &[]),
                                    ]),
                                ),
                            ),
                        ]),
                    ),
                ),
            ),
            eth(
                &[],
                0x0800,
                &ipv4(
                    17,
                    0,
                    &[],
                    &udp(
                        2152,
                        2152,
                        &cat(&[
                            &[0x30, 0xff, 0, 0, 0, 0, 0, 7],
                            &ipv6(17, &udp(1234, 53, &[0xab; 12])),
                        ]),
                    ),
                ),
            ),
            eth(
                &[(0x8100, 4)],
                0x0800,
                &ipv4(17, 0, &[], &udp(53, 99, &[1; 12])),
            ),
        ];
        const LINKTYPES: [u32; 8] = [1, 1, 1, 113, 101, 0, 9, 276];
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        let mut buf = [0u8; 256];
        let (mut ok, mut tunnelled, mut errs) = (0usize, 0usize, 0usize);
        for i in 0..100_000 {
            let seed = &seeds[i % seeds.len()];
            buf[..seed.len()].copy_from_slice(seed);
            for _ in 0..rng.below(4) {
                let at = rng.below(seed.len());
                buf[at] = rng.next() as u8;
            }
            let len = if rng.below(3) == 0 {
                rng.below(seed.len() + 1)
            } else {
                seed.len()
            };
            let lt = LINKTYPES[rng.below(LINKTYPES.len())];
            for decap in [false, true] {
                assert_eq!(
                    parse_frame(lt, &buf[..len], decap),
                    parse_frame_reference(lt, &buf[..len], decap)
                );
                match parse_frame(lt, &buf[..len], decap) {
                    Ok(m) => {
                        check_ok(&m, len);
                        ok += 1;
                        if m.tunnel != Tunnel::None {
                            assert!(decap);
                            assert!(matches!(m.outer_ip_version, 4 | 6));
                            tunnelled += 1;
                        }
                    }
                    Err(_) => errs += 1,
                }
            }
        }
        assert_eq!(ok + errs, 200_000);
        assert!(tunnelled > 10_000, "tunnelled {tunnelled}");
    }

    /// Frames of every kind the parser tells apart, for the slot-reuse test.
    fn assorted_frames() -> Vec<Vec<u8>> {
        let syn = tcp(1111, 80, 9, 0, 0x02, 64, &[2, 4, 5, 0x78, 1, 3, 3, 7], &[]);
        let inner = ipv4(6, 0, &[], &syn);
        let vx = |inner_frame: &[u8]| {
            eth(
                &[(0x8100, 3)],
                0x0800,
                &ipv4(
                    17,
                    0,
                    &[],
                    &udp(5, 4789, &cat(&[&[8, 0, 0, 0, 0, 0, 0x2a, 0], inner_frame])),
                ),
            )
        };
        let quote = ipv4(17, 0, &[], &udp(5353, 9999, &[]));
        vec![
            TCP_V4.to_vec(),
            // VXLAN (fast path) around a tagged SYN with MSS and window scale.
            vx(&eth(&[(0x8100, 300)], 0x0800, &inner)),
            // GTP-U (fast path) and GTP-U with an extension header (general path).
            eth(
                &[],
                0x0800,
                &ipv4(
                    17,
                    0,
                    &[],
                    &udp(
                        2152,
                        2152,
                        &cat(&[&[0x30, 0xff, 0, 40, 1, 2, 3, 4], &inner]),
                    ),
                ),
            ),
            eth(
                &[],
                0x0800,
                &ipv4(
                    17,
                    0,
                    &[],
                    &udp(
                        2152,
                        2152,
                        &cat(&[
                            &[0x34, 0xff, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0x85, 1, 0, 0, 0],
                            &inner,
                        ]),
                    ),
                ),
            ),
            // GRE with a key (general path) and IP-in-IP.
            eth(
                &[],
                0x0800,
                &ipv4(47, 0, &[], &cat(&[&[0x20, 0, 8, 0, 0, 0, 0, 9], &inner])),
            ),
            eth(&[], 0x86dd, &ipv6(4, &inner)),
            // ICMP error quoting a UDP header; ICMPv6 echo.
            eth(&[], 0x0800, &ipv4(1, 0, &[], &icmp(3, 3, [0; 4], &quote))),
            eth(&[], 0x86dd, &ipv6(58, &icmp(128, 0, [0; 4], &[]))),
            // DNS, a first and a non-first fragment, IPv6 with extension headers.
            eth(
                &[(0x8100, 12)],
                0x0800,
                &ipv4(17, 0, &[], &udp(40000, 53, &[7; 12])),
            ),
            eth(&[], 0x0800, &ipv4(6, 0x2000, &[], &syn)),
            eth(&[], 0x0800, &ipv4(17, 185, &[], &[0; 16])),
            eth(
                &[],
                0x86dd,
                &ipv6(
                    0,
                    &cat(&[
                        &ext_generic(44, 0),
                        &ext_fragment(17, 0, true),
                        &udp(1, 2, &[]),
                    ]),
                ),
            ),
            // Rejected: ARP, cut TCP.
            eth(&[], 0x0806, &[0; 28]),
            TCP_V4[..40].to_vec(),
        ]
    }

    /// The hot path parses into reused slots: whatever the slot held before (a tunnelled SYN with
    /// options, an ICMP error's quote, a DNS header, fragment fields, or garbage), the result is
    /// exactly that of a fresh parse, field by field.
    #[test]
    fn reused_slot_keeps_nothing_of_the_previous_packet() {
        let frames = assorted_frames();
        let garbage = DIRTY_SLOT;
        let fresh: Vec<[Result<PacketMeta, ParseError>; 2]> = frames
            .iter()
            .map(|f| [parse_frame(1, f, false), parse_frame(1, f, true)])
            .collect();
        // The assortment covers what could leak.
        let ok: Vec<PacketMeta> = fresh.iter().flatten().filter_map(|r| r.ok()).collect();
        assert!(ok
            .iter()
            .any(|m| m.tunnel == Tunnel::Vxlan && m.tcp_wscale == Some(7)));
        assert!(ok
            .iter()
            .any(|m| m.tunnel == Tunnel::GtpU && m.tunnel_id == 5));
        assert!(ok
            .iter()
            .any(|m| m.icmp_inner_proto == 17 && m.icmp_inner_dst_port == 9999));
        assert!(ok.iter().any(|m| m.dns && m.frag_offset == 0));
        assert!(ok.iter().any(|m| m.first_fragment) && ok.iter().any(|m| m.frag_offset != 0));
        assert!(fresh.iter().flatten().any(|r| r.is_err()));
        for decap in [false, true] {
            for (i, prev) in frames.iter().enumerate() {
                for (j, next) in frames.iter().enumerate() {
                    let mut slot = garbage;
                    let _ = parse_frame_into(1, prev, decap, &mut slot);
                    let got = parse_frame_into(1, next, decap, &mut slot).map(|()| slot);
                    let want = fresh[j][usize::from(decap)];
                    match (got, want) {
                        (Ok(g), Ok(w)) => assert_eq!(g, w, "after {i}, frame {j}, decap {decap}"),
                        (g, w) => {
                            assert_eq!(g.is_ok(), w.is_ok(), "after {i}, frame {j}: {g:?} {w:?}")
                        }
                    }
                }
            }
        }
    }

    /// The fast path and the layered parser agree on every frame of the assortment.
    #[test]
    fn fast_path_agrees_with_the_reference() {
        for f in assorted_frames() {
            for decap in [false, true] {
                for n in 0..=f.len() {
                    assert_eq!(
                        parse_frame(1, &f[..n], decap),
                        parse_frame_reference(1, &f[..n], decap),
                        "{:02x?} decap {decap}",
                        &f[..n]
                    );
                }
            }
        }
    }
}
