//! Small JSON writing helpers shared by the encoders: they append to a reused buffer and never
//! allocate (no `String` per field).

use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

pub(crate) fn hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const H: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(H[(b >> 4) as usize]);
        out.push(H[(b & 15) as usize]);
    }
}

pub(crate) fn mac(out: &mut Vec<u8>, m: &[u8; 6]) {
    for (i, b) in m.iter().enumerate() {
        if i > 0 {
            out.push(b':');
        }
        hex(out, &[*b]);
    }
}

/// An address in its canonical text form (RFC 5952 for IPv6), without quotes.
pub(crate) fn ip(out: &mut Vec<u8>, version: u8, a: &[u8; 16]) {
    let _ = if version == 4 {
        write!(out, "{}", Ipv4Addr::new(a[0], a[1], a[2], a[3]))
    } else {
        write!(out, "{}", Ipv6Addr::from(*a))
    };
}

/// A tunnel kind as a lowercase name (`gre`, `vxlan`, `gtpu`, `ipinip`, ...), from its `Debug` form
/// so new kinds need no change here.
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
