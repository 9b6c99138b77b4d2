//! One worker's flow table: preallocated, bounded, owned by a single lcore (no locks, no sharing).
//!
//! Layout:
//! - a slab of `Flow` entries (fixed capacity, free list), whose indexes never move;
//! - an open-addressing index of 8-byte buckets (`tag:37 | slot+1:27`), linear probing, load ≤ 0.5,
//!   backward-shift deletion (no tombstones, so lookups never degrade);
//! - intrusive doubly linked lists through the slab: one LRU list per timeout class (all members of a
//!   class share one timeout, so the list tail is always the next to expire), and one report list
//!   ordered by the next `flow_stats` due time.
//!
//! Every operation is O(1) per packet and O(records produced) per expiry pass: cost does not grow with
//! the table. Time is passed in (ns since the epoch) and clamped to be monotonic per shard.

use super::key::FlowKey;
use super::record::{DirCounters, EndReason, FlowRecord, RecordKind, RecordSink};
use crate::parse::PacketMeta;

const NIL: u32 = u32::MAX;
const SLOT_BITS: u32 = 27;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
/// Largest capacity one shard supports (slot + 1 must fit in 27 bits).
pub const MAX_SHARD_CAPACITY: u32 = (1 << SLOT_BITS) - 2;

const TCP_SYN: u8 = 0x02;
const TCP_FIN: u8 = 0x01;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;

/// Packets after which a flow's metadata is considered settled even without a reply.
const DETECTION_LIMIT: u32 = 10;

/// Timeout classes: every flow sits in exactly one; each class has one idle timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Class {
    Tcp = 0,
    TcpClosed = 1,
    Udp = 2,
    Other = 3,
}
const CLASSES: usize = 4;

/// Shard settings. Timeouts of 0 disable that timer.
#[derive(Clone, Copy, Debug)]
pub struct ShardConfig {
    /// Flow capacity of this shard (the table never grows).
    pub capacity: u32,
    /// Idle timeout of open TCP flows.
    pub tcp_timeout_ns: u64,
    /// How long a closed TCP flow lingers to absorb trailing ACKs/retransmitted FINs before export.
    pub tcp_closed_timeout_ns: u64,
    pub udp_timeout_ns: u64,
    pub other_timeout_ns: u64,
    /// Period of `flow_stats` reports for live flows with new packets.
    pub stats_interval_ns: u64,
    pub worker: u8,
    pub port: u16,
}

impl ShardConfig {
    pub fn new(capacity: u32, idle_timeout_ns: u64, stats_interval_ns: u64) -> Self {
        ShardConfig {
            capacity,
            tcp_timeout_ns: idle_timeout_ns,
            tcp_closed_timeout_ns: if idle_timeout_ns == 0 {
                0
            } else {
                idle_timeout_ns.min(DEFAULT_TCP_CLOSED_NS)
            },
            udp_timeout_ns: idle_timeout_ns,
            other_timeout_ns: idle_timeout_ns,
            stats_interval_ns,
            worker: 0,
            port: 0,
        }
    }
}

/// Default linger of a closed TCP flow: Linux conntrack's CLOSE timeout. Long enough for the last
/// ACK and retransmitted FINs of slow peers, short enough to free the slot soon.
pub const DEFAULT_TCP_CLOSED_NS: u64 = 10_000_000_000;

/// Plain counters of a shard; the worker publishes them periodically.
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

#[derive(Clone, Copy, Default)]
struct DirState {
    packets: u64,
    bytes: u64,
    ip_bytes: u64,
    rep_packets: u64,
    rep_bytes: u64,
    first_ns: u64,
    last_ns: u64,
    /// First packet since the previous report (valid while packets > rep_packets).
    int_first_ns: u64,
    /// Next expected TCP sequence number (highest seq + len seen).
    next_seq: u32,
    seq_init: bool,
    fin: bool,
    tcp_flags: u16,
    mac: [u8; 6],
}

#[derive(Clone, Copy, Default)]
struct Flow {
    key: FlowKey,
    id: u64,
    lru: Link,
    rep: Link,
    first_ns: u64,
    last_ns: u64,
    next_report_ns: u64,
    dir: [DirState; 2],
    resets: u32,
    retrans: u32,
    seq_errors: u32,
    detection_packets: u32,
    class: u8,
    in_use: bool,
    /// The `lo` endpoint of the key is the initiator.
    init_is_lo: bool,
    closed: bool,
    settled: bool,
    icmp_type: u8,
    icmp_code: u8,
}

/// A worker's flow table.
pub struct Shard {
    cfg: ShardConfig,
    timeouts: [u64; CLASSES],
    flows: Vec<Flow>,
    buckets: Vec<u64>,
    bucket_mask: usize,
    /// `64 - log2(buckets)`: the home bucket is the top bits of the hash.
    shift: u32,
    free_head: u32,
    lru: [List; CLASSES],
    rep: List,
    now: u64,
    /// No timer is due before this time (may be early, never late): lets `update` run the
    /// timers exactly when a packet's time crosses a due time, with one compare per packet.
    deadline: u64,
    next_seq: u64,
    stats: ShardStats,
}

impl Shard {
    /// Allocates everything up front; nothing is allocated afterwards.
    pub fn new(cfg: ShardConfig) -> Shard {
        let cap = cfg.capacity.clamp(1, MAX_SHARD_CAPACITY);
        let nb = ((cap as usize) * 2).next_power_of_two().max(16);
        let mut flows = vec![Flow::default(); cap as usize];
        for (i, f) in flows.iter_mut().enumerate() {
            f.lru.next = if i + 1 < cap as usize {
                i as u32 + 1
            } else {
                NIL
            };
        }
        Shard {
            timeouts: [
                cfg.tcp_timeout_ns,
                cfg.tcp_closed_timeout_ns,
                cfg.udp_timeout_ns,
                cfg.other_timeout_ns,
            ],
            cfg: ShardConfig {
                capacity: cap,
                ..cfg
            },
            flows,
            buckets: vec![0; nb],
            bucket_mask: nb - 1,
            shift: 64 - nb.trailing_zeros(),
            free_head: 0,
            lru: [List::default(); CLASSES],
            rep: List::default(),
            now: 0,
            deadline: u64::MAX,
            next_seq: 0,
            stats: ShardStats::default(),
        }
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
        self.flows.len() * std::mem::size_of::<Flow>() + self.buckets.len() * 8
    }

    /// Size of one slab entry.
    pub fn entry_size() -> usize {
        std::mem::size_of::<Flow>()
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
        let now = self.advance(now);
        if now >= self.deadline {
            self.run_timers(now, sink);
        }
        let (key, src_is_lo) = FlowKey::from_meta(m);
        let h = key.hash64();
        self.stats.packets += 1;
        self.stats.bytes += frame_len as u64;

        let (slot, new) = match self.lookup(&key, h) {
            Ok(s) => {
                let f = &self.flows[s as usize];
                // A fresh SYN on a closed connection starts a new flow; trailing ACKs do not.
                if f.closed && m.proto == 6 && m.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN {
                    self.end(s, EndReason::Closed, sink);
                    (self.create(key, h, m, src_is_lo, now, sink), true)
                } else {
                    (s, false)
                }
            }
            Err(()) => (self.create(key, h, m, src_is_lo, now, sink), true),
        };
        self.account(slot, m, src_is_lo, frame_len, now);
        if new {
            // Announce a new flow with its first packet's metadata.
            let rec = self.record(slot, RecordKind::Start, EndReason::None);
            self.stats.records[RecordKind::Start as usize] += 1;
            sink.emit(&rec);
        }
    }

    /// Index lookup: `Ok(slot)` when present.
    #[inline]
    fn lookup(&self, key: &FlowKey, h: u64) -> Result<u32, ()> {
        let tag = h >> SLOT_BITS;
        let mut i = (h >> self.shift) as usize;
        loop {
            let b = self.buckets[i];
            if b == 0 {
                return Err(());
            }
            if b >> SLOT_BITS == tag {
                let s = ((b & SLOT_MASK) - 1) as u32;
                if self.flows[s as usize].key == *key {
                    return Ok(s);
                }
            }
            i = (i + 1) & self.bucket_mask;
        }
    }

    fn index_insert(&mut self, h: u64, slot: u32) {
        let mut i = (h >> self.shift) as usize;
        while self.buckets[i] != 0 {
            i = (i + 1) & self.bucket_mask;
        }
        self.buckets[i] = (h >> SLOT_BITS) << SLOT_BITS | (slot as u64 + 1);
    }

    fn index_remove(&mut self, h: u64, slot: u32) {
        let want = (h >> SLOT_BITS) << SLOT_BITS | (slot as u64 + 1);
        let mut i = (h >> self.shift) as usize;
        while self.buckets[i] != want {
            debug_assert!(self.buckets[i] != 0, "flow missing from index");
            i = (i + 1) & self.bucket_mask;
        }
        // Backward-shift deletion: pull later members of the cluster into the hole when their home
        // bucket does not lie cyclically in (hole, j].
        let mask = self.bucket_mask;
        let tag_shift = self.shift - SLOT_BITS;
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let b = self.buckets[j];
            if b == 0 {
                break;
            }
            let home = ((b >> SLOT_BITS) >> tag_shift) as usize;
            let dist_home = j.wrapping_sub(home) & mask;
            let dist_hole = j.wrapping_sub(hole) & mask;
            if dist_home >= dist_hole {
                self.buckets[hole] = b;
                hole = j;
            }
        }
        self.buckets[hole] = 0;
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
        if self.free_head == NIL {
            self.evict_one(sink);
        }
        let slot = self.free_head;
        self.free_head = self.flows[slot as usize].lru.next;
        // A SYN-ACK seen first means the other side initiated.
        let synack_first = m.proto == 6 && m.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN | TCP_ACK;
        self.next_seq += 1;
        let class = match m.proto {
            6 => Class::Tcp,
            17 => Class::Udp,
            _ => Class::Other,
        };
        self.flows[slot as usize] = Flow {
            key,
            id: (self.cfg.worker as u64) << 56 | self.next_seq,
            first_ns: now,
            last_ns: now,
            next_report_ns: now.saturating_add(self.cfg.stats_interval_ns),
            class: class as u8,
            in_use: true,
            init_is_lo: src_is_lo != synack_first,
            icmp_type: m.icmp_type,
            icmp_code: m.icmp_code,
            ..Flow::default()
        };
        // Until the other side speaks, its MAC is the first packet's destination.
        let d = usize::from(src_is_lo != self.flows[slot as usize].init_is_lo);
        self.flows[slot as usize].dir[1 - d].mac = m.dst_mac;
        self.index_insert(h, slot);
        self.push_head_lru(class as usize, slot);
        if self.cfg.stats_interval_ns > 0 {
            self.push_head_rep(slot);
        }
        self.stats.flows_created += 1;
        self.stats.flows_created_by_l4[match class {
            Class::Tcp | Class::TcpClosed => 0,
            Class::Udp => 1,
            Class::Other => 2,
        }] += 1;
        slot
    }

    #[inline]
    fn account(&mut self, slot: u32, m: &PacketMeta, src_is_lo: bool, frame_len: u32, now: u64) {
        let f = &mut self.flows[slot as usize];
        let d = usize::from(src_is_lo != f.init_is_lo);
        f.last_ns = now;
        if !f.settled {
            f.detection_packets += 1;
            if d == 1 || f.detection_packets >= DETECTION_LIMIT {
                f.settled = true;
            }
        }
        let ds = &mut f.dir[d];
        if ds.packets == 0 {
            ds.first_ns = now;
            ds.mac = m.src_mac;
        }
        if ds.packets == ds.rep_packets {
            ds.int_first_ns = now;
        }
        ds.packets += 1;
        ds.bytes += frame_len as u64;
        ds.ip_bytes += m.ip_len as u64;
        ds.last_ns = now;
        let mut closed_now = false;
        if m.proto == 6 {
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
            ds.tcp_flags |= bits;
            // Sequence tracking: a segment wholly below what this direction already sent is a
            // retransmission; one that starts beyond it is a sequence error (gap or reordering).
            let hdrs = m.payload_offset.saturating_sub(m.l3_offset);
            let payload = m.ip_len.saturating_sub(hdrs) as u32;
            let seg = payload + u32::from(fl & TCP_SYN != 0) + u32::from(fl & TCP_FIN != 0);
            if fl & TCP_RST == 0 && seg > 0 {
                let end = m.tcp_seq.wrapping_add(seg);
                if !ds.seq_init {
                    ds.seq_init = true;
                    ds.next_seq = end;
                } else if (end.wrapping_sub(ds.next_seq) as i32) <= 0 {
                    f.retrans += 1;
                } else {
                    if (m.tcp_seq.wrapping_sub(ds.next_seq) as i32) > 0 {
                        f.seq_errors += 1;
                    }
                    ds.next_seq = end;
                }
            }
            if fl & TCP_FIN != 0 {
                ds.fin = true;
            }
            if fl & TCP_RST != 0 {
                f.resets += 1;
                closed_now = !f.closed;
            } else if f.dir[0].fin && f.dir[1].fin && !f.closed {
                closed_now = true;
            }
        }
        let class = if closed_now {
            f.closed = true;
            Class::TcpClosed as usize
        } else {
            f.class as usize
        };
        // Touch: move to the head of its (possibly new) class list.
        self.unlink_lru(slot);
        self.push_head_lru(class, slot);
    }

    fn evict_one<S: RecordSink>(&mut self, sink: &mut S) {
        // Exact LRU across classes: the oldest of the list tails.
        let mut victim = NIL;
        let mut oldest = u64::MAX;
        for l in &self.lru {
            if l.tail != NIL && self.flows[l.tail as usize].last_ns < oldest {
                oldest = self.flows[l.tail as usize].last_ns;
                victim = l.tail;
            }
        }
        debug_assert!(victim != NIL, "evict from an empty table");
        self.end(victim, EndReason::Evicted, sink);
    }

    /// Remove a flow and export its end record.
    fn end<S: RecordSink>(&mut self, slot: u32, reason: EndReason, sink: &mut S) {
        let rec = self.record(slot, RecordKind::End, reason);
        sink.emit(&rec);
        self.stats.records[RecordKind::End as usize] += 1;
        self.stats.flows_ended[reason as usize] += 1;
        self.unlink_lru(slot);
        if self.cfg.stats_interval_ns > 0 {
            self.unlink_rep(slot);
        }
        let h = self.flows[slot as usize].key.hash64();
        self.index_remove(h, slot);
        let f = &mut self.flows[slot as usize];
        f.in_use = false;
        f.lru.next = self.free_head;
        self.free_head = slot;
    }

    /// Build a record; Stats and End records advance the report baseline.
    fn record(&mut self, slot: u32, kind: RecordKind, reason: EndReason) -> FlowRecord {
        let cfg_worker = self.cfg.worker;
        let port = self.cfg.port;
        let f = &mut self.flows[slot as usize];
        let k = &f.key;
        let (init_ip, init_port, resp_ip, resp_port) = if f.init_is_lo {
            (k.lo_ip, k.lo_port, k.hi_ip, k.hi_port)
        } else {
            (k.hi_ip, k.hi_port, k.lo_ip, k.lo_port)
        };
        let mut dir = [DirCounters::default(); 2];
        for (out, ds) in dir.iter_mut().zip(f.dir.iter_mut()) {
            let dp = ds.packets - ds.rep_packets;
            let db = ds.bytes - ds.rep_bytes;
            let span_ms = if dp > 0 {
                (ds.last_ns - ds.int_first_ns) / 1_000_000
            } else {
                0
            };
            *out = DirCounters {
                packets: ds.packets,
                bytes: ds.bytes,
                ip_bytes: ds.ip_bytes,
                delta_packets: dp,
                delta_bytes: db,
                rate: db * 1000 / span_ms.max(1000),
                first_ms: ds.first_ns / 1_000_000,
                last_ms: ds.last_ns / 1_000_000,
                tcp_flags: ds.tcp_flags,
                mac: ds.mac,
                ..DirCounters::default()
            };
            if kind != RecordKind::Start {
                ds.rep_packets = ds.packets;
                ds.rep_bytes = ds.bytes;
            }
        }
        FlowRecord {
            flow_id: f.id,
            kind,
            reason,
            worker: cfg_worker,
            ip_version: k.ip_version,
            proto: k.proto,
            port,
            vlan: k.vlan,
            init_ip,
            resp_ip,
            init_port,
            resp_port,
            first_ms: f.first_ns / 1_000_000,
            last_ms: f.last_ns / 1_000_000,
            dir,
            tcp_resets: f.resets,
            tcp_retrans: f.retrans,
            tcp_seq_errors: f.seq_errors,
            detection_packets: f.detection_packets,
            icmp_type: f.icmp_type,
            icmp_code: f.icmp_code,
            ..FlowRecord::default()
        }
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
        for c in 0..CLASSES {
            let t = self.timeouts[c];
            if t == 0 {
                continue;
            }
            loop {
                let s = self.lru[c].tail;
                if s == NIL || self.flows[s as usize].last_ns.saturating_add(t) > now {
                    break;
                }
                let reason = if c == Class::TcpClosed as usize {
                    EndReason::Closed
                } else {
                    EndReason::Expired
                };
                self.end(s, reason, sink);
            }
        }
        let iv = self.cfg.stats_interval_ns;
        if iv > 0 {
            loop {
                let s = self.rep.tail;
                if s == NIL || self.flows[s as usize].next_report_ns > now {
                    break;
                }
                let f = &self.flows[s as usize];
                if f.dir[0].packets > f.dir[0].rep_packets
                    || f.dir[1].packets > f.dir[1].rep_packets
                {
                    let rec = self.record(s, RecordKind::Stats, EndReason::None);
                    self.stats.records[RecordKind::Stats as usize] += 1;
                    sink.emit(&rec);
                }
                // Re-phase on `now` so the list stays sorted by due time (see module doc).
                self.flows[s as usize].next_report_ns = now.saturating_add(iv);
                self.unlink_rep(s);
                self.push_head_rep(s);
            }
        }
        self.recompute_deadline();
    }

    fn recompute_deadline(&mut self) {
        let mut d = u64::MAX;
        for c in 0..CLASSES {
            let t = self.lru[c].tail;
            if t != NIL && self.timeouts[c] > 0 {
                d = d.min(
                    self.flows[t as usize]
                        .last_ns
                        .saturating_add(self.timeouts[c]),
                );
            }
        }
        if self.rep.tail != NIL {
            d = d.min(self.flows[self.rep.tail as usize].next_report_ns);
        }
        self.deadline = d;
    }

    /// End every live flow (stop of the probe or end of a capture). Flows already closed by
    /// FIN/RST and only lingering keep their `closed` reason.
    pub fn flush<S: RecordSink>(&mut self, reason: EndReason, sink: &mut S) {
        for c in 0..CLASSES {
            let r = if c == Class::TcpClosed as usize {
                EndReason::Closed
            } else {
                reason
            };
            while self.lru[c].tail != NIL {
                let s = self.lru[c].tail;
                self.end(s, r, sink);
            }
        }
    }

    fn push_head_lru(&mut self, c: usize, s: u32) {
        let old = self.lru[c].head;
        self.flows[s as usize].lru = Link {
            prev: NIL,
            next: old,
        };
        self.flows[s as usize].class = c as u8;
        if old != NIL {
            self.flows[old as usize].lru.prev = s;
        } else {
            self.lru[c].tail = s;
            if self.timeouts[c] > 0 {
                let due = self.flows[s as usize]
                    .last_ns
                    .saturating_add(self.timeouts[c]);
                self.deadline = self.deadline.min(due);
            }
        }
        self.lru[c].head = s;
    }

    fn unlink_lru(&mut self, s: u32) {
        let Link { prev, next } = self.flows[s as usize].lru;
        let c = self.flows[s as usize].class as usize;
        if prev != NIL {
            self.flows[prev as usize].lru.next = next;
        } else {
            self.lru[c].head = next;
        }
        if next != NIL {
            self.flows[next as usize].lru.prev = prev;
        } else {
            self.lru[c].tail = prev;
        }
    }

    fn push_head_rep(&mut self, s: u32) {
        let old = self.rep.head;
        self.flows[s as usize].rep = Link {
            prev: NIL,
            next: old,
        };
        if old != NIL {
            self.flows[old as usize].rep.prev = s;
        } else {
            self.rep.tail = s;
            self.deadline = self.deadline.min(self.flows[s as usize].next_report_ns);
        }
        self.rep.head = s;
    }

    fn unlink_rep(&mut self, s: u32) {
        let Link { prev, next } = self.flows[s as usize].rep;
        if prev != NIL {
            self.flows[prev as usize].rep.next = next;
        } else {
            self.rep.head = next;
        }
        if next != NIL {
            self.flows[next as usize].rep.prev = prev;
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
    fn full_table_evicts_lru_and_exports_each_once() {
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
            "the hot flow is never the LRU"
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
}
