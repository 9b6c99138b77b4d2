//! Community ID v1 flow hash (<https://github.com/corelight/community-id-spec>): the same string
//! for a flow across tools (Zeek, Suricata, ...), so records can be joined by it.
//!
//! `"1:" + base64(SHA1(seed . saddr . daddr . proto . 0 . sport . dport))`, all in network byte
//! order, endpoints ordered so the smaller (address, port) comes first. ICMP/ICMPv6 use the
//! message type as the source port and the type of the matching reply (or, for one-way messages,
//! the code) as the destination port; one-way messages are not reordered. Protocols without ports
//! hash without the port fields. Computed at export time (allocates a `String`), not per packet.

use super::record::FlowRecord;

/// Community ID v1 of a record's flow (initiator as source).
pub fn community_id_v1(rec: &FlowRecord, seed: u16) -> String {
    let alen = if rec.ip_version == 4 { 4 } else { 16 };
    let (mut sa, mut da) = (&rec.init_ip[..alen], &rec.resp_ip[..alen]);
    let (mut sp, mut dp, one_way, ports) = match rec.proto {
        6 | 17 | 132 => (rec.init_port, rec.resp_port, false, true),
        1 | 58 => {
            let (t, c, one_way) = icmp_ports(rec.proto == 58, rec.icmp_type, rec.icmp_code);
            (t, c, one_way, true)
        }
        _ => (0, 0, false, false),
    };
    let ordered = one_way || sa < da || (sa == da && sp < dp);
    if !ordered {
        std::mem::swap(&mut sa, &mut da);
        std::mem::swap(&mut sp, &mut dp);
    }
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(sa);
    h.update(da);
    h.update([rec.proto, 0]);
    if ports {
        h.update(sp.to_be_bytes());
        h.update(dp.to_be_bytes());
    }
    let mut s = String::from("1:");
    base64(h.finalize().as_ref(), &mut s);
    s
}

/// ICMP type/code → (sport, dport, one_way), the spec's mapping (taken from Zeek).
fn icmp_ports(v6: bool, t: u8, code: u8) -> (u16, u16, bool) {
    let reply = if v6 {
        match t {
            128 => Some(129), // echo request / reply
            129 => Some(128),
            130 => Some(131), // MLD query / report
            131 => Some(130),
            133 => Some(134), // router solicitation / advertisement
            134 => Some(133),
            135 => Some(136), // neighbor solicitation / advertisement
            136 => Some(135),
            139 => Some(140), // node information query / response
            140 => Some(139),
            144 => Some(145), // home agent address discovery request / reply
            145 => Some(144),
            _ => None,
        }
    } else {
        match t {
            8 => Some(0), // echo / echo reply
            0 => Some(8),
            13 => Some(14), // timestamp
            14 => Some(13),
            15 => Some(16), // information
            16 => Some(15),
            10 => Some(9), // router solicitation / advertisement
            9 => Some(10),
            17 => Some(18), // address mask
            18 => Some(17),
            _ => None,
        }
    };
    match reply {
        Some(r) => (t as u16, r, false),
        None => (t as u16, code as u16, true),
    }
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(data: &[u8], out: &mut String) {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(v: u8, proto: u8, s: &[u8], sp: u16, d: &[u8], dp: u16) -> FlowRecord {
        let mut r = FlowRecord {
            ip_version: v,
            proto,
            init_port: sp,
            resp_port: dp,
            ..Default::default()
        };
        r.init_ip[..s.len()].copy_from_slice(s);
        r.resp_ip[..d.len()].copy_from_slice(d);
        r
    }

    #[test]
    fn base64_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut s = String::new();
            base64(i.as_bytes(), &mut s);
            assert_eq!(s, o);
        }
    }

    #[test]
    fn spec_tcp_example_both_directions() {
        // The spec's README example (seed 0).
        let a = rec(4, 6, &[128, 232, 110, 120], 34855, &[66, 35, 250, 204], 80);
        assert_eq!(community_id_v1(&a, 0), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
        let b = rec(4, 6, &[66, 35, 250, 204], 80, &[128, 232, 110, 120], 34855);
        assert_eq!(community_id_v1(&b, 0), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
        // Tenzir's documented example: tcp 1.2.3.4:4584 -> 43.3.132.3:3483.
        let c = rec(4, 6, &[1, 2, 3, 4], 4584, &[43, 3, 132, 3], 3483);
        assert_eq!(community_id_v1(&c, 0), "1:koNcqhFRD5kb254ZrLsdv630jCM=");
        // The seed changes the hash.
        assert_ne!(community_id_v1(&a, 1), community_id_v1(&a, 0));
    }

    #[test]
    fn icmp_mapping_and_one_way() {
        assert_eq!(icmp_ports(false, 8, 0), (8, 0, false));
        assert_eq!(icmp_ports(false, 0, 0), (0, 8, false));
        assert_eq!(icmp_ports(false, 3, 1), (3, 1, true));
        assert_eq!(icmp_ports(true, 128, 0), (128, 129, false));
        assert_eq!(icmp_ports(true, 1, 4), (1, 4, true));
        // Echo request from A and echo reply from B give one id.
        let mut req = rec(4, 1, &[10, 0, 0, 2], 0, &[10, 0, 0, 1], 0);
        req.icmp_type = 8;
        let mut rep = rec(4, 1, &[10, 0, 0, 1], 0, &[10, 0, 0, 2], 0);
        rep.icmp_type = 0;
        assert_eq!(community_id_v1(&req, 0), community_id_v1(&rep, 0));
        // One-way messages keep their direction.
        let mut u1 = rec(4, 1, &[10, 0, 0, 2], 0, &[10, 0, 0, 1], 0);
        u1.icmp_type = 3;
        let mut u2 = rec(4, 1, &[10, 0, 0, 1], 0, &[10, 0, 0, 2], 0);
        u2.icmp_type = 3;
        assert_ne!(community_id_v1(&u1, 0), community_id_v1(&u2, 0));
        assert_eq!(community_id_v1(&u1, 0).len(), 30);
    }
}
