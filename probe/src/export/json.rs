//! Small JSON writing helpers shared by the encoders: they append to a reused buffer and never
//! allocate, and format numbers and addresses without `fmt` machinery (a `write!` per field cost
//! more than the rest of a record's encoding).

use std::io::Write;

/// Append a literal.
#[inline]
pub(crate) fn lit(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(s);
}

/// An unsigned integer in decimal.
#[inline]
pub(crate) fn num(out: &mut Vec<u8>, v: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

#[inline]
pub(crate) fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

pub(crate) fn hex(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    out.resize(start + 2 * bytes.len(), 0);
    hex_into(&mut out[start..], bytes);
}

/// Lowercase hex of `bytes` into `dst` (twice as long).
pub(crate) fn hex_into(dst: &mut [u8], bytes: &[u8]) {
    const H: &[u8; 16] = b"0123456789abcdef";
    for (d, b) in dst.chunks_exact_mut(2).zip(bytes) {
        d[0] = H[(b >> 4) as usize];
        d[1] = H[(b & 15) as usize];
    }
}

pub(crate) fn mac(out: &mut Vec<u8>, m: &[u8; 6]) {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = [b':'; 17];
    for (i, b) in m.iter().enumerate() {
        s[i * 3] = H[(b >> 4) as usize];
        s[i * 3 + 1] = H[(b & 15) as usize];
    }
    out.extend_from_slice(&s);
}

fn ipv4(out: &mut Vec<u8>, a: &[u8]) {
    for (i, &b) in a[..4].iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        if b >= 100 {
            out.push(b'0' + b / 100);
        }
        if b >= 10 {
            out.push(b'0' + b / 10 % 10);
        }
        out.push(b'0' + b % 10);
    }
}

/// A 16-bit group in lowercase hex without leading zeros.
fn group(out: &mut Vec<u8>, g: u16) {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut started = false;
    for shift in [12, 8, 4, 0] {
        let d = (g >> shift) & 15;
        if d != 0 || started || shift == 0 {
            out.push(H[d as usize]);
            started = true;
        }
    }
}

/// RFC 5952 text, as `std`'s `Ipv6Addr` `Display` writes it (IPv4-mapped as `::ffff:a.b.c.d`).
fn ipv6(out: &mut Vec<u8>, a: &[u8; 16]) {
    if a[..10] == [0; 10] && a[10..12] == [0xff, 0xff] {
        out.extend_from_slice(b"::ffff:");
        return ipv4(out, &a[12..]);
    }
    let g: [u16; 8] = std::array::from_fn(|i| u16::from_be_bytes([a[2 * i], a[2 * i + 1]]));
    // The longest run of zero groups (the first if tied), compressed when at least two long.
    let (mut best, mut best_len, mut cur, mut cur_len) = (0, 0, 0, 0);
    for (i, &x) in g.iter().enumerate() {
        if x == 0 {
            if cur_len == 0 {
                cur = i;
            }
            cur_len += 1;
            if cur_len > best_len {
                (best, best_len) = (cur, cur_len);
            }
        } else {
            cur_len = 0;
        }
    }
    if best_len > 1 {
        for (i, &x) in g[..best].iter().enumerate() {
            if i > 0 {
                out.push(b':');
            }
            group(out, x);
        }
        out.extend_from_slice(b"::");
        for (i, &x) in g[best + best_len..].iter().enumerate() {
            if i > 0 {
                out.push(b':');
            }
            group(out, x);
        }
    } else {
        for (i, &x) in g.iter().enumerate() {
            if i > 0 {
                out.push(b':');
            }
            group(out, x);
        }
    }
}

/// An address in its canonical text form (RFC 5952 for IPv6), without quotes.
pub(crate) fn ip(out: &mut Vec<u8>, version: u8, a: &[u8; 16]) {
    if version == 4 {
        ipv4(out, a)
    } else {
        ipv6(out, a)
    }
}

/// A tunnel kind as a lowercase name (`gre`, `vxlan`, `gtpu`, `ipinip`, ...), from its `Debug` form
/// so new kinds need no change here (tunnelled flows only: not worth a table).
pub(crate) fn tunnel_name(out: &mut Vec<u8>, t: crate::parse::Tunnel) {
    let start = out.len();
    let _ = write!(out, "{t:?}");
    out[start..].make_ascii_lowercase();
}

/// A string value without characters that need escaping (names we control or validated).
pub(crate) fn str_lit(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0..=0x1f => {
                let _ = write!(out, "\\u{b:04x}");
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// Addresses biased towards zero groups (the compression rules) and IPv4-mapped forms.
    #[test]
    fn ip_text_matches_std() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut out = Vec::new();
        for _ in 0..200_000 {
            let r = rnd();
            let mut a = [0u8; 16];
            for i in 0..8 {
                let g: u16 = match (r >> (i * 2)) & 3 {
                    0 | 1 => 0,
                    2 => (rnd() & 0xff) as u16,
                    _ => rnd() as u16,
                };
                a[2 * i..2 * i + 2].copy_from_slice(&g.to_be_bytes());
            }
            if r >> 60 == 0 {
                a[..10].fill(0);
                a[10..12].fill(0xff);
            }
            out.clear();
            ip(&mut out, 6, &a);
            assert_eq!(
                std::str::from_utf8(&out).unwrap(),
                Ipv6Addr::from(a).to_string()
            );
            out.clear();
            ip(&mut out, 4, &a);
            assert_eq!(
                std::str::from_utf8(&out).unwrap(),
                Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string()
            );
        }
        for s in [
            "::",
            "::1",
            "1::",
            "1:0:0:1::1",
            "1::1:0:0:1",
            "1:0:1:0:1:0:1:0",
            "fe80::1",
        ] {
            out.clear();
            ip(&mut out, 6, &s.parse::<Ipv6Addr>().unwrap().octets());
            assert_eq!(std::str::from_utf8(&out).unwrap(), s);
        }
    }

    #[test]
    fn numbers_and_macs() {
        let mut out = Vec::new();
        num(&mut out, 0u64);
        lit(&mut out, b",");
        num(&mut out, u64::MAX);
        lit(&mut out, b",");
        mac(&mut out, &[0, 0x1b, 0xff, 0xa0, 2, 0x10]);
        boolean(&mut out, false);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "0,18446744073709551615,00:1b:ff:a0:02:10false"
        );
    }
}
