//! One worker's flow table: preallocated, bounded, owned by a single lcore (no locks, no sharing).
//!
//! Layout:
//! - a slab of `Flow` entries (fixed capacity, free list), whose indexes never move;
//! - an open-addressing index of 4-byte buckets (`tag:8 | slot+1:24`, [`super::index`]), linear
//!   probing, load ≤ 0.5, backward-shift deletion (no tombstones, so lookups never degrade). Its
//!   size is a power of two (the home bucket is the top bits of the hash): exactly 2 or 1.5
//!   buckets per entry (multiply-shift homes) saved 4-13 bytes a flow (with 8-byte buckets) but
//!   cost 19 and 68 instructions a packet in the harness's eviction-bound 10k row (a fuller
//!   index probes further);
//! - idle and active timers in a two-level timer wheel ([`super::wheel`]): a flow is filed under
//!   a lower bound of its idle due time, or of its segment's end (active timeout) when that comes
//!   first, and only refiled when that comes, so a packet does no list work (the LRU list this
//!   replaced moved the flow on every packet, touching three other entries; the active-timeout
//!   list this replaced cost 8 bytes a flow);
//! - a doubly linked list of slots ordered by the next `flow_stats` due time, its links in an
//!   array beside the slab (allocated only with a stats interval; reports stay out of the wheel
//!   so that eviction order stays the idle order). It is not touched per packet.
//!
//! A full table evicts the flow nearest to its idle due time (to 1 ms in the current 8 ms window,
//! to 8 ms beyond, the first filed first), or to the end of its segment when that comes first
//! (a flow within an idle timeout of its active timeout); with a class timeout of 0 that is the
//! longest idle.
//!
//! Every operation is O(1) per packet and O(records produced) per expiry pass: cost does not grow with
//! the table. Time is passed in (ns since the epoch) and clamped to be monotonic per shard.
//!
//! Times inside an entry are u32 millisecond offsets from the flow's `base_ms` (its first packet):
//! that halves their size and keeps record times exact (records carry ms). Consequences, by design:
//! idle and report timers have millisecond granularity (an idle flow may end up to 1 ms before
//! `last_seen + timeout`), and a flow's offsets cover 49.7 days: a flow that outlives that (a packet
//! beyond the range, or a report due on a flow older than 24.8 days) is split like an active
//! timeout (`active`) and its time base moves forward. Packet counters are u32 and byte counters
//! 48 bits per segment and direction; a segment whose counter would wrap is split the same way, so
//! every record stays exact.
//!
//! Entry size: 192 bytes, cache-line aligned (+8 of index per flow at load 0.5, +8 of wheel
//! link, +8 of report link with a stats interval), checked by a test. Where it goes: key 40,
//! time base 8, five u32 (next report, two RTTs, two protocol words shared by TCP sequence
//! counters and DNS), the slot's generation 4 (with the slot, the flow id), two directions of 40
//! that a packet updates (48-bit byte counters sharing words with MSS, flags and TTLs) and two of
//! 16 it does not (first-seen times, MAC, DSCP), 8 of small fields. A packet touches the first
//! 140 bytes: always 3 cache lines (a 200-byte entry with its report link inside spanned 4 lines
//! at one of 8 alignments, and the prefetch asked for all 4; 172 bytes and up to 4 lines before
//! the per-packet half of a direction was split from the rest). The segment start of a flow
//! split by the active timeout is in the cold side array (other flows start at offset 0). The
//! next big saving would be IPv4-sized keys (24 bytes), which needs IPv6 addresses out of line;
//! the rest is what the records carry.

use super::index::Index;
use super::key::FlowKey;
use super::record::{EndReason, FlowRecord, RecordKind, RecordSink};
use super::tcp::{TcpState, ACK as TCP_ACK, FIN as TCP_FIN, RST as TCP_RST, SYN as TCP_SYN};
use super::wheel::Wheel;
use crate::parse::{PacketMeta, Tunnel};

const NIL: u32 = u32::MAX;
/// Largest capacity one shard supports (the index's slot field).
pub const MAX_SHARD_CAPACITY: u32 = super::index::MAX_SLOT;

const MS: u64 = 1_000_000;
/// Largest time offset (ms) an entry stores; a flow reaching it is split and rebased.
const MAX_OFF_MS: u64 = u32::MAX as u64 - 1;
/// `Flow::tcp` bits above the state (low 3 bits): the RTT field of the current handshake state
/// (`rtt_syn_ns` in `SynSent`, `rtt_ack_ns` in `SynReceived`) holds the ns offset of the latest
/// SYN / SYN-ACK from `base_ms`, not yet an RTT.
const TCP_STATE_MASK: u8 = 7;
const HS_PENDING: u8 = 8;
/// `Flow::tcp`: direction 0's next expected sequence number is set (direction 1: `<< 1`).
const SEQ_INIT: u8 = 0x10;
/// `Flow::tcp`: direction 0 sent a FIN (direction 1: `<< 1`).
const DIR_FIN: u8 = 0x40;

/// Packets after which a flow's metadata is considered settled even without a reply.
const DETECTION_LIMIT: u8 = 10;

/// Table size (slab + index) above which a burst prefetches its buckets and entries: beyond a
/// core's L2 (1 MiB on this machine's EPYC). A 3 MiB table in L3 gains 12-14% from it (the
/// harness's 10k row, 10.0 -> 11.2 Mpps); below, everything is a few cycles away anyway.
const PREFETCH_ABOVE: usize = 1 << 20;

/// DNS QR bit: the message is a response.
const DNS_QR: u16 = 0x8000;

// Flow::bits
const IN_USE: u8 = 1;
/// The `lo` endpoint of the key is the initiator.
const INIT_IS_LO: u8 = 2;
const SETTLED: u8 = 4;
const DNS_SEEN: u8 = 8;
/// A DNS query waits for its response; `dns_lat` holds its time offset.
const DNS_PENDING: u8 = 16;
/// `dns_lat` holds the latency of the matched response.
const DNS_ANSWERED: u8 = 32;
/// A continuation segment without packets yet: not counted, ends silently.
const UNCOUNTED: u8 = 64;
/// The flow's slot in `Shard::cold` is valid (tunnel metadata, ICMP errors, segment start). Cleared with
/// the rest of `bits` when the slot is freed, so a reused slot never reads a predecessor's data.
const COLD: u8 = 128;

/// Words of one cold entry: see [`Cold`].
const COLD_WORDS: usize = 12;
/// The cold word holding `Cold::seg_start` (read alone when filing a flow in the wheel).
const COLD_SEG_START: usize = 11;

/// Per-flow data most flows never have, kept out of the entry: the outermost tunnel (set from the
/// flow's first packet; a later packet of the same inner flow in another tunnel does not change
/// it), ICMP errors charged to the flow, and where the current segment of a flow split by the
/// active timeout starts (without a cold entry: at offset 0, the first packet). Stored as plain words
/// so the array can be allocated zeroed (`calloc`): pages are mapped only where a slot is used.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
struct Cold {
    tunnel: Tunnel,
    tunnel_id: u32,
    outer_ip_version: u8,
    outer_src_ip: [u8; 16],
    outer_dst_ip: [u8; 16],
    /// ICMP errors quoting this flow in the current segment, and the last one's type/code.
    icmp_errors: u32,
    icmp_error_type: u8,
    icmp_error_code: u8,
    /// Start of the current segment (ms offset; the active timeout runs from here).
    seg_start: u32,
}

fn tunnel_from_u8(v: u8) -> Tunnel {
    use Tunnel::*;
    [
        None, Gre, Erspan, Vxlan, Geneve, GtpU, IpInIp, Pptp, Capwap, Tzsp,
    ]
    .into_iter()
    .find(|t| *t as u8 == v)
    .unwrap_or(None)
}

impl Cold {
    fn to_words(self) -> [u32; COLD_WORDS] {
        let mut w = [0u32; COLD_WORDS];
        w[0] = self.tunnel as u32
            | (self.outer_ip_version as u32) << 8
            | (self.icmp_error_type as u32) << 16
            | (self.icmp_error_code as u32) << 24;
        w[1] = self.tunnel_id;
        w[2] = self.icmp_errors;
        w[COLD_SEG_START] = self.seg_start;
        for i in 0..4 {
            w[3 + i] = u32::from_le_bytes(self.outer_src_ip[i * 4..i * 4 + 4].try_into().unwrap());
            w[7 + i] = u32::from_le_bytes(self.outer_dst_ip[i * 4..i * 4 + 4].try_into().unwrap());
        }
        w
    }

    fn from_words(w: &[u32; COLD_WORDS]) -> Cold {
        let mut c = Cold {
            tunnel: tunnel_from_u8(w[0] as u8),
            tunnel_id: w[1],
            outer_ip_version: (w[0] >> 8) as u8,
            icmp_errors: w[2],
            icmp_error_type: (w[0] >> 16) as u8,
            icmp_error_code: (w[0] >> 24) as u8,
            seg_start: w[COLD_SEG_START],
            ..Cold::default()
        };
        for i in 0..4 {
            c.outer_src_ip[i * 4..i * 4 + 4].copy_from_slice(&w[3 + i].to_le_bytes());
            c.outer_dst_ip[i * 4..i * 4 + 4].copy_from_slice(&w[7 + i].to_le_bytes());
        }
        c
    }
}

// The seen bit of `DirState`'s flags word.
const DIR_SEEN: u16 = 0x8000;

/// Timeout classes: every flow sits in exactly one; each class has one idle timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Class {
    Tcp = 0,
    TcpClosed = 1,
    Udp = 2,
    /// ICMP and ICMPv6: own class so echo flows (request/reply, done in a second) can leave the
    /// table sooner than UDP sessions without shortening those.
    Icmp = 3,
    Other = 4,
}
const CLASSES: usize = 5;
/// `Flow::class` bits of the class; the top bit is `TOUCHED`.
const CLASS_MASK: u8 = 0x7f;
/// `Flow::class`: a packet came since the flow was filed in the timer wheel (eviction's second
/// chance: within one wheel slot it goes to the back instead of out).
const TOUCHED: u8 = 0x80;

/// Shard settings. Timeouts of 0 disable that timer.
#[derive(Clone, Copy, Debug)]
pub struct ShardConfig {
    /// Flow capacity of this shard (the table never grows).
    pub capacity: u32,
    /// Count like nDPI's reader (`--compat ndpi`): one key is one flow (a SYN after FIN/RST does
    /// not start a new one) and the first packet's sender is the initiator (even a SYN-ACK's).
    /// The pipeline also applies nDPI's packet rules then (`compat::ndpi_parse_into`).
    pub compat_ndpi: bool,
    /// Idle timeout of open TCP flows.
    pub tcp_timeout_ns: u64,
    /// How long a closed TCP flow lingers to absorb trailing ACKs/retransmitted FINs before export.
    pub tcp_closed_timeout_ns: u64,
    pub udp_timeout_ns: u64,
    /// Idle timeout of ICMP and ICMPv6 flows.
    pub icmp_timeout_ns: u64,
    pub other_timeout_ns: u64,
    /// Active timeout: a flow alive this long since its segment start is ended (`active`) and
    /// continues as the next segment (0 = off).
    pub active_timeout_ns: u64,
    /// Period of `flow_stats` reports for live flows with new packets.
    pub stats_interval_ns: u64,
    pub worker: u8,
    pub port: u16,
    /// Back the slab and the index with transparent 2 MiB pages (fewer TLB misses on big tables).
    pub huge_pages: bool,
}

impl ShardConfig {
    /// One idle timeout for every class (the CLI's `--idle-timeout`), the default close linger,
    /// no active timeout.
    pub fn new(capacity: u32, idle_timeout_ns: u64, stats_interval_ns: u64) -> Self {
        ShardConfig {
            capacity,
            compat_ndpi: false,
            tcp_timeout_ns: idle_timeout_ns,
            tcp_closed_timeout_ns: if idle_timeout_ns == 0 {
                0
            } else {
                idle_timeout_ns.min(DEFAULT_TCP_CLOSED_NS)
            },
            udp_timeout_ns: idle_timeout_ns,
            icmp_timeout_ns: idle_timeout_ns,
            other_timeout_ns: idle_timeout_ns,
            active_timeout_ns: 0,
            stats_interval_ns,
            worker: 0,
            port: 0,
            huge_pages: false,
        }
    }

    /// Per-protocol defaults (`DEFAULT_*_NS`) instead of one idle timeout.
    pub fn with_protocol_defaults(capacity: u32, stats_interval_ns: u64) -> Self {
        ShardConfig {
            tcp_timeout_ns: DEFAULT_TCP_NS,
            tcp_closed_timeout_ns: DEFAULT_TCP_CLOSED_NS,
            udp_timeout_ns: DEFAULT_UDP_NS,
            icmp_timeout_ns: DEFAULT_ICMP_NS,
            other_timeout_ns: DEFAULT_OTHER_NS,
            active_timeout_ns: DEFAULT_ACTIVE_NS,
            ..ShardConfig::new(capacity, 0, stats_interval_ns)
        }
    }
}

/// Default linger of a closed TCP flow: Linux conntrack's CLOSE timeout. Long enough for the last
/// ACK and retransmitted FINs of slow peers, short enough to free the slot soon.
pub const DEFAULT_TCP_CLOSED_NS: u64 = 10_000_000_000;
/// Open TCP: 5 min. Connections idle for minutes (SSH, keep-alive pools) are common and a TCP flow
/// has an explicit end (FIN/RST), so a long idle timeout rarely keeps dead flows (IPFIX probes
/// such as nProbe/YAF use minutes too; conntrack uses days, too long for a bounded table).
pub const DEFAULT_TCP_NS: u64 = 300_000_000_000;
/// UDP: 60 s. No end marker; most UDP (DNS, NTP) is one exchange, while media and QUIC keep
/// sending at least every ~30 s (conntrack's UDP stream timeout is 120 s, unreplied 30 s).
pub const DEFAULT_UDP_NS: u64 = 60_000_000_000;
/// ICMP: 30 s. Echo exchanges finish within a second; `ping` sends every second (conntrack: 30 s).
pub const DEFAULT_ICMP_NS: u64 = 30_000_000_000;
/// Other protocols (GRE, ESP, SCTP, ...): 60 s, like UDP.
pub const DEFAULT_OTHER_NS: u64 = 60_000_000_000;
/// Active timeout: 30 min (the IPFIX/NetFlow convention), so a long flow shows up in end records
/// at least that often.
pub const DEFAULT_ACTIVE_NS: u64 = 1_800_000_000_000;

/// Plain counters of a shard; the worker publishes them periodically.
///
/// `flows_created` counts flow segments: a flow split by the active timeout counts once more for
/// each continuation segment that saw a packet, so `flows_created` = end records for a drained
/// shard and `active()` stays exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardStats {
    pub packets: u64,
    pub bytes: u64,
    pub flows_created: u64,
    pub flows_created_by_l4: [u64; 3],
    pub flows_ended: [u64; 6],
    pub records: [u64; 3],
    pub clock_backwards: u64,
}

impl ShardStats {
    fn count_created(&mut self, class: u8) {
        self.flows_created += 1;
        self.flows_created_by_l4[match class {
            c if c == Class::Tcp as u8 || c == Class::TcpClosed as u8 => 0,
            c if c == Class::Udp as u8 => 1,
            _ => 2,
        }] += 1;
    }
    pub fn ended(&self, r: EndReason) -> u64 {
        self.flows_ended[r as usize]
    }
    pub fn active(&self) -> u64 {
        self.flows_created - self.flows_ended.iter().sum::<u64>()
    }
}

#[derive(Clone, Copy, Default)]
struct Link {
    prev: u32,
    next: u32,
}

#[derive(Clone, Copy)]
struct List {
    /// Most recent end.
    head: u32,
    /// Oldest end: the next to expire.
    tail: u32,
}

impl Default for List {
    fn default() -> Self {
        List {
            head: NIL,
            tail: NIL,
        }
    }
}

/// One direction of a flow (current segment): what a packet updates. Times are ms offsets from
/// `Flow::base_ms`; what a packet does not touch is in [`DirMeta`], outside the prefetched part.
///
/// Byte counters are 48 bits (256 TiB per segment and direction; a segment about to exceed that
/// is split like the u32 packet counters) and share their words with 16-bit fields, so the
/// direction stays at 40 bytes.
#[derive(Clone, Copy, Default)]
struct DirState {
    /// Frame bytes (low 48 bits) | TCP MSS of this direction's SYN (high 16; ICMP: type/code).
    bytes_mss: u64,
    /// Frame bytes at the previous report, the delta baseline (low 48) | TCP flags (11 bits),
    /// window scale shift + 1 (4 bits, 0 = not announced), `DIR_SEEN` (high 16).
    rep_flags: u64,
    /// IP bytes (low 48) | lowest TTL (bits 48..56) | highest TTL (bits 56..64).
    ip_ttl: u64,
    packets: u32,
    rep_packets: u32,
    last: u32,
    /// Next expected TCP sequence number (highest seq + len seen; valid with `SEQ_INIT`).
    next_seq: u32,
}

/// The part of a direction written once per segment or report, not per packet.
#[derive(Clone, Copy, Default)]
struct DirMeta {
    first: u32,
    /// First packet since the previous report (valid while packets > rep_packets).
    int_first: u32,
    mac: [u8; 6],
    /// DSCP of the direction's first packet.
    dscp: u8,
}

const LOW48: u64 = (1 << 48) - 1;
// A segment's IP bytes cannot reach 2^48: at most `u32::MAX` packets (then it is split) of at
// most 65,535 bytes (`PacketMeta::ip_len` is a u16), so the per-packet add needs no mask.
const _: () = assert!(u32::MAX as u64 * u16::MAX as u64 <= LOW48);

impl DirState {
    #[inline]
    fn bytes(&self) -> u64 {
        self.bytes_mss & LOW48
    }
    #[inline]
    fn mss(&self) -> u16 {
        (self.bytes_mss >> 48) as u16
    }
    fn set_mss(&mut self, v: u16) {
        self.bytes_mss = self.bytes_mss & LOW48 | (v as u64) << 48;
    }
    #[inline]
    fn rep_bytes(&self) -> u64 {
        self.rep_flags & LOW48
    }
    fn set_rep_bytes(&mut self, v: u64) {
        self.rep_flags = self.rep_flags & !LOW48 | v;
    }
    fn hi16(&self) -> u16 {
        (self.rep_flags >> 48) as u16
    }
    fn or_hi16(&mut self, v: u16) {
        self.rep_flags |= (v as u64) << 48;
    }
    fn tcp_flags(&self) -> u16 {
        self.hi16() & 0x7ff
    }
    fn wscale1(&self) -> u8 {
        (self.hi16() >> 11 & 0xf) as u8
    }
    fn set_wscale1(&mut self, v: u8) {
        self.rep_flags = self.rep_flags & !(0xf << 59) | ((v as u64 & 0xf) << 59);
    }
    fn seen(&self) -> bool {
        self.hi16() & DIR_SEEN != 0
    }
    #[inline]
    fn ip_bytes(&self) -> u64 {
        self.ip_ttl & LOW48
    }
    fn ttl_min(&self) -> u8 {
        (self.ip_ttl >> 48) as u8
    }
    fn ttl_max(&self) -> u8 {
        (self.ip_ttl >> 56) as u8
    }
    fn set_ttl(&mut self, min: u8, max: u8) {
        self.ip_ttl = self.ip_ttl & LOW48 | (min as u64) << 48 | (max as u64) << 56;
    }
}

/// Fields in the order a packet touches them (`repr(C)`): the key, the time base, both
/// directions' counters and the state bytes come first (`HOT_BYTES`, the part a burst
/// prefetches); the directions' once-per-segment fields, the report due time, RTTs, id and
/// per-segment words a packet rarely touches follow (192 bytes, three aligned cache lines).
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Flow {
    key: FlowKey,
    /// Epoch ms of the flow's first packet: the base of every time offset below.
    base_ms: u64,
    dir: [DirState; 2],
    detection_packets: u8,
    class: u8,
    /// `TcpState` in the low 3 bits, `HS_PENDING`, `SEQ_INIT` and `DIR_FIN` per direction.
    tcp: u8,
    bits: u8,
    /// Protocol-specific words, shared because a flow is only one protocol:
    /// TCP: retransmissions, sequence errors; UDP with DNS: the pending query time (ms offset) or,
    /// once answered, the latency in ms, and `dns_id | dns_flags << 16`.
    l4a: u32,
    l4b: u32,
    meta: [DirMeta; 2],
    /// Offset of the next `flow_stats` report; a free entry's holds the next free slot.
    next_report: u32,
    /// Handshake RTTs (ns); while the handshake is pending one of them holds a timestamp
    /// (see `HS_PENDING`).
    rtt_syn_ns: u32,
    rtt_ack_ns: u32,
    /// TCP resets (saturating).
    resets: u16,
    segment: u16,
    /// Flows this slot has held, this one included: with the slot, the flow id (see
    /// `Shard::record`). Kept when the slot is freed.
    gen: u32,
}

/// The part of an entry a packet reads or writes (see [`Flow`]).
const HOT_BYTES: usize = std::mem::offset_of!(Flow, meta);
const _: () = assert!(
    HOT_BYTES <= 140,
    "a packet touches at most 140 bytes of its entry (3 cache lines)"
);
const _: () = assert!(
    std::mem::size_of::<Flow>() == 192,
    "an entry is three cache lines"
);

impl Flow {
    /// Absolute ns of a time offset.
    #[inline]
    fn at(&self, off: u32) -> u64 {
        (self.base_ms + off as u64) * MS
    }
    /// Offset of `now` (floor to the ms; `now` is never before the base).
    #[inline]
    fn off(&self, now: u64) -> u32 {
        (now / MS).saturating_sub(self.base_ms).min(MAX_OFF_MS) as u32
    }
    /// Offset of `t` rounded up (a due time never fires early).
    #[inline]
    fn off_ceil(&self, t: u64) -> u32 {
        t.div_ceil(MS)
            .saturating_sub(self.base_ms)
            .min(u32::MAX as u64) as u32
    }
    #[inline]
    fn has(&self, b: u8) -> bool {
        self.bits & b != 0
    }
    /// The timeout class (without the `TOUCHED` bit).
    #[inline]
    fn class(&self) -> u8 {
        self.class & CLASS_MASK
    }
    fn init_is_lo(&self) -> bool {
        self.has(INIT_IS_LO)
    }
    fn closed(&self) -> bool {
        self.tcp & TCP_STATE_MASK == TcpState::Closed as u8
    }
    /// A `SEQ_INIT`/`DIR_FIN` bit of direction `d`.
    #[inline]
    fn tcp_dir(&self, bit: u8, d: usize) -> bool {
        self.tcp & (bit << d) != 0
    }
    /// Last packet of the flow (either direction; kept across segment splits: it is the base of
    /// the idle due time).
    #[inline]
    fn last(&self) -> u32 {
        self.dir[0].last.max(self.dir[1].last)
    }
}

/// A worker's flow table.
pub struct Shard {
    cfg: ShardConfig,
    timeouts: [u64; CLASSES],
    flows: Vec<Flow>,
    /// Report list links per slot (empty without a stats interval).
    rep_links: Vec<Link>,
    /// One [`Cold`] entry per slot, valid only while the slot's flow has `COLD`.
    cold: Vec<[u32; COLD_WORDS]>,
    index: Index,
    free_head: u32,
    /// Idle and active timers: every flow is filed under a lower bound of its next due time.
    wheel: Wheel,
    /// The table is big enough for the burst to prefetch (see `wants_prefetch`).
    prefetch: bool,
    rep: List,
    now: u64,
    /// No timer is due before this time (may be early, never late): lets `update` run the
    /// timers exactly when a packet's time crosses a due time, with one compare per packet.
    deadline: u64,
    stats: ShardStats,
}

impl Shard {
    /// Allocates everything up front; nothing is allocated afterwards. The slab is reserved, not
    /// written: entries are taken in order as flows arrive (the OS maps the pages then), so a
    /// table sized for millions costs nothing until it fills, e.g. on a short capture. The index
    /// (4 bytes a bucket) is written up front.
    pub fn new(cfg: ShardConfig) -> Shard {
        let cap = cfg.capacity.clamp(1, MAX_SHARD_CAPACITY);
        let flows = Vec::with_capacity(cap as usize);
        if cfg.huge_pages {
            crate::prefetch::huge_pages(&flows);
        }
        let mut sh = Shard {
            timeouts: [
                cfg.tcp_timeout_ns,
                cfg.tcp_closed_timeout_ns,
                cfg.udp_timeout_ns,
                cfg.icmp_timeout_ns,
                cfg.other_timeout_ns,
            ],
            cfg: ShardConfig {
                capacity: cap,
                ..cfg
            },
            flows,
            rep_links: Vec::with_capacity(if cfg.stats_interval_ns > 0 {
                cap as usize
            } else {
                0
            }),
            // Zeroed allocation (no per-element writes): untouched pages stay unmapped.
            cold: vec![[0u32; COLD_WORDS]; cap as usize],
            index: Index::new(cap, cfg.huge_pages),
            free_head: NIL,
            wheel: Wheel::new(cap as usize),
            rep: List::default(),
            now: 0,
            deadline: u64::MAX,
            stats: ShardStats::default(),
            prefetch: false,
        };
        sh.prefetch = sh.memory_bytes() > PREFETCH_ABOVE;
        sh
    }

    pub fn config(&self) -> &ShardConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &ShardStats {
        &self.stats
    }

    pub fn len(&self) -> u64 {
        self.stats.active()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of memory the table holds (slab + index), fixed at creation.
    pub fn memory_bytes(&self) -> usize {
        self.cfg.capacity as usize * std::mem::size_of::<Flow>()
            + self.rep_links.capacity() * std::mem::size_of::<Link>()
            + self.index.memory_bytes()
            + self.wheel.memory_bytes()
    }

    /// Size of one slab entry.
    pub fn entry_size() -> usize {
        std::mem::size_of::<Flow>()
    }

    /// Memory per tracked flow at full capacity: the entry plus its share of the index.
    pub fn bytes_per_flow(&self) -> f64 {
        self.memory_bytes() as f64 / self.cfg.capacity as f64
    }

    /// The shard's clock: the latest time it has been given.
    pub fn now(&self) -> u64 {
        self.now
    }

    #[inline]
    fn advance(&mut self, now: u64) -> u64 {
        // A capture whose timestamps go backwards must not produce negative durations: clamp.
        if now < self.now {
            self.stats.clock_backwards += 1;
        } else {
            self.now = now;
        }
        self.now
    }

    /// Account one parsed packet of `frame_len` bytes seen at `now` (ns since the epoch).
    #[inline]
    pub fn update<S: RecordSink>(
        &mut self,
        m: &PacketMeta,
        frame_len: u32,
        now: u64,
        sink: &mut S,
    ) {
        let (key, src_is_lo) = FlowKey::from_meta(m);
        let h = key.hash64();
        self.update_keyed(m, &key, src_is_lo, h, frame_len, now, sink);
    }

    /// [`Shard::update`] with the key, orientation and hash already computed (once per packet of
    /// a burst, which also prefetches with them): the same result, without hashing the key twice.
    /// Inlined into the caller's loop: a packet of a known flow only runs this and `account`;
    /// a new flow (or a SYN reopening a closed one) takes the out-of-line `update_new`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn update_keyed<S: RecordSink>(
        &mut self,
        m: &PacketMeta,
        key: &FlowKey,
        src_is_lo: bool,
        h: u64,
        frame_len: u32,
        now: u64,
        sink: &mut S,
    ) {
        let now = self.advance(now);
        if now >= self.deadline {
            self.run_timers(now, sink);
        }
        self.stats.packets += 1;
        self.stats.bytes += frame_len as u64;
        match self.lookup(key, h) {
            // A fresh SYN on a closed connection starts a new flow; trailing ACKs do not.
            // `&`, not `&&`: one branch (the entry is read by `account` anyway).
            Ok(s)
                if !((m.proto == 6)
                    & (m.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN)
                    & self.flows[s as usize].closed()
                    & !self.cfg.compat_ndpi) =>
            {
                self.account::<S, true>(s, m, src_is_lo, frame_len, now, sink);
            }
            found => self.update_new(found.ok(), m, key, src_is_lo, h, frame_len, now, sink),
        }
        if m.icmp_inner_proto != 0 {
            self.icmp_error(m);
        }
    }

    /// A packet that starts a flow: none with its key (`reopen` None), or a SYN on the closed
    /// flow `reopen`, which ends first.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn update_new<S: RecordSink>(
        &mut self,
        reopen: Option<u32>,
        m: &PacketMeta,
        key: &FlowKey,
        src_is_lo: bool,
        h: u64,
        frame_len: u32,
        now: u64,
        sink: &mut S,
    ) {
        if let Some(s) = reopen {
            self.end(s, EndReason::Closed, sink);
        }
        let slot = self.create(*key, h, m, src_is_lo, now, sink);
        self.account::<S, false>(slot, m, src_is_lo, frame_len, now, sink);
        // Announce a new flow with its first packet's metadata.
        sink.emit_with(|r| self.record(slot, RecordKind::Start, EndReason::None, r));
        self.stats.records[RecordKind::Start as usize] += 1;
    }

    #[cold]
    #[inline(never)]
    fn set_tunnel(&mut self, slot: u32, m: &PacketMeta) {
        self.cold[slot as usize] = Cold {
            tunnel: m.tunnel,
            tunnel_id: m.tunnel_id,
            outer_ip_version: m.outer_ip_version,
            outer_src_ip: m.outer_src_ip,
            outer_dst_ip: m.outer_dst_ip,
            ..Cold::default()
        }
        .to_words();
    }

    /// An ICMP error (already accounted to its own flow) quoting a packet of another flow: charge
    /// it to that flow if the table has it (the key is canonical, so either orientation of the
    /// quote finds it). Never creates a flow.
    #[cold]
    #[inline(never)]
    fn icmp_error(&mut self, m: &PacketMeta) {
        let key = FlowKey::quoted(m);
        let Ok(s) = self.lookup(&key, key.hash64()) else {
            return;
        };
        let f = &mut self.flows[s as usize];
        let mut c = if f.has(COLD) {
            Cold::from_words(&self.cold[s as usize])
        } else {
            Cold::default()
        };
        f.bits |= COLD;
        c.icmp_errors = c.icmp_errors.saturating_add(1);
        c.icmp_error_type = m.icmp_type;
        c.icmp_error_code = m.icmp_code;
        self.cold[s as usize] = c.to_words();
    }

    /// Whether prefetching the table across a burst pays: not for a table that fits a core's L2,
    /// where the prefetch passes (~25 instructions a packet) hide next to nothing.
    #[inline]
    pub fn wants_prefetch(&self) -> bool {
        self.prefetch
    }

    /// Prefetch the home index bucket of hash `h`. Called for a whole burst before
    /// [`Shard::prefetch_entry`] and the updates, so the cache misses of many packets overlap
    /// instead of stalling one after the other.
    #[inline]
    pub fn prefetch_bucket(&self, h: u64) {
        self.index.prefetch(h);
    }

    /// Prefetch the flow entry the home bucket of `h` points to (its bucket should be cached by
    /// now: see [`Shard::prefetch_bucket`]). A miss in the home bucket prefetches nothing.
    #[inline]
    pub fn prefetch_entry(&self, h: u64) {
        if let Some(s) = self.index.home_slot(h) {
            crate::prefetch::element(&self.flows, s as usize, HOT_BYTES);
        }
    }

    /// Index lookup: `Ok(slot)` when present.
    #[inline(always)]
    fn lookup(&self, key: &FlowKey, h: u64) -> Result<u32, ()> {
        let (tag, mut i) = self.index.start(h);
        loop {
            let Some((s, at)) = self.index.candidate(tag, i) else {
                return Err(());
            };
            if self.flows[s as usize].key == *key {
                return Ok(s);
            }
            i = self.index.next(at);
        }
    }

    fn index_remove(&mut self, h: u64, slot: u32) {
        let flows = &self.flows;
        self.index
            .remove(h, slot, |s| flows[s as usize].key.hash64());
    }

    fn create<S: RecordSink>(
        &mut self,
        key: FlowKey,
        h: u64,
        m: &PacketMeta,
        src_is_lo: bool,
        now: u64,
        sink: &mut S,
    ) -> u32 {
        let slot = if self.free_head != NIL {
            let s = self.free_head;
            self.free_head = self.flows[s as usize].next_report;
            s
        } else if self.flows.len() < self.cfg.capacity as usize {
            // Within the reserved capacity: never reallocates.
            self.flows.push(Flow::default());
            let s = self.flows.len() as u32 - 1;
            self.wheel.grow_to(s);
            if self.cfg.stats_interval_ns > 0 {
                self.rep_links.push(Link::default());
            }
            s
        } else {
            self.evict_one(sink);
            let s = self.free_head;
            self.free_head = self.flows[s as usize].next_report;
            s
        };
        // A SYN-ACK seen first means the other side initiated.
        let synack_first = !self.cfg.compat_ndpi
            && m.proto == 6
            && m.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN | TCP_ACK;
        let class = match m.proto {
            6 => Class::Tcp,
            17 => Class::Udp,
            1 | 58 => Class::Icmp,
            _ => Class::Other,
        };
        let init_is_lo = src_is_lo != synack_first;
        let mut f = Flow {
            key,
            gen: self.flows[slot as usize].gen.wrapping_add(1),
            base_ms: now / MS,
            class: class as u8,
            bits: IN_USE | if init_is_lo { INIT_IS_LO } else { 0 },
            ..Flow::default()
        };
        if class == Class::Icmp {
            // ICMP has no MSS: its first type/code live in that field of the initiator direction.
            f.dir[0].set_mss((m.icmp_type as u16) << 8 | m.icmp_code as u16);
        }
        f.next_report = f.off_ceil(now.saturating_add(self.cfg.stats_interval_ns));
        // Until the other side speaks, its MAC is the first packet's destination.
        let d = usize::from(src_is_lo != init_is_lo);
        f.meta[1 - d].mac = m.dst_mac;
        if m.tunnel != Tunnel::None {
            // Once per flow, out of line: plain traffic only pays this branch.
            f.bits |= COLD;
            self.set_tunnel(slot, m);
        }
        self.flows[slot as usize] = f;
        self.index.insert(h, slot);
        self.wheel.start(now / MS);
        self.file(slot);
        if self.cfg.stats_interval_ns > 0 {
            self.push_head_rep(slot);
        }
        self.stats.count_created(class as u8);
        slot
    }

    /// Count a packet of flow `slot`. `TOUCH`: a packet of a flow already filed in the timer
    /// wheel (a new flow is filed with its first).
    #[inline(always)]
    fn account<S: RecordSink, const TOUCH: bool>(
        &mut self,
        slot: u32,
        m: &PacketMeta,
        src_is_lo: bool,
        frame_len: u32,
        now: u64,
        sink: &mut S,
    ) {
        let now_ms = now / MS;
        let mut f = &mut self.flows[slot as usize];
        if TOUCH {
            f.class |= TOUCHED;
        }
        let d = usize::from(src_is_lo != f.init_is_lo());
        // The shard's clock never goes back and a flow's base is a time it has seen.
        debug_assert!(now_ms >= f.base_ms);
        {
            // Offsets or a packet counter about to overflow: split the segment first (rare).
            let ds = &f.dir[d];
            // `|`, not `||`: one branch for the three tests.
            if (now_ms - f.base_ms >= MAX_OFF_MS)
                | (ds.packets == u32::MAX)
                | (ds.bytes() + frame_len as u64 > LOW48)
            {
                self.split(slot, now, sink);
                f = &mut self.flows[slot as usize];
            }
        }
        // Below MAX_OFF_MS now (a flow that reached it was just rebased).
        let t = (now_ms - f.base_ms) as u32;
        // One test for both rare flow states: a continuation segment's first packet, and
        // detection still counting packets.
        if f.bits & (UNCOUNTED | SETTLED) != SETTLED {
            Self::flow_state(f, d, &mut self.stats);
        }
        let ds = &mut f.dir[d];
        // One test on the common path: the first packet of a direction is also its first of the
        // segment and of the report interval (`rep_packets <= packets`, and the seen bit outlives
        // a segment split while `packets` restarts at 0).
        if ds.packets == ds.rep_packets {
            f.meta[d].int_first = t;
            if ds.packets == 0 {
                f.meta[d].first = t;
                ds.set_ttl(m.ttl, m.ttl);
                if !ds.seen() {
                    ds.or_hi16(DIR_SEEN);
                    f.meta[d].mac = m.src_mac;
                    f.meta[d].dscp = m.dscp & 0x3f;
                }
            }
        }
        ds.packets += 1;
        // 48-bit sums cannot carry into the high fields: a segment near the limit was split, and
        // IP bytes cannot reach 2^48 (asserted at `LOW48`).
        ds.bytes_mss += frame_len as u64;
        ds.ip_ttl += m.ip_len as u64;
        ds.last = t;
        // Both TTL bytes equal to this packet's (a constant TTL, the usual case): nothing moves.
        if (ds.ip_ttl >> 48) as u16 != u16::from(m.ttl) * 0x0101 {
            ds.set_ttl(ds.ttl_min().min(m.ttl), ds.ttl_max().max(m.ttl));
        }
        if m.dns & (m.proto == 17) {
            Self::dns(f, m, t);
        }
        let mut closed_now = false;
        if m.proto == 6 {
            closed_now = Self::tcp(f, d, m, now);
        }
        // No timer work for a packet: the flow's wheel timers only moved later (see `wheel`). A
        // close shortens the idle one to the linger (and ends the active timeout): refile.
        if closed_now {
            self.closed(slot);
        }
    }

    /// A TCP close: the flow lingers under the closed class's timeout (and is no longer split).
    #[cold]
    #[inline(never)]
    fn closed(&mut self, slot: u32) {
        self.flows[slot as usize].class = Class::TcpClosed as u8;
        self.wheel.remove(slot);
        self.file(slot);
    }

    /// [`Shard::account`]'s rare flow states: the first packet of a continuation segment is
    /// counted as a created flow; detection counts packets until a reply or `DETECTION_LIMIT`.
    #[cold]
    #[inline(never)]
    fn flow_state(f: &mut Flow, d: usize, stats: &mut ShardStats) {
        if f.has(UNCOUNTED) {
            f.bits &= !UNCOUNTED;
            stats.count_created(f.class());
        }
        if !f.has(SETTLED) {
            f.detection_packets += 1;
            if d == 1 || f.detection_packets >= DETECTION_LIMIT {
                f.bits |= SETTLED;
            }
        }
    }

    /// DNS query/response matching (the latest exchange of the flow wins).
    fn dns(f: &mut Flow, m: &PacketMeta, t: u32) {
        f.bits |= DNS_SEEN;
        let word = m.dns_id as u32 | (m.dns_flags as u32) << 16;
        if m.dns_flags & DNS_QR == 0 {
            f.l4b = word;
            f.l4a = t;
            f.bits = (f.bits | DNS_PENDING) & !DNS_ANSWERED;
        } else if f.has(DNS_PENDING) && m.dns_id == f.l4b as u16 {
            f.l4a = t - f.l4a;
            f.l4b = word;
            f.bits = (f.bits | DNS_ANSWERED) & !DNS_PENDING;
        } else if !f.has(DNS_PENDING | DNS_ANSWERED) {
            // A response whose query we did not see still describes the exchange.
            f.l4b = word;
        }
    }

    /// TCP per-segment work; returns whether this segment closed the connection.
    #[inline]
    fn tcp(f: &mut Flow, d: usize, m: &PacketMeta, now: u64) -> bool {
        let fl = m.tcp_flags;
        if fl & (TCP_SYN | TCP_FIN | TCP_RST) == 0
            && f.tcp & (TCP_STATE_MASK | HS_PENDING) == TcpState::Established as u8
        {
            // Most segments: established (no handshake pending), no control flag. The state, the
            // handshake RTTs and the close bits stay; only flags and sequence tracking move.
            f.dir[d].or_hi16(fl as u16);
            Self::track_seq(f, d, m, fl);
            return false;
        }
        Self::tcp_control(f, d, m, now)
    }

    /// Sequence tracking: a segment wholly below what this direction already sent is a
    /// retransmission; one that starts beyond it is a sequence error (gap or reordering).
    /// Fragments carry only part of the segment (or none of its header): skipped.
    ///
    /// Without branches: whether a segment carries data (a pure ACK does not) and whether it
    /// is a retransmission follow the traffic, not a pattern a predictor learns; as branches
    /// they were ~0.4 of the ~2.2 mispredictions a packet callgrind's branch model counts
    /// (+22 instructions a packet at 1M flows for -0.42 mispredictions: +1.3% in alternating
    /// runs).
    #[inline]
    fn track_seq(f: &mut Flow, d: usize, m: &PacketMeta, fl: u8) {
        let fragment = (m.frag_offset != 0) | m.more_fragments;
        let hdrs = m.payload_offset.saturating_sub(m.l3_offset);
        let payload = m.ip_len.saturating_sub(hdrs) as u32;
        let seg = payload + u32::from(fl & TCP_SYN != 0) + u32::from(fl & TCP_FIN != 0);
        let valid = !fragment & (fl & TCP_RST == 0) & (seg > 0);
        let end = m.tcp_seq.wrapping_add(seg);
        let next = f.dir[d].next_seq;
        let known = valid & f.tcp_dir(SEQ_INIT, d);
        let retrans = known & ((end.wrapping_sub(next) as i32) <= 0);
        let gap = known & !retrans & ((m.tcp_seq.wrapping_sub(next) as i32) > 0);
        f.l4a += u32::from(retrans);
        f.l4b += u32::from(gap);
        f.tcp |= u8::from(valid) << (SEQ_INIT.trailing_zeros() as usize + d);
        // A select, not a branch: the first segment or one ahead of what was sent moves it.
        f.dir[d].next_seq = if valid & !retrans { end } else { next };
    }

    /// [`Shard::tcp`] for segments with SYN, FIN or RST, or outside the established state. Out
    /// of line: inlined, it grows the per-packet loop for a fifth of the segments.
    #[inline(never)]
    fn tcp_control(f: &mut Flow, d: usize, m: &PacketMeta, now: u64) -> bool {
        let fl = m.tcp_flags;
        let mut bits = fl as u16;
        if fl & TCP_ACK != 0 {
            if fl & TCP_SYN != 0 {
                bits |= 0x100;
            }
            if fl & TCP_FIN != 0 {
                bits |= 0x200;
            }
            if fl & TCP_RST != 0 {
                bits |= 0x400;
            }
        }
        let ds = &mut f.dir[d];
        ds.or_hi16(bits);
        if fl & TCP_SYN != 0 {
            if m.tcp_mss != 0 {
                ds.set_mss(m.tcp_mss);
            }
            if let Some(w) = m.tcp_wscale {
                // RFC 7323 caps the shift at 14, so shift + 1 fits 4 bits.
                ds.set_wscale1(w.min(14) + 1);
            }
        }
        Self::track_seq(f, d, m, fl);
        if m.frag_offset != 0 {
            return false; // no TCP header in a non-first fragment
        }
        if fl & TCP_FIN != 0 {
            f.tcp |= DIR_FIN << d;
        }
        if fl & TCP_RST != 0 {
            f.resets = f.resets.saturating_add(1);
        }
        let old = TcpState::from_u8(f.tcp & TCP_STATE_MASK);
        let pending = f.tcp & HS_PENDING != 0;
        let fin = [f.tcp_dir(DIR_FIN, 0), f.tcp_dir(DIR_FIN, 1)];
        let new = old.step(fl, d == 0, fin);
        // The handshake stamp is set again below if still pending; the direction bits stay.
        f.tcp = (f.tcp & !(TCP_STATE_MASK | HS_PENDING)) | new as u8;
        // Handshake RTT at the observation point, from the latest SYN / SYN-ACK. Timestamps are
        // ns offsets from `base_ms` (u32: the flow's first 4.29 s; later handshakes are not timed).
        let since = now - f.base_ms * MS;
        let hs_now = u32::try_from(since).ok();
        let kind = fl & (TCP_SYN | TCP_ACK | TCP_FIN | TCP_RST);
        let stamp = |v: &mut u32, tcp: &mut u8| match hs_now {
            Some(h) => {
                *v = h;
                *tcp |= HS_PENDING;
            }
            _ => *v = 0,
        };
        use TcpState::*;
        match (old, new) {
            (_, SynSent) if kind == TCP_SYN && d == 0 => stamp(&mut f.rtt_syn_ns, &mut f.tcp),
            (SynSent, SynReceived) => {
                f.rtt_syn_ns = match hs_now {
                    Some(h) if pending => h - f.rtt_syn_ns,
                    _ => 0,
                };
                stamp(&mut f.rtt_ack_ns, &mut f.tcp);
            }
            (_, SynReceived) if kind == TCP_SYN | TCP_ACK && d == 1 => {
                stamp(&mut f.rtt_ack_ns, &mut f.tcp)
            }
            (SynReceived, Established) => {
                f.rtt_ack_ns = match hs_now {
                    Some(h) if pending => h - f.rtt_ack_ns,
                    _ => 0,
                };
            }
            (SynSent, SynSent) | (SynReceived, SynReceived) if pending => f.tcp |= HS_PENDING,
            // Left the handshake without its answer (RST, FIN): nothing measured.
            (SynSent, _) => f.rtt_syn_ns = 0,
            (SynReceived, _) => f.rtt_ack_ns = 0,
            _ => {}
        }
        new == TcpState::Closed && old != TcpState::Closed
    }

    fn evict_one<S: RecordSink>(&mut self, sink: &mut S) {
        // The flow nearest to its idle due time (to the wheel's granularity: 1 ms this window,
        // 8 ms beyond; within one slot the least recently filed without a packet since): the
        // head of the earliest wheel slot once it is filed where its real due time says (flows
        // filed early move on, as the timers would move them).
        loop {
            let Some(s) = self.wheel.first() else {
                debug_assert!(false, "evict from an empty table");
                return;
            };
            // A packet since filing: to the back of its (real) slot, a second chance.
            let touched = self.flows[s as usize].class & TOUCHED != 0;
            if !touched && self.wheel.in_place(s, self.check_ms(s)) {
                self.end(s, EndReason::Evicted, sink);
                return;
            }
            self.wheel.remove(s);
            self.file(s);
        }
    }

    /// When flow `slot` is idle-due (ns): last packet + its class's timeout (`u64::MAX`: never).
    #[inline]
    fn due(&self, slot: u32) -> u64 {
        let f = &self.flows[slot as usize];
        match self.timeouts[f.class() as usize] {
            0 => u64::MAX,
            t => f.at(f.last()).saturating_add(t),
        }
    }

    /// The wheel check time of flow `slot`, in whole ms rounded up: its idle due time, or the
    /// end of its segment (active timeout) if that comes first. A flow that is never due
    /// (timeouts 0) is still filed, at the wheel's horizon, so that eviction finds it (the
    /// horizon's slot is FIFO with a second chance: the longest idle goes first).
    #[inline]
    fn check_ms(&self, slot: u32) -> u64 {
        match self.due(slot).min(self.segment_due(slot)) {
            u64::MAX => u64::MAX,
            due => due.div_ceil(MS),
        }
    }

    /// When flow `slot`'s segment is due to be split (ns): its start plus the active timeout
    /// (`u64::MAX`: no active timeout, or the flow is closed and only lingers).
    fn segment_due(&self, slot: u32) -> u64 {
        let f = &self.flows[slot as usize];
        match self.cfg.active_timeout_ns {
            0 => u64::MAX,
            _ if f.closed() => u64::MAX,
            act => {
                // The segment start: offset 0 unless the flow has been split (cold entry).
                let start = if f.has(COLD) {
                    self.cold[slot as usize][COLD_SEG_START]
                } else {
                    0
                };
                f.at(start).saturating_add(act)
            }
        }
    }

    /// How an idle-due or flushed flow ends: `Closed` if it was lingering after FIN/RST.
    fn end_reason(&self, slot: u32, otherwise: EndReason) -> EndReason {
        if self.flows[slot as usize].class() == Class::TcpClosed as u8 {
            EndReason::Closed
        } else {
            otherwise
        }
    }

    /// File flow `slot` (in no wheel slot) under its idle due time.
    #[inline]
    fn file(&mut self, slot: u32) {
        self.flows[slot as usize].class &= !TOUCHED;
        let at = self.wheel.insert(slot, self.check_ms(slot));
        self.deadline = self.deadline.min(at.saturating_mul(MS));
    }

    /// Remove a flow and export its end record (a continuation segment without packets leaves
    /// silently: it was never counted).
    fn end<S: RecordSink>(&mut self, slot: u32, reason: EndReason, sink: &mut S) {
        if !self.flows[slot as usize].has(UNCOUNTED) {
            sink.emit_with(|r| self.record(slot, RecordKind::End, reason, r));
            self.stats.records[RecordKind::End as usize] += 1;
            self.stats.flows_ended[reason as usize] += 1;
        }
        self.wheel.remove(slot);
        if self.cfg.stats_interval_ns > 0 {
            self.unlink_rep(slot);
        }
        let h = self.flows[slot as usize].key.hash64();
        self.index_remove(h, slot);
        let f = &mut self.flows[slot as usize];
        f.bits = 0;
        f.next_report = self.free_head;
        self.free_head = slot;
    }

    /// End the current segment (`active`) and continue the flow as the next one: same id and
    /// orientation, counters restarted, connection state (TCP, sequence tracking, handshake, DNS,
    /// MACs, DSCP, MSS) kept.
    fn split<S: RecordSink>(&mut self, slot: u32, now: u64, sink: &mut S) {
        if !self.flows[slot as usize].has(UNCOUNTED) {
            sink.emit_with(|r| self.record(slot, RecordKind::End, EndReason::Active, r));
            self.stats.records[RecordKind::End as usize] += 1;
            self.stats.flows_ended[EndReason::Active as usize] += 1;
        }
        let f = &mut self.flows[slot as usize];
        // Move the time base forward when the offsets run out (a flow older than 49.7 days).
        let rebase = (now / MS).saturating_sub(f.base_ms);
        if rebase >= MAX_OFF_MS / 2 {
            let due = f.at(f.next_report);
            f.base_ms += rebase;
            for ds in f.dir.iter_mut() {
                ds.last = ds.last.saturating_sub(rebase as u32);
            }
            f.next_report = f.off_ceil(due);
            f.tcp &= !HS_PENDING;
            if f.has(DNS_PENDING) {
                f.bits &= !DNS_PENDING;
                f.l4a = 0;
            }
        }
        // ICMP errors count per segment, like the packet counters; the tunnel stays.
        let mut c = if f.has(COLD) {
            Cold::from_words(&self.cold[slot as usize])
        } else {
            Cold::default()
        };
        c.icmp_errors = 0;
        c.icmp_error_type = 0;
        c.icmp_error_code = 0;
        c.seg_start = f.off(now);
        self.cold[slot as usize] = c.to_words();
        f.bits |= COLD;
        f.segment = f.segment.saturating_add(1);
        f.bits |= UNCOUNTED;
        if f.key.proto() == 6 {
            f.l4a = 0;
            f.l4b = 0;
            f.resets = 0;
        }
        for (ds, dm) in f.dir.iter_mut().zip(f.meta.iter_mut()) {
            *ds = DirState {
                // `last` stays: the idle due time runs from it.
                last: ds.last,
                next_seq: ds.next_seq,
                bytes_mss: ds.bytes_mss & !LOW48,
                // Keep the window scale and the seen bit; the TCP flags restart.
                rep_flags: ds.rep_flags & (0x1f << 59),
                ..DirState::default()
            };
            *dm = DirMeta {
                mac: dm.mac,
                dscp: dm.dscp,
                ..DirMeta::default()
            };
        }
    }

    /// Write the record of `slot` into `out` (every field); Stats and End records advance the
    /// report baseline. The record is zeroed, then each field stored as it is computed: built
    /// as one struct expression, its ~60 values were computed first, spilled to the stack and
    /// copied over (~320 instructions a record, ~40% of that moves).
    #[inline]
    fn record(&mut self, slot: u32, kind: RecordKind, reason: EndReason, out: &mut FlowRecord) {
        *out = FlowRecord::default();
        out.worker = self.cfg.worker;
        out.port = self.cfg.port;
        out.kind = kind;
        out.reason = reason;
        let f = &mut self.flows[slot as usize];
        let base = f.base_ms;
        let k = &f.key;
        out.flow_id = (self.cfg.worker as u64) << 56 | (f.gen as u64) << 24 | slot as u64;
        out.ip_version = k.ip_version();
        out.proto = k.proto();
        out.vlan = k.vlan();
        if f.bits & INIT_IS_LO != 0 {
            (out.init_ip, out.init_port) = (k.lo_ip(), k.lo_port());
            (out.resp_ip, out.resp_port) = (k.hi_ip(), k.hi_port());
        } else {
            (out.init_ip, out.init_port) = (k.hi_ip(), k.hi_port());
            (out.resp_ip, out.resp_port) = (k.lo_ip(), k.lo_port());
        }
        let last = f.last();
        let mut first = last;
        let icmp = f.class() == Class::Icmp as u8;
        for ((o, ds), dm) in out.dir.iter_mut().zip(f.dir.iter_mut()).zip(&f.meta) {
            let dp = (ds.packets - ds.rep_packets) as u64;
            let db = ds.bytes() - ds.rep_bytes();
            o.packets = ds.packets as u64;
            o.bytes = ds.bytes();
            o.ip_bytes = ds.ip_bytes();
            o.delta_packets = dp;
            o.delta_bytes = db;
            let span_ms = if dp > 0 {
                (ds.last - dm.int_first) as u64
            } else {
                0
            };
            // Bytes a second over the interval's span, at least a second: no division (tens of
            // cycles) for the usual start record or short interval.
            o.rate = if span_ms <= 1000 {
                db
            } else {
                db * 1000 / span_ms
            };
            if ds.packets > 0 {
                first = first.min(dm.first);
                o.first_ms = base + dm.first as u64;
                o.last_ms = base + ds.last as u64;
            }
            o.tcp_flags = ds.tcp_flags();
            o.mac = dm.mac;
            o.ttl_min = ds.ttl_min();
            o.ttl_max = ds.ttl_max();
            o.dscp = dm.dscp;
            o.tcp_wscale = ds.wscale1().checked_sub(1);
            if !icmp {
                o.tcp_mss = ds.mss();
            }
            if kind != RecordKind::Start {
                ds.rep_packets = ds.packets;
                ds.set_rep_bytes(ds.bytes());
            }
        }
        out.first_ms = base + first as u64;
        out.last_ms = base + last as u64;
        out.tcp_resets = f.resets as u32;
        if k.proto() == 6 {
            out.tcp_retrans = f.l4a;
            out.tcp_seq_errors = f.l4b;
        }
        out.detection_packets = f.detection_packets as u32;
        if icmp {
            out.icmp_type = (f.dir[0].mss() >> 8) as u8;
            out.icmp_code = f.dir[0].mss() as u8;
        }
        // A field holding a pending handshake timestamp reads 0 (not measured).
        let state = TcpState::from_u8(f.tcp & TCP_STATE_MASK);
        if state != TcpState::SynSent {
            out.rtt_syn_ns = f.rtt_syn_ns;
        }
        if state != TcpState::SynReceived {
            out.rtt_ack_ns = f.rtt_ack_ns;
        }
        if f.bits & DNS_SEEN != 0 {
            out.dns = true;
            out.dns_id = f.l4b as u16;
            out.dns_flags = (f.l4b >> 16) as u16;
        }
        if f.bits & DNS_ANSWERED != 0 {
            out.dns_latency_ms = f.l4a;
        }
        out.segment = f.segment;
        self.add_cold(slot, out);
    }

    /// Add the cold entry's fields to a record of `slot` built by [`Shard::record`], after the
    /// record is written (a conditional inside the struct expression makes the compiler build
    /// the 384-byte record in a temporary and copy it: +11 instructions/packet measured).
    #[inline]
    fn add_cold(&self, slot: u32, rec: &mut FlowRecord) {
        if self.flows[slot as usize].has(COLD) {
            Self::fill_cold(&self.cold[slot as usize], rec);
        }
    }

    #[cold]
    #[inline(never)]
    fn fill_cold(w: &[u32; COLD_WORDS], rec: &mut FlowRecord) {
        let c = Cold::from_words(w);
        rec.tunnel = c.tunnel;
        rec.tunnel_id = c.tunnel_id;
        rec.outer_ip_version = c.outer_ip_version;
        rec.outer_src_ip = c.outer_src_ip;
        rec.outer_dst_ip = c.outer_dst_ip;
        rec.icmp_errors = c.icmp_errors;
        rec.icmp_error_type = c.icmp_error_type;
        rec.icmp_error_code = c.icmp_error_code;
    }

    /// Run the timers up to `now`: idle/closed expiry and due `flow_stats` reports.
    /// Cost is proportional to the records produced, not to the table size.
    pub fn expire<S: RecordSink>(&mut self, now: u64, sink: &mut S) {
        let now = self.advance(now);
        if now >= self.deadline {
            self.run_timers(now, sink);
        }
    }

    /// The earliest time at which a timer may be due (u64::MAX when none is pending).
    pub fn deadline(&self) -> u64 {
        self.deadline
    }

    fn run_timers<S: RecordSink>(&mut self, now: u64, sink: &mut S) {
        // Idle expiry and active timeouts: the wheel hands out every flow whose check time has
        // come; an idle-due flow ends, one whose segment is due is split (before the reports
        // below: the end record carries the segment's last delta), and the others (packets
        // since they were filed) are filed again under their next due time.
        while let Some(s) = self.wheel.next_due(now / MS) {
            if self.due(s) <= now {
                let reason = self.end_reason(s, EndReason::Expired);
                self.end(s, reason, sink);
                continue;
            }
            if self.segment_due(s) <= now {
                self.split(s, now, sink);
            }
            self.file(s);
        }
        let iv = self.cfg.stats_interval_ns;
        if iv > 0 {
            loop {
                let s = self.rep.tail;
                if s == NIL {
                    break;
                }
                let f = &self.flows[s as usize];
                if f.at(f.next_report) > now {
                    break;
                }
                if f.dir[0].packets > f.dir[0].rep_packets
                    || f.dir[1].packets > f.dir[1].rep_packets
                {
                    sink.emit_with(|r| self.record(s, RecordKind::Stats, EndReason::None, r));
                    self.stats.records[RecordKind::Stats as usize] += 1;
                }
                // Re-phase on `now` so the list stays sorted by due time (see module doc). A flow
                // whose offsets near their range is rebased first (split), so the due time fits.
                if (now / MS).saturating_sub(self.flows[s as usize].base_ms) >= MAX_OFF_MS / 2 {
                    self.split(s, now, sink);
                }
                let f = &mut self.flows[s as usize];
                f.next_report = f.off_ceil(now.saturating_add(iv));
                self.unlink_rep(s);
                self.push_head_rep(s);
            }
        }
        self.recompute_deadline();
    }

    fn recompute_deadline(&mut self) {
        let mut d = self.wheel.next_time().saturating_mul(MS);
        if self.rep.tail != NIL {
            let f = &self.flows[self.rep.tail as usize];
            d = d.min(f.at(f.next_report));
        }
        self.deadline = d;
    }

    /// End every live flow (stop of the probe or end of a capture). Flows already closed by
    /// FIN/RST and only lingering keep their `closed` reason.
    pub fn flush<S: RecordSink>(&mut self, reason: EndReason, sink: &mut S) {
        while let Some(s) = self.wheel.pop_any() {
            let r = self.end_reason(s, reason);
            self.end(s, r, sink);
        }
    }

    fn push_head_rep(&mut self, s: u32) {
        let old = self.rep.head;
        self.rep_links[s as usize] = Link {
            prev: NIL,
            next: old,
        };
        if old != NIL {
            self.rep_links[old as usize].prev = s;
        } else {
            self.rep.tail = s;
            let f = &self.flows[s as usize];
            self.deadline = self.deadline.min(f.at(f.next_report));
        }
        self.rep.head = s;
    }

    fn unlink_rep(&mut self, s: u32) {
        let Link { prev, next } = self.rep_links[s as usize];
        if prev != NIL {
            self.rep_links[prev as usize].next = next;
        } else {
            self.rep.head = next;
        }
        if next != NIL {
            self.rep_links[next as usize].prev = prev;
        } else {
            self.rep.tail = prev;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn tcp(src: u8, sp: u16, dst: u8, dp: u16, flags: u8, seq: u32, payload: u16) -> PacketMeta {
        let mut m = PacketMeta {
            ip_version: 4,
            proto: 6,
            src_port: sp,
            dst_port: dp,
            tcp_flags: flags,
            tcp_seq: seq,
            l3_offset: 14,
            l4_offset: 34,
            payload_offset: 54,
            ip_len: 40 + payload,
            src_mac: [2, 0, 0, 0, 0, src],
            ..Default::default()
        };
        m.src_ip[..4].copy_from_slice(&[10, 0, 0, src]);
        m.dst_ip[..4].copy_from_slice(&[10, 0, 0, dst]);
        m
    }

    fn udp(src: u8, sp: u16, dst: u8, dp: u16) -> PacketMeta {
        let mut m = tcp(src, sp, dst, dp, 0, 0, 0);
        m.proto = 17;
        m
    }

    fn shard(cap: u32, idle_s: u64, stats_s: u64) -> Shard {
        Shard::new(ShardConfig::new(cap, idle_s * S, stats_s * S))
    }

    fn ends(v: &[FlowRecord]) -> Vec<&FlowRecord> {
        v.iter().filter(|r| r.kind == RecordKind::End).collect()
    }

    #[test]
    fn handshake_data_fin_closes_after_linger() {
        let mut sh = shard(16, 30, 0);
        let mut out = Vec::new();
        let t = 1_700_000_000 * S;
        let pk = [
            tcp(1, 1000, 2, 80, TCP_SYN, 100, 0),
            tcp(2, 80, 1, 1000, TCP_SYN | TCP_ACK, 500, 0),
            tcp(1, 1000, 2, 80, TCP_ACK, 101, 0),
            tcp(1, 1000, 2, 80, TCP_ACK, 101, 100),
            tcp(2, 80, 1, 1000, TCP_ACK, 501, 1000),
            tcp(1, 1000, 2, 80, TCP_FIN | TCP_ACK, 201, 0),
            tcp(2, 80, 1, 1000, TCP_FIN | TCP_ACK, 1501, 0),
            tcp(1, 1000, 2, 80, TCP_ACK, 202, 0),
        ];
        for (i, p) in pk.iter().enumerate() {
            sh.update(p, 60 + p.ip_len as u32, t + i as u64 * 1_000_000, &mut out);
        }
        assert_eq!(out.len(), 1, "only the start record so far");
        assert_eq!(out[0].kind, RecordKind::Start);
        assert_eq!(out[0].init_port, 1000);
        // The trailing ACK did not open a new flow; the flow lingers as closed.
        assert_eq!(sh.len(), 1);
        sh.expire(t + S, &mut out);
        assert_eq!(ends(&out).len(), 0);
        sh.expire(t + 11 * S, &mut out);
        let e = ends(&out);
        assert_eq!(e.len(), 1);
        let r = e[0];
        assert_eq!(r.reason, EndReason::Closed);
        assert_eq!(r.dir[0].packets, 5);
        assert_eq!(r.dir[1].packets, 3);
        assert_eq!(r.dir[0].bytes, 5 * 100 + 100);
        assert_eq!(r.dir[1].bytes, 3 * 100 + 1000);
        assert_eq!(r.dir[0].tcp_flags & 0x3ff, 0x02 | 0x10 | 0x01 | 0x200);
        assert_eq!(r.dir[1].tcp_flags & 0x3ff, 0x12 | 0x100 | 0x01 | 0x200);
        assert_eq!(r.tcp_retrans, 0);
        assert_eq!(r.tcp_seq_errors, 0);
        assert_eq!(r.detection_packets, 2);
        assert_eq!(sh.len(), 0);
        assert_eq!(sh.stats().ended(EndReason::Closed), 1);
    }

    #[test]
    fn flush_keeps_closed_reason_of_lingering_flows() {
        let mut sh = shard(4, 30, 0);
        let mut out = Vec::new();
        sh.update(&tcp(1, 1, 2, 2, TCP_SYN, 0, 0), 60, S, &mut out);
        sh.update(&tcp(2, 2, 1, 1, TCP_RST | TCP_ACK, 0, 0), 60, S, &mut out);
        sh.update(&udp(1, 1, 2, 2), 60, S, &mut out);
        sh.flush(EndReason::Shutdown, &mut out);
        let mut r: Vec<_> = ends(&out).iter().map(|r| (r.proto, r.reason)).collect();
        r.sort_by_key(|x| x.0);
        assert_eq!(r, vec![(6, EndReason::Closed), (17, EndReason::Shutdown)]);
    }

    #[test]
    fn synack_first_means_other_side_initiated() {
        let mut sh = shard(4, 30, 0);
        let mut out = Vec::new();
        sh.update(
            &tcp(2, 80, 1, 1000, TCP_SYN | TCP_ACK, 5, 0),
            60,
            S,
            &mut out,
        );
        assert_eq!(out[0].init_port, 1000);
        assert_eq!(out[0].dir[1].packets, 1);
        assert_eq!(out[0].dir[0].packets, 0);
    }

    #[test]
    fn rst_closes_and_new_syn_starts_new_flow() {
        let mut sh = shard(4, 30, 0);
        let mut out = Vec::new();
        sh.update(&tcp(1, 1, 2, 2, TCP_SYN, 0, 0), 60, S, &mut out);
        sh.update(
            &tcp(2, 2, 1, 1, TCP_RST | TCP_ACK, 0, 0),
            60,
            S + 1,
            &mut out,
        );
        sh.update(&tcp(1, 1, 2, 2, TCP_SYN, 1000, 0), 60, S + 2, &mut out);
        let e = ends(&out);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].reason, EndReason::Closed);
        assert_eq!(e[0].tcp_resets, 1);
        assert_eq!(e[0].total_packets(), 2);
        assert_eq!(sh.stats().flows_created, 2);
        assert_eq!(sh.len(), 1);
    }

    #[test]
    fn retransmission_and_sequence_gap_counted() {
        let mut sh = shard(4, 30, 0);
        let mut out = Vec::new();
        let p = |seq, len| tcp(1, 1, 2, 2, TCP_ACK, seq, len);
        sh.update(&p(1000, 100), 200, S, &mut out);
        sh.update(&p(1100, 100), 200, S, &mut out);
        sh.update(&p(1000, 100), 200, S, &mut out); // retransmission
        sh.update(&p(1400, 100), 200, S, &mut out); // gap: 1200..1400 missing
        sh.update(&p(1200, 100), 200, S, &mut out); // late segment: below next expected
        sh.flush(EndReason::Shutdown, &mut out);
        let e = ends(&out)[0];
        assert_eq!(e.tcp_seq_errors, 1);
        assert_eq!(e.tcp_retrans, 2);
    }

    #[test]
    fn idle_expiry_per_class_and_lateness() {
        let mut sh = Shard::new(ShardConfig {
            udp_timeout_ns: 10 * S,
            tcp_timeout_ns: 100 * S,
            ..ShardConfig::new(16, 100 * S, 0)
        });
        let mut out = Vec::new();
        sh.update(&udp(1, 53, 2, 5353), 80, 0, &mut out);
        sh.update(&tcp(1, 1, 2, 2, TCP_ACK, 0, 0), 80, 0, &mut out);
        sh.update(&udp(3, 53, 4, 5353), 80, 5 * S, &mut out);
        sh.expire(10 * S - 1, &mut out);
        assert!(ends(&out).is_empty());
        sh.expire(10 * S, &mut out);
        assert_eq!(ends(&out).len(), 1, "due exactly at last_seen + timeout");
        sh.expire(15 * S, &mut out);
        assert_eq!(ends(&out).len(), 2);
        assert!(ends(&out)
            .iter()
            .all(|r| r.reason == EndReason::Expired && r.proto == 17));
        sh.expire(100 * S, &mut out);
        assert_eq!(ends(&out).len(), 3);
        assert_eq!(ends(&out)[2].proto, 6);
    }

    #[test]
    fn zero_timeout_disables_expiry() {
        let mut sh = shard(16, 0, 0);
        let mut out = Vec::new();
        sh.update(&udp(1, 1, 2, 2), 80, 0, &mut out);
        sh.expire(u64::MAX / 2, &mut out);
        assert!(ends(&out).is_empty());
    }

    #[test]
    fn stats_reports_carry_deltas_that_sum_to_totals() {
        let mut sh = shard(16, 0, 15);
        let mut out = Vec::new();
        for i in 0..100u64 {
            let p = if i % 3 == 1 {
                udp(2, 53, 1, 999)
            } else {
                udp(1, 999, 2, 53)
            };
            let now = i * S;
            sh.expire(now, &mut out);
            sh.update(&p, 100 + i as u32, now, &mut out);
        }
        sh.flush(EndReason::Shutdown, &mut out);
        let stats: Vec<_> = out.iter().filter(|r| r.kind == RecordKind::Stats).collect();
        assert_eq!(stats.len(), 6, "due at 15, 30, .., 90 s");
        let end = ends(&out)[0];
        for d in 0..2 {
            let sum_p: u64 = stats.iter().map(|r| r.dir[d].delta_packets).sum::<u64>()
                + end.dir[d].delta_packets;
            let sum_b: u64 =
                stats.iter().map(|r| r.dir[d].delta_bytes).sum::<u64>() + end.dir[d].delta_bytes;
            assert_eq!(sum_p, end.dir[d].packets);
            assert_eq!(sum_b, end.dir[d].bytes);
        }
        assert_eq!(end.total_packets(), 100);
        // The first stats record covers 0..=14 s: 10 packets initiator->responder over 14 s active.
        assert_eq!(stats[0].dir[0].delta_packets, 10);
        let b: u64 = (0..15u64).filter(|i| i % 3 != 1).map(|i| 100 + i).sum();
        assert_eq!(stats[0].dir[0].delta_bytes, b);
        assert_eq!(stats[0].dir[0].rate, b * 1000 / 14_000);
    }

    #[test]
    fn full_table_evicts_nearest_due_and_exports_each_once() {
        let cap = 64;
        let mut sh = shard(cap, 0, 0);
        let mut out = Vec::new();
        let n = 10_000u32;
        for i in 0..n {
            let mut m = udp(1, (i % 60000) as u16, 2, (i / 60000) as u16 + 1);
            m.src_ip[2] = (i >> 8) as u8;
            sh.update(&m, 64, i as u64, &mut out);
            // Keep flow 0 hot: it must never be evicted.
            sh.update(&udp(9, 9, 8, 8), 64, i as u64, &mut out);
        }
        assert_eq!(sh.len(), cap as u64);
        let evicted = ends(&out);
        assert_eq!(evicted.len() as u64, n as u64 + 1 - cap as u64);
        assert!(evicted.iter().all(|r| r.reason == EndReason::Evicted));
        assert!(
            evicted.iter().all(|r| r.init_ip[3] != 9),
            "the hot flow is never the nearest to its due time"
        );
        let mut ids: Vec<u64> = evicted.iter().map(|r| r.flow_id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), evicted.len(), "every flow ends exactly once");
        sh.flush(EndReason::Shutdown, &mut out);
        let total: u64 = ends(&out).iter().map(|r| r.total_packets()).sum();
        assert_eq!(total, 2 * n as u64);
        assert_eq!(sh.stats().packets, 2 * n as u64);
    }

    #[test]
    fn eviction_without_timeouts_takes_the_longest_idle() {
        let mut sh = shard(3, 0, 0);
        let mut out = Vec::new();
        for (p, t) in [(1, 1), (2, 2), (3, 3), (1, 4)] {
            sh.update(&udp(p, p as u16, 9, 9), 64, t * S, &mut out);
        }
        // Flow 1 was filed first but had a packet since: flow 2 is the longest idle.
        sh.update(&udp(4, 4, 9, 9), 64, 5 * S, &mut out);
        let e = ends(&out);
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].init_port, e[0].reason), (2, EndReason::Evicted));
    }

    #[test]
    fn busy_flow_is_refiled_and_idle_flow_ends_at_its_due_time() {
        // 3 s timeout: the busy flow has a packet every 7 ms for 20 s (its filed check time comes
        // and goes many times), the other stops after 1 s; both end exactly at last + timeout.
        let mut sh = shard(16, 3, 0);
        let mut out = Vec::new();
        let ms = S / 1000;
        let mut t = 1_000 * S;
        for i in 0..20_000 / 7 {
            sh.update(&udp(1, 1, 2, 2), 64, t, &mut out);
            if i * 7 < 1_000 {
                sh.update(&udp(3, 3, 4, 4), 64, t, &mut out);
            }
            sh.expire(t + ms, &mut out);
            t += 7 * ms;
        }
        let e = ends(&out);
        assert_eq!(e.len(), 1, "only the quiet flow ended");
        assert_eq!(e[0].init_port, 3);
        let last = t - 7 * ms;
        sh.expire(last + 3 * S - 1, &mut out);
        assert_eq!(ends(&out).len(), 1);
        sh.expire(last + 3 * S, &mut out);
        assert_eq!(ends(&out).len(), 2);
        assert_eq!(ends(&out)[1].last_ms * 1_000_000, last);
    }

    #[test]
    fn eviction_with_timeouts_spares_busy_flows() {
        let cap = 64;
        let mut sh = shard(cap, 30, 0);
        let mut out = Vec::new();
        let t0 = 1_767_225_600 * S;
        let n = 20_000u32;
        for i in 0..n {
            let now = t0 + i as u64 * 20_000; // 20 us apart: 0.4 s in all
            let mut m = udp(1, (i % 60000) as u16, 2, (i / 60000) as u16 + 1);
            m.src_ip[2] = (i >> 8) as u8;
            sh.update(&m, 64, now, &mut out);
            // Eight busy flows, one packet each every 8 steps.
            sh.update(&udp(9, (i % 8) as u16, 8, 8), 64, now, &mut out);
        }
        let busy_ends = ends(&out).iter().filter(|r| r.init_ip[3] == 9).count();
        assert_eq!(busy_ends, 0, "a busy flow was evicted");
        assert_eq!(sh.stats().flows_created, n as u64 + 8);
    }

    #[test]
    fn index_survives_heavy_churn() {
        // Random insert/delete against a model: backward-shift deletion must keep every key findable.
        let mut sh = shard(512, 3, 0);
        let mut out = Vec::new();
        let mut x: u64 = 88172645463325252;
        let mut model = std::collections::HashMap::new();
        for step in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let port = (x % 700) as u16 + 1;
            let now = step * (S / 100);
            sh.expire(now, &mut out);
            sh.update(&udp(1, port, 2, 7), 64, now, &mut out);
            *model.entry(port).or_insert(0u64) += 1;
        }
        sh.flush(EndReason::Shutdown, &mut out);
        let mut per_port = std::collections::HashMap::new();
        for r in ends(&out) {
            *per_port.entry(r.init_port).or_insert(0u64) += r.total_packets();
        }
        assert_eq!(per_port, model);
        assert_eq!(sh.len(), 0);
        assert_eq!(
            sh.stats().flows_created,
            sh.stats().flows_ended.iter().sum::<u64>()
        );
    }

    #[test]
    fn clock_going_backwards_is_clamped() {
        let mut sh = shard(4, 10, 0);
        let mut out = Vec::new();
        sh.update(&udp(1, 1, 2, 2), 64, 100 * S, &mut out);
        sh.update(&udp(2, 2, 1, 1), 64, 50 * S, &mut out);
        sh.flush(EndReason::Shutdown, &mut out);
        let e = ends(&out)[0];
        assert_eq!(e.first_ms, 100_000);
        assert_eq!(e.last_ms, 100_000);
        assert_eq!(sh.stats().clock_backwards, 1);
    }

    fn run(sh: &mut Shard, pk: &[(PacketMeta, u64)], out: &mut Vec<FlowRecord>) {
        for (p, t) in pk {
            sh.update(p, 60 + p.ip_len as u32, *t, out);
        }
    }

    #[test]
    fn entry_size_bound() {
        let sh = shard(1 << 16, 30, 0);
        eprintln!(
            "entry {} bytes, {:.1} bytes/flow with the index",
            Shard::entry_size(),
            sh.bytes_per_flow()
        );
        // The entry's size itself is asserted at compile time (`size_of::<Flow>() == 192`).
        let per_flow = (Shard::entry_size() + 8 + 8) as f64;
        assert!(
            sh.bytes_per_flow() >= per_flow && sh.bytes_per_flow() <= per_flow + 1.5,
            "index: 2 buckets of 4 bytes per flow; wheel: one 8-byte link (+ its slot heads)"
        );
        // With a stats interval, the report list's 8-byte link per slot.
        let reporting = shard(1 << 16, 30, 60);
        assert_eq!(reporting.bytes_per_flow(), sh.bytes_per_flow() + 8.0);
    }

    #[test]
    fn handshake_rtt_ttl_dscp_mss_wscale() {
        let mut sh = shard(16, 30, 0);
        let mut out = Vec::new();
        let t = 1_700_000_000 * S + 123_456;
        let mut syn = tcp(1, 1000, 2, 80, TCP_SYN, 100, 0);
        syn.tcp_mss = 1460;
        syn.tcp_wscale = Some(7);
        syn.ttl = 64;
        syn.dscp = 46;
        let mut syn2 = syn; // retransmitted SYN: the RTT counts from it
        syn2.ttl = 60;
        syn2.dscp = 0;
        let mut sa = tcp(2, 80, 1, 1000, TCP_SYN | TCP_ACK, 500, 0);
        sa.tcp_mss = 1400;
        sa.ttl = 120;
        let mut ack = tcp(1, 1000, 2, 80, TCP_ACK, 101, 0);
        ack.ttl = 62;
        let mut data = tcp(1, 1000, 2, 80, TCP_ACK, 101, 10);
        data.tcp_mss = 999; // not a SYN: ignored
        data.ttl = 63;
        run(
            &mut sh,
            &[
                (syn, t),
                (syn2, t + S),
                (sa, t + S + 2_500_000),
                (ack, t + S + 2_500_000 + 700_000),
                (data, t + 2 * S),
            ],
            &mut out,
        );
        sh.flush(EndReason::Shutdown, &mut out);
        let e = ends(&out)[0];
        assert_eq!(e.rtt_syn_ns, 2_500_000);
        assert_eq!(e.rtt_ack_ns, 700_000);
        assert_eq!((e.dir[0].ttl_min, e.dir[0].ttl_max), (60, 64));
        assert_eq!((e.dir[1].ttl_min, e.dir[1].ttl_max), (120, 120));
        assert_eq!(e.dir[0].dscp, 46, "first packet of the direction");
        assert_eq!(e.dir[0].tcp_mss, 1460);
        assert_eq!(e.dir[0].tcp_wscale, Some(7));
        assert_eq!(e.dir[1].tcp_mss, 1400);
        assert_eq!(e.dir[1].tcp_wscale, None);
        assert_eq!(e.first_ms, t / 1_000_000);
        assert_eq!(e.dir[1].first_ms, (t + S + 2_500_000) / 1_000_000);
        assert_eq!(e.last_ms, (t + 2 * S) / 1_000_000);
        assert_eq!(e.tcp_retrans, 1, "the SYN retransmission");
    }

    #[test]
    fn no_rtt_without_handshake() {
        let mut sh = shard(16, 30, 0);
        let mut out = Vec::new();
        // Mid-stream pickup, then a SYN-ACK-first flow: only the ACK half is measured there.
        run(
            &mut sh,
            &[
                (tcp(1, 1, 2, 2, TCP_ACK, 5, 10), S),
                (tcp(2, 2, 1, 1, TCP_ACK, 9, 10), S + 1000),
                (tcp(4, 80, 3, 3000, TCP_SYN | TCP_ACK, 0, 0), S + 2000),
                (tcp(3, 3000, 4, 80, TCP_ACK, 1, 0), S + 42_000),
            ],
            &mut out,
        );
        sh.flush(EndReason::Shutdown, &mut out);
        let mut e = ends(&out);
        e.sort_by_key(|r| r.init_port);
        assert_eq!((e[0].rtt_syn_ns, e[0].rtt_ack_ns), (0, 0));
        assert_eq!(e[1].init_port, 3000);
        assert_eq!((e[1].rtt_syn_ns, e[1].rtt_ack_ns), (0, 40_000));
    }

    fn dns(src: u8, sp: u16, dst: u8, dp: u16, id: u16, flags: u16) -> PacketMeta {
        let mut m = udp(src, sp, dst, dp);
        m.dns = true;
        m.dns_id = id;
        m.dns_flags = flags;
        m
    }

    #[test]
    fn dns_query_response_matched_by_id() {
        let mut sh = shard(16, 30, 0);
        let mut out = Vec::new();
        run(
            &mut sh,
            &[
                (dns(1, 5000, 2, 53, 0x1234, 0x0100), S),
                // A response with another id does not answer the query.
                (dns(2, 53, 1, 5000, 0x9999, 0x8180), S + 5_000_000),
                (dns(2, 53, 1, 5000, 0x1234, 0x8183), S + 42_000_000),
                // Unanswered query on another flow.
                (dns(1, 5001, 2, 53, 7, 0x0100), S),
                // Plain UDP: no DNS.
                (udp(1, 9, 2, 9), S),
            ],
            &mut out,
        );
        sh.flush(EndReason::Shutdown, &mut out);
        let mut e = ends(&out);
        e.sort_by_key(|r| r.init_port);
        assert_eq!(e[0].init_port, 9);
        assert!(!e[0].dns);
        let a = e[1];
        assert!(a.dns);
        assert_eq!(a.dns_id, 0x1234);
        assert_eq!(a.dns_flags, 0x8183, "the response's flags (RCODE 3)");
        assert_eq!(a.dns_latency_ms, 42);
        let q = e[2];
        assert!(q.dns);
        assert_eq!((q.dns_id, q.dns_flags, q.dns_latency_ms), (7, 0x0100, 0));
    }

    #[test]
    fn out_of_order_and_simultaneous_close() {
        let mut sh = shard(16, 30, 0);
        let mut out = Vec::new();
        let t = 10 * S;
        run(
            &mut sh,
            &[
                (tcp(1, 1000, 2, 80, TCP_SYN, 100, 0), t),
                (tcp(2, 80, 1, 1000, TCP_SYN | TCP_ACK, 500, 0), t + 1),
                (tcp(1, 1000, 2, 80, TCP_ACK, 101, 0), t + 2),
                // Two segments swapped on the wire: one sequence error, no retransmission.
                (tcp(1, 1000, 2, 80, TCP_ACK, 201, 100), t + 3),
                (tcp(1, 1000, 2, 80, TCP_ACK, 101, 100), t + 4),
                // Both FINs cross.
                (tcp(1, 1000, 2, 80, TCP_FIN | TCP_ACK, 301, 0), t + 5),
                (tcp(2, 80, 1, 1000, TCP_FIN | TCP_ACK, 501, 0), t + 6),
                (tcp(1, 1000, 2, 80, TCP_ACK, 302, 0), t + 7),
                (tcp(2, 80, 1, 1000, TCP_ACK, 502, 0), t + 8),
            ],
            &mut out,
        );
        assert_eq!(sh.len(), 1, "trailing ACKs stay with the closed flow");
        sh.expire(t + 11 * S, &mut out);
        let e = ends(&out);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].reason, EndReason::Closed);
        assert_eq!(e[0].tcp_seq_errors, 1);
        assert_eq!(e[0].tcp_retrans, 1, "the late segment lies below next_seq");
        assert_eq!(e[0].total_packets(), 9);
    }

    #[test]
    fn half_close_expires_as_idle_not_closed() {
        let mut sh = shard(16, 30, 0);
        let mut out = Vec::new();
        run(
            &mut sh,
            &[
                (tcp(1, 1, 2, 2, TCP_ACK, 1, 0), S),
                (tcp(1, 1, 2, 2, TCP_FIN | TCP_ACK, 1, 0), S),
            ],
            &mut out,
        );
        sh.expire(30 * S, &mut out);
        assert!(ends(&out).is_empty());
        sh.expire(31 * S, &mut out);
        assert_eq!(ends(&out)[0].reason, EndReason::Expired);
    }

    #[test]
    fn icmp_class_has_its_own_timeout() {
        let mut sh = Shard::new(ShardConfig {
            icmp_timeout_ns: 5 * S,
            ..ShardConfig::new(16, 60 * S, 0)
        });
        let mut out = Vec::new();
        let mut ping = udp(1, 0, 2, 0);
        ping.proto = 1;
        ping.icmp_type = 8;
        ping.icmp_code = 3;
        sh.update(&ping, 98, 0, &mut out);
        sh.update(&udp(1, 1, 2, 2), 98, 0, &mut out);
        sh.expire(5 * S, &mut out);
        let e = ends(&out);
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].proto, e[0].icmp_type, e[0].icmp_code), (1, 8, 3));
        assert_eq!(
            e[0].dir[0].tcp_mss, 0,
            "the shared field reads as ICMP type/code only"
        );
        assert_eq!(sh.stats().flows_created_by_l4, [0, 1, 1]);
        let d = ShardConfig::with_protocol_defaults(10, 0);
        assert_eq!(d.icmp_timeout_ns, DEFAULT_ICMP_NS);
        assert_eq!(d.tcp_timeout_ns, DEFAULT_TCP_NS);
        assert_eq!(d.active_timeout_ns, DEFAULT_ACTIVE_NS);
    }

    #[test]
    fn active_timeout_splits_into_segments_keeping_orientation() {
        let mut sh = Shard::new(ShardConfig {
            active_timeout_ns: 60 * S,
            ..ShardConfig::new(16, 30 * S, 0)
        });
        let mut out = Vec::new();
        let t0 = 1000 * S;
        // 150 s of traffic, one packet per 10 s alternating direction, plus a short flow.
        sh.update(&udp(9, 9, 8, 8), 64, t0, &mut out);
        for i in 0..16u64 {
            let p = if i % 2 == 0 {
                udp(1, 1000, 2, 53)
            } else {
                udp(2, 53, 1, 1000)
            };
            sh.expire(t0 + i * 10 * S, &mut out);
            sh.update(&p, 100, t0 + i * 10 * S, &mut out);
        }
        sh.flush(EndReason::Shutdown, &mut out);
        let e: Vec<_> = ends(&out)
            .into_iter()
            .filter(|r| r.init_port == 1000)
            .collect();
        assert_eq!(e.len(), 3);
        assert_eq!(
            e.iter().map(|r| r.reason).collect::<Vec<_>>(),
            vec![EndReason::Active, EndReason::Active, EndReason::Shutdown]
        );
        assert_eq!(
            e.iter().map(|r| r.segment).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        // Split at 60 s and 120 s: packets at 0..50, 60..110, 120..150 s.
        assert_eq!(
            e.iter().map(|r| r.total_packets()).collect::<Vec<_>>(),
            vec![6, 6, 4]
        );
        for r in &e {
            assert_eq!(r.flow_id, e[0].flow_id);
            // Orientation kept: the responder's packets stay in dir[1] in every segment.
            assert_eq!(r.init_port, 1000);
            assert_eq!(r.dir[0].packets, r.dir[1].packets);
        }
        assert_eq!(e[1].first_ms, (t0 + 60 * S) / 1_000_000);
        assert_eq!(e[2].last_ms, (t0 + 150 * S) / 1_000_000);
        // The short flow expired idle before any split.
        let short: Vec<_> = ends(&out)
            .into_iter()
            .filter(|r| r.init_port == 9)
            .collect();
        assert_eq!(short.len(), 1);
        assert_eq!(short[0].reason, EndReason::Expired);
        // Every segment is one end record and one created flow.
        let st = sh.stats();
        assert_eq!(st.flows_created, 4);
        assert_eq!(st.ended(EndReason::Active), 2);
        assert_eq!(st.records[RecordKind::End as usize], 4);
        assert_eq!(st.records[RecordKind::Start as usize], 2);
        assert_eq!(sh.len(), 0);
    }

    #[test]
    fn active_split_keeps_initiator_when_responder_speaks_first() {
        let mut sh = Shard::new(ShardConfig {
            active_timeout_ns: 10 * S,
            ..ShardConfig::new(16, 0, 0)
        });
        let mut out = Vec::new();
        sh.update(&tcp(1, 1000, 2, 80, TCP_SYN, 0, 0), 60, 0, &mut out);
        sh.update(
            &tcp(2, 80, 1, 1000, TCP_SYN | TCP_ACK, 0, 0),
            60,
            S,
            &mut out,
        );
        // After the split, the responder's packet comes first.
        sh.update(&tcp(2, 80, 1, 1000, TCP_ACK, 1, 100), 160, 12 * S, &mut out);
        // A silent continuation produces no record: split at 20 s, then nothing until the flush.
        sh.expire(25 * S, &mut out);
        sh.flush(EndReason::Shutdown, &mut out);
        let e = ends(&out);
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].segment, e[0].reason), (0, EndReason::Active));
        assert_eq!((e[1].segment, e[1].reason), (1, EndReason::Active));
        assert_eq!(e[1].init_port, 1000);
        assert_eq!(e[1].dir[0].packets, 0);
        assert_eq!(e[1].dir[1].packets, 1);
        assert_eq!(e[1].dir[1].bytes, 160);
        assert_eq!(e[1].first_ms, 12_000);
        assert_eq!(
            e[1].tcp_seq_errors, 0,
            "sequence tracking continues across segments"
        );
        assert_eq!(sh.stats().flows_created, 2);
        assert_eq!(sh.len(), 0);
    }

    #[test]
    fn active_and_stats_deltas_sum_per_segment() {
        let mut sh = Shard::new(ShardConfig {
            active_timeout_ns: 40 * S,
            ..ShardConfig::new(16, 0, 15 * S)
        });
        let mut out = Vec::new();
        for i in 0..100u64 {
            sh.expire(i * S, &mut out);
            sh.update(&udp(1, 1, 2, 2), 100, i * S, &mut out);
        }
        sh.flush(EndReason::Shutdown, &mut out);
        let mut total = 0;
        let mut seg_delta = 0;
        for r in out.iter().filter(|r| r.kind != RecordKind::Start) {
            seg_delta += r.dir[0].delta_packets;
            if r.kind == RecordKind::End {
                assert_eq!(
                    seg_delta, r.dir[0].packets,
                    "deltas sum to the segment total"
                );
                total += r.dir[0].packets;
                seg_delta = 0;
            }
        }
        assert_eq!(total, 100);
        assert_eq!(ends(&out).len(), 3);
    }

    #[test]
    fn flow_outliving_the_offset_range_is_split_and_rebased() {
        let mut sh = shard(16, 0, 0);
        let mut out = Vec::new();
        let day = 86_400 * S;
        let t0 = 1_600_000_000 * S + 7 * MS;
        sh.update(&udp(1, 1, 2, 2), 100, t0, &mut out);
        sh.update(&udp(2, 2, 1, 1), 100, t0 + day, &mut out);
        // 60 days later: beyond the 49.7-day range of u32 ms offsets.
        sh.update(&udp(2, 2, 1, 1), 100, t0 + 60 * day, &mut out);
        sh.update(&udp(1, 1, 2, 2), 100, t0 + 61 * day, &mut out);
        sh.flush(EndReason::Shutdown, &mut out);
        let e = ends(&out);
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].reason, e[0].segment), (EndReason::Active, 0));
        assert_eq!(e[0].total_packets(), 2);
        assert_eq!(e[0].last_ms, (t0 + day) / MS);
        assert_eq!((e[1].reason, e[1].segment), (EndReason::Shutdown, 1));
        assert_eq!(e[1].init_port, 1, "orientation kept");
        assert_eq!(e[1].dir[1].first_ms, (t0 + 60 * day) / MS);
        assert_eq!(e[1].first_ms, (t0 + 60 * day) / MS);
        assert_eq!(e[1].last_ms, (t0 + 61 * day) / MS);
        assert_eq!(e[1].dir[0].packets, 1);
        assert_eq!(sh.stats().flows_created, 2);
        assert_eq!(sh.len(), 0);
    }

    fn vxlan(mut m: PacketMeta, vni: u32, outer_dst: u8) -> PacketMeta {
        m.tunnel = Tunnel::Vxlan;
        m.tunnel_id = vni;
        m.outer_ip_version = 4;
        m.outer_src_ip[..4].copy_from_slice(&[192, 0, 2, 1]);
        m.outer_dst_ip[..4].copy_from_slice(&[192, 0, 2, outer_dst]);
        m
    }

    /// An ICMP error from `from` to `to` quoting a packet `q` (src ip/port -> dst ip/port).
    fn icmp_err(
        from: u8,
        to: u8,
        ty: u8,
        code: u8,
        q: (u8, u16, u8, u16),
        proto: u8,
    ) -> PacketMeta {
        let mut m = udp(from, 0, to, 0);
        m.proto = 1;
        m.icmp_type = ty;
        m.icmp_code = code;
        m.icmp_inner_proto = proto;
        m.icmp_inner_src_ip[..4].copy_from_slice(&[10, 0, 0, q.0]);
        m.icmp_inner_dst_ip[..4].copy_from_slice(&[10, 0, 0, q.2]);
        m.icmp_inner_src_port = q.1;
        m.icmp_inner_dst_port = q.3;
        m
    }

    #[test]
    fn cold_entry_round_trips() {
        let c = Cold {
            tunnel: Tunnel::Tzsp,
            tunnel_id: 0xdead_beef,
            outer_ip_version: 6,
            outer_src_ip: std::array::from_fn(|i| i as u8),
            outer_dst_ip: std::array::from_fn(|i| 255 - i as u8),
            icmp_errors: 7,
            icmp_error_type: 11,
            icmp_error_code: 1,
            seg_start: 0x1234_5678,
        };
        assert_eq!(Cold::from_words(&c.to_words()), c);
        assert_eq!(Cold::from_words(&[0; COLD_WORDS]), Cold::default());
    }

    #[test]
    fn tunnel_metadata_kept_from_first_packet_and_not_leaked_to_slot_reuse() {
        // Capacity 1: every new flow reuses slot 0 (its predecessor is evicted).
        let mut sh = shard(1, 0, 0);
        let mut out = Vec::new();
        sh.update(&vxlan(udp(1, 1000, 2, 53), 42, 2), 100, S, &mut out);
        // Same inner flow later seen in another tunnel: the first tunnel is kept.
        sh.update(&vxlan(udp(2, 53, 1, 1000), 43, 9), 100, 2 * S, &mut out);
        // A plain flow takes the slot; then a flow that only received an ICMP error.
        sh.update(&udp(3, 3, 4, 4), 100, 3 * S, &mut out);
        sh.update(&udp(5, 5, 6, 6), 100, 4 * S, &mut out);
        sh.update(&icmp_err(6, 5, 3, 3, (5, 5, 6, 6), 17), 70, 4 * S, &mut out);
        // The ICMP flow evicted the quoted flow (capacity 1) before the lookup: not charged.
        sh.update(&udp(7, 7, 8, 8), 100, 5 * S, &mut out);
        sh.flush(EndReason::Shutdown, &mut out);
        let by_port = |kind, port| {
            out.iter()
                .find(|r| r.kind == kind && r.init_port == port)
                .copied()
                .unwrap()
        };
        for kind in [RecordKind::Start, RecordKind::End] {
            let t = by_port(kind, 1000);
            assert_eq!(
                (t.tunnel, t.tunnel_id, t.outer_ip_version),
                (Tunnel::Vxlan, 42, 4)
            );
            assert_eq!(t.outer_src_ip[..4], [192, 0, 2, 1]);
            assert_eq!(t.outer_dst_ip[..4], [192, 0, 2, 2], "first tunnel kept");
            for port in [3, 5, 7] {
                let p = by_port(kind, port);
                assert_eq!(p.tunnel, Tunnel::None);
                assert_eq!((p.tunnel_id, p.outer_ip_version), (0, 0));
                assert_eq!((p.outer_src_ip, p.outer_dst_ip), ([0; 16], [0; 16]));
                assert_eq!(p.icmp_errors, 0);
            }
        }
        assert_eq!(by_port(RecordKind::End, 1000).total_packets(), 2);
    }

    #[test]
    fn icmp_error_slot_reuse_does_not_leak() {
        let mut sh = shard(2, 0, 0);
        let mut out = Vec::new();
        sh.update(&udp(1, 1000, 2, 53), 100, S, &mut out);
        sh.update(&icmp_err(2, 1, 3, 3, (1, 1000, 2, 53), 17), 70, S, &mut out);
        // Two new flows evict both (the quoted flow first: it is the older).
        sh.update(&udp(3, 3, 4, 4), 100, 2 * S, &mut out);
        sh.update(&udp(5, 5, 6, 6), 100, 3 * S, &mut out);
        sh.flush(EndReason::Shutdown, &mut out);
        let e = ends(&out);
        let q = e.iter().find(|r| r.init_port == 1000).unwrap();
        assert_eq!(q.reason, EndReason::Evicted);
        assert_eq!(
            (q.icmp_errors, q.icmp_error_type, q.icmp_error_code),
            (1, 3, 3)
        );
        for r in e.iter().filter(|r| r.init_port != 1000) {
            assert_eq!(
                (r.icmp_errors, r.icmp_error_type, r.icmp_error_code),
                (0, 0, 0)
            );
            assert_eq!(r.tunnel, Tunnel::None);
        }
    }

    #[test]
    fn icmp_error_charged_to_quoted_flow_in_either_orientation() {
        let mut sh = shard(16, 0, 0);
        let mut out = Vec::new();
        let mut tunnelled = vxlan(udp(7, 7, 8, 8), 5, 2);
        tunnelled.vlan = 0;
        run(
            &mut sh,
            &[
                (udp(1, 5000, 2, 9999), S),
                (tunnelled, S),
                // Port unreachable from the server, quoting the client's datagram.
                (icmp_err(2, 1, 3, 3, (1, 5000, 2, 9999), 17), 2 * S),
                // A router's TTL exceeded toward the server, quoting the other direction.
                (icmp_err(9, 2, 11, 0, (2, 9999, 1, 5000), 17), 3 * S),
                // Quotes of flows the table does not have: nothing else changes.
                (icmp_err(2, 1, 3, 3, (1, 5001, 2, 9999), 17), 4 * S),
                (icmp_err(2, 1, 3, 3, (1, 5000, 2, 9999), 6), 4 * S),
                // An error quoting the tunnelled flow keeps its tunnel metadata.
                (icmp_err(8, 7, 3, 1, (7, 7, 8, 8), 17), 5 * S),
            ],
            &mut out,
        );
        // Flows: the UDP flow, the tunnelled one, ICMP 2<->1 (three errors) and 9<->2.
        assert_eq!(sh.len(), 5);
        assert_eq!(sh.stats().packets, 7);
        sh.flush(EndReason::Shutdown, &mut out);
        let e = ends(&out);
        let total: u64 = e.iter().map(|r| r.total_packets()).sum();
        assert_eq!(total, 7, "every packet in exactly one flow");
        let u = e.iter().find(|r| r.init_port == 5000).unwrap();
        assert_eq!(
            u.total_packets(),
            1,
            "the errors are not this flow's packets"
        );
        assert_eq!(
            (u.icmp_errors, u.icmp_error_type, u.icmp_error_code),
            (2, 11, 0)
        );
        let t = e.iter().find(|r| r.init_port == 7).unwrap();
        assert_eq!(
            (t.icmp_errors, t.icmp_error_type, t.icmp_error_code),
            (1, 3, 1)
        );
        assert_eq!((t.tunnel, t.tunnel_id), (Tunnel::Vxlan, 5));
        for r in e.iter().filter(|r| r.proto == 1) {
            assert_eq!(r.icmp_errors, 0);
            assert_eq!(r.tunnel, Tunnel::None);
        }
        let icmp21 = e
            .iter()
            .find(|r| r.proto == 1 && r.init_ip[3] == 2)
            .unwrap();
        assert_eq!(icmp21.total_packets(), 3);
    }

    #[test]
    fn icmp_errors_count_per_segment_tunnel_kept_across_split() {
        let mut sh = Shard::new(ShardConfig {
            active_timeout_ns: 10 * S,
            ..ShardConfig::new(16, 0, 0)
        });
        let mut out = Vec::new();
        sh.update(&vxlan(udp(1, 1, 2, 2), 9, 2), 100, 0, &mut out);
        sh.update(&icmp_err(2, 1, 3, 3, (1, 1, 2, 2), 17), 70, S, &mut out);
        sh.expire(10 * S, &mut out);
        sh.update(&udp(1, 1, 2, 2), 100, 11 * S, &mut out);
        sh.flush(EndReason::Shutdown, &mut out);
        let e: Vec<_> = ends(&out).into_iter().filter(|r| r.proto == 17).collect();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].segment, e[0].icmp_errors), (0, 1));
        assert_eq!((e[1].segment, e[1].icmp_errors), (1, 0));
        assert!(
            e.iter()
                .all(|r| (r.tunnel, r.tunnel_id) == (Tunnel::Vxlan, 9)),
            "tunnel kept"
        );
    }
}
