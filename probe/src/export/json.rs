//! Small JSON writing helpers shared by the encoders: they append to a reused buffer and never
//! allocate, and format numbers and addresses without `fmt` machinery (a `write!` per field cost
//! more than the rest of a record's encoding).

use std::io::Write;

/// Append a literal.
#[inline]
pub(crate) fn lit(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(s);
}

/// A short text built on the stack and appended with one fixed-size copy plus a truncate: a
/// variable-length `extend_from_slice` is a `memcpy` call, and `push` checks capacity per byte.
pub(crate) struct Text<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Text<N> {
    #[inline]
    fn new() -> Self {
        Text {
            buf: [0; N],
            len: 0,
        }
    }

    #[inline]
    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// Write all four bytes (fixed-size store), keep the first `n`.
    #[inline]
    fn put4(&mut self, b: [u8; 4], n: usize) {
        self.buf[self.len..self.len + 4].copy_from_slice(&b);
        self.len += n;
    }

    #[inline]
    pub(crate) fn flush(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&self.buf);
        out.truncate(start + self.len);
    }
}

/// An unsigned integer in decimal.
#[inline]
pub(crate) fn num(out: &mut Vec<u8>, v: impl Into<u64>) {
    let v = v.into();
    // Zeros and other single digits are common (counters of short flows, TCP error counts).
    if v < 10 {
        out.push(b'0' + v as u8);
    } else {
        num_u64(out, v)
    }
}

/// The eight decimal digits of `v < 10^8` (leading zeros included) as ASCII in a `u64`, the
/// first digit in the lowest byte: a few multiplies in registers (SWAR), no table and no stores
/// that a wider load would have to wait for.
#[inline]
fn digits8(v: u32) -> u64 {
    let v = v as u64;
    // 32-bit lanes: the upper and lower four digits.
    let x = (v / 10_000) | ((v % 10_000) << 32);
    // 16-bit lanes: two digits each (x * 10486 >> 20 is x / 100 below 10^4).
    let h = ((x * 10_486) >> 20) & 0x0000_007f_0000_007f;
    let x = h | ((x - h * 100) << 16);
    // Bytes: one digit each (x * 103 >> 10 is x / 10 below 100).
    let t = ((x * 103) >> 10) & 0x000f_000f_000f_000f;
    let x = t | ((x - t * 10) << 8);
    x | 0x3030_3030_3030_3030
}

/// Append `v < 10^8` without leading zeros (at least one digit).
#[inline]
fn short(out: &mut Vec<u8>, v: u32) {
    let d = digits8(v);
    // Leading zero digits are the low bytes equal to b'0'.
    let zeros = (((d ^ 0x3030_3030_3030_3030).trailing_zeros() / 8) as usize).min(7);
    let start = out.len();
    out.extend_from_slice(&(d >> (8 * zeros)).to_le_bytes());
    out.truncate(start + 8 - zeros);
}

fn num_u64(out: &mut Vec<u8>, v: u64) {
    const E8: u64 = 100_000_000;
    if v < E8 {
        short(out, v as u32);
    } else if v < E8 * E8 {
        short(out, (v / E8) as u32);
        out.extend_from_slice(&digits8((v % E8) as u32).to_le_bytes());
    } else {
        short(out, (v / (E8 * E8)) as u32);
        let rest = v % (E8 * E8);
        out.extend_from_slice(&digits8((rest / E8) as u32).to_le_bytes());
        out.extend_from_slice(&digits8((rest % E8) as u32).to_le_bytes());
    }
}

#[inline]
pub(crate) fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// `HEX2[2 * b..2 * b + 2]`: byte `b` in lowercase hex (one lookup per byte, not per nibble).
const HEX2: [u8; 512] = {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut t = [0u8; 512];
    let mut i = 0;
    while i < 256 {
        t[2 * i] = H[i >> 4];
        t[2 * i + 1] = H[i & 15];
        i += 1;
    }
    t
};

/// Lowercase hex of `bytes` into `dst` (twice as long).
pub(crate) fn hex_into(dst: &mut [u8], bytes: &[u8]) {
    for (d, &b) in dst.chunks_exact_mut(2).zip(bytes) {
        d.copy_from_slice(&HEX2[2 * b as usize..2 * b as usize + 2]);
    }
}

pub(crate) fn mac(out: &mut Vec<u8>, m: &[u8; 6]) {
    let mut s = [b':'; 17];
    for (d, &b) in s.chunks_mut(3).zip(m) {
        d[..2].copy_from_slice(&HEX2[2 * b as usize..2 * b as usize + 2]);
    }
    out.extend_from_slice(&s);
}

pub(crate) fn mac_text(m: &[u8; 6]) -> [u8; 17] {
    let (head, last) = mac_words(m);
    let mut s = [0u8; 17];
    s[..16].copy_from_slice(&head.to_le_bytes());
    s[15..].copy_from_slice(&last);
    s
}

/// `xx:xx:xx:xx:xx:` (15 bytes) in a register and the last byte's two digits: built without
/// stores that a wider load would wait for.
#[inline]
fn mac_words(m: &[u8; 6]) -> (u128, [u8; 2]) {
    const COLONS: u128 = 0x3a_0000_3a00_003a_0000_3a00_003a_0000;
    let pair = |b: u8| u16::from_le_bytes([HEX2[2 * b as usize], HEX2[2 * b as usize + 1]]);
    let mut head = COLONS;
    for (i, &b) in m[..5].iter().enumerate() {
        head |= (pair(b) as u128) << (24 * i);
    }
    (head, pair(m[5]).to_le_bytes())
}

fn ipv4(out: &mut Vec<u8>, a: &[u8]) {
    let (w, n) = ipv4_word(a);
    let start = out.len();
    out.extend_from_slice(&w.to_le_bytes());
    out.truncate(start + n);
}

/// Each byte's decimal text and a dot, and that length: a dotted quad is four table copies.
const V4: [([u8; 4], u8); 256] = {
    let mut t = [([0u8; 4], 0u8); 256];
    let mut i = 0;
    while i < 256 {
        let (mut s, mut n) = ([0u8; 4], 0);
        if i >= 100 {
            s[n] = b'0' + (i / 100) as u8;
            n += 1;
        }
        if i >= 10 {
            s[n] = b'0' + (i / 10 % 10) as u8;
            n += 1;
        }
        s[n] = b'0' + (i % 10) as u8;
        s[n + 1] = b'.';
        t[i] = (s, n as u8 + 2);
        i += 1;
    }
    t
};

/// A dotted quad's text in a register (first character in the lowest byte) and its length.
#[inline]
fn ipv4_word(a: &[u8]) -> (u128, usize) {
    let (mut w, mut n) = (0u128, 0);
    for &b in &a[..4] {
        let (s, len) = V4[b as usize];
        w |= (u32::from_le_bytes(s) as u128) << (8 * n);
        n += len as usize;
    }
    // The last byte's dot is past the length (16 characters at most with it).
    (w, n - 1)
}

/// Needs 16 bytes of room.
#[inline]
fn ipv4_into<const N: usize>(t: &mut Text<N>, a: &[u8]) {
    let (w, n) = ipv4_word(a);
    t.buf[t.len..t.len + 16].copy_from_slice(&w.to_le_bytes());
    t.len += n;
}

/// A 16-bit group in lowercase hex without leading zeros (needs 4 bytes of room).
#[inline]
fn group<const N: usize>(t: &mut Text<N>, g: u16) {
    const H: &[u8; 16] = b"0123456789abcdef";
    // Hex digits: 1 + (index of the highest set bit) / 4, at least one.
    let n = (19 - (g | 1).leading_zeros() as usize) / 4;
    // The significant digits moved to the top nibbles; all four are written, `n` kept.
    let x = (g as u32) << (16 - 4 * n);
    let h = |k: u32| H[((x >> (12 - 4 * k)) & 15) as usize];
    t.put4([h(0), h(1), h(2), h(3)], n);
}

/// Groups separated by `:`.
fn groups<const N: usize>(t: &mut Text<N>, g: &[u16]) {
    for (i, &x) in g.iter().enumerate() {
        if i > 0 {
            t.push(b':');
        }
        group(t, x);
    }
}

/// RFC 5952 text, as `std`'s `Ipv6Addr` `Display` writes it (IPv4-mapped as `::ffff:a.b.c.d`).
fn ipv6(out: &mut Vec<u8>, a: &[u8; 16]) {
    ipv6_text(a).flush(out);
}

fn ipv6_text(a: &[u8; 16]) -> Text<48> {
    // Longest text: 8 groups of 4 and 7 colons (39), or "::ffff:" and a dotted quad (22); room
    // for the fixed-size stores past the end.
    let mut t = Text::<48>::new();
    if a[..10] == [0; 10] && a[10..12] == [0xff, 0xff] {
        t.buf[..7].copy_from_slice(b"::ffff:");
        t.len = 7;
        ipv4_into(&mut t, &a[12..]);
        return t;
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
        groups(&mut t, &g[..best]);
        t.push(b':');
        t.push(b':');
        groups(&mut t, &g[best + best_len..]);
    } else {
        groups(&mut t, &g);
    }
    t
}

/// An address in its canonical text form (RFC 5952 for IPv6), without quotes.
pub(crate) fn ip(out: &mut Vec<u8>, version: u8, a: &[u8; 16]) {
    if version == 4 {
        ipv4(out, a)
    } else {
        ipv6(out, a)
    }
}

/// `ip`'s text, to append (`Text::flush`) more than once.
pub(crate) fn ip_text(version: u8, a: &[u8; 16]) -> Text<48> {
    if version == 4 {
        let mut t = Text::new();
        ipv4_into(&mut t, a);
        t
    } else {
        ipv6_text(a)
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
            let mut again = Vec::new();
            ip_text(6, &a).flush(&mut again);
            assert_eq!(again, out);
            out.clear();
            ip(&mut out, 4, &a);
            again.clear();
            ip_text(4, &a).flush(&mut again);
            assert_eq!(again, out);
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
    fn num_matches_to_string() {
        let mut vals = vec![0, u64::MAX, u64::MAX - 1];
        for p in 0..20 {
            let t = 10u64.pow(p);
            vals.extend([t - 1, t, t + 1]);
        }
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Every magnitude, not only 19-20 digit values.
            vals.push(x >> (x % 64));
        }
        let mut out = b"x".to_vec();
        for v in vals {
            out.truncate(1);
            num(&mut out, v);
            assert_eq!(&out[1..], v.to_string().as_bytes());
        }
        out.clear();
        num(&mut out, u8::MAX);
        num(&mut out, u16::MAX);
        num(&mut out, u32::MAX);
        assert_eq!(out, b"255655354294967295");
    }

    #[test]
    fn hex_matches_format() {
        let bytes: Vec<u8> = (0..=255).collect();
        let mut out = vec![0; 512];
        hex_into(&mut out, &bytes);
        let want: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(out, want.as_bytes());
    }

    #[test]
    fn mac_text_matches_format() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let m: [u8; 6] = x.to_le_bytes()[..6].try_into().unwrap();
            let want = m.map(|b| format!("{b:02x}")).join(":");
            assert_eq!(mac_text(&m), want.as_bytes());
            let mut out = Vec::new();
            mac(&mut out, &m);
            assert_eq!(out, want.as_bytes());
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
