//! The per-worker packet pipeline without DPDK: parse → shard update → record batch.
//!
//! The DPDK worker loop (`runtime::worker`) feeds it bursts; tests and benchmarks feed it byte
//! slices. Everything the worker counts lives here, in plain integers owned by one thread.

use crate::flow::frag::{DEFAULT_FRAG_CAPACITY, DEFAULT_FRAG_TIMEOUT_NS};
use crate::flow::{
    EndReason, FlowKey, FlowRecord, FragTable, RecordKind, RecordSink, Shard, ShardConfig,
    ShardStats,
};
use crate::parse::{self, PacketMeta, ParseError};

/// The link type of the frames a pipeline is given (a pcap LINKTYPE_* value: the parser
/// decodes Ethernet, Linux SLL/SLL2, raw IP, BSD NULL/LOOP, PPP, PPI; others are unmatched as
/// `unsupported_link_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    Ethernet,
    /// The frame starts at the IP header (LINKTYPE_RAW 101).
    RawIp,
    /// Any other pcap link type, handed to the parser as it is.
    Pcap(u32),
}

impl LinkType {
    pub fn from_pcap(linktype: u32) -> LinkType {
        match linktype {
            1 => LinkType::Ethernet,
            101 => LinkType::RawIp,
            other => LinkType::Pcap(other),
        }
    }

    pub fn pcap(self) -> u32 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::RawIp => 101,
            LinkType::Pcap(x) => x,
        }
    }
}

/// Reasons a packet is not attributed to a flow: the parser's.
pub const UNMATCHED_REASONS: usize = ParseError::COUNT;

pub fn unmatched_reason_name(i: usize) -> &'static str {
    ParseError::ALL[i].name()
}

/// Where full record batches go. `push` returns how many records it accepted; the rest are
/// counted as dropped by the caller's policy.
pub trait RecordOut {
    fn push(&mut self, recs: &[FlowRecord]) -> usize;
}

impl RecordOut for Vec<FlowRecord> {
    fn push(&mut self, recs: &[FlowRecord]) -> usize {
        self.extend_from_slice(recs);
        recs.len()
    }
}

/// Packets [`Pipeline::burst`] handles in one pass (its stack arrays' size).
pub const BURST_MAX: usize = 32;

/// A burst's packet state (see [`Pipeline::burst`]): keyed, and the sender is the key's `lo`.
const KEYED: u8 = 0x80;
const KEYED_LO: u8 = 1;
// An unkeyed packet's state is 1 + its parse error: below `KEYED`.
const _: () = assert!(ParseError::COUNT < KEYED as usize);

/// Records produced during a burst, handed to the ring in one call.
pub const BATCH: usize = 64;

pub struct Batcher<O: RecordOut> {
    buf: [FlowRecord; BATCH],
    len: usize,
    pub out: O,
    /// Records that did not fit into the output, by kind.
    pub dropped: [u64; 3],
    /// Stamped into every record (the worker sets its TSC once per burst; exporter lag).
    pub stamp: u64,
}

impl<O: RecordOut> Batcher<O> {
    pub fn new(out: O) -> Self {
        Batcher {
            buf: [FlowRecord::default(); BATCH],
            len: 0,
            out,
            dropped: [0; 3],
            stamp: 0,
        }
    }

    /// Hand every buffered record to the output; count what it refused.
    #[inline]
    pub fn flush(&mut self) {
        if self.len == 0 {
            return;
        }
        let n = self.out.push(&self.buf[..self.len]);
        for r in &self.buf[n..self.len] {
            self.dropped[r.kind as usize] += 1;
        }
        self.len = 0;
    }
}

impl<O: RecordOut> RecordSink for Batcher<O> {
    #[inline]
    fn emit(&mut self, rec: &FlowRecord) {
        if self.len == BATCH {
            self.flush();
        }
        self.buf[self.len] = *rec;
        self.buf[self.len].created_tsc = self.stamp;
        self.len += 1;
    }

    #[inline]
    fn emit_with(&mut self, fill: impl FnOnce(&mut FlowRecord)) {
        if self.len == BATCH {
            self.flush();
        }
        let r = &mut self.buf[self.len];
        fill(r);
        r.created_tsc = self.stamp;
        self.len += 1;
    }
}

/// How a pipeline parses (see [`Pipeline::parser`]): single packets, and bursts of other than
/// plain Ethernet (those inline the parser, see [`Pipeline::burst`]).
#[derive(Clone, Copy)]
struct Parser {
    /// Chosen once for the mode, the link type and decapsulation: a packet costs one indirect
    /// call instead of tests of those and a direct call.
    parse: ParseFn,
    linktype: u32,
}

type ParseFn = fn(u32, &[u8], &mut PacketMeta) -> Result<(), ParseError>;

/// `--compat ndpi`: take packets into flows by nDPI's rules (see `compat`).
fn parse_compat(linktype: u32, data: &[u8], m: &mut PacketMeta) -> Result<(), ParseError> {
    crate::compat::ndpi_parse_into(linktype, data, m).map_err(|i| i.reason())
}

/// Ethernet frames: the link type not tested again.
fn parse_ethernet<const DECAP: bool>(
    _: u32,
    data: &[u8],
    m: &mut PacketMeta,
) -> Result<(), ParseError> {
    parse::parse_ethernet_into(data, DECAP, m)
}

/// Any other link type: the parser's own dispatch.
fn parse_other<const DECAP: bool>(
    linktype: u32,
    data: &[u8],
    m: &mut PacketMeta,
) -> Result<(), ParseError> {
    parse::parse_frame_into(linktype, data, DECAP, m)
}

impl Parser {
    #[inline(always)]
    fn parse(self, data: &[u8], m: &mut PacketMeta) -> Result<(), ParseError> {
        (self.parse)(self.linktype, data, m)
    }
}

/// A worker's state: its shard, its counters and its record batch.
pub struct Pipeline<O: RecordOut> {
    pub shard: Shard,
    pub batch: Batcher<O>,
    linktype: u32,
    /// Key tunnelled traffic on the inner flow (`--no-decap` turns it off).
    decap: bool,
    /// Packets handed to the pipeline.
    pub rx_packets: u64,
    /// Packets not attributed to any flow, by reason.
    pub unmatched: [u64; UNMATCHED_REASONS],
    /// Bytes of the packets handed to the pipeline. Declared apart from `rx_packets` so they are
    /// not adjacent (rustc keeps fields of one alignment in order, though it does not promise
    /// to): adjacent, the two increments were made one vector add (a constant, an insert, and a
    /// spill and reload of the vector for the shard's own pair), ~2 instructions a packet more
    /// than two adds to memory.
    pub rx_bytes: u64,
    /// Parse results of the burst being processed (reused: no per-burst initialisation).
    /// Taken out during a burst (so updating can borrow the pipeline) and put back after.
    metas: Option<Box<[PacketMeta; BURST_MAX]>>,
    /// Ports of first fragments, to attribute the datagram's other fragments.
    frags: FragTable,
    /// First fragments that found the fragment table full (their other fragments go unmatched).
    pub frag_overflows: u64,
    /// Non-first fragments attributed to a flow through the fragment table.
    pub frag_attributed: u64,
}

impl<O: RecordOut> Pipeline<O> {
    pub fn new(cfg: ShardConfig, link: LinkType, out: O) -> Self {
        Pipeline {
            shard: Shard::new(cfg),
            batch: Batcher::new(out),
            linktype: link.pcap(),
            decap: true,
            rx_packets: 0,
            rx_bytes: 0,
            unmatched: [0; UNMATCHED_REASONS],
            metas: Some(Box::new([PacketMeta::default(); BURST_MAX])),
            frags: FragTable::new(DEFAULT_FRAG_CAPACITY, DEFAULT_FRAG_TIMEOUT_NS),
            frag_overflows: 0,
            frag_attributed: 0,
        }
    }

    /// Key on the outer flow of tunnels instead of the inner one.
    pub fn set_decap(&mut self, decap: bool) {
        self.decap = decap;
    }

    /// Link type of the frames that follow (pcapng files mix interfaces).
    pub fn set_link(&mut self, link: LinkType) {
        self.linktype = link.pcap();
    }

    /// Process one packet: `data` is its first contiguous bytes (headers), `len` its full length.
    #[inline]
    pub fn packet(&mut self, data: &[u8], len: u32, now_ns: u64) {
        let mut m = PacketMeta::default();
        let r = self.parser().parse(data, &mut m);
        self.parsed(r, &m, len, now_ns);
    }

    /// Account a packet by its parse result `r` (`m` filled when `Ok`): to a flow, or as unmatched.
    #[inline(always)]
    fn parsed(&mut self, r: Result<(), ParseError>, m: &PacketMeta, len: u32, now: u64) {
        match r {
            Ok(()) => self.meta(m, len, now),
            Err(e) => self.unmatched_packet(e, len),
        }
    }

    /// The parser settings, copied out so a burst's loop keeps them in registers (read through
    /// `self` they are loaded again after every update).
    #[inline]
    fn parser(&self) -> Parser {
        let ethernet = self.linktype == LinkType::Ethernet.pcap();
        let parse: ParseFn = match (self.shard.config().compat_ndpi, ethernet, self.decap) {
            (true, _, _) => parse_compat,
            (false, true, true) => parse_ethernet::<true>,
            (false, true, false) => parse_ethernet::<false>,
            (false, false, true) => parse_other::<true>,
            (false, false, false) => parse_other::<false>,
        };
        Parser {
            parse,
            linktype: self.linktype,
        }
    }

    #[cold]
    fn unmatched_packet(&mut self, e: ParseError, len: u32) {
        // Parsers that still reject non-first fragments (`Fragment`) land here too.
        self.rx_packets += 1;
        self.rx_bytes += len as u64;
        self.unmatched[e as usize] += 1;
    }

    /// Process a burst (up to [`BURST_MAX`] packets: data, frame length, time) in three passes:
    /// parse every packet, prefetch the headers and the flow-table lines each will touch, then update in order.
    /// Same results as calling [`Pipeline::packet`] for each; faster on large tables because the
    /// memory accesses of the burst overlap.
    ///
    /// Ethernet (with or without decapsulation, not `--compat ndpi`) gets a copy of the loop
    /// with the parser inlined: 20 instructions a packet fewer than its indirect call (its
    /// prologue, epilogue and the loop's spills around it; callgrind, 1M and 10k flows).
    #[inline]
    pub fn burst(&mut self, pkts: &[(&[u8], u32, u64)]) {
        let ethernet = self.linktype == LinkType::Ethernet.pcap();
        match (self.shard.config().compat_ndpi, ethernet, self.decap) {
            (false, true, true) => self.burst_with(
                pkts,
                #[inline(always)]
                |d: &[u8], m: &mut PacketMeta| parse::parse_ethernet_into(d, true, m),
            ),
            (false, true, false) => self.burst_with(
                pkts,
                #[inline(always)]
                |d: &[u8], m: &mut PacketMeta| parse::parse_ethernet_into(d, false, m),
            ),
            _ => {
                let p = self.parser();
                self.burst_with(pkts, move |d: &[u8], m: &mut PacketMeta| p.parse(d, m))
            }
        }
    }

    /// [`Pipeline::burst`] with the parse function given.
    #[inline(always)]
    fn burst_with<P>(&mut self, pkts: &[(&[u8], u32, u64)], parse: P)
    where
        P: Fn(&[u8], &mut PacketMeta) -> Result<(), ParseError> + Copy,
    {
        // Allocated once (in `new`); only a pointer moves here.
        let mut metas = self
            .metas
            .take()
            .unwrap_or_else(|| Box::new([PacketMeta::default(); BURST_MAX]));
        for chunk in pkts.chunks(BURST_MAX) {
            // Headers of the whole burst in flight at once (the parser reads the first two lines).
            for (data, _, _) in chunk {
                crate::prefetch::bytes(data, 128);
            }
            if !self.shard.wants_prefetch() {
                // A table within a core's L2 (see `Shard::wants_prefetch`): no misses to
                // overlap, so each packet goes straight through (the passes below cost ~25
                // instructions a packet in stores and loads of their per-burst arrays).
                for &(data, len, now) in chunk {
                    let r = parse(data, &mut metas[0]);
                    self.parsed(r, &metas[0], len, now);
                }
                continue;
            }
            let n = chunk.len().min(BURST_MAX);
            // Parse and key each packet in one pass: the key and hash prefetch the table now
            // and key the update later. `states[i]`: `KEYED` (with `KEYED_LO` set when the sender
            // is the key's `lo`) when parsed and not a non-first fragment (those take their first
            // fragment's ports in `meta`); else 0 when parsed, or 1 + the parse error. One byte
            // store a keyed packet and no array of results (bit masks across the loop were
            // spilled around the parser's call). An unkeyed packet's hash stays 0: prefetching
            // for it is harmless and cheaper than testing for it.
            let mut keys = [FlowKey::default(); BURST_MAX];
            let mut hashes = [0u64; BURST_MAX];
            let mut states = [0u8; BURST_MAX];
            for i in 0..n {
                match parse(chunk[i].0, &mut metas[i]) {
                    Ok(()) if metas[i].frag_offset == 0 => {
                        let (key, l) = FlowKey::from_meta(&metas[i]);
                        hashes[i] = key.hash64();
                        keys[i] = key;
                        states[i] = KEYED | u8::from(l);
                    }
                    Ok(()) => {}
                    Err(e) => states[i] = 1 + e as u8,
                }
            }
            // Buckets first, then (once those arrived) the entries they point to.
            for &h in &hashes[..n] {
                self.shard.prefetch_bucket(h);
            }
            for &h in &hashes[..n] {
                self.shard.prefetch_entry(h);
            }
            for i in 0..n {
                let (_, len, now) = chunk[i];
                let s = states[i];
                if s & KEYED != 0 {
                    let l = s & KEYED_LO != 0;
                    self.meta_keyed(&metas[i], &keys[i], l, hashes[i], len, now);
                } else {
                    let r = match s.checked_sub(1) {
                        None => Ok(()),
                        Some(e) => Err(ParseError::ALL[usize::from(e)]),
                    };
                    self.parsed(r, &metas[i], len, now);
                }
            }
        }
        self.metas = Some(metas);
    }

    /// [`Pipeline::meta`] for a packet that is not a non-first fragment, keyed already.
    #[inline(always)]
    fn meta_keyed(&mut self, m: &PacketMeta, key: &FlowKey, lo: bool, h: u64, len: u32, now: u64) {
        self.rx_packets += 1;
        self.rx_bytes += len as u64;
        // The flag first: it is rarely set, so the protocol is rarely tested.
        if m.more_fragments && (m.proto == 6 || m.proto == 17) && !self.frags.insert(m, now) {
            self.frag_overflows += 1;
        }
        self.shard
            .update_keyed(m, key, lo, h, len, now, &mut self.batch);
    }

    /// Process one parsed packet (counted as received). Fragments: a first fragment (offset 0,
    /// more fragments) leaves its ports in the fragment table; a non-first fragment of TCP/UDP
    /// (no transport header) takes the ports of its first fragment, or is unmatched
    /// (`fragment`) when that was not seen, expired, or did not fit. Other protocols key without
    /// ports, so their fragments are attributed as they are.
    #[inline(always)]
    pub fn meta(&mut self, m: &PacketMeta, len: u32, now_ns: u64) {
        let ported = m.proto == 6 || m.proto == 17;
        if m.frag_offset != 0 && ported {
            self.rx_packets += 1;
            self.rx_bytes += len as u64;
            // A non-first fragment takes the ports of its first fragment (a copy: rare path).
            match self.frags.lookup(m, now_ns) {
                Some((sp, dp)) => {
                    let mut f = *m;
                    f.src_port = sp;
                    f.dst_port = dp;
                    self.frag_attributed += 1;
                    self.shard.update(&f, len, now_ns, &mut self.batch);
                }
                None => self.unmatched[ParseError::Fragment as usize] += 1,
            }
            return;
        }
        let (key, lo) = FlowKey::from_meta(m);
        self.meta_keyed(m, &key, lo, key.hash64(), len, now_ns);
    }

    /// Timers (once per burst, or on idle polls) and hand-off of the burst's records.
    #[inline]
    pub fn tick(&mut self, now_ns: u64) {
        self.shard.expire(now_ns, &mut self.batch);
        self.batch.flush();
    }

    /// End every flow and hand off the records.
    pub fn finish(&mut self, reason: EndReason) {
        self.shard.flush(reason, &mut self.batch);
        self.batch.flush();
    }

    pub fn unmatched_total(&self) -> u64 {
        self.unmatched.iter().sum()
    }

    pub fn shard_stats(&self) -> &ShardStats {
        self.shard.stats()
    }

    pub fn dropped(&self, kind: RecordKind) -> u64 {
        self.batch.dropped[kind as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::builder::{build, FrameSpec, L4};
    use std::net::{IpAddr, Ipv4Addr};

    fn frame(sport: u16, flags: u8, payload: u16) -> Vec<u8> {
        build(&FrameSpec::new(
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            L4::Tcp {
                sport,
                dport: 80,
                seq: 1,
                ack: 0,
                flags,
                window: 1000,
                options: Vec::new(),
                payload_len: payload as usize,
            },
        ))
    }

    /// An output that accepts only `room` records in total.
    struct Tight {
        room: usize,
        got: Vec<FlowRecord>,
    }
    impl RecordOut for Tight {
        fn push(&mut self, recs: &[FlowRecord]) -> usize {
            let n = recs.len().min(self.room);
            self.room -= n;
            self.got.extend_from_slice(&recs[..n]);
            n
        }
    }

    #[test]
    fn accounting_closes_with_unmatched() {
        let mut p = Pipeline::new(ShardConfig::new(100, 0, 0), LinkType::Ethernet, Vec::new());
        let f = frame(1000, 0x02, 0);
        p.packet(&f, f.len() as u32, 1);
        p.packet(&f[..20], 20, 2); // truncated inside the IP header
        let arp = [0u8; 60];
        p.packet(&arp, 60, 3); // ethertype 0: not IP
        p.finish(EndReason::Shutdown);
        let ends: Vec<_> = p
            .batch
            .out
            .iter()
            .filter(|r| r.kind == RecordKind::End)
            .collect();
        let attributed: u64 = ends.iter().map(|r| r.total_packets()).sum();
        assert_eq!(attributed + p.unmatched_total(), p.rx_packets);
        assert_eq!(p.unmatched[ParseError::Truncated as usize], 1);
        assert_eq!(p.unmatched[ParseError::NotIp as usize], 1);
        assert_eq!(ends[0].dir[0].bytes, f.len() as u64);
    }

    #[test]
    fn full_output_is_counted_per_kind() {
        let mut p = Pipeline::new(
            ShardConfig::new(1000, 0, 0),
            LinkType::Ethernet,
            Tight {
                room: 5,
                got: Vec::new(),
            },
        );
        for port in 0..10 {
            let f = frame(2000 + port, 0x02, 0);
            p.packet(&f, f.len() as u32, 1);
        }
        p.finish(EndReason::Shutdown);
        assert_eq!(p.batch.out.got.len(), 5);
        assert_eq!(p.dropped(RecordKind::Start), 5);
        assert_eq!(p.dropped(RecordKind::End), 10);
    }

    #[test]
    fn unsupported_link_type_counts_every_packet() {
        let mut p = Pipeline::new(
            ShardConfig::new(10, 0, 0),
            LinkType::from_pcap(147),
            Vec::new(),
        );
        p.packet(&[0u8; 64], 64, 0);
        let i = ParseError::UnsupportedLinkType as usize;
        assert_eq!(p.unmatched[i], 1);
        assert_eq!(unmatched_reason_name(i), "unsupported_link_type");
    }

    #[test]
    fn burst_gives_the_same_results_as_packet_by_packet() {
        use crate::synth::trace::{TraceConfig, TraceGen};
        let frames: Vec<(u64, Vec<u8>)> = TraceGen::new(TraceConfig {
            packets: 5000,
            concurrent_flows: 50,
            ..Default::default()
        })
        .collect();
        // A small table takes each packet straight through; a big one the prefetching passes.
        let run = |burst: bool, capacity: u32| {
            let mut p = Pipeline::new(
                ShardConfig::new(capacity, 1_000_000_000, 10_000_000),
                LinkType::Ethernet,
                Vec::new(),
            );
            assert_eq!(p.shard.wants_prefetch(), capacity > 1000);
            for c in frames.chunks(32) {
                if burst {
                    let pk: Vec<(&[u8], u32, u64)> = c
                        .iter()
                        .map(|(t, f)| (&f[..], f.len() as u32, *t))
                        .collect();
                    p.burst(&pk);
                } else {
                    for (t, f) in c {
                        p.packet(f, f.len() as u32, *t);
                    }
                }
                p.tick(c.last().map_or(0, |x| x.0));
            }
            p.finish(EndReason::Shutdown);
            p.batch.out
        };
        for capacity in [64, 8192] {
            let a = run(false, capacity);
            assert!(a.len() > 100, "evictions, expiry and stats produce records");
            assert_eq!(a, run(true, capacity), "capacity {capacity}");
        }
    }

    fn frag_meta(sp: u16, id: u32, offset: u16, more: bool) -> PacketMeta {
        let mut m = PacketMeta {
            ip_version: 4,
            proto: 17,
            src_port: sp,
            dst_port: if sp == 0 { 0 } else { 53 },
            ip_id: id,
            frag_offset: offset,
            more_fragments: more,
            first_fragment: offset == 0 && more,
            ip_len: 1500,
            ..Default::default()
        };
        m.src_ip[..4].copy_from_slice(&[10, 0, 0, 1]);
        m.dst_ip[..4].copy_from_slice(&[10, 0, 0, 2]);
        m
    }

    #[test]
    fn non_first_fragments_join_the_flow_of_their_first_fragment() {
        let mut p = Pipeline::new(ShardConfig::new(100, 0, 0), LinkType::Ethernet, Vec::new());
        // Datagram 1: first fragment, then two more (ports 0 as the parser leaves them).
        p.meta(&frag_meta(5353, 1, 0, true), 1514, 1);
        p.meta(&frag_meta(0, 1, 185, true), 1514, 2);
        p.meta(&frag_meta(0, 1, 370, false), 600, 3);
        // Datagram 2: its first fragment was never seen.
        p.meta(&frag_meta(0, 2, 185, false), 600, 4);
        // An unfragmented packet of the same flow.
        p.meta(&frag_meta(5353, 0, 0, false), 100, 5);
        // A non-first ICMP fragment needs no ports.
        let mut icmp = frag_meta(0, 3, 185, false);
        icmp.proto = 1;
        p.meta(&icmp, 600, 6);
        p.finish(EndReason::Shutdown);
        let ends: Vec<_> = p
            .batch
            .out
            .iter()
            .filter(|r| r.kind == RecordKind::End)
            .collect();
        assert_eq!(ends.len(), 2);
        let udp = ends.iter().find(|r| r.proto == 17).unwrap();
        assert_eq!(udp.init_port, 5353);
        assert_eq!(udp.total_packets(), 4);
        assert_eq!(udp.total_bytes(), 1514 * 2 + 600 + 100);
        assert_eq!(p.unmatched[ParseError::Fragment as usize], 1);
        assert_eq!(p.frag_attributed, 2);
        assert_eq!(p.frag_overflows, 0);
        let attributed: u64 = ends.iter().map(|r| r.total_packets()).sum();
        assert_eq!(attributed + p.unmatched_total(), p.rx_packets);
        assert_eq!(p.rx_packets, 6);
    }

    #[test]
    fn fragment_table_overflow_is_counted() {
        let mut p = Pipeline::new(ShardConfig::new(100, 0, 0), LinkType::Ethernet, Vec::new());
        let n = DEFAULT_FRAG_CAPACITY as u32 * 2;
        for id in 0..n {
            p.meta(&frag_meta(1000, id, 0, true), 1514, 1);
        }
        for id in 0..n {
            p.meta(&frag_meta(0, id, 185, false), 100, 2);
        }
        // Each first fragment either found room or was counted; each non-first fragment was
        // attributed exactly when its first fragment had found room.
        assert!(p.frag_overflows > 0);
        assert_eq!(p.frag_attributed + p.frag_overflows, n as u64);
        assert_eq!(p.unmatched[ParseError::Fragment as usize], p.frag_overflows);
        // After the entries expire (30 s), the table takes new datagrams again.
        let later = 1 + DEFAULT_FRAG_TIMEOUT_NS;
        p.meta(&frag_meta(1000, n, 0, true), 1514, later);
        p.meta(&frag_meta(0, n, 185, false), 100, later);
        assert_eq!(p.frag_attributed + p.frag_overflows, n as u64 + 1);
    }

    #[test]
    fn parser_fragment_errors_still_count_as_unmatched() {
        let mut p = Pipeline::new(ShardConfig::new(10, 0, 0), LinkType::RawIp, Vec::new());
        // IPv4 header with MF clear and offset 1: a non-first fragment of UDP.
        let mut ip = [0u8; 28];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&28u16.to_be_bytes());
        ip[6..8].copy_from_slice(&1u16.to_be_bytes());
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        p.packet(&ip, 28, 1);
        assert_eq!(p.rx_packets, 1);
        // Either behaviour of the parser ends up as an unmatched fragment here (first fragment
        // not seen).
        assert_eq!(p.unmatched[ParseError::Fragment as usize], 1);
    }
}
