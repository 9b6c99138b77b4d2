//! Socket sinks (TCP, Unix stream): newline-delimited JSON, or IPFIX messages over TCP (RFC 7011
//! §10.4), to a collector from a thread of their own. The exporter only appends to a bounded queue
//! (never blocks on the network); records that do not fit are counted as lost, so memory stays
//! bounded whatever the collector does.

use super::sink::{SinkReport, Target};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// A collector that accepts nothing for this long is treated as gone (the batch is lost).
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// How often an idle sender checks that the collector is still there.
const IDLE_CHECK: Duration = Duration::from_millis(100);
/// Emptied batch buffers kept for reuse.
const FREE_BUFFERS: usize = 16;

/// How a stream is cut into units and what a new connection starts with.
#[derive(Clone, Debug)]
pub enum Framing {
    /// Newline-terminated JSON lines; a batch that does not fit is cut at a line boundary.
    Lines,
    /// IPFIX messages, pushed one at a time. Every connection starts with `templates` (RFC 7011
    /// §8: a collector knows nothing of a new transport session); sequence numbers and export
    /// times are set at send time, counting data records actually written, so a collector sees no
    /// gap for records lost before the socket.
    Ipfix { templates: Vec<u8> },
}

#[derive(Default)]
struct Queue {
    /// Batches of whole lines and their line counts.
    batches: VecDeque<(Vec<u8>, u64)>,
    bytes: usize,
    /// Emptied batch buffers, reused so steady state does not allocate.
    free: Vec<Vec<u8>>,
    /// Set at stop: deliver what is queued until this instant, then give up.
    deadline: Option<Instant>,
}

#[derive(Default)]
struct Shared {
    q: Mutex<Queue>,
    cv: Condvar,
    records: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    reconnects: AtomicU64,
    lost: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Shared {
    fn error(&self, e: &io::Error) {
        self.errors.fetch_add(1, Relaxed);
        if let Ok(mut g) = self.last_error.lock() {
            *g = Some(e.to_string());
        }
    }
}

pub struct SocketSink {
    shared: Arc<Shared>,
    cap: usize,
    /// Lines may be cut at a newline; IPFIX messages are taken whole or lost whole.
    lines: bool,
    thread: Option<JoinHandle<()>>,
    drain: Duration,
}

enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    fn connect(t: &Target) -> io::Result<Conn> {
        match t {
            Target::Tcp(hp) | Target::IpfixTcp(hp) => {
                let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{hp}: no address"));
                for a in hp.to_socket_addrs()? {
                    match TcpStream::connect_timeout(&a, WRITE_TIMEOUT) {
                        Ok(s) => {
                            s.set_write_timeout(Some(WRITE_TIMEOUT))?;
                            return Ok(Conn::Tcp(s));
                        }
                        Err(e) => last = e,
                    }
                }
                Err(last)
            }
            Target::Unix(p) => {
                let s = UnixStream::connect(p)?;
                s.set_write_timeout(Some(WRITE_TIMEOUT))?;
                Ok(Conn::Unix(s))
            }
            _ => Err(io::Error::new(io::ErrorKind::InvalidInput, "not a socket")),
        }
    }

    fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.write_all(b),
            Conn::Unix(s) => s.write_all(b),
        }
    }

    /// False once the collector closed its side (EOF) or the connection failed. Collectors send
    /// nothing; anything they do send is discarded.
    fn alive(&mut self) -> bool {
        let mut buf = [0u8; 512];
        let r = match self {
            Conn::Tcp(s) => s
                .set_nonblocking(true)
                .and_then(|_| s.read(&mut buf))
                .and_then(|n| s.set_nonblocking(false).map(|_| n)),
            Conn::Unix(s) => s
                .set_nonblocking(true)
                .and_then(|_| s.read(&mut buf))
                .and_then(|n| s.set_nonblocking(false).map(|_| n)),
        };
        match r {
            Ok(0) => false,
            Ok(_) => true,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let r = match self {
                    Conn::Tcp(s) => s.set_nonblocking(false),
                    Conn::Unix(s) => s.set_nonblocking(false),
                };
                r.is_ok()
            }
            Err(_) => false,
        }
    }

    /// Orderly close: the collector reads everything written, then EOF.
    fn shutdown(&mut self) {
        let _ = match self {
            Conn::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            Conn::Unix(s) => s.shutdown(std::net::Shutdown::Write),
        };
    }
}

impl SocketSink {
    pub fn start(
        target: Target,
        framing: Framing,
        cap: usize,
        drain: Duration,
    ) -> io::Result<SocketSink> {
        let shared = Arc::new(Shared::default());
        let sh = shared.clone();
        let lines = matches!(framing, Framing::Lines);
        let thread = std::thread::Builder::new()
            .name("flowprobe-sink".into())
            .spawn(move || sender(target, framing, sh))?;
        Ok(SocketSink {
            shared,
            cap: cap.max(1),
            lines,
            thread: Some(thread),
            drain,
        })
    }

    /// Queue `n` lines (or one IPFIX message of `n` data records); what does not fit in the
    /// buffer is counted as lost (whole lines, or the whole message).
    pub fn push(&self, buf: &[u8], n: u64) {
        let Ok(mut q) = self.shared.q.lock() else {
            self.shared.lost.fetch_add(n, Relaxed);
            return;
        };
        let room = self.cap.saturating_sub(q.bytes);
        let (take, lines) = if buf.len() <= room {
            (buf.len(), n)
        } else if !self.lines {
            (0, 0)
        } else {
            let t = buf[..room]
                .iter()
                .rposition(|&c| c == b'\n')
                .map_or(0, |i| i + 1);
            (t, super::sink::count_lines(&buf[..t]))
        };
        if lines < n {
            self.shared.lost.fetch_add(n - lines, Relaxed);
        }
        if take == 0 {
            return;
        }
        let mut v = q.free.pop().unwrap_or_default();
        v.clear();
        v.extend_from_slice(&buf[..take]);
        q.bytes += take;
        q.batches.push_back((v, lines));
        drop(q);
        self.shared.cv.notify_one();
    }

    /// Deliver what is queued within the drain timeout, then stop the thread.
    pub fn close(&mut self) {
        if let Ok(mut q) = self.shared.q.lock() {
            q.deadline = Some(Instant::now() + self.drain);
        }
        self.shared.cv.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    pub fn fill(&self, r: &mut SinkReport) {
        let s = &self.shared;
        r.records = s.records.load(Relaxed);
        r.bytes = s.bytes.load(Relaxed);
        r.errors = s.errors.load(Relaxed);
        r.reconnects = s.reconnects.load(Relaxed);
        r.lost = s.lost.load(Relaxed);
        r.last_error = s.last_error.lock().ok().and_then(|g| g.clone());
    }
}

impl Drop for SocketSink {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.drain = Duration::ZERO;
            self.close();
        }
    }
}

/// Set an IPFIX message's export time and sequence number (RFC 7011 §3.1) just before sending.
fn stamp_ipfix(m: &mut [u8], seq: u32) {
    if m.len() >= 16 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as u32);
        m[4..8].copy_from_slice(&now.to_be_bytes());
        m[8..12].copy_from_slice(&seq.to_be_bytes());
    }
}

/// The sender thread: connect (with backoff), then move batches from the queue to the socket.
fn sender(target: Target, mut framing: Framing, sh: Arc<Shared>) {
    // IPFIX: data records written so far (the next message's sequence number).
    let mut seq = 0u32;
    let mut conn: Option<Conn> = None;
    let mut connected_once = false;
    let mut backoff = BACKOFF_MIN;
    loop {
        let deadline =
            sh.q.lock()
                .map(|q| q.deadline)
                .unwrap_or(Some(Instant::now()));
        let expired = deadline.is_some_and(|d| Instant::now() >= d);
        if expired {
            break;
        }
        if conn.is_none() {
            let connected = Conn::connect(&target).and_then(|mut c| {
                if let Framing::Ipfix { templates } = &mut framing {
                    stamp_ipfix(templates, seq);
                    c.write_all(templates)?;
                }
                Ok(c)
            });
            match connected {
                Ok(c) => {
                    conn = Some(c);
                    if connected_once {
                        sh.reconnects.fetch_add(1, Relaxed);
                    }
                    connected_once = true;
                    backoff = BACKOFF_MIN;
                }
                Err(e) => {
                    sh.error(&e);
                    // Sleep the backoff, or until stop shortens it.
                    let mut wait = backoff;
                    if let Some(d) = deadline {
                        wait = wait.min(d.saturating_duration_since(Instant::now()));
                    }
                    if let Ok(q) = sh.q.lock() {
                        let _ = sh
                            .cv
                            .wait_timeout_while(q, wait, |q| q.deadline == deadline);
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
            }
        }
        // Next batch, or an idle check of the connection.
        let batch = {
            let Ok(mut q) = sh.q.lock() else { break };
            if q.batches.is_empty() {
                if q.deadline.is_some() {
                    break;
                }
                q = match sh.cv.wait_timeout(q, IDLE_CHECK) {
                    Ok((q, _)) => q,
                    Err(_) => break,
                };
            }
            q.batches.pop_front()
        };
        let Some(c) = conn.as_mut() else { continue };
        if !c.alive() {
            // The collector went away: keep the batch for the next connection.
            if let Some(b) = batch {
                if let Ok(mut q) = sh.q.lock() {
                    q.batches.push_front(b);
                }
            }
            c.shutdown();
            conn = None;
            continue;
        }
        let Some((mut buf, n)) = batch else { continue };
        if matches!(framing, Framing::Ipfix { .. }) {
            stamp_ipfix(&mut buf, seq);
        }
        match c.write_all(&buf) {
            Ok(()) => {
                seq = seq.wrapping_add(n as u32);
                sh.records.fetch_add(n, Relaxed);
                sh.bytes.fetch_add(buf.len() as u64, Relaxed);
            }
            Err(e) => {
                // How much the peer got is unknown: the whole batch counts as lost.
                sh.error(&e);
                sh.lost.fetch_add(n, Relaxed);
                conn = None;
            }
        }
        if let Ok(mut q) = sh.q.lock() {
            q.bytes -= buf.len();
            // A few spare buffers are enough; more would hold memory beyond the budget.
            if q.free.len() < FREE_BUFFERS {
                q.free.push(buf);
            }
        }
    }
    if let Some(c) = conn.as_mut() {
        c.shutdown();
    }
    // Undelivered at stop.
    if let Ok(mut q) = sh.q.lock() {
        let n: u64 = q.batches.iter().map(|b| b.1).sum();
        sh.lost.fetch_add(n, Relaxed);
        q.batches.clear();
        q.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    fn line(i: u64) -> Vec<u8> {
        format!("{{\"n\":{i}}}\n").into_bytes()
    }

    #[test]
    fn delivers_in_order_and_counts_overflow_as_lost() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let reader = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            BufReader::new(s)
                .lines()
                .map(|l| l.unwrap())
                .collect::<Vec<_>>()
        });
        let mut s = SocketSink::start(
            Target::Tcp(format!("127.0.0.1:{port}")),
            Framing::Lines,
            64,
            Duration::from_secs(5),
        )
        .unwrap();
        // 8-byte lines, 64-byte buffer: a burst of 10 keeps 8 and loses 2.
        let mut burst = Vec::new();
        for i in 0..10 {
            burst.extend_from_slice(&line(i));
        }
        s.push(&burst, 10);
        s.close();
        let mut r = SinkReport::default();
        s.fill(&mut r);
        let got = reader.join().unwrap();
        assert_eq!(got.len() as u64, r.records);
        assert_eq!(r.records + r.lost, 10);
        assert_eq!(r.records, 8);
        assert_eq!(r.lost, 2);
        assert_eq!(got[0], "{\"n\":0}");
        assert_eq!(got[7], "{\"n\":7}");
    }

    #[test]
    fn dead_collector_loses_everything_within_the_drain_timeout() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let mut s = SocketSink::start(
            Target::Tcp(format!("127.0.0.1:{port}")),
            Framing::Lines,
            1 << 20,
            Duration::from_millis(300),
        )
        .unwrap();
        s.push(&line(1), 1);
        s.push(&line(2), 1);
        let t = Instant::now();
        s.close();
        assert!(t.elapsed() < Duration::from_secs(3));
        let mut r = SinkReport::default();
        s.fill(&mut r);
        assert_eq!(r.records, 0);
        assert_eq!(r.lost, 2);
        assert!(r.errors >= 1);
        assert!(r.last_error.is_some());
    }

    #[test]
    fn unix_socket_and_reconnect() {
        let p = std::env::temp_dir().join(format!("flowprobe-sock-{}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        let l = std::os::unix::net::UnixListener::bind(&p).unwrap();
        let mut s = SocketSink::start(
            Target::Unix(p.clone()),
            Framing::Lines,
            1 << 20,
            Duration::from_secs(5),
        )
        .unwrap();
        s.push(&line(1), 1);
        // First connection: read one line, then close it in order (the sink reconnects).
        let (c, _) = l.accept().unwrap();
        let mut r1 = BufReader::new(c);
        let mut first = String::new();
        r1.read_line(&mut first).unwrap();
        assert_eq!(first, "{\"n\":1}\n");
        r1.get_ref().shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = String::new();
        r1.read_line(&mut rest).unwrap();
        assert_eq!(
            rest, "",
            "the sink closes its side once it sees ours closed"
        );
        s.push(&line(2), 1);
        let (c, _) = l.accept().unwrap();
        s.close();
        let got: Vec<String> = BufReader::new(c).lines().map(|l| l.unwrap()).collect();
        assert_eq!(got, vec!["{\"n\":2}".to_string()]);
        let mut r = SinkReport::default();
        s.fill(&mut r);
        assert_eq!((r.records, r.lost, r.reconnects), (2, 0, 1));
        let _ = std::fs::remove_file(&p);
    }
}
