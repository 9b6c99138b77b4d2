//! Capture files: a classic libpcap writer, a classic reader, a packet reader of classic pcap and
//! pcapng ([`CaptureReader`]), and a streaming summary scanner that understands both.
//!
//! Pure std. The scanner identifies the format by its magic number, never by the file name, and
//! reads through a buffer so a multi-gigabyte capture costs constant memory.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

/// BSD loopback (4-byte address family header).
pub const LINKTYPE_NULL: u32 = 0;
/// Ethernet II / 802.3.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Raw IPv4 or IPv6, no link header.
pub const LINKTYPE_RAW: u32 = 101;
/// Linux "cooked" capture v1 (`any` device).
pub const LINKTYPE_LINUX_SLL: u32 = 113;
/// Raw IPv4 only.
pub const LINKTYPE_IPV4: u32 = 228;
/// Raw IPv6 only.
pub const LINKTYPE_IPV6: u32 = 229;
/// Linux "cooked" capture v2.
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

const MAGIC_US: u32 = 0xa1b2_c3d4;
const MAGIC_NS: u32 = 0xa1b2_3c4d;
const PCAPNG_SHB: u32 = 0x0a0d_0d0a;
const PCAPNG_BOM: u32 = 0x1a2b_3c4d;
const PCAPNG_IDB: u32 = 1;
const PCAPNG_PB: u32 = 2;
const PCAPNG_SPB: u32 = 3;
const PCAPNG_EPB: u32 = 6;
/// Largest caplen accepted in a classic record. libpcap uses 256 KiB; we allow more so that
/// jumbo/TSO captures pass, but a garbage length still fails fast instead of skipping gigabytes.
const MAX_CAPLEN: u32 = 16 << 20;
/// Largest pcapng block the scanner reads whole (IDB/SHB with options). Packet blocks are skipped,
/// not buffered, so they are not bound by this.
const MAX_META_BLOCK: u32 = 1 << 20;
const NS_PER_SEC: u64 = 1_000_000_000;

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Writes classic little-endian libpcap files (the format every tool reads).
pub struct PcapWriter<W: Write> {
    w: W,
    nanosecond: bool,
    snaplen: u32,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte file header. `nanosecond` selects the 0xa1b23c4d magic (ns timestamps);
    /// otherwise timestamps are truncated to microseconds. `snaplen` caps every record's caplen.
    pub fn new(mut w: W, linktype: u32, nanosecond: bool, snaplen: u32) -> io::Result<Self> {
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&(if nanosecond { MAGIC_NS } else { MAGIC_US }).to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone = 0, sigfigs = 0
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&linktype.to_le_bytes());
        w.write_all(&h)?;
        Ok(PcapWriter {
            w,
            nanosecond,
            snaplen,
        })
    }

    /// Writes one packet whose original length is `data.len()` (caplen is cut to the snaplen).
    pub fn write_packet(&mut self, ts_ns: u64, data: &[u8]) -> io::Result<()> {
        let orig = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet longer than 4 GiB"))?;
        self.write_packet_truncated(ts_ns, data, orig)
    }

    /// Writes a packet captured short: `data` is what was captured, `orig_len` the length on the
    /// wire (must be >= `data.len()`).
    pub fn write_packet_truncated(
        &mut self,
        ts_ns: u64,
        data: &[u8],
        orig_len: u32,
    ) -> io::Result<()> {
        if (orig_len as usize) < data.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "orig_len {orig_len} smaller than captured length {}",
                    data.len()
                ),
            ));
        }
        let caplen = data.len().min(self.snaplen as usize);
        let secs = u32::try_from(ts_ns / NS_PER_SEC).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "timestamp beyond the 32-bit seconds of classic pcap",
            )
        })?;
        let sub = ts_ns % NS_PER_SEC;
        let frac = if self.nanosecond { sub } else { sub / 1000 } as u32;
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&frac.to_le_bytes());
        h[8..12].copy_from_slice(&(caplen as u32).to_le_bytes());
        h[12..16].copy_from_slice(&orig_len.to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(&data[..caplen])
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// Returns the underlying writer (not flushed: wrap a `BufWriter` and flush it yourself).
    pub fn into_inner(self) -> W {
        self.w
    }
}

/// Container format found by its magic number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureFormat {
    Pcap { nanosecond: bool, big_endian: bool },
    PcapNg,
}

/// What [`scan`] learned about a capture without keeping any packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureSummary {
    pub format: CaptureFormat,
    /// Classic pcap: the one file link type. pcapng: one entry per Interface Description Block, in
    /// file order across all sections.
    pub link_types: Vec<u32>,
    pub packets: u64,
    /// Sum of captured lengths.
    pub captured_bytes: u64,
    /// Sum of original (on the wire) lengths.
    pub original_bytes: u64,
    /// Earliest and latest packet timestamps (not file order: captures can be slightly unordered).
    /// `None` when there is no timestamped packet (pcapng Simple Packet Blocks carry none).
    pub first_ts_ns: Option<u64>,
    pub last_ts_ns: Option<u64>,
    /// The file ends inside a record. The complete records before it are counted, as libpcap
    /// readers do, instead of failing the whole file.
    pub truncated_tail: bool,
}

impl CaptureSummary {
    fn new(format: CaptureFormat) -> Self {
        CaptureSummary {
            format,
            link_types: Vec::new(),
            packets: 0,
            captured_bytes: 0,
            original_bytes: 0,
            first_ts_ns: None,
            last_ts_ns: None,
            truncated_tail: false,
        }
    }

    fn add(&mut self, ts_ns: Option<u64>, caplen: u32, orig_len: u32) {
        self.packets += 1;
        self.captured_bytes += u64::from(caplen);
        self.original_bytes += u64::from(orig_len);
        if let Some(ts) = ts_ns {
            self.first_ts_ns = Some(self.first_ts_ns.map_or(ts, |f| f.min(ts)));
            self.last_ts_ns = Some(self.last_ts_ns.map_or(ts, |l| l.max(ts)));
        }
    }
}

/// Summarises a classic pcap or pcapng file, streaming it.
pub fn scan(path: &Path) -> io::Result<CaptureSummary> {
    let f = File::open(path)?;
    scan_reader(BufReader::with_capacity(1 << 16, f))
}

/// [`scan`] over any reader (for in-memory captures and pipes).
pub fn scan_reader<R: Read>(r: R) -> io::Result<CaptureSummary> {
    let mut r = Counting { r, pos: 0 };
    let mut magic = [0u8; 4];
    let got = read_full(&mut r, &mut magic)?;
    if got < 4 {
        return Err(invalid(format!(
            "not a pcap or pcapng file (only {got} bytes)"
        )));
    }
    let le = u32::from_le_bytes(magic);
    match le {
        MAGIC_US => scan_pcap(&mut r, false, false),
        MAGIC_NS => scan_pcap(&mut r, true, false),
        m if m == MAGIC_US.swap_bytes() => scan_pcap(&mut r, false, true),
        m if m == MAGIC_NS.swap_bytes() => scan_pcap(&mut r, true, true),
        PCAPNG_SHB => scan_pcapng(&mut r),
        _ => Err(invalid(format!(
            "not a pcap or pcapng file (magic 0x{:08x})",
            u32::from_be_bytes(magic)
        ))),
    }
}

/// Reader wrapper that knows its offset, for error messages.
struct Counting<R> {
    r: R,
    pos: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.r.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Reads until `buf` is full or EOF; returns how many bytes were read (short only at EOF).
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Discards `n` bytes; returns false if EOF came first.
fn skip<R: Read>(r: &mut R, n: u64) -> io::Result<bool> {
    let copied = io::copy(&mut r.by_ref().take(n), &mut io::sink())?;
    Ok(copied == n)
}

#[derive(Clone, Copy)]
struct Endian {
    big: bool,
}

impl Endian {
    fn u16(self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        if self.big {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        }
    }
    fn u32(self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }
    fn u64(self, b: &[u8]) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        if self.big {
            u64::from_be_bytes(a)
        } else {
            u64::from_le_bytes(a)
        }
    }
}

/// Reads the classic header after the magic and returns the link type.
fn read_classic_header<R: Read>(r: &mut Counting<R>, e: Endian) -> io::Result<u32> {
    let mut h = [0u8; 20];
    if read_full(r, &mut h)? < h.len() {
        return Err(invalid("truncated pcap file header".to_string()));
    }
    let major = e.u16(&h[0..2]);
    if major != 2 {
        return Err(invalid(format!(
            "unsupported pcap version {major}.{}",
            e.u16(&h[2..4])
        )));
    }
    // Bits 16..31 carry FCS length flags, not the link type.
    Ok(e.u32(&h[16..20]) & 0xffff)
}

/// One classic record header, as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PacketHeader {
    ts_ns: u64,
    caplen: u32,
    orig_len: u32,
}

/// A classic record header, validated. `Ok(None)` at a clean EOF; `Err(offset)` when the record is
/// cut short (the caller decides whether that is an error).
fn read_classic_record<R: Read>(
    r: &mut Counting<R>,
    e: Endian,
    nanosecond: bool,
) -> io::Result<Result<Option<PacketHeader>, u64>> {
    let start = r.pos;
    let mut h = [0u8; 16];
    let got = read_full(r, &mut h)?;
    if got == 0 {
        return Ok(Ok(None));
    }
    if got < h.len() {
        return Ok(Err(start));
    }
    Ok(Ok(Some(record_header(&h, e, nanosecond, start)?)))
}

/// The 16 bytes of a classic record header at file offset `at`: time in ns, lengths, and the
/// one check every reader makes (a captured length no capture has).
#[inline]
fn record_header(h: &[u8], e: Endian, nanosecond: bool, at: u64) -> io::Result<PacketHeader> {
    let caplen = e.u32(&h[8..12]);
    if caplen > MAX_CAPLEN {
        return Err(invalid(format!(
            "implausible caplen {caplen} in packet record at offset {at}"
        )));
    }
    let secs = u64::from(e.u32(&h[0..4]));
    let frac = u64::from(e.u32(&h[4..8]));
    Ok(PacketHeader {
        ts_ns: secs * NS_PER_SEC + if nanosecond { frac } else { frac * 1000 },
        caplen,
        orig_len: e.u32(&h[12..16]),
    })
}

fn scan_pcap<R: Read>(
    r: &mut Counting<R>,
    nanosecond: bool,
    big_endian: bool,
) -> io::Result<CaptureSummary> {
    let e = Endian { big: big_endian };
    let linktype = read_classic_header(r, e)?;
    let mut s = CaptureSummary::new(CaptureFormat::Pcap {
        nanosecond,
        big_endian,
    });
    s.link_types.push(linktype);
    loop {
        let ph = match read_classic_record(r, e, nanosecond)? {
            Ok(Some(ph)) => ph,
            Ok(None) => break,
            Err(_) => {
                s.truncated_tail = true;
                break;
            }
        };
        if !skip(r, u64::from(ph.caplen))? {
            s.truncated_tail = true;
            break;
        }
        s.add(Some(ph.ts_ns), ph.caplen, ph.orig_len);
    }
    Ok(s)
}

/// pcapng per-interface timestamp unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TsResol {
    /// Units of 10^-n s.
    Pow10(u8),
    /// Units of 2^-n s.
    Pow2(u8),
}

impl TsResol {
    fn to_ns(self, ts: u64) -> u64 {
        let ts = u128::from(ts);
        let ns = match self {
            TsResol::Pow10(n) if n <= 9 => ts * 10u128.pow(u32::from(9 - n)),
            TsResol::Pow10(n) => ts / 10u128.checked_pow(u32::from(n - 9)).unwrap_or(u128::MAX),
            TsResol::Pow2(n) => (ts * u128::from(NS_PER_SEC)) >> n.min(127),
        };
        u64::try_from(ns).unwrap_or(u64::MAX)
    }
}

struct Interface {
    snaplen: u32,
    resol: TsResol,
    /// if_tsoffset, seconds added to every timestamp.
    offset_s: i64,
}

impl Interface {
    fn ts_ns(&self, raw: u64) -> u64 {
        let ns = self.resol.to_ns(raw) as i128 + i128::from(self.offset_s) * i128::from(NS_PER_SEC);
        ns.clamp(0, i128::from(u64::MAX)) as u64
    }
}

fn scan_pcapng<R: Read>(r: &mut Counting<R>) -> io::Result<CaptureSummary> {
    let mut s = CaptureSummary::new(CaptureFormat::PcapNg);
    let mut ifaces: Vec<Interface> = Vec::new();
    let mut e = Endian { big: false };
    let mut body = Vec::new();
    // The SHB type was already consumed as the magic.
    let mut pending_type = Some(PCAPNG_SHB);
    loop {
        let start = r.pos - if pending_type.is_some() { 4 } else { 0 };
        let btype = match pending_type.take() {
            Some(t) => t,
            None => {
                let mut t = [0u8; 4];
                match read_full(r, &mut t)? {
                    0 => break,
                    4 => e.u32(&t),
                    _ => {
                        s.truncated_tail = true;
                        break;
                    }
                }
            }
        };
        if btype == PCAPNG_SHB {
            // Length is in the section's byte order, which the byte-order magic after it tells.
            let mut h = [0u8; 8];
            if read_full(r, &mut h)? < 8 {
                if s.packets == 0 && s.link_types.is_empty() {
                    return Err(invalid(format!(
                        "truncated pcapng section header at offset {start}"
                    )));
                }
                s.truncated_tail = true;
                break;
            }
            e = section_endian(&h, start)?;
            let len = e.u32(&h[0..4]);
            check_block_len(len, 28, start)?;
            if len > MAX_META_BLOCK {
                return Err(invalid(format!(
                    "pcapng section header at offset {start} too large ({len} bytes)"
                )));
            }
            // Rest of the SHB: version, section length, options, trailing length.
            let rest = len as usize - 12;
            body.resize(rest, 0);
            if read_full(r, &mut body)? < rest {
                s.truncated_tail = true;
                break;
            }
            check_trailer(e, &body[rest - 4..], len, start)?;
            let major = e.u16(&body[0..2]);
            if major != 1 {
                return Err(invalid(format!(
                    "unsupported pcapng version {major} at offset {start}"
                )));
            }
            // A new section starts a new interface numbering.
            ifaces.clear();
            continue;
        }

        let mut l = [0u8; 4];
        if read_full(r, &mut l)? < 4 {
            s.truncated_tail = true;
            break;
        }
        let len = e.u32(&l);
        check_block_len(len, 12, start)?;
        let body_len = len as usize - 12;
        match btype {
            PCAPNG_IDB => {
                if len > MAX_META_BLOCK {
                    return Err(invalid(format!(
                        "pcapng interface block at offset {start} too large"
                    )));
                }
                if body_len < 8 {
                    return Err(invalid(format!(
                        "pcapng interface block at offset {start} too short"
                    )));
                }
                body.resize(body_len + 4, 0);
                if read_full(r, &mut body)? < body_len + 4 {
                    s.truncated_tail = true;
                    break;
                }
                check_trailer(e, &body[body_len..], len, start)?;
                let linktype = u32::from(e.u16(&body[0..2]));
                let snaplen = e.u32(&body[4..8]);
                let mut iface = Interface {
                    snaplen,
                    resol: TsResol::Pow10(6),
                    offset_s: 0,
                };
                parse_idb_options(e, &body[8..body_len], &mut iface);
                s.link_types.push(linktype);
                ifaces.push(iface);
            }
            PCAPNG_EPB | PCAPNG_PB => {
                // EPB: if_id u32, ts_hi, ts_lo, caplen, orig_len. PB: if_id u16, drops u16, same rest.
                if body_len < 20 {
                    return Err(invalid(format!(
                        "pcapng packet block at offset {start} too short"
                    )));
                }
                let mut h = [0u8; 20];
                if read_full(r, &mut h)? < 20 {
                    s.truncated_tail = true;
                    break;
                }
                let if_id = if btype == PCAPNG_EPB {
                    e.u32(&h[0..4])
                } else {
                    u32::from(e.u16(&h[0..2]))
                };
                let raw_ts = (u64::from(e.u32(&h[4..8])) << 32) | u64::from(e.u32(&h[8..12]));
                let caplen = e.u32(&h[12..16]);
                let orig_len = e.u32(&h[16..20]);
                if caplen as usize > body_len - 20 {
                    return Err(invalid(format!(
                        "pcapng packet block at offset {start}: caplen {caplen} exceeds block length {len}"
                    )));
                }
                let iface = ifaces.get(if_id as usize).ok_or_else(|| {
                    invalid(format!(
                        "pcapng packet block at offset {start} names unknown interface {if_id}"
                    ))
                })?;
                let ts = iface.ts_ns(raw_ts);
                if !skip_block_rest(r, e, body_len - 20, len, start)? {
                    s.truncated_tail = true;
                    break;
                }
                s.add(Some(ts), caplen, orig_len);
            }
            PCAPNG_SPB => {
                if body_len < 4 {
                    return Err(invalid(format!(
                        "pcapng simple packet block at offset {start} too short"
                    )));
                }
                let mut h = [0u8; 4];
                if read_full(r, &mut h)? < 4 {
                    s.truncated_tail = true;
                    break;
                }
                let orig_len = e.u32(&h);
                let iface = ifaces.first().ok_or_else(|| {
                    invalid(format!(
                        "pcapng simple packet block at offset {start} before any interface"
                    ))
                })?;
                // Captured length is implied: the original length cut by the snaplen and the block.
                let mut caplen = orig_len.min(len - 16);
                if iface.snaplen != 0 {
                    caplen = caplen.min(iface.snaplen);
                }
                if !skip_block_rest(r, e, body_len - 4, len, start)? {
                    s.truncated_tail = true;
                    break;
                }
                s.add(None, caplen, orig_len);
            }
            _ => {
                if !skip_block_rest(r, e, body_len, len, start)? {
                    s.truncated_tail = true;
                    break;
                }
            }
        }
    }
    Ok(s)
}

/// A section header's byte order, from the byte-order magic after its block length (`h` holds
/// the block length and the magic; `start` is the block's offset).
fn section_endian(h: &[u8], start: u64) -> io::Result<Endian> {
    match u32::from_le_bytes([h[4], h[5], h[6], h[7]]) {
        PCAPNG_BOM => Ok(Endian { big: false }),
        m if m == PCAPNG_BOM.swap_bytes() => Ok(Endian { big: true }),
        m => Err(invalid(format!(
            "bad pcapng byte-order magic 0x{m:08x} at offset {}",
            start + 8
        ))),
    }
}

fn check_block_len(len: u32, min: u32, start: u64) -> io::Result<()> {
    if len < min || len % 4 != 0 {
        return Err(invalid(format!(
            "bad pcapng block length {len} at offset {start}"
        )));
    }
    Ok(())
}

fn check_trailer(e: Endian, b: &[u8], len: u32, start: u64) -> io::Result<()> {
    let trailer = e.u32(b);
    if trailer != len {
        return Err(invalid(format!(
            "pcapng block at offset {start}: trailing length {trailer} differs from {len}"
        )));
    }
    Ok(())
}

/// Skips `n` body bytes then reads and checks the trailing length. False on EOF.
fn skip_block_rest<R: Read>(
    r: &mut R,
    e: Endian,
    n: usize,
    len: u32,
    start: u64,
) -> io::Result<bool> {
    if !skip(r, n as u64)? {
        return Ok(false);
    }
    let mut t = [0u8; 4];
    if read_full(r, &mut t)? < 4 {
        return Ok(false);
    }
    check_trailer(e, &t, len, start)?;
    Ok(true)
}

/// Reads if_tsresol (9) and if_tsoffset (14); other options are skipped.
fn parse_idb_options(e: Endian, mut opts: &[u8], iface: &mut Interface) {
    while opts.len() >= 4 {
        let code = e.u16(&opts[0..2]);
        let olen = e.u16(&opts[2..4]) as usize;
        if code == 0 {
            break;
        }
        let padded = (olen + 3) & !3;
        if opts.len() < 4 + padded {
            break;
        }
        let v = &opts[4..4 + olen];
        match (code, olen) {
            (9, 1) => {
                iface.resol = if v[0] & 0x80 != 0 {
                    TsResol::Pow2(v[0] & 0x7f)
                } else {
                    TsResol::Pow10(v[0])
                };
            }
            (14, 8) => iface.offset_s = e.u64(v) as i64,
            _ => {}
        }
        opts = &opts[4 + padded..];
    }
}

/// A packet returned by [`CaptureReader::next_packet`], with the link type of its interface
/// (pcapng files may mix link types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaptureRecord {
    /// Capture time; a pcapng Simple Packet Block has none and repeats the previous packet's.
    pub ts_ns: u64,
    pub caplen: u32,
    pub orig_len: u32,
    pub linktype: u32,
}

enum Container {
    Classic {
        e: Endian,
        nanosecond: bool,
        linktype: u32,
    },
    PcapNg {
        e: Endian,
        /// Link type and timestamp settings per interface of the current section.
        ifaces: Vec<(u32, Interface)>,
        /// The first SHB's type was consumed as the magic.
        pending_shb: bool,
        last_ts: u64,
    },
}

/// Sequential packet reader of classic pcap and pcapng files, told apart by the magic.
///
/// pcapng: Enhanced, Simple and obsolete Packet Blocks, several sections, per-interface link type
/// and timestamp resolution/offset; other blocks are skipped. A block is read whole (bounded by
/// the caplen limit), so a corrupt length fails fast instead of allocating or skipping gigabytes.
/// Any inconsistency or a file cut short is an `Err`; the packets before it were returned.
pub struct CaptureReader<R: Read> {
    r: Counting<R>,
    c: Container,
    block: Vec<u8>,
}

impl CaptureReader<BufReader<File>> {
    pub fn open(path: &Path) -> io::Result<Self> {
        CaptureReader::new(BufReader::with_capacity(1 << 16, File::open(path)?))
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads the magic (and the classic file header).
    pub fn new(r: R) -> io::Result<Self> {
        let mut r = Counting { r, pos: 0 };
        let mut magic = [0u8; 4];
        let got = read_full(&mut r, &mut magic)?;
        if got < 4 {
            return Err(invalid(format!(
                "not a pcap or pcapng file (only {got} bytes)"
            )));
        }
        let classic = |nanosecond, big| (nanosecond, Endian { big });
        let (nanosecond, e) = match u32::from_le_bytes(magic) {
            MAGIC_US => classic(false, false),
            MAGIC_NS => classic(true, false),
            m if m == MAGIC_US.swap_bytes() => classic(false, true),
            m if m == MAGIC_NS.swap_bytes() => classic(true, true),
            PCAPNG_SHB => {
                return Ok(CaptureReader {
                    r,
                    c: Container::PcapNg {
                        e: Endian { big: false },
                        ifaces: Vec::new(),
                        pending_shb: true,
                        last_ts: 0,
                    },
                    block: Vec::new(),
                })
            }
            _ => {
                return Err(invalid(format!(
                    "not a pcap or pcapng file (magic 0x{:08x})",
                    u32::from_be_bytes(magic)
                )))
            }
        };
        let linktype = read_classic_header(&mut r, e)?;
        Ok(CaptureReader {
            r,
            c: Container::Classic {
                e,
                nanosecond,
                linktype,
            },
            block: Vec::new(),
        })
    }

    /// Reads the next packet's bytes into `buf` (replacing its contents). `Ok(None)` at the end.
    pub fn next_packet(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<CaptureRecord>> {
        match &mut self.c {
            Container::Classic {
                e,
                nanosecond,
                linktype,
            } => {
                let start = self.r.pos;
                let ph = match read_classic_record(&mut self.r, *e, *nanosecond)? {
                    Ok(Some(ph)) => ph,
                    Ok(None) => return Ok(None),
                    Err(off) => return Err(truncated(off)),
                };
                buf.clear();
                let want = u64::from(ph.caplen);
                if (&mut self.r).take(want).read_to_end(buf)? < ph.caplen as usize {
                    return Err(truncated(start));
                }
                Ok(Some(CaptureRecord {
                    ts_ns: ph.ts_ns,
                    caplen: ph.caplen,
                    orig_len: ph.orig_len,
                    linktype: *linktype,
                }))
            }
            Container::PcapNg {
                e,
                ifaces,
                pending_shb,
                last_ts,
            } => next_pcapng(
                &mut self.r,
                &mut self.block,
                e,
                ifaces,
                pending_shb,
                last_ts,
                buf,
            ),
        }
    }
}

/// One packet of a burst: its bytes (in the reader's buffer), captured length, time (ns).
pub type BurstPacket<'a> = (&'a [u8], u32, u64);

/// The classic file header: (reader after it, byte order, nanosecond, link type, offset).
/// `Ok(None)` for pcapng.
type ClassicHeader<R> = (R, Endian, bool, u32, u64);

fn classic_header<R: Read>(r: R) -> io::Result<Option<ClassicHeader<R>>> {
    let mut c = Counting { r, pos: 0 };
    let mut magic = [0u8; 4];
    let got = read_full(&mut c, &mut magic)?;
    if got < 4 {
        return Err(invalid(format!(
            "not a pcap or pcapng file (only {got} bytes)"
        )));
    }
    let (nanosecond, big) = match u32::from_le_bytes(magic) {
        MAGIC_US => (false, false),
        MAGIC_NS => (true, false),
        m if m == MAGIC_US.swap_bytes() => (false, true),
        m if m == MAGIC_NS.swap_bytes() => (true, true),
        PCAPNG_SHB => return Ok(None),
        _ => {
            return Err(invalid(format!(
                "not a pcap or pcapng file (magic 0x{:08x})",
                u32::from_be_bytes(magic)
            )))
        }
    };
    let e = Endian { big };
    let linktype = read_classic_header(&mut c, e)?;
    Ok(Some((c.r, e, nanosecond, linktype, c.pos)))
}

/// Whole records read ahead by [`ClassicFeed`]'s thread: the file's bytes as read (`data`, valid
/// up to `filled`; kept at full length so reads never zero it again) and, per packet, (offset of
/// its bytes in `data`, captured length, time in ns).
struct Chunk {
    data: Vec<u8>,
    index: Vec<(u64, u32, u64)>,
}

/// Bytes a [`ClassicFeed`] can replay in place: a file mapping, or memory.
pub trait InPlace: AsRef<[u8]> + Send + Sync {
    /// Where the bytes were found cut (a file truncated under its mapping): from there they
    /// read as zeros.
    fn cut(&self) -> Option<usize> {
        None
    }
}

impl InPlace for Vec<u8> {}

#[cfg(feature = "dpdk")]
impl InPlace for crate::dpdk::mapped::Mapped {
    fn cut(&self) -> Option<usize> {
        self.truncated_at()
    }
}

/// Shared [`InPlace`] bytes.
pub type SharedBytes = std::sync::Arc<dyn InPlace>;

/// Packets per chunk of a mapped feed (its chunks carry only the index), and chunks in flight:
/// up to 256k packets indexed ahead (6 MB), so the walk gets well ahead while the replay starts.
const FEED_INDEX: usize = 4096;
const MAPPED_DEPTH: usize = 64;
/// How far ahead of the record walk the bytes are prefetched.
const WALK_AHEAD: usize = 16 << 10;

/// Walks the classic records of `b` from `*at` into `index` (at most `max`): `Some(error)` at a
/// bad or cut record (after the ones before it), `None` at the end of `b` or when `max` is
/// reached. The same checks and errors as [`CaptureReader`].
fn walk_records(
    b: &[u8],
    at: &mut usize,
    e: Endian,
    nanosecond: bool,
    index: &mut Vec<(u64, u32, u64)>,
    max: usize,
) -> Option<io::Error> {
    // Each header's position depends on the previous one's length: a chain of dependent loads
    // that the hardware prefetcher does not follow across pages. Stream the bytes ahead instead.
    let mut ahead = *at;
    while index.len() < max {
        let stop = (*at + WALK_AHEAD).min(b.len());
        while ahead < stop {
            crate::prefetch::line(&b[ahead]);
            ahead += 64;
        }
        let avail = b.len() - *at;
        if avail == 0 {
            return None;
        }
        if avail < 16 {
            return Some(truncated(*at as u64));
        }
        let h = match record_header(&b[*at..*at + 16], e, nanosecond, *at as u64) {
            Ok(h) => h,
            Err(err) => return Some(err),
        };
        if avail < 16 + h.caplen as usize {
            return Some(truncated(*at as u64));
        }
        index.push((*at as u64 + 16, h.caplen, h.ts_ns));
        *at += 16 + h.caplen as usize;
    }
    None
}

/// Chunks in flight between the reading thread and the replaying one, their size, and the size
/// of one read: the record headers of a piece are walked while the piece is still in L2, and the
/// chunks in flight stay in the last-level cache until they are replayed.
const FEED_DEPTH: usize = 8;
const FEED_CHUNK: usize = 1 << 20;
const FEED_PIECE: usize = 256 << 10;

/// The reading thread's state: the file after its header and the partial record at the end of
/// the previous chunk.
struct FeedReader {
    r: File,
    e: Endian,
    nanosecond: bool,
    /// File offset of `carry[0]` (the next record not yet handed out).
    base: u64,
    carry: Vec<u8>,
    eof: bool,
}

impl FeedReader {
    /// Fills `c` with whole records: the carried partial record first, then reads straight
    /// into the chunk (no copy of packet bytes), walking the record headers as they arrive.
    /// Returns the error that ends the file (after the records before it), if any.
    fn fill(&mut self, c: &mut Chunk) -> Option<io::Error> {
        c.index.clear();
        let need = FEED_CHUNK.max(self.carry.len()) + FEED_PIECE;
        if c.data.len() < need {
            c.data.resize(need, 0);
        }
        c.data[..self.carry.len()].copy_from_slice(&self.carry);
        let mut filled = self.carry.len();
        self.carry.clear();
        let chunk_base = self.base;
        let mut at = 0;
        let e = self.e;
        let err = loop {
            while filled - at >= 16 {
                let offset = chunk_base + at as u64;
                let h = match record_header(&c.data[at..at + 16], e, self.nanosecond, offset) {
                    Ok(h) => h,
                    Err(err) => {
                        self.base = offset;
                        self.carry.clear();
                        return Some(err);
                    }
                };
                let rec = 16 + h.caplen as usize;
                if filled - at < rec {
                    if at == 0 && rec + FEED_PIECE > c.data.len() {
                        // A record larger than the chunk: grow it (bounded by MAX_CAPLEN).
                        c.data.resize(rec + FEED_PIECE, 0);
                    }
                    break;
                }
                c.index.push((at as u64 + 16, h.caplen, h.ts_ns));
                at += rec;
            }
            // Full enough; a record larger than a chunk is read whole first.
            if self.eof || (filled >= FEED_CHUNK && !c.index.is_empty()) {
                break None;
            }
            let end = (filled + FEED_PIECE).min(c.data.len());
            if end == filled {
                break None; // full: the partial record moves to the next chunk
            }
            match self.r.read(&mut c.data[filled..end]) {
                Ok(0) => self.eof = true,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Some(e),
            }
        };
        self.carry.extend_from_slice(&c.data[at..filled]);
        self.base = chunk_base + at as u64;
        if err.is_none() && self.eof && !self.carry.is_empty() {
            return Some(truncated(self.base));
        }
        err
    }
}

/// A classic pcap read ahead on its own thread: the system calls, the kernel's copy and the walk
/// over record headers happen there (on another core), and the replaying thread gets bursts of
/// packets out of chunks of whole records, in place. Same packets and errors as
/// [`CaptureReader`]. Chunks are recycled: after the first few, nothing is allocated.
pub struct ClassicFeed {
    /// Mapped mode: the packets' bytes (chunks carry only the index).
    map: Option<SharedBytes>,
    rx: std::sync::mpsc::Receiver<io::Result<Chunk>>,
    back: std::sync::mpsc::SyncSender<Chunk>,
    cur: Option<Chunk>,
    pos: usize,
    linktype: u32,
    done: bool,
}

/// A chunk the replay gave back; a new one while fewer than `limit` exist (what the channels
/// hold); else waits for one (the replay is behind). `None` once the replay has stopped.
fn next_chunk(
    recycled: &std::sync::mpsc::Receiver<Chunk>,
    made: &mut usize,
    limit: usize,
    index_cap: usize,
) -> Option<Chunk> {
    match recycled.try_recv() {
        Ok(c) => Some(c),
        Err(_) if *made < limit => {
            *made += 1;
            Some(Chunk {
                data: Vec::new(),
                index: Vec::with_capacity(index_cap),
            })
        }
        Err(_) => recycled.recv().ok(),
    }
}

/// Sends a filled chunk (if it holds packets), then the error that ended it: `false` when the
/// reader thread should stop (an error, or the replay has gone).
fn hand_over(
    tx: &std::sync::mpsc::SyncSender<io::Result<Chunk>>,
    c: Chunk,
    err: Option<io::Error>,
) -> bool {
    if !c.index.is_empty() && tx.send(Ok(c)).is_err() {
        return false;
    }
    if let Some(e) = err {
        let _ = tx.send(Err(e));
        return false;
    }
    true
}

impl ClassicFeed {
    /// Opens `path` and starts reading it on a new thread (pinned to `cpu` when given).
    /// `Ok(None)` when the file is not classic pcap.
    pub fn start(path: &Path, cpu: Option<usize>) -> io::Result<Option<ClassicFeed>> {
        let Some((r, e, nanosecond, linktype, base)) = classic_header(File::open(path)?)? else {
            return Ok(None);
        };
        let mut fr = FeedReader {
            r,
            e,
            nanosecond,
            base,
            carry: Vec::new(),
            eof: false,
        };
        let fill = move |c: &mut Chunk| {
            let err = fr.fill(c);
            (err, fr.eof && fr.carry.is_empty())
        };
        let feed = Self::spawn(
            "pcap-read",
            cpu,
            FEED_DEPTH,
            FEED_CHUNK / 32,
            linktype,
            fill,
        )?;
        Ok(Some(feed))
    }

    /// Replays `bytes` (a whole classic pcap, e.g. a file mapping) in place: the thread (pinned to
    /// `cpu` when given) only walks the record headers ahead of the replay, so the pages and
    /// header lines are in memory and cache when the replay gets there; no byte is copied.
    /// `Ok(None)` when the bytes are not classic pcap.
    pub fn start_mapped(bytes: SharedBytes, cpu: Option<usize>) -> io::Result<Option<ClassicFeed>> {
        let b: &[u8] = (*bytes).as_ref();
        let Some((_, e, nanosecond, linktype, base)) = classic_header(b)? else {
            return Ok(None);
        };
        let walked = bytes.clone();
        let mut at = base as usize;
        let fill = move |c: &mut Chunk| {
            let b: &[u8] = (*walked).as_ref();
            c.index.clear();
            let err = walk_records(b, &mut at, e, nanosecond, &mut c.index, FEED_INDEX);
            // A file truncated under the mapping reads zeros past the cut (see `Mapped`): keep
            // the packets before it and end with an error, not with records made of zeros.
            if let Some(cut) = walked.cut() {
                c.index
                    .retain(|&(off, len, _)| off + len as u64 <= cut as u64);
                let e = io::Error::other(format!(
                    "truncated while being read (at byte {cut} of {}): the packets after it are missing",
                    b.len()
                ));
                return (Some(e), true);
            }
            (err, at == b.len())
        };
        let feed = Self::spawn("pcap-index", cpu, MAPPED_DEPTH, FEED_INDEX, linktype, fill)?;
        // The chunks carry only the index: the packets' bytes are the mapping's.
        Ok(Some(ClassicFeed {
            map: Some(bytes),
            ..feed
        }))
    }

    /// Starts the feed's thread `name` (pinned to `cpu` when given): it fills chunks with `fill`
    /// and hands them over, `depth` queued for the replay (at most `depth + 2` made, each with
    /// room for `index_cap` packets), until `fill` returns an error or says the file is done
    /// (`(error, done)`), or the replay has gone. The feed replays from the chunks' own bytes.
    fn spawn(
        name: &str,
        cpu: Option<usize>,
        depth: usize,
        index_cap: usize,
        linktype: u32,
        mut fill: impl FnMut(&mut Chunk) -> (Option<io::Error>, bool) + Send + 'static,
    ) -> io::Result<ClassicFeed> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Chunk>>(depth);
        let (back, recycled) = std::sync::mpsc::sync_channel::<Chunk>(depth + 2);
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                if let Some(id) = cpu {
                    core_affinity::set_for_current(core_affinity::CoreId { id });
                }
                let mut made = 0;
                // Returning drops `tx`, which ends the feed.
                while let Some(mut c) = next_chunk(&recycled, &mut made, depth + 2, index_cap) {
                    let (err, done) = fill(&mut c);
                    if !hand_over(&tx, c, err) || done {
                        return;
                    }
                }
                // `None`: the replay stopped.
            })?;
        Ok(ClassicFeed {
            map: None,
            rx,
            back,
            cur: None,
            pos: 0,
            linktype,
            done: false,
        })
    }

    /// The file's link type.
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// Fills `out` with the next packets (a burst never spans two chunks); `Ok(0)` at the end.
    /// An error comes after every packet before it.
    pub fn next_burst<'a>(&'a mut self, out: &mut [BurstPacket<'a>]) -> io::Result<usize> {
        if self.cur.as_ref().is_none_or(|c| self.pos >= c.index.len()) {
            if let Some(c) = self.cur.take() {
                let _ = self.back.try_send(c);
            }
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(c)) => {
                    self.cur = Some(c);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let Some(c) = self.cur.as_ref() else {
            return Ok(0);
        };
        let n = out.len().min(c.index.len() - self.pos);
        let bytes: &[u8] = match &self.map {
            Some(m) => (**m).as_ref(),
            None => &c.data,
        };
        for (o, &(off, len, ts)) in out.iter_mut().zip(&c.index[self.pos..self.pos + n]) {
            *o = (&bytes[off as usize..off as usize + len as usize], len, ts);
        }
        self.pos += n;
        // The next burst's headers on their way while this one is processed (a burst's time
        // covers a trip to DRAM; the walk's own prefetches are far ahead and long evicted).
        for &(off, len, _) in c.index[self.pos..].iter().take(n) {
            if len > 0 {
                crate::prefetch::bytes(&bytes[off as usize..off as usize + len as usize], 128);
            }
        }
        Ok(n)
    }
}

fn next_pcapng<R: Read>(
    r: &mut Counting<R>,
    block: &mut Vec<u8>,
    e: &mut Endian,
    ifaces: &mut Vec<(u32, Interface)>,
    pending_shb: &mut bool,
    last_ts: &mut u64,
    buf: &mut Vec<u8>,
) -> io::Result<Option<CaptureRecord>> {
    loop {
        let start = r.pos - if *pending_shb { 4 } else { 0 };
        let btype = if std::mem::take(pending_shb) {
            PCAPNG_SHB
        } else {
            let mut t = [0u8; 4];
            match read_full(r, &mut t)? {
                0 => return Ok(None),
                4 => e.u32(&t),
                _ => return Err(truncated(start)),
            }
        };
        let len = if btype == PCAPNG_SHB {
            let mut h = [0u8; 8];
            if read_full(r, &mut h)? < 8 {
                return Err(truncated(start));
            }
            *e = section_endian(&h, start)?;
            let len = e.u32(&h[0..4]);
            check_block_len(len, 28, start)?;
            // The body read below starts after the byte-order magic.
            len - 4
        } else {
            let mut l = [0u8; 4];
            if read_full(r, &mut l)? < 4 {
                return Err(truncated(start));
            }
            let len = e.u32(&l);
            check_block_len(len, 12, start)?;
            len
        };
        if len > MAX_CAPLEN + MAX_META_BLOCK {
            return Err(invalid(format!(
                "pcapng block at offset {start} too large ({len} bytes)"
            )));
        }
        // Body and trailing length; grown as bytes arrive, so a corrupt length in a short
        // file costs no more memory than the file.
        let rest = len as usize - 8;
        block.clear();
        if r.by_ref().take(rest as u64).read_to_end(block)? < rest {
            return Err(truncated(start));
        }
        let full_len = if btype == PCAPNG_SHB { len + 4 } else { len };
        check_trailer(*e, &block[rest - 4..], full_len, start)?;
        let body = &block[..rest - 4];
        match btype {
            PCAPNG_SHB => {
                let major = e.u16(&body[0..2]);
                if major != 1 {
                    return Err(invalid(format!(
                        "unsupported pcapng version {major} at offset {start}"
                    )));
                }
                ifaces.clear();
            }
            PCAPNG_IDB => {
                if body.len() < 8 {
                    return Err(invalid(format!(
                        "pcapng interface block at offset {start} too short"
                    )));
                }
                let mut iface = Interface {
                    snaplen: e.u32(&body[4..8]),
                    resol: TsResol::Pow10(6),
                    offset_s: 0,
                };
                parse_idb_options(*e, &body[8..], &mut iface);
                ifaces.push((u32::from(e.u16(&body[0..2])), iface));
            }
            PCAPNG_EPB | PCAPNG_PB => {
                if body.len() < 20 {
                    return Err(invalid(format!(
                        "pcapng packet block at offset {start} too short"
                    )));
                }
                let if_id = if btype == PCAPNG_EPB {
                    e.u32(&body[0..4])
                } else {
                    u32::from(e.u16(&body[0..2]))
                };
                let raw_ts = (u64::from(e.u32(&body[4..8])) << 32) | u64::from(e.u32(&body[8..12]));
                let caplen = e.u32(&body[12..16]);
                let orig_len = e.u32(&body[16..20]);
                let data = body[20..].get(..caplen as usize).ok_or_else(|| {
                    invalid(format!(
                        "pcapng packet block at offset {start}: caplen {caplen} exceeds block length {len}"
                    ))
                })?;
                let (linktype, iface) = ifaces.get(if_id as usize).ok_or_else(|| {
                    invalid(format!(
                        "pcapng packet block at offset {start} names unknown interface {if_id}"
                    ))
                })?;
                *last_ts = iface.ts_ns(raw_ts);
                buf.clear();
                buf.extend_from_slice(data);
                return Ok(Some(CaptureRecord {
                    ts_ns: *last_ts,
                    caplen,
                    orig_len,
                    linktype: *linktype,
                }));
            }
            PCAPNG_SPB => {
                if body.len() < 4 {
                    return Err(invalid(format!(
                        "pcapng simple packet block at offset {start} too short"
                    )));
                }
                let (linktype, iface) = ifaces.first().ok_or_else(|| {
                    invalid(format!(
                        "pcapng simple packet block at offset {start} before any interface"
                    ))
                })?;
                let orig_len = e.u32(&body[0..4]);
                // Captured length is implied: the original length cut by the snaplen and block.
                let mut caplen = orig_len.min(body.len() as u32 - 4);
                if iface.snaplen != 0 {
                    caplen = caplen.min(iface.snaplen);
                }
                buf.clear();
                buf.extend_from_slice(&body[4..4 + caplen as usize]);
                return Ok(Some(CaptureRecord {
                    ts_ns: *last_ts,
                    caplen,
                    orig_len,
                    linktype: *linktype,
                }));
            }
            _ => {}
        }
    }
}

fn truncated(offset: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("truncated packet record at offset {offset}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packets() -> Vec<(u64, Vec<u8>)> {
        vec![
            (1_767_225_600_000_000_123, (0..60u8).collect()),
            (1_767_225_600_000_001_999, vec![0xab; 1514]),
            (1_767_225_601_500_000_000, vec![7; 1]),
        ]
    }

    fn write(nanosecond: bool) -> Vec<u8> {
        let mut w = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET, nanosecond, 65535).unwrap();
        for (ts, p) in packets() {
            w.write_packet(ts, &p).unwrap();
        }
        w.write_packet_truncated(1_767_225_602_000_000_000, &[1, 2, 3], 1000)
            .unwrap();
        w.into_inner()
    }

    #[test]
    fn round_trip_microseconds() {
        let file = write(false);
        assert_eq!(&file[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        let s = scan_reader(&file[..]).unwrap();
        assert_eq!(
            s.format,
            CaptureFormat::Pcap {
                nanosecond: false,
                big_endian: false
            }
        );
        assert_eq!(s.link_types, vec![LINKTYPE_ETHERNET]);
        assert_eq!(s.packets, 4);
        assert_eq!(s.captured_bytes, 60 + 1514 + 1 + 3);
        assert_eq!(s.original_bytes, 60 + 1514 + 1 + 1000);
        // Microsecond files drop the sub-µs part.
        assert_eq!(s.first_ts_ns, Some(1_767_225_600_000_000_000));
        assert_eq!(s.last_ts_ns, Some(1_767_225_602_000_000_000));
        assert!(!s.truncated_tail);

        assert_eq!(
            u32::from_le_bytes(file[16..20].try_into().unwrap()),
            65535,
            "snaplen"
        );
        let mut r = CaptureReader::new(&file[..]).unwrap();
        let mut buf = Vec::new();
        let want_ts = [
            1_767_225_600_000_000_000,
            1_767_225_600_000_001_000,
            1_767_225_601_500_000_000,
        ];
        for ((_, p), ts) in packets().iter().zip(want_ts) {
            let h = r.next_packet(&mut buf).unwrap().unwrap();
            assert_eq!(
                h,
                CaptureRecord {
                    ts_ns: ts,
                    caplen: p.len() as u32,
                    orig_len: p.len() as u32,
                    linktype: LINKTYPE_ETHERNET,
                }
            );
            assert_eq!(&buf, p);
        }
        let h = r.next_packet(&mut buf).unwrap().unwrap();
        assert_eq!(
            (h.caplen, h.orig_len, &buf[..]),
            (3, 1000, &[1u8, 2, 3][..])
        );
        assert_eq!(r.next_packet(&mut buf).unwrap(), None);
    }

    #[test]
    fn round_trip_nanoseconds() {
        let file = write(true);
        assert_eq!(&file[0..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        let s = scan_reader(&file[..]).unwrap();
        assert_eq!(
            s.format,
            CaptureFormat::Pcap {
                nanosecond: true,
                big_endian: false
            }
        );
        assert_eq!(s.first_ts_ns, Some(1_767_225_600_000_000_123));
        let mut r = CaptureReader::new(&file[..]).unwrap();
        let mut buf = Vec::new();
        r.next_packet(&mut buf).unwrap();
        let h = r.next_packet(&mut buf).unwrap().unwrap();
        assert_eq!(h.ts_ns, 1_767_225_600_000_001_999);
    }

    #[test]
    fn scan_reads_a_file_by_path() {
        let path =
            std::env::temp_dir().join(format!("flowprobe-pcapfile-{}.cap", std::process::id()));
        std::fs::write(&path, write(true)).unwrap();
        let s = scan(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(s.unwrap().packets, 4);
    }

    #[test]
    fn snaplen_caps_caplen() {
        let mut w = PcapWriter::new(Vec::new(), LINKTYPE_RAW, false, 100).unwrap();
        w.write_packet(5_000, &[9; 300]).unwrap();
        let s = scan_reader(&w.into_inner()[..]).unwrap();
        assert_eq!(
            (s.link_types[0], s.captured_bytes, s.original_bytes),
            (LINKTYPE_RAW, 100, 300)
        );
    }

    #[test]
    fn writer_rejects_bad_lengths_and_timestamps() {
        let mut w = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET, false, 65535).unwrap();
        assert_eq!(
            w.write_packet_truncated(0, &[0; 10], 5).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert!(w.write_packet((1u64 << 32) * NS_PER_SEC, &[0; 10]).is_err());
    }

    #[test]
    fn big_endian_classic() {
        let mut f = Vec::new();
        f.extend_from_slice(&MAGIC_US.to_be_bytes());
        f.extend_from_slice(&2u16.to_be_bytes());
        f.extend_from_slice(&4u16.to_be_bytes());
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&262_144u32.to_be_bytes());
        f.extend_from_slice(&LINKTYPE_RAW.to_be_bytes());
        for (sec, usec, data) in [(100u32, 250u32, vec![0x45u8; 20]), (101, 0, vec![0x60; 40])] {
            f.extend_from_slice(&sec.to_be_bytes());
            f.extend_from_slice(&usec.to_be_bytes());
            f.extend_from_slice(&(data.len() as u32).to_be_bytes());
            f.extend_from_slice(&(data.len() as u32 + 4).to_be_bytes());
            f.extend_from_slice(&data);
        }
        let s = scan_reader(&f[..]).unwrap();
        assert_eq!(
            s.format,
            CaptureFormat::Pcap {
                nanosecond: false,
                big_endian: true
            }
        );
        assert_eq!(s.link_types, vec![LINKTYPE_RAW]);
        assert_eq!((s.packets, s.captured_bytes, s.original_bytes), (2, 60, 68));
        assert_eq!(s.first_ts_ns, Some(100_000_250_000));
        assert_eq!(s.last_ts_ns, Some(101_000_000_000));

        let mut r = CaptureReader::new(&f[..]).unwrap();
        let mut buf = Vec::new();
        let rec = r.next_packet(&mut buf).unwrap().unwrap();
        assert_eq!((rec.orig_len, rec.linktype), (24, LINKTYPE_RAW));
        assert_eq!(buf, vec![0x45; 20]);
    }

    /// Builds pcapng blocks in the given byte order.
    struct Ng {
        big: bool,
        out: Vec<u8>,
    }

    impl Ng {
        fn u16(&self, v: u16) -> [u8; 2] {
            if self.big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }
        fn u32(&self, v: u32) -> [u8; 4] {
            if self.big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }
        fn block(&mut self, ty: u32, body: &[u8]) {
            let mut body = body.to_vec();
            while body.len() % 4 != 0 {
                body.push(0);
            }
            let len = body.len() as u32 + 12;
            let (t, l) = (self.u32(ty), self.u32(len));
            self.out.extend_from_slice(&t);
            self.out.extend_from_slice(&l);
            self.out.extend_from_slice(&body);
            self.out.extend_from_slice(&l);
        }
        fn shb(&mut self) {
            let mut b = self.u32(PCAPNG_BOM).to_vec();
            b.extend_from_slice(&self.u16(1));
            b.extend_from_slice(&self.u16(0));
            b.extend_from_slice(&[0xff; 8]); // section length unknown (-1)
            self.block(PCAPNG_SHB, &b);
        }
        fn idb(&mut self, linktype: u16, snaplen: u32, tsresol: Option<u8>) {
            let mut b = self.u16(linktype).to_vec();
            b.extend_from_slice(&[0, 0]);
            b.extend_from_slice(&self.u32(snaplen));
            // An unrelated option first (if_name), to exercise option walking.
            b.extend_from_slice(&self.u16(2));
            b.extend_from_slice(&self.u16(4));
            b.extend_from_slice(b"eth0");
            if let Some(r) = tsresol {
                b.extend_from_slice(&self.u16(9));
                b.extend_from_slice(&self.u16(1));
                b.extend_from_slice(&[r, 0, 0, 0]);
            }
            b.extend_from_slice(&[0; 4]); // opt_endofopt
            self.block(PCAPNG_IDB, &b);
        }
        fn epb(&mut self, if_id: u32, ts: u64, data: &[u8], orig_len: u32) {
            let mut b = self.u32(if_id).to_vec();
            b.extend_from_slice(&self.u32((ts >> 32) as u32));
            b.extend_from_slice(&self.u32(ts as u32));
            b.extend_from_slice(&self.u32(data.len() as u32));
            b.extend_from_slice(&self.u32(orig_len));
            b.extend_from_slice(data);
            self.block(PCAPNG_EPB, &b);
        }
        fn spb(&mut self, data: &[u8]) {
            let mut b = self.u32(data.len() as u32).to_vec();
            b.extend_from_slice(data);
            self.block(PCAPNG_SPB, &b);
        }
    }

    fn minimal_ng(big: bool) -> Vec<u8> {
        let mut ng = Ng {
            big,
            out: Vec::new(),
        };
        ng.shb();
        ng.idb(1, 0, None); // default resolution: µs
        ng.idb(101, 128, Some(9)); // ns
        ng.epb(0, 1_500_000, &[1; 61], 61); // 1.5 s in µs
        ng.epb(1, 2_000_000_007, &[2; 64], 1500); // 2.000000007 s in ns
        ng.spb(&[3; 42]);
        ng.block(0x0000_0bad, &[0; 16]); // custom block: skipped
        ng.out
    }

    #[test]
    fn pcapng_minimal_both_byte_orders() {
        for big in [false, true] {
            let s = scan_reader(&minimal_ng(big)[..]).unwrap();
            assert_eq!(s.format, CaptureFormat::PcapNg);
            assert_eq!(s.link_types, vec![1, 101]);
            assert_eq!(s.packets, 3, "big={big}");
            assert_eq!(s.captured_bytes, 61 + 64 + 42);
            assert_eq!(s.original_bytes, 61 + 1500 + 42);
            assert_eq!(s.first_ts_ns, Some(1_500_000_000));
            assert_eq!(s.last_ts_ns, Some(2_000_000_007));
            assert!(!s.truncated_tail);
        }
    }

    #[test]
    fn pcapng_obsolete_packet_block_and_pow2_resolution() {
        let mut ng = Ng {
            big: false,
            out: Vec::new(),
        };
        ng.shb();
        ng.idb(1, 0, Some(0x80 | 10)); // 2^-10 s units
        let mut b = ng.u16(0).to_vec();
        b.extend_from_slice(&ng.u16(0)); // drops
        b.extend_from_slice(&ng.u32(0));
        b.extend_from_slice(&ng.u32(3 * 1024 + 512)); // 3.5 s
        b.extend_from_slice(&ng.u32(10));
        b.extend_from_slice(&ng.u32(10));
        b.extend_from_slice(&[0; 10]);
        ng.block(PCAPNG_PB, &b);
        let s = scan_reader(&ng.out[..]).unwrap();
        assert_eq!((s.packets, s.captured_bytes), (1, 10));
        assert_eq!(s.first_ts_ns, Some(3_500_000_000));
    }

    #[test]
    fn pcapng_second_section_resets_interfaces_and_byte_order() {
        let mut out = minimal_ng(false);
        let mut ng = Ng {
            big: true,
            out: Vec::new(),
        };
        ng.shb();
        ng.idb(228, 0, None);
        ng.epb(0, 10, &[0; 20], 20);
        out.extend_from_slice(&ng.out);
        let s = scan_reader(&out[..]).unwrap();
        assert_eq!(s.link_types, vec![1, 101, 228]);
        assert_eq!(s.packets, 4);
        assert_eq!(s.first_ts_ns, Some(10_000));
    }

    #[test]
    fn pcapng_unknown_interface_is_an_error() {
        let mut ng = Ng {
            big: false,
            out: Vec::new(),
        };
        ng.shb();
        ng.epb(0, 1, &[0; 4], 4);
        let err = scan_reader(&ng.out[..]).unwrap_err();
        assert!(err.to_string().contains("unknown interface 0"), "{err}");
    }

    #[test]
    fn bad_magic() {
        let err = scan_reader(&b"GIF89a........................"[..]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            err.to_string(),
            "not a pcap or pcapng file (magic 0x47494638)"
        );
        assert!(scan_reader(&b"ab"[..]).is_err());
        let err = CaptureReader::new(&b"GIF89a........................"[..])
            .err()
            .expect("bad magic refused by the reader too");
        assert_eq!(
            err.to_string(),
            "not a pcap or pcapng file (magic 0x47494638)"
        );
    }

    #[test]
    fn truncated_tail_classic() {
        let file = write(false);
        // Cut inside the last record's data, then inside its header.
        for cut in [file.len() - 1, file.len() - 3 - 10] {
            let s = scan_reader(&file[..cut]).unwrap();
            assert!(s.truncated_tail);
            assert_eq!(s.packets, 3);
            assert_eq!(s.captured_bytes, 60 + 1514 + 1);
        }
        // The reader refuses the cut record and names where it starts.
        let cut = &file[..file.len() - 1];
        let last_record = file.len() - 3 - 16;
        let mut r = CaptureReader::new(cut).unwrap();
        let mut buf = Vec::new();
        for _ in 0..3 {
            r.next_packet(&mut buf).unwrap().unwrap();
        }
        let err = r.next_packet(&mut buf).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("truncated packet record at offset {last_record}")
        );
    }

    #[test]
    fn truncated_tail_pcapng() {
        let file = minimal_ng(false);
        // The custom block is 28 bytes and the SPB 60: cutting 30 leaves the SPB cut short.
        let s = scan_reader(&file[..file.len() - 30]).unwrap();
        assert!(s.truncated_tail);
        assert_eq!(s.packets, 2);
    }

    #[test]
    fn corrupt_pcapng_trailer_is_an_error() {
        let mut file = minimal_ng(false);
        let n = file.len();
        file[n - 4] ^= 0xff;
        let err = scan_reader(&file[..]).unwrap_err();
        assert!(err.to_string().contains("trailing length"), "{err}");
    }

    fn read_all<R: Read>(
        mut r: CaptureReader<R>,
    ) -> (Vec<(CaptureRecord, Vec<u8>)>, Option<io::Error>) {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        loop {
            match r.next_packet(&mut buf) {
                Ok(Some(rec)) => out.push((rec, buf.clone())),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn capture_reader_pcapng_packets_link_types_and_times() {
        for big in [false, true] {
            let (pkts, err) = read_all(CaptureReader::new(&minimal_ng(big)[..]).unwrap());
            assert!(err.is_none(), "{err:?}");
            let recs: Vec<CaptureRecord> = pkts.iter().map(|p| p.0).collect();
            let rec = |ts_ns, caplen, orig_len, linktype| CaptureRecord {
                ts_ns,
                caplen,
                orig_len,
                linktype,
            };
            assert_eq!(
                recs,
                vec![
                    rec(1_500_000_000, 61, 61, 1),
                    rec(2_000_000_007, 64, 1500, 101),
                    // SPB: first interface, no timestamp of its own.
                    rec(2_000_000_007, 42, 42, 1),
                ]
            );
            assert_eq!(pkts[0].1, vec![1; 61]);
            assert_eq!(pkts[1].1, vec![2; 64]);
            assert_eq!(pkts[2].1, vec![3; 42]);
        }
    }

    #[test]
    fn capture_reader_obsolete_block_and_second_section() {
        let mut out = minimal_ng(false);
        let mut ng = Ng {
            big: true,
            out: Vec::new(),
        };
        ng.shb();
        ng.idb(228, 0, Some(0x80 | 10));
        let mut b = ng.u16(0).to_vec();
        b.extend_from_slice(&ng.u16(0));
        b.extend_from_slice(&ng.u32(0));
        b.extend_from_slice(&ng.u32(3 * 1024 + 512));
        b.extend_from_slice(&ng.u32(10));
        b.extend_from_slice(&ng.u32(12));
        b.extend_from_slice(&[7; 10]);
        ng.block(PCAPNG_PB, &b);
        out.extend_from_slice(&ng.out);
        let (pkts, err) = read_all(CaptureReader::new(&out[..]).unwrap());
        assert!(err.is_none());
        assert_eq!(pkts.len(), 4);
        let last = &pkts[3];
        assert_eq!(
            (
                last.0.linktype,
                last.0.ts_ns,
                last.0.caplen,
                last.0.orig_len
            ),
            (228, 3_500_000_000, 10, 12)
        );
        assert_eq!(last.1, vec![7; 10]);
    }

    #[test]
    fn capture_reader_classic_and_errors() {
        let (pkts, err) = read_all(CaptureReader::new(&write(true)[..]).unwrap());
        assert!(err.is_none());
        let expect = packets();
        // The writer adds a 4th, truncated record (3 of 1000 bytes).
        assert_eq!(pkts.len(), 4);
        assert_eq!((pkts[3].0.caplen, pkts[3].0.orig_len), (3, 1000));
        for ((rec, data), (ts, want)) in pkts.iter().zip(&expect) {
            assert_eq!(
                (rec.ts_ns, rec.linktype, data),
                (*ts, LINKTYPE_ETHERNET, want)
            );
        }
        // Every cut of a pcapng file: the packets before the cut, then an error or a clean end
        // exactly at a block boundary; never a panic.
        let file = minimal_ng(false);
        for cut in 0..file.len() {
            match CaptureReader::new(&file[..cut]) {
                Err(_) => assert!(cut < 4),
                Ok(r) => {
                    let (pkts, err) = read_all(r);
                    assert!(pkts.len() <= 3);
                    if err.is_none() {
                        assert!(cut < file.len());
                    }
                }
            }
        }
        // Corrupt trailer and unknown interface.
        let mut bad = file.clone();
        let n = bad.len();
        bad[n - 4] ^= 0xff;
        let (pkts, err) = read_all(CaptureReader::new(&bad[..]).unwrap());
        assert_eq!(pkts.len(), 3);
        assert!(err.unwrap().to_string().contains("trailing length"));
        let mut ng = Ng {
            big: false,
            out: Vec::new(),
        };
        ng.shb();
        ng.epb(0, 1, &[0; 4], 4);
        let (_, err) = read_all(CaptureReader::new(&ng.out[..]).unwrap());
        assert!(err.unwrap().to_string().contains("unknown interface 0"));
        // A huge block length fails fast instead of allocating.
        let mut huge = minimal_ng(false);
        let at = huge.len();
        huge.extend_from_slice(&PCAPNG_EPB.to_le_bytes());
        huge.extend_from_slice(&0xffff_fff0u32.to_le_bytes());
        let (pkts, err) = read_all(CaptureReader::new(&huge[..]).unwrap());
        assert_eq!(pkts.len(), 3);
        assert!(err
            .unwrap()
            .to_string()
            .contains(&format!("offset {at} too large")));
        assert!(CaptureReader::new(&b"GIF89a......................"[..]).is_err());
    }

    /// What the reference reader ([`CaptureReader`]) yields: (time, bytes) per packet and the
    /// error that ended it.
    fn reference(f: &[u8]) -> (Vec<(u64, Vec<u8>)>, Option<String>) {
        let (pkts, err) = read_all(CaptureReader::new(f).unwrap());
        let pkts = pkts.into_iter().map(|(r, d)| (r.ts_ns, d)).collect();
        (pkts, err.map(|e| e.to_string()))
    }

    /// Everything a feed hands over, in the same shape.
    fn feed_all(mut feed: ClassicFeed) -> (Vec<(u64, Vec<u8>)>, Option<String>) {
        let mut got = Vec::new();
        loop {
            let mut pk: [BurstPacket; 32] = [(&[], 0, 0); 32];
            match feed.next_burst(&mut pk) {
                Ok(0) => return (got, None),
                Ok(n) => {
                    for &(d, len, ts) in &pk[..n] {
                        assert_eq!(d.len(), len as usize);
                        got.push((ts, d.to_vec()));
                    }
                }
                Err(e) => return (got, Some(e.to_string())),
            }
        }
    }

    /// A capture truncated while it is mapped: no SIGBUS, the packets before the cut and then an
    /// error that says so (not records made of the zeros the mapping reads past the cut).
    #[test]
    #[cfg(feature = "dpdk")]
    fn mapped_capture_truncated_under_the_replay_ends_with_an_error() {
        let mut w = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET, false, MAX_CAPLEN).unwrap();
        for i in 0..3000u32 {
            w.write_packet(
                1_767_225_600_000_000_000 + u64::from(i),
                &vec![i as u8; 300 + i as usize % 200],
            )
            .unwrap();
        }
        let file = w.into_inner();
        let p = std::env::temp_dir().join(format!("flowprobe-cut-{}.pcap", std::process::id()));
        std::fs::write(&p, &file).unwrap();
        let m = crate::dpdk::mapped::Mapped::open(&p).unwrap().unwrap();
        let cut = file.len() / 3 + 123;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(cut as u64)
            .unwrap();
        let feed = ClassicFeed::start_mapped(std::sync::Arc::new(m), None)
            .unwrap()
            .unwrap();
        let (got, err) = feed_all(feed);
        let want = reference(&file[..cut]);
        assert!(want.0.len() > 500 && want.0.len() < 1500);
        assert!(
            got == want.0,
            "{} packets, {} before the cut",
            got.len(),
            want.0.len()
        );
        let err = err.unwrap_or_default();
        assert!(err.contains("truncated while being read"), "{err}");
        std::fs::remove_file(&p).unwrap();
    }

    /// The read-ahead thread and the in-place walk hand over the same packets and the same final
    /// error as the reference reader, across chunk ends, a record larger than a chunk, and cuts.
    #[test]
    fn classic_feed_matches_the_capture_reader() {
        let mut w = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET, false, MAX_CAPLEN).unwrap();
        for i in 0..12_000u32 {
            let len = [60, 1514, 700, 9000][i as usize % 4];
            w.write_packet(
                1_767_225_600_000_000_000 + u64::from(i) * 1000,
                &vec![i as u8; len],
            )
            .unwrap();
            if i == 5000 {
                // Larger than a chunk of the feed.
                w.write_packet(1_767_225_600_000_000_000, &vec![9; 3 * FEED_CHUNK])
                    .unwrap();
            }
        }
        let file = w.into_inner();
        let dir = std::env::temp_dir().join(format!("flowprobe-feed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Cuts in the last record's header and data, and in the middle of earlier records.
        let last = file.len() - 9000 - 16;
        let cases = [
            file.len(),
            file.len() - 1,
            file.len() - 5,
            last + 7,
            last + 16,
            file.len() - 200,
        ];
        for cut in cases {
            let bytes = &file[..cut];
            let want = reference(bytes);
            assert_eq!(want.0.len(), 12_001 - usize::from(cut < file.len()));
            if cut < file.len() {
                let e = want.1.as_deref().unwrap_or("");
                assert!(e.contains("truncated packet record"), "{cut}: {e}");
            }
            let p = dir.join(format!("{cut}.pcap"));
            std::fs::write(&p, bytes).unwrap();
            let feed = ClassicFeed::start(&p, None).unwrap().unwrap();
            assert_eq!(feed.linktype(), LINKTYPE_ETHERNET);
            assert!(feed_all(feed) == want, "read ahead, cut at {cut}");
            // In place over shared bytes (as over a file mapping): the same again.
            let shared: SharedBytes = std::sync::Arc::new(bytes.to_vec());
            let feed = ClassicFeed::start_mapped(shared, None).unwrap().unwrap();
            assert!(feed_all(feed) == want, "mapped, cut at {cut}");
        }
        // A bad length in the middle of a mapped capture: the packets before it, then its error.
        let mut bad = file.clone();
        bad[24 + 16 + 60 + 8..24 + 16 + 60 + 12].copy_from_slice(&(MAX_CAPLEN + 1).to_le_bytes());
        let want = reference(&bad);
        assert_eq!(want.0.len(), 1);
        let feed = ClassicFeed::start_mapped(std::sync::Arc::new(bad), None)
            .unwrap()
            .unwrap();
        assert!(feed_all(feed) == want);
        // pcapng is left to CaptureReader; garbage is refused.
        let ng: SharedBytes = std::sync::Arc::new(minimal_ng(false));
        assert!(ClassicFeed::start_mapped(ng, None).unwrap().is_none());
        let gif: SharedBytes = std::sync::Arc::new(b"GIF89a......................".to_vec());
        assert!(ClassicFeed::start_mapped(gif, None).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
