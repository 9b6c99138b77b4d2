//! Output sinks. The exporter is their only writer; workers never touch them.
//!
//! `--output SPEC` (repeatable): `[FORMAT:]TARGET` with `FORMAT` `netify` or `netobserv` (default:
//! `--format`) and `TARGET` one of `-` (stdout), `file:PATH` or a plain path, `tcp://HOST:PORT`,
//! `unix:PATH` (a Unix stream socket). Every sink gets whole newline-terminated JSON lines.
//! `ipfix+udp://HOST:PORT` and `ipfix+tcp://HOST:PORT` get IPFIX messages instead (no format prefix:
//! IPFIX has its own record format).
//!
//! - stdout and files are written by the exporter directly (buffered); files are fsynced at stop
//!   (a helper thread truncates the previous content and starts write-back every 8 MiB meanwhile)
//!   and, with `--output-rotate-size`, rotated at a line boundary before they would pass the size:
//!   `PATH` → `PATH.1` → ... → `PATH.KEEP` (the oldest is removed).
//! - sockets are written by a thread of their own through a bounded in-memory queue
//!   (`--output-buffer`), so a slow or dead collector never stalls the exporter: lines that do not
//!   fit are counted as `lost`; a broken connection is re-established with exponential backoff
//!   (50 ms doubling to 2 s); at stop the queue is drained for at most `--output-drain-timeout`.

use super::socket::{Framing, SocketSink};
use std::fs::File;
use std::io::{self, BufWriter, Stdout, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// Output record format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Netify,
    NetObserv,
    /// IPFIX messages (RFC 7011/5103), binary: only over `ipfix+udp://` and `ipfix+tcp://`.
    Ipfix,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Netify => "netify",
            Format::NetObserv => "netobserv",
            Format::Ipfix => "ipfix",
        }
    }
    pub fn parse(s: &str) -> Result<Format, String> {
        match s {
            "netify" => Ok(Format::Netify),
            "netobserv" => Ok(Format::NetObserv),
            _ => Err(format!("unknown output format '{s}' (netify or netobserv)")),
        }
    }
}

/// Where a sink writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Stdout,
    File(PathBuf),
    /// `HOST:PORT`, resolved at every connection attempt.
    Tcp(String),
    Unix(PathBuf),
    /// IPFIX over UDP to `HOST:PORT`.
    IpfixUdp(String),
    /// IPFIX over TCP to `HOST:PORT`, resolved at every connection attempt.
    IpfixTcp(String),
    /// Kafka: `BROKER[,BROKER]` (each `HOST:PORT`) and a topic.
    Kafka {
        brokers: String,
        topic: String,
    },
}

/// One `--output` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSpec {
    pub format: Format,
    pub target: Target,
}

/// `HOST:PORT` with a host and a port 1..=65535; the reason, naming `scheme`, when not.
fn check_host_port(hp: &str, scheme: &str) -> Result<(), String> {
    let (host, port) = hp
        .rsplit_once(':')
        .ok_or_else(|| format!("expected {scheme}HOST:PORT"))?;
    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(format!("expected {scheme}HOST:PORT with a port 1..=65535"));
    }
    Ok(())
}

impl OutputSpec {
    /// Parse `[netify:|netobserv:]TARGET`; `default` is the format without a prefix.
    pub fn parse(s: &str, default: Format) -> Result<OutputSpec, String> {
        let (format, t) = if let Some(r) = s.strip_prefix("netify:") {
            (Format::Netify, r)
        } else if let Some(r) = s.strip_prefix("netobserv:") {
            (Format::NetObserv, r)
        } else {
            (default, s)
        };
        let bad = |why: &str| format!("invalid --output '{s}': {why}");
        for (scheme, tcp) in [("ipfix+udp://", false), ("ipfix+tcp://", true)] {
            let Some(hp) = t.strip_prefix(scheme) else {
                continue;
            };
            // Without this check `netify:ipfix+udp://...` would have become a file of that name.
            if t.len() != s.len() {
                return Err(bad(&format!(
                    "IPFIX has its own record format: drop the '{}' prefix",
                    &s[..s.len() - t.len()]
                )));
            }
            check_host_port(hp, scheme).map_err(|why| bad(&why))?;
            let hp = hp.to_string();
            return Ok(OutputSpec {
                format: Format::Ipfix,
                target: if tcp {
                    Target::IpfixTcp(hp)
                } else {
                    Target::IpfixUdp(hp)
                },
            });
        }
        let target = if t == "-" {
            Target::Stdout
        } else if let Some(hp) = t.strip_prefix("tcp://") {
            check_host_port(hp, "tcp://").map_err(|why| bad(&why))?;
            Target::Tcp(hp.to_string())
        } else if let Some(rest) = t.strip_prefix("kafka://") {
            let (brokers, topic) = rest
                .split_once('/')
                .ok_or_else(|| bad("expected kafka://BROKER[,BROKER]/TOPIC"))?;
            for b in brokers.split(',') {
                if check_host_port(b, "").is_err() {
                    return Err(bad(&format!(
                        "broker '{b}': expected HOST:PORT with a port 1..=65535"
                    )));
                }
            }
            // Kafka's topic names: 1..=249 of [a-zA-Z0-9._-], not `.` or `..`.
            let legal = topic
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
            if topic.is_empty() || topic.len() > 249 || !legal || topic == "." || topic == ".." {
                return Err(bad(&format!(
                    "topic '{topic}': expected 1 to 249 of a-z A-Z 0-9 . _ -"
                )));
            }
            Target::Kafka {
                brokers: brokers.to_string(),
                topic: topic.to_string(),
            }
        } else if let Some(p) = t.strip_prefix("unix:") {
            if p.is_empty() {
                return Err(bad("expected unix:PATH"));
            }
            Target::Unix(PathBuf::from(p))
        } else {
            let p = t.strip_prefix("file:").unwrap_or(t);
            if p.is_empty() {
                return Err(bad("empty path"));
            }
            Target::File(PathBuf::from(p))
        };
        Ok(OutputSpec { format, target })
    }

    /// A short name for reports: `stdout`, the path, `tcp://HOST:PORT`, `unix:PATH`.
    pub fn name(&self) -> String {
        match &self.target {
            Target::Stdout => "stdout".into(),
            Target::File(p) => p.display().to_string(),
            Target::Tcp(hp) => format!("tcp://{hp}"),
            Target::Unix(p) => format!("unix:{}", p.display()),
            Target::IpfixUdp(hp) => format!("ipfix+udp://{hp}"),
            Target::IpfixTcp(hp) => format!("ipfix+tcp://{hp}"),
            Target::Kafka { brokers, topic } => format!("kafka://{brokers}/{topic}"),
        }
    }
}

/// Parse a size: bytes, or with a binary suffix `K`, `M`, `G` (`100M`); `0` disables.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mul) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("invalid size '{s}': unit must be K, M or G")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .ok_or_else(|| format!("invalid size '{s}': expected e.g. 4096, 64K, 100M, 1G"))
}

/// Kafka options shared by every kafka:// output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaOptions {
    /// `compression.codec`: none, gzip, snappy, lz4.
    pub compression: String,
    /// librdkafka properties passed through (`--kafka-opt KEY=VALUE`), applied last.
    pub props: Vec<(String, String)>,
}

impl Default for KafkaOptions {
    fn default() -> Self {
        KafkaOptions {
            compression: "lz4".into(),
            props: Vec::new(),
        }
    }
}

/// Sink options shared by every output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkOptions {
    /// Rotate files before they pass this many bytes (0: never).
    pub rotate_size: u64,
    /// Rotated files kept (`PATH.1` .. `PATH.KEEP`).
    pub rotate_keep: u32,
    /// Bytes a socket sink buffers while its collector is slow or away.
    pub buffer_bytes: usize,
    /// How long a socket or Kafka sink may take to deliver its buffer at stop.
    pub drain_timeout: Duration,
    pub kafka: KafkaOptions,
}

impl Default for SinkOptions {
    fn default() -> Self {
        SinkOptions {
            rotate_size: 0,
            rotate_keep: 5,
            buffer_bytes: 4 << 20,
            drain_timeout: Duration::from_secs(5),
            kafka: KafkaOptions::default(),
        }
    }
}

/// Counters of one sink, as the summary prints them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkReport {
    pub name: String,
    pub format: &'static str,
    /// Lines written (to the file/stdout, or to the socket).
    pub records: u64,
    pub bytes: u64,
    /// Failed writes, flushes, fsyncs, renames; for sockets also failed connection attempts.
    pub errors: u64,
    /// Socket connections re-established after a loss.
    pub reconnects: u64,
    /// Lines dropped: socket buffer full, failed socket writes, undelivered at stop; Kafka:
    /// refused at enqueue (producer queue full).
    pub lost: u64,
    /// Kafka: records accepted by the producer whose delivery failed (error report, or still
    /// undelivered when the drain timeout ran out). records + lost + failed = records handed over.
    pub failed: u64,
    /// Kafka: produce requests retried (librdkafka statistics `txretries`).
    pub retries: u64,
    /// File rotations done.
    pub rotations: u64,
    /// Local sinks (stdout, files) whose errors mean the output is incomplete.
    pub local: bool,
    pub last_error: Option<String>,
}

struct FileSink {
    w: BufWriter<File>,
    path: PathBuf,
    size: u64,
    rotate_size: u64,
    keep: u32,
    /// Non-rotating regular files: truncation and early write-back on a helper thread.
    house: Option<Housekeeper>,
    /// A regular file (not `/dev/null`, a FIFO, a terminal): only those are truncated and
    /// fsynced (fsync fails with EINVAL on the others, which made `--output /dev/null` exit 1).
    regular: bool,
}

/// Write-back started every this many bytes, so the fsync at stop has little left to do.
const SYNC_EVERY: u64 = 8 << 20;

/// File work kept off the exporter's path: truncating the previous content of the output (freeing
/// a 34 MB file's pages took 10-50 ms at start-up) and `fdatasync` every `SYNC_EVERY` bytes (the
/// one at stop took 22 ms for 34 MB). Lines encoded before the truncation is done are held in
/// memory (the exporter never waits for it); the fsync at stop is still done, on the exporter.
struct Housekeeper {
    /// Truncation done: writes may reach the file.
    ready: Arc<AtomicBool>,
    /// Lines held while `ready` is false.
    held: Vec<u8>,
    truncation: Option<std::thread::JoinHandle<()>>,
    /// The write-back thread, started by the first request from the exporter's thread so it
    /// inherits the exporter's CPU (never a worker's). A full channel means a request is pending
    /// (dropped, never waited for).
    sync: Option<(mpsc::SyncSender<()>, std::thread::JoinHandle<()>)>,
    file: File,
    since_sync: u64,
    /// The helpers' first error (truncation or write-back), reported at close.
    error: Arc<Mutex<Option<io::Error>>>,
}

fn note(e: &Mutex<Option<io::Error>>, x: io::Error) {
    if let Ok(mut g) = e.lock() {
        g.get_or_insert(x);
    }
}

impl Housekeeper {
    /// `truncate`: the file has previous content to remove.
    fn start(f: &File, truncate: bool) -> io::Result<Housekeeper> {
        let ready = Arc::new(AtomicBool::new(!truncate));
        let error = Arc::new(Mutex::new(None));
        let truncation = if truncate {
            let t = f.try_clone()?;
            let (r, e) = (ready.clone(), error.clone());
            Some(
                std::thread::Builder::new()
                    .name("output-trunc".into())
                    .spawn(move || {
                        if let Err(x) = t.set_len(0) {
                            note(&e, x);
                        }
                        r.store(true, Ordering::Release);
                    })?,
            )
        } else {
            None
        };
        Ok(Housekeeper {
            ready,
            held: Vec::new(),
            truncation,
            sync: None,
            file: f.try_clone()?,
            since_sync: 0,
            error,
        })
    }

    /// Ask for a write-back of what the file holds so far.
    fn request_sync(&mut self) {
        if self.sync.is_none() {
            let (tx, rx) = mpsc::sync_channel::<()>(1);
            let (f, e) = (self.file.try_clone(), self.error.clone());
            let spawned = f.and_then(|f| {
                std::thread::Builder::new()
                    .name("output-sync".into())
                    .spawn(move || {
                        while rx.recv().is_ok() {
                            if let Err(x) = f.sync_data() {
                                note(&e, x);
                            }
                        }
                    })
            });
            match spawned {
                Ok(h) => self.sync = Some((tx, h)),
                // No early write-back: the fsync at stop does it all.
                Err(_) => return,
            }
        }
        if let Some((tx, _)) = &self.sync {
            let _ = tx.try_send(());
        }
    }

    /// Stop the helpers (after the truncation and any write-back in progress).
    fn finish(&mut self) -> io::Result<()> {
        if let Some(t) = self.truncation.take() {
            let _ = t.join();
        }
        if let Some((tx, h)) = self.sync.take() {
            drop(tx);
            let _ = h.join();
        }
        self.ready.store(true, Ordering::Release);
        match self.error.lock().ok().and_then(|mut g| g.take()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl FileSink {
    /// Write (non-rotating files): held until the truncation is done, write-back requested
    /// every `SYNC_EVERY` bytes.
    fn write_plain(&mut self, buf: &[u8]) -> io::Result<()> {
        let Some(h) = &mut self.house else {
            return self.w.write_all(buf);
        };
        if !h.ready.load(Ordering::Acquire) {
            h.held.extend_from_slice(buf);
            return Ok(());
        }
        if !h.held.is_empty() {
            self.w.write_all(&h.held)?;
            h.held = Vec::new();
        }
        self.w.write_all(buf)?;
        h.since_sync += buf.len() as u64;
        if h.since_sync >= SYNC_EVERY {
            h.since_sync = 0;
            // Push the buffered bytes to the kernel so the write-back covers them.
            self.w.flush()?;
            h.request_sync();
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        match &self.house {
            Some(h) if !h.ready.load(Ordering::Acquire) => Ok(()),
            _ => self.w.flush(),
        }
    }

    /// At stop: the helper's truncation done and joined, everything written, then fsync.
    fn close(&mut self) -> io::Result<()> {
        let mut r = Ok(());
        if let Some(h) = &mut self.house {
            r = h.finish();
            let held = std::mem::take(&mut h.held);
            self.w.write_all(&held)?;
        }
        self.w.flush()?;
        if self.regular {
            self.w.get_ref().sync_all()?;
        }
        r
    }

    fn create(path: &Path) -> io::Result<File> {
        File::create(path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create output {}: {e}", path.display()),
            )
        })
    }

    /// Close the current file, shift `PATH.i` → `PATH.i+1`, `PATH` → `PATH.1`, start a new one.
    fn rotate(&mut self) -> io::Result<()> {
        self.w.flush()?;
        self.w.get_ref().sync_all()?;
        let numbered = |i: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{i}"));
            PathBuf::from(p)
        };
        if self.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            match std::fs::remove_file(numbered(self.keep)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            for i in (1..self.keep).rev() {
                match std::fs::rename(numbered(i), numbered(i + 1)) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            std::fs::rename(&self.path, numbered(1))?;
        }
        self.w = BufWriter::with_capacity(1 << 20, Self::create(&self.path)?);
        self.size = 0;
        Ok(())
    }
}

enum SinkKind {
    Stdout(BufWriter<Stdout>),
    File(FileSink),
    Socket(SocketSink),
    Ipfix(super::ipfix_udp::IpfixUdp),
    IpfixTcp(super::ipfix_tcp::IpfixTcp),
    #[cfg(feature = "kafka")]
    Kafka(super::kafka::KafkaSink),
}

/// A sink with its own counters.
pub struct Sink {
    pub format: Format,
    kind: SinkKind,
    rep: SinkReport,
}

pub(super) fn count_lines(b: &[u8]) -> u64 {
    b.iter().filter(|&&c| c == b'\n').count() as u64
}

impl Sink {
    /// Open one output. Files are created now (a bad path fails fast); sockets connect in the
    /// background (a collector may come up later).
    pub fn open_spec(spec: &OutputSpec, opts: &SinkOptions) -> io::Result<Sink> {
        let kind = match &spec.target {
            Target::Stdout => SinkKind::Stdout(BufWriter::with_capacity(1 << 20, io::stdout())),
            Target::File(p) if opts.rotate_size == 0 => {
                // Created or opened as is; the helper truncates it (see `Housekeeper`).
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(p)
                    .map_err(|e| {
                        io::Error::new(
                            e.kind(),
                            format!("cannot create output {}: {e}", p.display()),
                        )
                    })?;
                let m = f.metadata()?;
                let regular = m.file_type().is_file();
                let house = if regular {
                    Some(Housekeeper::start(&f, m.len() > 0)?)
                } else {
                    None
                };
                SinkKind::File(FileSink {
                    w: BufWriter::with_capacity(1 << 20, f),
                    path: p.clone(),
                    size: 0,
                    rotate_size: 0,
                    keep: opts.rotate_keep,
                    house,
                    regular,
                })
            }
            Target::File(p) => SinkKind::File(FileSink {
                w: BufWriter::with_capacity(1 << 20, FileSink::create(p)?),
                path: p.clone(),
                size: 0,
                rotate_size: opts.rotate_size,
                keep: opts.rotate_keep,
                house: None,
                regular: true,
            }),
            Target::Tcp(_) | Target::Unix(_) => SinkKind::Socket(SocketSink::start(
                spec.target.clone(),
                Framing::Lines,
                opts.buffer_bytes,
                opts.drain_timeout,
            )?),
            Target::IpfixUdp(hp) => SinkKind::Ipfix(super::ipfix_udp::IpfixUdp::open(hp)?),
            Target::IpfixTcp(hp) => SinkKind::IpfixTcp(super::ipfix_tcp::IpfixTcp::open(
                hp,
                opts.buffer_bytes,
                opts.drain_timeout,
            )?),
            #[cfg(feature = "kafka")]
            Target::Kafka { brokers, topic } => SinkKind::Kafka(
                super::kafka::KafkaSink::open(
                    brokers,
                    topic,
                    &opts.kafka,
                    opts.buffer_bytes,
                    opts.drain_timeout,
                )
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
            ),
            #[cfg(not(feature = "kafka"))]
            Target::Kafka { .. } => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!(
                        "{}: this flowprobe was built without the kafka feature",
                        spec.name()
                    ),
                ))
            }
        };
        Ok(Sink {
            format: spec.format,
            rep: SinkReport {
                name: spec.name(),
                format: spec.format.name(),
                local: matches!(spec.target, Target::Stdout | Target::File(_)),
                ..Default::default()
            },
            kind,
        })
    }

    fn fail(&mut self, e: io::Error) {
        self.rep.errors += 1;
        self.rep.last_error = Some(e.to_string());
    }

    /// Write a batch of `n` encoded lines. A failure is counted, never fatal.
    pub fn write(&mut self, buf: &[u8], n: u64) {
        let r = match &mut self.kind {
            SinkKind::Stdout(w) => w.write_all(buf).map(|_| (n, buf.len())),
            SinkKind::File(f) if f.rotate_size == 0 => f.write_plain(buf).map(|_| (n, buf.len())),
            SinkKind::File(f) => write_rotating(f, buf, &mut self.rep.rotations),
            SinkKind::Socket(s) => {
                s.push(buf, n);
                return;
            }
            // IPFIX sinks encode records themselves (see `encode_ipfix`); Kafka sinks take
            // keyed batches (see `write_keyed`).
            SinkKind::Ipfix(_) | SinkKind::IpfixTcp(_) => return,
            #[cfg(feature = "kafka")]
            SinkKind::Kafka(_) => return,
        };
        match r {
            Ok((lines, bytes)) => {
                self.rep.records += lines;
                self.rep.bytes += bytes as u64;
            }
            Err(e) => self.fail(e),
        }
    }

    pub fn flush(&mut self) {
        let r = match &mut self.kind {
            SinkKind::Stdout(w) => w.flush(),
            SinkKind::File(f) => f.flush(),
            SinkKind::Socket(_) => Ok(()),
            SinkKind::Ipfix(x) => {
                x.flush(&mut self.rep);
                Ok(())
            }
            SinkKind::IpfixTcp(x) => {
                x.flush();
                Ok(())
            }
            // librdkafka sends on its own schedule (linger.ms).
            #[cfg(feature = "kafka")]
            SinkKind::Kafka(_) => Ok(()),
        };
        if let Err(e) = r {
            self.fail(e);
        }
    }

    /// Flush and, for files, fsync; sockets drain their buffer (bounded in time). Once, at stop.
    pub fn close(&mut self) {
        self.flush();
        let r = match &mut self.kind {
            SinkKind::File(f) => f.close(),
            SinkKind::Socket(s) => {
                s.close();
                Ok(())
            }
            SinkKind::IpfixTcp(x) => {
                x.close();
                Ok(())
            }
            #[cfg(feature = "kafka")]
            SinkKind::Kafka(k) => {
                k.close();
                Ok(())
            }
            SinkKind::Stdout(_) | SinkKind::Ipfix(_) => Ok(()),
        };
        if let Err(e) = r {
            self.fail(e);
        }
    }

    /// Takes keyed batches (`write_keyed`): one message per line, keyed by its flow.
    pub fn keyed(&self) -> bool {
        #[cfg(feature = "kafka")]
        if let SinkKind::Kafka(_) = self.kind {
            return true;
        }
        false
    }

    /// Keyed sinks: a batch with (end offset, flow key) per record.
    pub fn write_keyed(&mut self, buf: &[u8], marks: &[(usize, u64)]) {
        #[cfg(feature = "kafka")]
        if let SinkKind::Kafka(k) = &mut self.kind {
            k.send(buf, marks);
        }
        let _ = (buf, marks);
    }

    /// IPFIX sinks: add one record to the message being built; full messages are sent.
    pub fn encode_ipfix(&mut self, r: &crate::flow::FlowRecord, now_s: u64) {
        match &mut self.kind {
            SinkKind::Ipfix(x) => x.add(r, now_s, &mut self.rep),
            SinkKind::IpfixTcp(x) => x.add(r, now_s),
            _ => {}
        }
    }

    /// Counters so far (socket counters are read from their thread's atomics).
    pub fn report(&self) -> SinkReport {
        let mut r = self.rep.clone();
        match &self.kind {
            SinkKind::Socket(s) => s.fill(&mut r),
            SinkKind::IpfixTcp(x) => x.fill(&mut r),
            #[cfg(feature = "kafka")]
            SinkKind::Kafka(k) => k.fill(&mut r),
            _ => {}
        }
        r
    }
}

/// Write `buf` cutting it at line boundaries so no file passes `rotate_size` (a single line longer
/// than the limit gets a file of its own). Returns lines and bytes written.
fn write_rotating(
    f: &mut FileSink,
    mut buf: &[u8],
    rotations: &mut u64,
) -> io::Result<(u64, usize)> {
    let (mut lines, mut bytes) = (0u64, 0usize);
    while !buf.is_empty() {
        let room = f.rotate_size.saturating_sub(f.size) as usize;
        let cut = if buf.len() <= room {
            buf.len()
        } else {
            match buf[..room].iter().rposition(|&c| c == b'\n') {
                Some(i) => i + 1,
                None if f.size == 0 => buf
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(buf.len(), |i| i + 1),
                None => 0,
            }
        };
        if cut == 0 {
            f.rotate()?;
            *rotations += 1;
            continue;
        }
        let (head, tail) = buf.split_at(cut);
        f.w.write_all(head)?;
        f.size += head.len() as u64;
        lines += count_lines(head);
        bytes += head.len();
        buf = tail;
    }
    Ok((lines, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_specs() {
        let p = |s: &str| OutputSpec::parse(s, Format::Netify);
        assert_eq!(p("-").unwrap().target, Target::Stdout);
        assert_eq!(
            p("netobserv:-").unwrap(),
            OutputSpec {
                format: Format::NetObserv,
                target: Target::Stdout
            }
        );
        assert_eq!(
            p("out.json").unwrap().target,
            Target::File("out.json".into())
        );
        assert_eq!(
            p("file:/tmp/a").unwrap().target,
            Target::File("/tmp/a".into())
        );
        assert_eq!(
            p("netify:tcp://collector:9000").unwrap().target,
            Target::Tcp("collector:9000".into())
        );
        assert_eq!(
            p("tcp://[::1]:9000").unwrap().target,
            Target::Tcp("[::1]:9000".into())
        );
        assert_eq!(
            p("unix:/run/c.sock").unwrap().target,
            Target::Unix("/run/c.sock".into())
        );
        assert!(p("tcp://host").unwrap_err().contains("HOST:PORT"));
        assert!(p("tcp://host:0").is_err());
        assert!(p("unix:").is_err());
        assert!(p("netify:").is_err());
        assert_eq!(p("tcp://h:1").unwrap().name(), "tcp://h:1");
        let x = p("ipfix+tcp://[::1]:4739").unwrap();
        assert_eq!(
            (x.format, x.target),
            (Format::Ipfix, Target::IpfixTcp("[::1]:4739".into()))
        );
        assert_eq!(
            p("ipfix+tcp://c:4739").unwrap().name(),
            "ipfix+tcp://c:4739"
        );
        assert!(p("ipfix+tcp://c")
            .unwrap_err()
            .contains("ipfix+tcp://HOST:PORT"));
        assert!(p("ipfix+tcp://c:0").is_err());
        for spec in ["netify:ipfix+udp://c:4739", "netobserv:ipfix+tcp://c:4739"] {
            let e = p(spec).unwrap_err();
            assert!(
                e.contains(spec) && e.contains("IPFIX has its own record format"),
                "{e}"
            );
        }
        let k = p("netify:kafka://b1:9092/t").unwrap();
        assert_eq!(
            (k.format, k.target),
            (
                Format::Netify,
                Target::Kafka {
                    brokers: "b1:9092".into(),
                    topic: "t".into()
                }
            )
        );
        let k = p("netobserv:kafka://b1:9092,[::1]:9093/flows.v1").unwrap();
        assert_eq!(k.format, Format::NetObserv);
        assert_eq!(
            k.target,
            Target::Kafka {
                brokers: "b1:9092,[::1]:9093".into(),
                topic: "flows.v1".into()
            }
        );
        assert_eq!(k.name(), "kafka://b1:9092,[::1]:9093/flows.v1");
        for bad in [
            "kafka://b1:9092",
            "kafka:///t",
            "kafka://b1/t",
            "kafka://b1:9092,/t",
            "kafka://b1:0/t",
            "kafka://b1:9092/",
            "kafka://b1:9092/a/b",
            "kafka://b1:9092/..",
        ] {
            assert!(p(bad).unwrap_err().contains("invalid --output"), "{bad}");
        }
    }

    #[test]
    fn file_output_replaces_previous_content_and_syncs_in_the_background() {
        let dir = std::env::temp_dir().join(format!("flowprobe-trunc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.json");
        // A previous, longer output: none of it may survive.
        std::fs::write(&path, vec![b'x'; 3 << 20]).unwrap();
        let spec = OutputSpec {
            format: Format::Netify,
            target: Target::File(path.clone()),
        };
        let mut s = Sink::open_spec(&spec, &SinkOptions::default()).unwrap();
        let line = b"{\"n\":1}\n";
        let mut expect = Vec::new();
        // Past SYNC_EVERY: write-back requests go to the helper thread.
        let chunk: Vec<u8> = line.repeat(100_000);
        for _ in 0..12 {
            s.write(&chunk, 100_000);
            s.flush();
            expect.extend_from_slice(&chunk);
        }
        s.close();
        let r = s.report();
        assert_eq!(
            (r.records, r.bytes, r.errors),
            (1_200_000, expect.len() as u64, 0)
        );
        assert!(
            std::fs::read(&path).unwrap() == expect,
            "exactly the new lines"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn dev_null_output_has_no_errors() {
        let spec = OutputSpec {
            format: Format::Netify,
            target: Target::File("/dev/null".into()),
        };
        let mut s = Sink::open_spec(&spec, &SinkOptions::default()).unwrap();
        s.write(&b"{}\n".repeat(4 << 20), 4 << 20);
        s.close();
        let r = s.report();
        assert_eq!((r.records, r.errors, r.last_error), (4 << 20, 0, None));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100M").unwrap(), 100 << 20);
        assert_eq!(parse_size("64k").unwrap(), 64 << 10);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("0").unwrap(), 0);
        assert!(parse_size("10X").is_err());
        assert!(parse_size("M").is_err());
    }

    #[test]
    fn file_rotation_keeps_n_and_cuts_at_lines() {
        let dir = std::env::temp_dir().join(format!("flowprobe-rot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.json");
        let opts = SinkOptions {
            rotate_size: 25,
            rotate_keep: 2,
            ..Default::default()
        };
        let spec = OutputSpec {
            format: Format::Netify,
            target: Target::File(path.clone()),
        };
        let mut s = Sink::open_spec(&spec, &opts).unwrap();
        // 10-byte lines: two per file; 7 lines → 4 files, of which 3 remain (PATH, .1, .2).
        let mut buf = Vec::new();
        for i in 0..7 {
            buf.extend_from_slice(format!("{{\"n\":{i:03}}}\n").as_bytes());
        }
        assert_eq!(buf.len(), 70);
        s.write(&buf[..30], 3);
        s.write(&buf[30..], 4);
        s.close();
        let r = s.report();
        assert_eq!(r.records, 7);
        assert_eq!(r.bytes, 70);
        assert_eq!(r.rotations, 3);
        assert_eq!(r.errors, 0);
        let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap();
        assert_eq!(read("out.json"), "{\"n\":006}\n");
        assert_eq!(read("out.json.1"), "{\"n\":004}\n{\"n\":005}\n");
        assert_eq!(read("out.json.2"), "{\"n\":002}\n{\"n\":003}\n");
        assert!(!dir.join("out.json.3").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
