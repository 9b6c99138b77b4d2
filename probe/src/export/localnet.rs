//! Which addresses are "local": decides Netify's local/other sides and `internal`.

use std::net::IpAddr;

/// A list of CIDR prefixes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalNets {
    nets: Vec<Prefix>,
}

/// RFC 1918, RFC 4193 (unique local) and link-local, IPv4 and IPv6.
pub const DEFAULT_LOCAL_NETS: [&str; 6] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
];

/// Parse `ADDR/LEN` (a bare address means a host prefix).
pub fn parse_cidr(s: &str) -> Result<(IpAddr, u8), String> {
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = a
        .trim()
        .parse()
        .map_err(|_| format!("invalid CIDR '{s}': bad address"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match l {
        Some(l) => l
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|&n| n <= max)
            .ok_or_else(|| format!("invalid CIDR '{s}': prefix length must be 0..={max}"))?,
        None => max,
    };
    Ok((addr, len))
}

pub(crate) fn bytes(addr: IpAddr) -> (u8, [u8; 16]) {
    match addr {
        IpAddr::V4(a) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a.octets());
            (4, b)
        }
        IpAddr::V6(a) => (6, a.octets()),
    }
}

/// A prefix as (version, network bits, mask) over the 16 address bytes read as one big-endian
/// `u128`: a match is one AND and one compare (byte-wise compares cost more than the rest of a
/// record's encoding).
pub(crate) type Prefix = (u8, u128, u128);

pub(crate) fn prefix(version: u8, net: &[u8; 16], len: u8) -> Prefix {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len as u32)
    };
    (version, u128::from_be_bytes(*net) & mask, mask)
}

#[inline]
pub(crate) fn prefix_match(p: &Prefix, version: u8, a: u128) -> bool {
    p.0 == version && a & p.2 == p.1
}

impl LocalNets {
    pub fn parse<S: AsRef<str>>(cidrs: &[S]) -> Result<LocalNets, String> {
        let mut nets = Vec::new();
        for c in cidrs {
            let (addr, len) = parse_cidr(c.as_ref())?;
            let (v, b) = bytes(addr);
            nets.push(prefix(v, &b, len));
        }
        Ok(LocalNets { nets })
    }

    pub fn default_nets() -> LocalNets {
        LocalNets::parse(&DEFAULT_LOCAL_NETS).expect("built-in prefixes are valid")
    }

    pub fn contains(&self, version: u8, ip: &[u8; 16]) -> bool {
        let a = u128::from_be_bytes(*ip);
        self.nets.iter().any(|p| prefix_match(p, version, a))
    }
}

/// Netify's `other_type` of an address seen from the local side.
pub fn other_type(nets: &LocalNets, version: u8, ip: &[u8; 16]) -> &'static str {
    other_type_of(version, ip, nets.contains(version, ip))
}

/// `other_type` when whether `ip` is local is already known.
pub(crate) fn other_type_of(version: u8, ip: &[u8; 16], local: bool) -> &'static str {
    let multicast = if version == 4 {
        ip[0] & 0xf0 == 0xe0
    } else {
        ip[0] == 0xff
    };
    let broadcast = version == 4 && ip[..4] == [255, 255, 255, 255];
    if broadcast {
        "broadcast"
    } else if multicast {
        "multicast"
    } else if local {
        "local"
    } else {
        "remote"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut b = [0; 16];
        b[..4].copy_from_slice(&a);
        b
    }

    #[test]
    fn defaults_cover_private_ranges() {
        let n = LocalNets::default_nets();
        assert!(n.contains(4, &v4([10, 1, 2, 3])));
        assert!(n.contains(4, &v4([172, 31, 255, 255])));
        assert!(!n.contains(4, &v4([172, 32, 0, 0])));
        assert!(n.contains(4, &v4([192, 168, 0, 1])));
        assert!(!n.contains(4, &v4([8, 8, 8, 8])));
        let ula: std::net::Ipv6Addr = "fd00::1".parse().unwrap();
        assert!(n.contains(6, &ula.octets()));
        let global: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert!(!n.contains(6, &global.octets()));
        // An IPv4 prefix never matches an IPv6 address with the same leading bytes.
        assert!(!n.contains(6, &v4([10, 0, 0, 1])));
    }

    #[test]
    fn cidr_errors_are_clear() {
        assert!(parse_cidr("10.0.0.0/33").unwrap_err().contains("0..=32"));
        assert!(parse_cidr("nonsense/8")
            .unwrap_err()
            .contains("bad address"));
        assert_eq!(parse_cidr("10.1.2.3").unwrap().1, 32);
        let n = LocalNets::parse(&["10.1.2.0/23"]).unwrap();
        assert!(n.contains(4, &v4([10, 1, 3, 255])));
        assert!(!n.contains(4, &v4([10, 1, 4, 0])));
    }

    #[test]
    fn other_types() {
        let n = LocalNets::default_nets();
        assert_eq!(other_type(&n, 4, &v4([224, 0, 0, 251])), "multicast");
        assert_eq!(other_type(&n, 4, &v4([255, 255, 255, 255])), "broadcast");
        assert_eq!(other_type(&n, 4, &v4([10, 0, 0, 1])), "local");
        assert_eq!(other_type(&n, 4, &v4([1, 1, 1, 1])), "remote");
    }
}
