//! Fixtures shared by the benches and the callgrind drivers in `examples/`, so an instruction
//! count and a criterion figure describe the same work.

use flowprobe::export::{LocalNets, NetObservEncoder, NetifyEncoder, SubnetLabels};
use flowprobe::flow::{DirCounters, FlowRecord, RecordKind};

/// The encoders as the probe sets them up for one interface (`pcap0`), NetObserv with one
/// subnet label.
pub fn encoders() -> (NetifyEncoder, NetObservEncoder) {
    (
        NetifyEncoder::new(LocalNets::default_nets(), vec!["pcap0".into()]),
        NetObservEncoder::new(
            LocalNets::default_nets(),
            SubnetLabels::parse(&["10.0.0.0/8=corp"]).expect("valid label"),
            vec!["pcap0".into()],
        ),
    )
}

/// A TCP record of `kind` with traffic both ways: 10.0.0.1:40000 → 198.51.100.1:443, or with
/// `v6` fd00:1:2::1 → 2001:db8:85a3::8a2e:370:7334.
pub fn sample_record(kind: RecordKind, v6: bool) -> FlowRecord {
    let mut r = FlowRecord {
        kind,
        ip_version: if v6 { 6 } else { 4 },
        proto: 6,
        init_port: 40000,
        resp_port: 443,
        ..Default::default()
    };
    if v6 {
        r.init_ip = std::net::Ipv6Addr::new(0xfd00, 1, 2, 0, 0, 0, 0, 1).octets();
        r.resp_ip =
            std::net::Ipv6Addr::new(0x2001, 0xdb8, 0x85a3, 0, 0, 0x8a2e, 0x370, 0x7334).octets();
    } else {
        r.init_ip[..4].copy_from_slice(&[10, 0, 0, 1]);
        r.resp_ip[..4].copy_from_slice(&[198, 51, 100, 1]);
    }
    let d = DirCounters {
        packets: 10,
        bytes: 5000,
        delta_packets: 4,
        delta_bytes: 2000,
        ..Default::default()
    };
    r.dir = [d, d];
    r
}
