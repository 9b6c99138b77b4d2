//! The fixed-size record a worker hands to the exporter over its SPSC ring (by value).

/// Which lifecycle point a record reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RecordKind {
    /// A new flow (Netify `flow`).
    #[default]
    Start = 0,
    /// Periodic update of a live flow (Netify `flow_stats`).
    Stats = 1,
    /// The flow left the table (Netify `flow_purge`).
    End = 2,
}

impl RecordKind {
    pub const ALL: [RecordKind; 3] = [RecordKind::Start, RecordKind::Stats, RecordKind::End];
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Start => "flow",
            RecordKind::Stats => "flow_stats",
            RecordKind::End => "flow_purge",
        }
    }
}

/// Why a flow ended: one taxonomy for every output format.
/// `closed` and `expired` are Netify's documented purge reasons; the others are flowprobe extensions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EndReason {
    /// Not an end record.
    #[default]
    None = 0,
    /// TCP FIN seen in both directions, or RST.
    Closed = 1,
    /// Idle timeout.
    Expired = 2,
    /// Active timeout: the current segment of a long flow ended; the flow goes on as the next
    /// `segment` (same `flow_id` and orientation, no new start record).
    Active = 3,
    /// Removed to make room in a full table.
    Evicted = 4,
    /// Flushed at stop (end of capture or signal).
    Shutdown = 5,
}

impl EndReason {
    pub const ENDS: [EndReason; 5] = [
        EndReason::Closed,
        EndReason::Expired,
        EndReason::Active,
        EndReason::Evicted,
        EndReason::Shutdown,
    ];
    pub fn name(self) -> &'static str {
        match self {
            EndReason::None => "none",
            EndReason::Closed => "closed",
            EndReason::Expired => "expired",
            EndReason::Active => "active",
            EndReason::Evicted => "evicted",
            EndReason::Shutdown => "shutdown",
        }
    }
}

/// Counters of one direction of a flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct DirCounters {
    /// Cumulative packets and L2 frame bytes since the flow started.
    pub packets: u64,
    pub bytes: u64,
    /// Cumulative IP-level bytes (IP header + payload as the IP header states it).
    pub ip_bytes: u64,
    /// Packets and frame bytes since the previous report of this flow.
    pub delta_packets: u64,
    pub delta_bytes: u64,
    /// Burst rate in bytes/s over the active part of the report interval (Netify `*_rate`).
    pub rate: u64,
    /// First and last packet of this direction, epoch ms (0 = none seen).
    pub first_ms: u64,
    pub last_ms: u64,
    /// OR of TCP flags with NetObserv's combined bits (SYN+ACK 0x100, FIN+ACK 0x200, RST+ACK 0x400).
    pub tcp_flags: u16,
    /// Source MAC of this direction's first packet.
    pub mac: [u8; 6],
    /// Lowest and highest IPv4 TTL / IPv6 hop limit seen in this direction.
    pub ttl_min: u8,
    pub ttl_max: u8,
    /// DSCP of this direction's first packet.
    pub dscp: u8,
    /// TCP window scale shift announced in this direction's SYN (None when not seen).
    pub tcp_wscale: Option<u8>,
    /// TCP MSS announced in this direction's SYN (0 when not seen).
    pub tcp_mss: u16,
}

/// One flow report. `Copy`, no pointers: it crosses cores through a DPDK ring by value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(64))]
pub struct FlowRecord {
    /// Unique per run: worker index in the top 8 bits, then how many flows the table slot has
    /// held (32 bits), then the slot (24 bits). A slot would need 4G flows to repeat an id.
    pub flow_id: u64,
    pub kind: RecordKind,
    pub reason: EndReason,
    pub worker: u8,
    pub ip_version: u8,
    pub proto: u8,
    pub port: u16,
    pub vlan: u16,
    /// The initiator: sender of the SYN when seen, else of the first packet.
    pub init_ip: [u8; 16],
    pub resp_ip: [u8; 16],
    pub init_port: u16,
    pub resp_port: u16,
    pub first_ms: u64,
    pub last_ms: u64,
    /// `[0]`: initiator → responder, `[1]`: responder → initiator.
    pub dir: [DirCounters; 2],
    pub tcp_resets: u32,
    pub tcp_retrans: u32,
    pub tcp_seq_errors: u32,
    /// Packets the engine looked at before the flow's metadata was final (see README).
    pub detection_packets: u32,
    /// ICMP type/code of the first ICMP packet (0 otherwise).
    pub icmp_type: u8,
    pub icmp_code: u8,
    /// TCP handshake RTT at the observation point: SYN → SYN-ACK and SYN-ACK → ACK, in ns
    /// (0 when not measured).
    pub rtt_syn_ns: u32,
    pub rtt_ack_ns: u32,
    /// DNS: the last query/response matched by id within the flow.
    pub dns: bool,
    pub dns_id: u16,
    /// DNS flags word of the response (of the query when unanswered); RCODE is the low 4 bits.
    pub dns_flags: u16,
    /// Query → response latency in ms (0 when unanswered).
    pub dns_latency_ms: u32,
    /// Outermost tunnel the flow was carried in, its id and outer endpoints.
    pub tunnel: crate::parse::Tunnel,
    pub tunnel_id: u32,
    pub outer_ip_version: u8,
    pub outer_src_ip: [u8; 16],
    pub outer_dst_ip: [u8; 16],
    /// ICMP/ICMPv6 errors that quoted a packet of this flow (in this segment; the errors
    /// themselves are counted in their own ICMP flow), and the type/code of the last one.
    pub icmp_errors: u32,
    pub icmp_error_type: u8,
    pub icmp_error_code: u8,
    /// Active-timeout segment of a long flow: 0 for the first, then 1, 2, ... (orientation kept).
    pub segment: u16,
    /// TSC when the worker handed the record over (exporter lag); 0 outside the DPDK runtime.
    pub created_tsc: u64,
}

impl FlowRecord {
    pub fn total_packets(&self) -> u64 {
        self.dir[0].packets + self.dir[1].packets
    }
    pub fn total_bytes(&self) -> u64 {
        self.dir[0].bytes + self.dir[1].bytes
    }
}

/// Where a shard puts the records it produces (the worker's ring batch, or a Vec in tests).
pub trait RecordSink {
    fn emit(&mut self, rec: &FlowRecord);

    /// Emit a record that `fill` writes in place: a sink with its own storage (the worker's
    /// batch) overrides this so the 384-byte record is built where it goes, not on the stack and
    /// copied. `fill` overwrites every field.
    #[inline]
    fn emit_with(&mut self, fill: impl FnOnce(&mut FlowRecord)) {
        let mut r = FlowRecord::default();
        fill(&mut r);
        self.emit(&r);
    }
}

impl RecordSink for Vec<FlowRecord> {
    fn emit(&mut self, rec: &FlowRecord) {
        self.push(*rec);
    }
}

// Records cross the ring by value: keep them to whole cache lines, at most six.
const _: () = assert!(std::mem::size_of::<FlowRecord>() <= 384);
const _: () = assert!(std::mem::size_of::<FlowRecord>() % 64 == 0);
