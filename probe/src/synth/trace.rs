//! Deterministic trace generator with per-flow ground truth.
//!
//! Up to `concurrent_flows` flows are open at once, each in a slot. Every packet goes to a slot
//! drawn with Zipf weights (slot `i` has weight `1/(i+1)^s`), so a few slots carry much of the
//! traffic; the flow in the slot emits its next packet, and a flow that has finished its script
//! is replaced at once by a new one. Timestamps are evenly spaced at `pps`.
//!
//! The mix (of new flows): TCP 50% (3-way handshake, request/response exchanges with a
//! heavy-tailed response size, delayed ACKs every two segments, FIN teardown from both sides or
//! an RST in ~10%), DNS 30% (query/response on port 53, some NXDOMAIN, a few unanswered), QUIC-like
//! UDP/443 6%, NTP 4%, ICMP echo 10%. Addresses come from documentation/private ranges. Client
//! (address, port) pairs are allocated so that every TCP/UDP flow key in a trace is unique, which
//! lets a consumer match its own flow records to the truth by key.
//!
//! Memory is bounded by the number of open flows plus the truth records of finished flows, which
//! [`TraceGen::drain_finished`] lets a long-running caller stream out.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde_json::{json, Value};

use super::builder::{
    build_into, dns_query, dns_response, tcp_options_syn, tcp_options_ts, FrameSpec, Payload,
    DNS_RCODE_NOERROR, DNS_RCODE_NXDOMAIN, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, ICMP_ECHO_REPLY,
    ICMP_ECHO_REQUEST, L4, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_FIN,
    TCP_PSH, TCP_RST, TCP_SYN,
};
use super::rng::{mix64, SplitMix64};

/// 2026-01-01T00:00:00Z, the default trace start.
pub const DEFAULT_START_TS_NS: u64 = 1_767_225_600 * 1_000_000_000;

#[derive(Clone, Debug, PartialEq)]
pub struct TraceConfig {
    /// Exactly this many packets are generated.
    pub packets: u64,
    /// Flows open at once (at least 1).
    pub concurrent_flows: u32,
    pub seed: u64,
    pub start_ts_ns: u64,
    /// Packet rate that spaces the timestamps: packet `i` is at `start + i * 1e9 / pps` (at least 1).
    pub pps: u64,
    /// Fraction of new flows that are IPv6.
    pub ipv6_share: f64,
    /// Fraction of new flows carried in 802.1Q tags (a tenth of those double-tagged).
    pub vlan_share: f64,
    /// Zipf exponent of slot popularity; 0 makes all open flows equally active.
    pub zipf_s: f64,
}

impl Default for TraceConfig {
    fn default() -> Self {
        TraceConfig {
            packets: 10_000,
            concurrent_flows: 64,
            seed: 1,
            start_ts_ns: DEFAULT_START_TS_NS,
            pps: 100_000,
            ipv6_share: 0.12,
            vlan_share: 0.10,
            zipf_s: 1.1,
        }
    }
}

/// How a flow ended, as far as the trace shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlowEnd {
    /// TCP: both sides sent a FIN (the final ACK may follow, and is counted in the flow).
    Fin,
    /// TCP: a RST was sent.
    Rst,
    /// Anything else: TCP cut by the end of the trace, and every UDP/ICMP flow (they carry no
    /// end marker; see [`FlowTruth::complete`]).
    Open,
}

impl FlowEnd {
    pub fn name(self) -> &'static str {
        match self {
            FlowEnd::Fin => "fin",
            FlowEnd::Rst => "rst",
            FlowEnd::Open => "open",
        }
    }
}

/// The generator's application model for a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlowKind {
    Tcp,
    Dns,
    Quic,
    Ntp,
    IcmpEcho,
}

impl FlowKind {
    pub const ALL: [FlowKind; 5] = [
        FlowKind::Tcp,
        FlowKind::Dns,
        FlowKind::Quic,
        FlowKind::Ntp,
        FlowKind::IcmpEcho,
    ];
    pub fn name(self) -> &'static str {
        match self {
            FlowKind::Tcp => "tcp",
            FlowKind::Dns => "dns",
            FlowKind::Quic => "quic",
            FlowKind::Ntp => "ntp",
            FlowKind::IcmpEcho => "icmp_echo",
        }
    }
}

/// Ground truth for one flow. Bytes are whole frame lengths (Ethernet header, VLAN tags and
/// minimum-size padding included; no FCS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowTruth {
    /// Order of creation, from 0.
    pub id: u64,
    pub kind: FlowKind,
    pub proto: u8,
    /// Outermost VLAN id, 0 when untagged.
    pub vlan: u16,
    /// Port 0 for ICMP.
    pub initiator: SocketAddr,
    pub responder: SocketAddr,
    /// ICMP echo identifier (ICMP flows only).
    pub icmp_id: Option<u16>,
    pub initiator_packets: u64,
    pub initiator_bytes: u64,
    pub responder_packets: u64,
    pub responder_bytes: u64,
    pub first_ts_ns: u64,
    pub last_ts_ns: u64,
    pub end: FlowEnd,
    /// The flow played its whole script before the trace ended.
    pub complete: bool,
}

impl FlowTruth {
    pub fn packets(&self) -> u64 {
        self.initiator_packets + self.responder_packets
    }
    pub fn bytes(&self) -> u64 {
        self.initiator_bytes + self.responder_bytes
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "kind": self.kind.name(),
            "proto": self.proto,
            "vlan": self.vlan,
            "initiator": {"ip": self.initiator.ip().to_string(), "port": self.initiator.port()},
            "responder": {"ip": self.responder.ip().to_string(), "port": self.responder.port()},
            "initiator_packets": self.initiator_packets,
            "initiator_bytes": self.initiator_bytes,
            "responder_packets": self.responder_packets,
            "responder_bytes": self.responder_bytes,
            "first_ts_ns": self.first_ts_ns,
            "last_ts_ns": self.last_ts_ns,
            "end": self.end.name(),
            "complete": self.complete,
        });
        if let Some(id) = self.icmp_id {
            v["icmp_id"] = json!(id);
        }
        v
    }
}

/// Totals and every flow of a finished trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceTruth {
    pub packets: u64,
    pub bytes: u64,
    /// Sorted by id. Excludes flows already taken with [`TraceGen::drain_finished`].
    pub flows: Vec<FlowTruth>,
}

impl TraceTruth {
    pub fn to_json(&self) -> Value {
        json!({
            "packets": self.packets,
            "bytes": self.bytes,
            "flows": self.flows.iter().map(FlowTruth::to_json).collect::<Vec<_>>(),
        })
    }
}

/// Client hosts per family. Each has a fixed address and MAC and its own ephemeral-port counter.
const CLIENT_HOSTS: usize = 4096;
/// 198.51.100.1-254 and 203.0.113.1-254.
const V4_SERVERS: u32 = 508;
const V6_SERVERS: u32 = 512;
/// Linux's default ephemeral range.
const EPHEMERAL_LO: u16 = 32768;
const EPHEMERAL_HI: u16 = 60999;
/// IANA documentation MAC (RFC 7042) for the gateway every server-side packet comes through.
const GATEWAY_MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x53, 0x01];
const VLAN_IDS: [u16; 4] = [100, 200, 300, 1001];
const DNS_LABELS: [&str; 10] = [
    "www", "api", "cdn", "mail", "static", "img", "login", "assets", "git", "docs",
];
const DNS_TLDS: [&str; 3] = ["com", "net", "org"];

const C2S: usize = 0;
const S2C: usize = 1;

#[derive(Clone, Debug)]
enum Step {
    Tcp {
        flags: u8,
        len: u16,
    },
    Udp(Payload),
    /// ICMP echo request (client) or reply (server), with its sequence number.
    Echo {
        seq: u16,
    },
}

#[derive(Clone, Copy, Debug)]
enum Phase {
    TcpHandshake,
    TcpExchange,
    TcpSend { sender: usize, left: u64 },
    TcpClose,
    QuicData { left: u32 },
    Done,
}

struct Flow {
    truth: FlowTruth,
    client_mac: [u8; 6],
    vlans: Vec<u16>,
    ttl: [u8; 2],
    dscp: u8,
    ip_id: [u16; 2],
    // TCP state
    next_seq: [u32; 2],
    window: [u16; 2],
    ts_base: [u32; 2],
    last_tsval: [u32; 2],
    fin_sent: [bool; 2],
    mss: u16,
    exchanges_left: u32,
    rst_end: bool,
    queue: VecDeque<(usize, Step)>,
    phase: Phase,
}

/// The generator. Iterate it for `(ts_ns, frame)` pairs, or call [`TraceGen::next_into`] to reuse
/// one frame buffer; then [`TraceGen::finish`] for the truth.
pub struct TraceGen {
    cfg: TraceConfig,
    rng: SplitMix64,
    /// Cumulative Zipf weights of the slots.
    cum_weights: Vec<f64>,
    slots: Vec<Flow>,
    finished: Vec<FlowTruth>,
    next_id: u64,
    emitted: u64,
    bytes: u64,
    /// Per client host: next ephemeral port, and ICMP flows started (to spread them over servers).
    next_port: Vec<u16>,
    icmp_count: Vec<u32>,
    /// Seed-derived salt for client addresses.
    salt: u64,
}

impl TraceGen {
    pub fn new(cfg: TraceConfig) -> Self {
        let n = cfg.concurrent_flows.max(1) as usize;
        let mut acc = 0.0;
        let cum_weights = (0..n)
            .map(|i| {
                acc += 1.0 / ((i + 1) as f64).powf(cfg.zipf_s);
                acc
            })
            .collect();
        let salt = mix64(cfg.seed ^ 0x5eed_5a17);
        let next_port = (0..CLIENT_HOSTS)
            .map(|h| {
                let span = u64::from(EPHEMERAL_HI - EPHEMERAL_LO) + 1;
                EPHEMERAL_LO + (mix64(salt ^ h as u64) % span) as u16
            })
            .collect();
        let mut g = TraceGen {
            rng: SplitMix64::new(cfg.seed),
            cfg,
            cum_weights,
            slots: Vec::with_capacity(n),
            finished: Vec::new(),
            next_id: 0,
            emitted: 0,
            bytes: 0,
            next_port,
            icmp_count: vec![0; CLIENT_HOSTS],
            salt,
        };
        for _ in 0..n {
            let f = g.new_flow(g.cfg.start_ts_ns);
            g.slots.push(f);
        }
        g
    }

    pub fn config(&self) -> &TraceConfig {
        &self.cfg
    }
    /// Packets generated so far.
    pub fn packets(&self) -> u64 {
        self.emitted
    }
    /// Frame bytes generated so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Timestamp of packet `i`, computed from the start (not accumulated) so it never drifts.
    fn ts_of(&self, i: u64) -> u64 {
        let pps = u128::from(self.cfg.pps.max(1));
        self.cfg.start_ts_ns + (u128::from(i) * 1_000_000_000 / pps) as u64
    }

    /// Writes the next frame into `frame` and returns its timestamp; `None` once `packets` have
    /// been generated.
    pub fn next_into(&mut self, frame: &mut Vec<u8>) -> Option<u64> {
        if self.emitted >= self.cfg.packets {
            return None;
        }
        let ts = self.ts_of(self.emitted);
        let total = *self.cum_weights.last().expect("at least one slot");
        let x = self.rng.unit() * total;
        let slot = self
            .cum_weights
            .partition_point(|&c| c <= x)
            .min(self.slots.len() - 1);

        let flow = &mut self.slots[slot];
        emit(flow, ts, frame);
        if flow.queue.is_empty() {
            refill(flow, &mut self.rng);
        }
        if flow.queue.is_empty() {
            let new = self.new_flow(ts);
            let mut done = std::mem::replace(&mut self.slots[slot], new).truth;
            done.complete = true;
            self.finished.push(done);
        }
        self.emitted += 1;
        self.bytes += frame.len() as u64;
        Some(ts)
    }

    /// Takes the truth of flows finished so far (in finishing order), so a caller generating a
    /// very long trace can write them out instead of letting them accumulate.
    pub fn drain_finished(&mut self) -> Vec<FlowTruth> {
        std::mem::take(&mut self.finished)
    }

    /// Ends the trace: flows still open are reported with `complete: false`. Flows that were
    /// created but never sent a packet (possible only in the last slots) are left out.
    pub fn finish(self) -> TraceTruth {
        let mut flows = self.finished;
        flows.extend(
            self.slots
                .into_iter()
                .map(|f| f.truth)
                .filter(|t| t.packets() > 0),
        );
        flows.sort_by_key(|f| f.id);
        TraceTruth {
            packets: self.emitted,
            bytes: self.bytes,
            flows,
        }
    }

    fn new_flow(&mut self, ts: u64) -> Flow {
        let rng = &mut self.rng;
        let id = self.next_id;
        self.next_id += 1;
        let r = rng.unit();
        let kind = if r < 0.50 {
            FlowKind::Tcp
        } else if r < 0.80 {
            FlowKind::Dns
        } else if r < 0.86 {
            FlowKind::Quic
        } else if r < 0.90 {
            FlowKind::Ntp
        } else {
            FlowKind::IcmpEcho
        };
        let v6 = rng.chance(self.cfg.ipv6_share);
        let mut vlans = Vec::new();
        if rng.chance(self.cfg.vlan_share) {
            vlans.push(*rng.pick(&VLAN_IDS));
            if rng.chance(0.1) {
                vlans.push(rng.range(2, 4094) as u16);
            }
        }
        // Busy clients: the square of a uniform favours low host numbers.
        let u = rng.unit();
        let host = ((u * u) * CLIENT_HOSTS as f64) as usize % CLIENT_HOSTS;
        let client_ip = client_addr(self.salt, host, v6);
        let n_servers = if v6 { V6_SERVERS } else { V4_SERVERS };
        let popular_server = |rng: &mut SplitMix64| {
            let u = rng.unit();
            ((u * u * u) * f64::from(n_servers)) as u32 % n_servers
        };
        let (server_idx, sport_server) = match kind {
            FlowKind::Tcp => {
                let port = *rng.pick(&[
                    443, 443, 443, 443, 443, 443, 443, 443, 443, 443, 443, 443, 443, 80, 80, 80,
                    80, 22, 25, 8080,
                ]);
                (popular_server(rng), port)
            }
            FlowKind::Dns => (rng.below(4) as u32, 53),
            FlowKind::Quic => (popular_server(rng), 443),
            FlowKind::Ntp => (4 + rng.below(4) as u32, 123),
            FlowKind::IcmpEcho => {
                // Distinct (client, server) per ICMP flow of a host: ICMP keys have no ports.
                let c = self.icmp_count[host];
                self.icmp_count[host] += 1;
                (((host as u32).wrapping_mul(7) + c) % n_servers, 0)
            }
        };
        let server_ip = server_addr(server_idx, v6);
        let client_port = if kind == FlowKind::IcmpEcho {
            0
        } else {
            let p = self.next_port[host];
            self.next_port[host] = if p >= EPHEMERAL_HI {
                EPHEMERAL_LO
            } else {
                p + 1
            };
            p
        };
        let proto = match kind {
            FlowKind::Tcp => PROTO_TCP,
            FlowKind::Dns | FlowKind::Quic | FlowKind::Ntp => PROTO_UDP,
            FlowKind::IcmpEcho if v6 => PROTO_ICMPV6,
            FlowKind::IcmpEcho => PROTO_ICMP,
        };
        // Windows-like hosts (TTL 128) for a third of the clients; servers 5-20 hops away.
        let client_ttl = if host % 3 == 0 { 128 } else { 64 };
        let server_ttl = rng.pick(&[64u8, 128, 255]) - rng.range(5, 20) as u8;
        let dscp = match rng.below(100) {
            0..=2 => 10,
            3..=4 => 46,
            _ => 0,
        };
        let icmp_id = (kind == FlowKind::IcmpEcho).then(|| rng.next_u32() as u16);
        let truth = FlowTruth {
            id,
            kind,
            proto,
            vlan: vlans.first().copied().unwrap_or(0),
            initiator: SocketAddr::new(client_ip, client_port),
            responder: SocketAddr::new(server_ip, sport_server),
            icmp_id,
            initiator_packets: 0,
            initiator_bytes: 0,
            responder_packets: 0,
            responder_bytes: 0,
            first_ts_ns: ts,
            last_ts_ns: ts,
            end: FlowEnd::Open,
            complete: false,
        };
        let h = mix64(self.salt ^ 0xc1 ^ ((host as u64) << 8));
        let mut client_mac = [0x02, 0, 0, 0, 0, 0];
        client_mac[2..].copy_from_slice(&(h as u32).to_be_bytes());
        let mut flow = Flow {
            truth,
            client_mac,
            vlans,
            ttl: [client_ttl, server_ttl],
            dscp,
            ip_id: [rng.next_u32() as u16, rng.next_u32() as u16],
            next_seq: [rng.next_u32(), rng.next_u32()],
            window: [rng.range(250, 2000) as u16, rng.range(250, 2000) as u16],
            ts_base: [rng.next_u32(), rng.next_u32()],
            last_tsval: [0, 0],
            fin_sent: [false, false],
            mss: if v6 { 1440 } else { 1460 },
            exchanges_left: 0,
            rst_end: false,
            queue: VecDeque::new(),
            phase: Phase::Done,
        };
        plan(&mut flow, rng);
        flow
    }
}

impl Iterator for TraceGen {
    type Item = (u64, Vec<u8>);
    fn next(&mut self) -> Option<Self::Item> {
        let mut frame = Vec::with_capacity(128);
        self.next_into(&mut frame).map(|ts| (ts, frame))
    }
}

fn client_addr(salt: u64, host: usize, v6: bool) -> IpAddr {
    // Multiplying by an odd constant permutes 16-bit values, so distinct hosts get distinct
    // addresses whatever the salt.
    let perm = (host as u16).wrapping_mul(0x9e37) ^ (salt as u16);
    let h = mix64(salt ^ host as u64);
    if v6 {
        IpAddr::V6(Ipv6Addr::new(
            0xfd00 | ((salt >> 16) as u16 & 0xff),
            (salt >> 24) as u16,
            (salt >> 40) as u16,
            perm,
            (h >> 48) as u16,
            (h >> 32) as u16,
            (h >> 16) as u16,
            h as u16,
        ))
    } else {
        let [b, c] = perm.to_be_bytes();
        IpAddr::V4(Ipv4Addr::new(10, b, c, 1 + (h % 254) as u8))
    }
}

fn server_addr(idx: u32, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0x0db8,
            0x0100 + (idx >> 8) as u16,
            0,
            0,
            0,
            0,
            (idx & 0xff) as u16 + 1,
        ))
    } else if idx < 254 {
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, idx as u8 + 1))
    } else {
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, (idx - 254) as u8 + 1))
    }
}

/// Bytes of a response (or upload): mostly small, with a heavy tail of bulk transfers.
fn transfer_size(rng: &mut SplitMix64) -> u64 {
    let r = rng.unit();
    if r < 0.60 {
        rng.range(200, 3000)
    } else if r < 0.90 {
        rng.range(3000, 30_000)
    } else if r < 0.985 {
        rng.range(30_000, 300_000)
    } else {
        rng.range(300_000, 3_000_000)
    }
}

/// Sets up a new flow's first steps.
fn plan(f: &mut Flow, rng: &mut SplitMix64) {
    let v6 = f.truth.initiator.is_ipv6();
    match f.truth.kind {
        FlowKind::Tcp => {
            f.exchanges_left = 1 + geometric(rng, 0.5).min(20);
            f.rst_end = rng.chance(0.1);
            f.phase = Phase::TcpHandshake;
            refill(f, rng);
        }
        FlowKind::Dns => {
            let qname = format!(
                "{}{}.example.{}",
                rng.pick(&DNS_LABELS),
                rng.below(40),
                rng.pick(&DNS_TLDS)
            );
            let id = rng.next_u32() as u16;
            f.queue
                .push_back((C2S, Step::Udp(Payload::Bytes(dns_query(id, &qname)))));
            let r = rng.unit();
            if r < 0.90 {
                let a = Ipv4Addr::new(203, 0, 113, rng.range(1, 254) as u8);
                f.queue.push_back((
                    S2C,
                    Step::Udp(Payload::Bytes(dns_response(
                        id,
                        &qname,
                        Some(a),
                        DNS_RCODE_NOERROR,
                    ))),
                ));
            } else if r < 0.98 {
                f.queue.push_back((
                    S2C,
                    Step::Udp(Payload::Bytes(dns_response(
                        id,
                        &qname,
                        None,
                        DNS_RCODE_NXDOMAIN,
                    ))),
                ));
            } // else: unanswered
            f.phase = Phase::Done;
        }
        FlowKind::Ntp => {
            let mut req = vec![0u8; 48];
            req[0] = 0x23; // LI 0, version 4, mode 3 (client)
            let mut resp = req.clone();
            resp[0] = 0x24; // mode 4 (server)
            resp[1] = 2; // stratum
            f.queue.push_back((C2S, Step::Udp(Payload::Bytes(req))));
            f.queue.push_back((S2C, Step::Udp(Payload::Bytes(resp))));
            f.phase = Phase::Done;
        }
        FlowKind::Quic => {
            // Client Initial padded to 1200+, server handshake flight, then a heavy-tailed transfer.
            let max_dgram: u64 = if v6 { 1232 } else { 1252 };
            f.queue
                .push_back((C2S, Step::Udp(Payload::Len(max_dgram as usize))));
            for _ in 0..rng.range(2, 3) {
                f.queue.push_back((
                    S2C,
                    Step::Udp(Payload::Len(rng.range(1100, max_dgram) as usize)),
                ));
            }
            f.queue
                .push_back((C2S, Step::Udp(Payload::Len(rng.range(40, 90) as usize))));
            let left = (transfer_size(rng) / 1200).min(5000) as u32;
            f.phase = if left > 0 {
                Phase::QuicData { left }
            } else {
                Phase::Done
            };
        }
        FlowKind::IcmpEcho => {
            let count = rng.range(1, 4) as u16;
            for seq in 1..=count {
                f.queue.push_back((C2S, Step::Echo { seq }));
                if !rng.chance(0.05) {
                    f.queue.push_back((S2C, Step::Echo { seq }));
                }
            }
            f.phase = Phase::Done;
        }
    }
}

/// Number of failures before the first success, capped to keep flows finite.
fn geometric(rng: &mut SplitMix64, p: f64) -> u32 {
    let mut n = 0;
    while n < 1000 && !rng.chance(p) {
        n += 1;
    }
    n
}

/// Queues the flow's next few steps; leaves the queue empty when the flow is over.
fn refill(f: &mut Flow, rng: &mut SplitMix64) {
    while f.queue.is_empty() {
        match f.phase {
            Phase::Done => return,
            Phase::TcpHandshake => {
                f.queue.push_back((
                    C2S,
                    Step::Tcp {
                        flags: TCP_SYN,
                        len: 0,
                    },
                ));
                f.queue.push_back((
                    S2C,
                    Step::Tcp {
                        flags: TCP_SYN | TCP_ACK,
                        len: 0,
                    },
                ));
                f.queue.push_back((
                    C2S,
                    Step::Tcp {
                        flags: TCP_ACK,
                        len: 0,
                    },
                ));
                f.phase = Phase::TcpExchange;
            }
            Phase::TcpExchange => {
                if f.exchanges_left == 0 {
                    f.phase = Phase::TcpClose;
                    continue;
                }
                f.exchanges_left -= 1;
                if rng.chance(0.1) {
                    // Upload: a request header, then the client's bulk body.
                    f.queue.push_back((
                        C2S,
                        Step::Tcp {
                            flags: TCP_PSH | TCP_ACK,
                            len: rng.range(200, 700) as u16,
                        },
                    ));
                    f.phase = Phase::TcpSend {
                        sender: C2S,
                        left: transfer_size(rng),
                    };
                } else {
                    f.queue.push_back((
                        C2S,
                        Step::Tcp {
                            flags: TCP_PSH | TCP_ACK,
                            len: rng.range(80, 900) as u16,
                        },
                    ));
                    f.phase = Phase::TcpSend {
                        sender: S2C,
                        left: transfer_size(rng),
                    };
                }
            }
            Phase::TcpSend { sender, left } => {
                // Two segments, then the receiver's (delayed) ACK.
                let seg = u64::from(f.mss - 12); // timestamps option on every segment
                let mut left = left;
                for _ in 0..2 {
                    if left == 0 {
                        break;
                    }
                    let n = left.min(seg);
                    left -= n;
                    let flags = if left == 0 {
                        TCP_PSH | TCP_ACK
                    } else {
                        TCP_ACK
                    };
                    f.queue.push_back((
                        sender,
                        Step::Tcp {
                            flags,
                            len: n as u16,
                        },
                    ));
                }
                if left == 0 && sender == C2S {
                    // The server answers an upload with a short status instead of a bare ACK.
                    f.queue.push_back((
                        S2C,
                        Step::Tcp {
                            flags: TCP_PSH | TCP_ACK,
                            len: rng.range(100, 400) as u16,
                        },
                    ));
                    f.queue.push_back((
                        C2S,
                        Step::Tcp {
                            flags: TCP_ACK,
                            len: 0,
                        },
                    ));
                } else {
                    f.queue.push_back((
                        1 - sender,
                        Step::Tcp {
                            flags: TCP_ACK,
                            len: 0,
                        },
                    ));
                }
                f.phase = if left == 0 {
                    Phase::TcpExchange
                } else {
                    Phase::TcpSend { sender, left }
                };
            }
            Phase::TcpClose => {
                let closer = if rng.chance(0.55) { C2S } else { S2C };
                if f.rst_end {
                    f.queue.push_back((
                        closer,
                        Step::Tcp {
                            flags: TCP_RST | TCP_ACK,
                            len: 0,
                        },
                    ));
                } else if rng.chance(0.5) {
                    f.queue.push_back((
                        closer,
                        Step::Tcp {
                            flags: TCP_FIN | TCP_ACK,
                            len: 0,
                        },
                    ));
                    f.queue.push_back((
                        1 - closer,
                        Step::Tcp {
                            flags: TCP_ACK,
                            len: 0,
                        },
                    ));
                    f.queue.push_back((
                        1 - closer,
                        Step::Tcp {
                            flags: TCP_FIN | TCP_ACK,
                            len: 0,
                        },
                    ));
                    f.queue.push_back((
                        closer,
                        Step::Tcp {
                            flags: TCP_ACK,
                            len: 0,
                        },
                    ));
                } else {
                    f.queue.push_back((
                        closer,
                        Step::Tcp {
                            flags: TCP_FIN | TCP_ACK,
                            len: 0,
                        },
                    ));
                    f.queue.push_back((
                        1 - closer,
                        Step::Tcp {
                            flags: TCP_FIN | TCP_ACK,
                            len: 0,
                        },
                    ));
                    f.queue.push_back((
                        closer,
                        Step::Tcp {
                            flags: TCP_ACK,
                            len: 0,
                        },
                    ));
                }
                f.phase = Phase::Done;
            }
            Phase::QuicData { left } => {
                // Server datagrams with an occasional short client ACK datagram.
                let v6 = f.truth.initiator.is_ipv6();
                let max = if v6 { 1232 } else { 1252 };
                let burst = left.min(3);
                for _ in 0..burst {
                    f.queue
                        .push_back((S2C, Step::Udp(Payload::Len(rng.range(1000, max) as usize))));
                }
                f.queue
                    .push_back((C2S, Step::Udp(Payload::Len(rng.range(30, 60) as usize))));
                let left = left - burst;
                f.phase = if left == 0 {
                    Phase::Done
                } else {
                    Phase::QuicData { left }
                };
            }
        }
    }
}

/// Builds the flow's next queued packet into `frame` and updates its state and truth.
fn emit(f: &mut Flow, ts: u64, frame: &mut Vec<u8>) {
    let (dir, step) = f
        .queue
        .pop_front()
        .expect("flows in slots always have a queued step");
    let t = &f.truth;
    let (client, server) = (t.initiator, t.responder);
    let (src, dst) = if dir == C2S {
        (client, server)
    } else {
        (server, client)
    };
    let l4 = match step {
        Step::Tcp { flags, len } => {
            let o = 1 - dir;
            let seq = f.next_seq[dir];
            let ack = if flags & TCP_ACK != 0 {
                f.next_seq[o]
            } else {
                0
            };
            let ms = ((ts - t.first_ts_ns) / 1_000_000) as u32;
            let tsval = f.ts_base[dir].wrapping_add(ms);
            let tsecr = f.last_tsval[o];
            let (options, window) = if flags & TCP_SYN != 0 {
                (
                    tcp_options_syn(f.mss, 7, tsval, tsecr),
                    if dir == C2S { 64240 } else { 65160 },
                )
            } else if flags & TCP_RST != 0 {
                (Vec::new(), 0)
            } else {
                (tcp_options_ts(tsval, tsecr), f.window[dir])
            };
            f.last_tsval[dir] = tsval;
            let consumed = u32::from(len) + u32::from(flags & (TCP_SYN | TCP_FIN) != 0);
            f.next_seq[dir] = seq.wrapping_add(consumed);
            if flags & TCP_FIN != 0 {
                f.fin_sent[dir] = true;
                if f.fin_sent[o] {
                    f.truth.end = FlowEnd::Fin;
                }
            }
            if flags & TCP_RST != 0 {
                f.truth.end = FlowEnd::Rst;
            }
            L4::Tcp {
                sport: src.port(),
                dport: dst.port(),
                seq,
                ack,
                flags,
                window,
                options,
                payload_len: len.into(),
            }
        }
        Step::Udp(payload) => L4::Udp {
            sport: src.port(),
            dport: dst.port(),
            payload,
        },
        Step::Echo { seq } => {
            let v6 = client.is_ipv6();
            let ty = match (dir == C2S, v6) {
                (true, false) => ICMP_ECHO_REQUEST,
                (false, false) => ICMP_ECHO_REPLY,
                (true, true) => ICMPV6_ECHO_REQUEST,
                (false, true) => ICMPV6_ECHO_REPLY,
            };
            // Windows pings carry 32 bytes, Unix 56.
            let payload_len = if f.ttl[C2S] == 128 { 32 } else { 56 };
            debug_assert!(t.proto == PROTO_ICMP || t.proto == PROTO_ICMPV6);
            L4::Icmp {
                ty,
                code: 0,
                id: t.icmp_id.unwrap_or(0),
                seq,
                payload_len,
            }
        }
    };
    let (src_mac, dst_mac) = if dir == C2S {
        (f.client_mac, GATEWAY_MAC)
    } else {
        (GATEWAY_MAC, f.client_mac)
    };
    let spec = FrameSpec {
        src_mac,
        dst_mac,
        vlans: f.vlans.clone(),
        src_ip: src.ip(),
        dst_ip: dst.ip(),
        ttl: f.ttl[dir],
        dscp: f.dscp,
        ip_id: f.ip_id[dir],
        l4,
    };
    f.ip_id[dir] = f.ip_id[dir].wrapping_add(1);
    build_into(&spec, frame);
    let t = &mut f.truth;
    let len = frame.len() as u64;
    if dir == C2S {
        t.initiator_packets += 1;
        t.initiator_bytes += len;
    } else {
        t.responder_packets += 1;
        t.responder_bytes += len;
    }
    if t.packets() == 1 {
        t.first_ts_ns = ts;
    }
    t.last_ts_ns = ts;
}

#[cfg(test)]
mod tests {
    use super::super::builder::{check_frame, FrameInfo};
    use super::*;
    use std::collections::HashMap;

    fn cfg(packets: u64, flows: u32, seed: u64) -> TraceConfig {
        TraceConfig {
            packets,
            concurrent_flows: flows,
            seed,
            ..TraceConfig::default()
        }
    }

    /// FNV-1a over timestamps and frames: a cheap fingerprint of a whole trace.
    fn fingerprint(c: TraceConfig) -> (u64, u64) {
        let mut g = TraceGen::new(c);
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut frame = Vec::new();
        while let Some(ts) = g.next_into(&mut frame) {
            for b in ts.to_le_bytes().iter().chain(frame.iter()) {
                h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
            }
        }
        (h, g.bytes())
    }

    #[test]
    fn deterministic_for_a_seed() {
        let a = fingerprint(cfg(20_000, 100, 42));
        assert_eq!(a, fingerprint(cfg(20_000, 100, 42)));
        assert_ne!(a.0, fingerprint(cfg(20_000, 100, 43)).0);
        // The iterator and next_into produce the same trace.
        let from_iter: Vec<_> = TraceGen::new(cfg(500, 10, 5)).collect();
        let mut g = TraceGen::new(cfg(500, 10, 5));
        let mut f = Vec::new();
        for (ts, frame) in &from_iter {
            assert_eq!(g.next_into(&mut f), Some(*ts));
            assert_eq!(&f, frame);
        }
        assert_eq!(g.next_into(&mut f), None);
        assert_eq!(from_iter.len(), 500);
    }

    #[test]
    fn timestamps_are_evenly_spaced() {
        let c = TraceConfig {
            pps: 3,
            start_ts_ns: 1_000,
            ..cfg(7, 4, 1)
        };
        let ts: Vec<u64> = TraceGen::new(c).map(|(t, _)| t).collect();
        assert_eq!(
            ts,
            vec![
                1_000,
                333_334_333,
                666_667_666,
                1_000_001_000,
                1_333_334_333,
                1_666_667_666,
                2_000_001_000
            ]
        );
    }

    type Key = (u16, IpAddr, u16, IpAddr, u16, u8);
    /// Per flow id: (direction, parsed frame, frame length) in trace order.
    type Attributed = HashMap<u64, Vec<(usize, FrameInfo, usize)>>;

    /// Generates a trace, checks every frame's checksums, and attributes frames to truth flows by
    /// key, returning the truth and the frames (direction, info, len) per flow id.
    fn generate_and_attribute(c: TraceConfig) -> (TraceTruth, Attributed) {
        let mut g = TraceGen::new(c);
        let mut frames = Vec::new();
        let mut frame = Vec::new();
        while g.next_into(&mut frame).is_some() {
            let info =
                check_frame(&frame).unwrap_or_else(|e| panic!("packet {}: {e}", frames.len()));
            frames.push((info, frame.len()));
        }
        let truth = g.finish();
        let mut by_key: HashMap<Key, u64> = HashMap::new();
        for f in &truth.flows {
            let k = (
                f.vlan,
                f.initiator.ip(),
                f.initiator.port(),
                f.responder.ip(),
                f.responder.port(),
                f.proto,
            );
            assert!(by_key.insert(k, f.id).is_none(), "duplicate flow key {k:?}");
        }
        let mut per_flow: HashMap<u64, Vec<_>> = HashMap::new();
        for (info, len) in frames {
            let vlan = info.vlans.first().copied().unwrap_or(0);
            let fwd = (vlan, info.src, info.sport, info.dst, info.dport, info.proto);
            let rev = (vlan, info.dst, info.dport, info.src, info.sport, info.proto);
            let (dir, id) = match (by_key.get(&fwd), by_key.get(&rev)) {
                (Some(id), None) => (C2S, *id),
                (None, Some(id)) => (S2C, *id),
                other => panic!("frame matches {other:?} flows: {info:?}"),
            };
            per_flow.entry(id).or_default().push((dir, info, len));
        }
        (truth, per_flow)
    }

    #[test]
    fn truth_matches_the_frames() {
        let (truth, per_flow) = generate_and_attribute(cfg(30_000, 150, 7));
        assert_eq!(truth.packets, 30_000);
        assert_eq!(
            truth.flows.iter().map(FlowTruth::packets).sum::<u64>(),
            truth.packets
        );
        assert_eq!(
            truth.flows.iter().map(FlowTruth::bytes).sum::<u64>(),
            truth.bytes
        );
        assert_eq!(per_flow.len(), truth.flows.len());
        for f in &truth.flows {
            let frames = &per_flow[&f.id];
            let count = |d| frames.iter().filter(|(dir, _, _)| *dir == d).count() as u64;
            let bytes = |d| {
                frames
                    .iter()
                    .filter(|(dir, _, _)| *dir == d)
                    .map(|(_, _, l)| *l as u64)
                    .sum::<u64>()
            };
            assert_eq!(
                (count(C2S), bytes(C2S)),
                (f.initiator_packets, f.initiator_bytes),
                "flow {f:?}"
            );
            assert_eq!(
                (count(S2C), bytes(S2C)),
                (f.responder_packets, f.responder_bytes),
                "flow {f:?}"
            );
            assert_eq!(frames[0].0, C2S, "the initiator speaks first");
            assert!(f.first_ts_ns <= f.last_ts_ns);
            if f.proto != PROTO_TCP {
                assert_eq!(f.end, FlowEnd::Open);
            }
            if let Some(id) = f.icmp_id {
                assert!(frames.iter().all(|(_, i, _)| i.icmp_id == id));
            }
        }
    }

    #[test]
    fn tcp_flows_follow_the_state_machine() {
        let (truth, per_flow) = generate_and_attribute(cfg(30_000, 150, 11));
        let mut checked = 0;
        for f in truth.flows.iter().filter(|f| f.proto == PROTO_TCP) {
            let fr = &per_flow[&f.id];
            let want = [(C2S, TCP_SYN), (S2C, TCP_SYN | TCP_ACK), (C2S, TCP_ACK)];
            for (i, (dir, flags)) in want.iter().enumerate().take(fr.len()) {
                assert_eq!(
                    (fr[i].0, fr[i].1.tcp_flags),
                    (*dir, *flags),
                    "flow {} packet {i}",
                    f.id
                );
            }
            if fr.len() >= 3 {
                assert_eq!(fr[1].1.ack, fr[0].1.seq.wrapping_add(1));
                assert_eq!(fr[2].1.ack, fr[1].1.seq.wrapping_add(1));
                assert_eq!(fr[2].1.seq, fr[0].1.seq.wrapping_add(1));
                checked += 1;
            }
            // Sequence numbers advance by exactly the data (plus SYN/FIN) sent; ACKs acknowledge
            // everything the peer has sent.
            let mut next = [None::<u32>; 2];
            for (dir, info, _) in fr {
                if let Some(n) = next[*dir] {
                    assert_eq!(info.seq, n, "flow {} seq", f.id);
                }
                if info.tcp_flags & TCP_ACK != 0 {
                    assert_eq!(Some(info.ack), next[1 - *dir], "flow {} ack", f.id);
                }
                let syn_fin = u32::from(info.tcp_flags & (TCP_SYN | TCP_FIN) != 0);
                next[*dir] = Some(info.seq.wrapping_add(info.payload_len as u32 + syn_fin));
            }
            let fins = fr
                .iter()
                .filter(|(_, i, _)| i.tcp_flags & TCP_FIN != 0)
                .count();
            let rsts = fr
                .iter()
                .filter(|(_, i, _)| i.tcp_flags & TCP_RST != 0)
                .count();
            match f.end {
                FlowEnd::Fin => assert_eq!((fins, rsts), (2, 0)),
                FlowEnd::Rst => assert_eq!(
                    (rsts, fr.last().unwrap().1.tcp_flags & TCP_RST),
                    (1, TCP_RST)
                ),
                FlowEnd::Open => assert!(fins < 2 && rsts == 0 && !f.complete),
            }
            if f.complete {
                assert_ne!(f.end, FlowEnd::Open);
            }
        }
        assert!(
            checked > 100,
            "only {checked} TCP flows got past the handshake"
        );
    }

    #[test]
    fn default_mix_is_realistic() {
        let (truth, per_flow) = generate_and_attribute(cfg(50_000, 200, 3));
        let flows = truth.flows.len() as f64;
        let share = |pred: &dyn Fn(&FlowTruth) -> bool| {
            truth.flows.iter().filter(|f| pred(f)).count() as f64 / flows
        };
        let v6 = share(&|f| f.initiator.is_ipv6());
        let vlan = share(&|f| f.vlan != 0);
        assert!((0.08..0.16).contains(&v6), "ipv6 share {v6}");
        assert!((0.06..0.14).contains(&vlan), "vlan share {vlan}");
        for kind in FlowKind::ALL {
            assert!(share(&|f| f.kind == kind) > 0.02, "{kind:?} missing");
        }
        for end in [FlowEnd::Fin, FlowEnd::Rst] {
            assert!(
                truth.flows.iter().filter(|f| f.end == end).count() > 10,
                "{end:?} too rare"
            );
        }
        assert!(truth
            .flows
            .iter()
            .any(|f| f.kind == FlowKind::Tcp && !f.complete));
        assert!(
            per_flow
                .values()
                .flatten()
                .any(|(_, i, _)| i.vlans.len() == 2),
            "no double tags"
        );

        let lens: Vec<usize> = per_flow.values().flatten().map(|(_, _, l)| *l).collect();
        let frac = |lo: usize, hi: usize| {
            lens.iter().filter(|l| (lo..=hi).contains(*l)).count() as f64 / lens.len() as f64
        };
        assert!(frac(60, 100) > 0.2, "small frames {}", frac(60, 100));
        assert!(
            frac(1400, 1522) > 0.2,
            "full-size frames {}",
            frac(1400, 1522)
        );
        assert!(
            frac(200, 1300) > 0.05,
            "mid-size frames {}",
            frac(200, 1300)
        );

        // Zipf slots: the heaviest flow carries far more than an average one.
        let max = truth.flows.iter().map(FlowTruth::packets).max().unwrap() as f64;
        assert!(max > 20.0 * truth.packets as f64 / flows, "max flow {max}");

        // DNS responses answer their query on port 53.
        let dns = truth
            .flows
            .iter()
            .find(|f| f.kind == FlowKind::Dns && f.responder_packets == 1)
            .unwrap();
        assert_eq!(dns.responder.port(), 53);
        assert!(per_flow[&dns.id]
            .iter()
            .all(|(_, i, _)| i.proto == PROTO_UDP));
    }

    #[test]
    fn shares_follow_the_config_and_addresses_stay_in_range() {
        let c = TraceConfig {
            ipv6_share: 1.0,
            vlan_share: 0.0,
            ..cfg(3000, 30, 9)
        };
        let t = TraceGen::new(c).finish_after_all();
        assert!(t.flows.iter().all(|f| f.initiator.is_ipv6() && f.vlan == 0));
        for f in &t.flows {
            let (IpAddr::V6(c), IpAddr::V6(s)) = (f.initiator.ip(), f.responder.ip()) else {
                unreachable!()
            };
            assert_eq!(c.segments()[0] & 0xff00, 0xfd00);
            assert_eq!(&s.segments()[..2], &[0x2001, 0x0db8]);
        }
        let t = TraceGen::new(TraceConfig {
            ipv6_share: 0.0,
            vlan_share: 1.0,
            ..cfg(3000, 30, 9)
        })
        .finish_after_all();
        for f in &t.flows {
            let (IpAddr::V4(c), IpAddr::V4(s)) = (f.initiator.ip(), f.responder.ip()) else {
                unreachable!()
            };
            assert_eq!(c.octets()[0], 10);
            assert!(
                matches!(s.octets()[..3], [198, 51, 100] | [203, 0, 113]),
                "{s}"
            );
            assert!(VLAN_IDS.contains(&f.vlan));
        }
    }

    #[test]
    fn drain_keeps_totals_consistent() {
        let mut g = TraceGen::new(cfg(5000, 20, 2));
        let mut frame = Vec::new();
        let mut drained = Vec::new();
        while g.next_into(&mut frame).is_some() {
            if g.packets() % 1000 == 0 {
                drained.extend(g.drain_finished());
            }
        }
        let t = g.finish();
        assert!(drained.iter().all(|f| f.complete));
        let pk: u64 = drained.iter().chain(&t.flows).map(FlowTruth::packets).sum();
        let by: u64 = drained.iter().chain(&t.flows).map(FlowTruth::bytes).sum();
        assert_eq!((pk, by), (5000, t.bytes));
    }

    #[test]
    fn truth_json_shape() {
        let t = TraceGen::new(cfg(200, 5, 1)).finish_after_all();
        let v = t.to_json();
        assert_eq!(v["packets"], 200);
        assert_eq!(v["bytes"], t.bytes);
        let f0 = &v["flows"][0];
        let tf = &t.flows[0];
        assert_eq!(f0["proto"], tf.proto);
        assert_eq!(f0["initiator"]["ip"], tf.initiator.ip().to_string());
        assert_eq!(f0["responder"]["port"], tf.responder.port());
        assert_eq!(f0["initiator_bytes"], tf.initiator_bytes);
        assert_eq!(f0["end"], tf.end.name());
        assert_eq!(v["flows"].as_array().unwrap().len(), t.flows.len());
    }

    impl TraceGen {
        fn finish_after_all(mut self) -> TraceTruth {
            let mut f = Vec::new();
            while self.next_into(&mut f).is_some() {}
            self.finish()
        }
    }
}
