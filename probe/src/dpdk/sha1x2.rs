//! SHA-1 compression of two independent blocks at once (Netify's flow digest, one per record).
//!
//! One block's 80 rounds are one dependent chain of SHA-NI instructions: ~45 ns of latency on
//! this machine's Zen 4 for ~90 instructions. Two chains interleaved fill each other's gaps:
//! ~27 ns a block, where back-to-back calls of the `sha1` crate's SHA-NI compression stay at
//! ~45 (the encoder's code between them keeps the core from overlapping them). Kept with the
//! DPDK layer's `unsafe` (SIMD intrinsics on raw loads); built with or without DPDK. CPUs
//! without the SHA extensions (and valgrind, which hides them) use the `sha1` crate.

/// SHA-1's initial state.
pub const IV: [u32; 5] = [
    0x6745_2301,
    0xefcd_ab89,
    0x98ba_dcfe,
    0x1032_5476,
    0xc3d2_e1f0,
];

/// Compresses `blocks[i]` into `states[i]`: with SHA-NI both interleaved, else one after the
/// other by the `sha1` crate. Same result either way.
pub fn compress2(states: &mut [[u32; 5]; 2], blocks: [&[u8; 64]; 2]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("sha")
        && std::is_x86_feature_detected!("ssse3")
        && std::is_x86_feature_detected!("sse4.1")
    {
        // SAFETY: the CPU has every feature `ni2` is compiled for (checked just above).
        unsafe { ni2(states, blocks) };
        return;
    }
    portable2(states, blocks);
}

/// The `sha1` crate's compression, one block after the other.
fn portable2(states: &mut [[u32; 5]; 2], blocks: [&[u8; 64]; 2]) {
    for (s, b) in states.iter_mut().zip(blocks) {
        let b = sha1::digest::generic_array::GenericArray::from_slice(b);
        sha1::compress(s, std::slice::from_ref(b));
    }
}

/// Intel's SHA-NI block function (as in the `sha1` crate's x86 backend), each step done for
/// both blocks before the next.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn ni2(states: &mut [[u32; 5]; 2], blocks: [&[u8; 64]; 2]) {
    use std::arch::x86_64::*;
    const N: usize = 2;
    // Big-endian words: reverse each 16-byte load.
    let mask = _mm_set_epi64x(0x0001_0203_0405_0607, 0x0809_0A0B_0C0D_0E0F);
    let mut abcd = [_mm_setzero_si128(); N];
    let mut e = [_mm_setzero_si128(); N];
    let mut w = [[_mm_setzero_si128(); 5]; N];
    let (mut h0, mut h1) = ([_mm_setzero_si128(); N], [_mm_setzero_si128(); N]);
    for l in 0..N {
        let s = &states[l];
        abcd[l] = _mm_set_epi32(s[0] as i32, s[1] as i32, s[2] as i32, s[3] as i32);
        e[l] = _mm_set_epi32(s[4] as i32, 0, 0, 0);
        let p = blocks[l].as_ptr() as *const __m128i;
        for (k, w) in w[l][..4].iter_mut().enumerate() {
            // SAFETY: `blocks[l]` is 64 bytes: 16-byte loads at offsets 0, 16, 32, 48 are in
            // bounds, and `loadu` has no alignment requirement.
            *w = _mm_shuffle_epi8(unsafe { _mm_loadu_si128(p.add(k)) }, mask);
        }
        h0[l] = abcd[l];
        h1[l] = _mm_add_epi32(e[l], w[l][0]);
    }
    // Four rounds with the next message words folded into E.
    macro_rules! rounds4 {
        ($a:expr, $b:expr, $wk:expr, $f:literal) => {
            _mm_sha1rnds4_epu32($a, _mm_sha1nexte_epu32($b, $wk), $f)
        };
    }
    // Rounds 0..16: the block's own words.
    for l in 0..N {
        h1[l] = _mm_sha1rnds4_epu32(h0[l], h1[l], 0);
    }
    for l in 0..N {
        h0[l] = rounds4!(h1[l], h0[l], w[l][1], 0);
    }
    for l in 0..N {
        h1[l] = rounds4!(h0[l], h1[l], w[l][2], 0);
    }
    for l in 0..N {
        h0[l] = rounds4!(h1[l], h0[l], w[l][3], 0);
    }
    // Rounds 16..80: group g schedules word (g + 4) % 5 from the four before it; the round
    // function changes every 20 rounds.
    macro_rules! scheduled {
        ($g:literal, $f:literal) => {
            for l in 0..N {
                let (a, b, c, d, o) = (
                    $g % 5,
                    ($g + 1) % 5,
                    ($g + 2) % 5,
                    ($g + 3) % 5,
                    ($g + 4) % 5,
                );
                let x = _mm_xor_si128(_mm_sha1msg1_epu32(w[l][a], w[l][b]), w[l][c]);
                w[l][o] = _mm_sha1msg2_epu32(x, w[l][d]);
                if $g % 2 == 0 {
                    h1[l] = rounds4!(h0[l], h1[l], w[l][o], $f);
                } else {
                    h0[l] = rounds4!(h1[l], h0[l], w[l][o], $f);
                }
            }
        };
    }
    scheduled!(0, 0);
    scheduled!(1, 1);
    scheduled!(2, 1);
    scheduled!(3, 1);
    scheduled!(4, 1);
    scheduled!(5, 1);
    scheduled!(6, 2);
    scheduled!(7, 2);
    scheduled!(8, 2);
    scheduled!(9, 2);
    scheduled!(10, 2);
    scheduled!(11, 3);
    scheduled!(12, 3);
    scheduled!(13, 3);
    scheduled!(14, 3);
    scheduled!(15, 3);
    for l in 0..N {
        let abcd = _mm_add_epi32(abcd[l], h0[l]);
        let e = _mm_sha1nexte_epu32(h1[l], e[l]);
        states[l] = [
            _mm_extract_epi32(abcd, 3) as u32,
            _mm_extract_epi32(abcd, 2) as u32,
            _mm_extract_epi32(abcd, 1) as u32,
            _mm_extract_epi32(abcd, 0) as u32,
            _mm_extract_epi32(e, 3) as u32,
        ];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both paths against the `sha1` crate over pseudo-random blocks and chained states.
    #[test]
    fn matches_the_sha1_crate() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut chained = [IV, IV];
        for i in 0..2_000 {
            let mut b = [[0u8; 64]; 2];
            for w in b.iter_mut().flat_map(|b| b.chunks_exact_mut(8)) {
                w.copy_from_slice(&next().to_le_bytes());
            }
            let start = if i % 2 == 0 { [IV, IV] } else { chained };
            let mut want = start;
            for (s, b) in want.iter_mut().zip(&b) {
                let g = sha1::digest::generic_array::GenericArray::from_slice(b);
                sha1::compress(s, std::slice::from_ref(g));
            }
            let mut got = start;
            compress2(&mut got, [&b[0], &b[1]]);
            assert_eq!(got, want, "block pair {i}");
            let mut portable = start;
            portable2(&mut portable, [&b[0], &b[1]]);
            assert_eq!(portable, want, "block pair {i}");
            chained = got;
        }
    }

    /// The padded empty message gives SHA-1("").
    #[test]
    fn empty_message() {
        let mut b = [0u8; 64];
        b[0] = 0x80;
        let mut s = [IV, IV];
        compress2(&mut s, [&b, &b]);
        let want = [0xda39a3ee, 0x5e6b4b0d, 0x3255bfef, 0x95601890, 0xafd80709];
        assert_eq!(s, [want, want]);
    }
}
