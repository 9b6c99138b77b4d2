//! Kafka sink (`--output kafka://BROKER[,BROKER]/TOPIC`): one JSON record per message, keyed by
//! the flow's key so that one flow's records stay in one partition.
//!
//! librdkafka does the batching (linger.ms), compression, retries and reconnection on its own
//! threads; a `ThreadedProducer` polls delivery reports. The exporter only enqueues: the queue is
//! bounded (`queue.buffering.max.kbytes` from `--output-buffer`), a full queue drops the record
//! (counted as `lost`), and nothing here blocks except the bounded flush at stop.
//!
//! Accounting: every record handed to the sink ends as exactly one of delivered (`records`),
//! `lost` (queue full or refused at enqueue) or `failed` (delivery error, or still undelivered
//! when the drain timeout ran out).

use super::json::hex_into;
use super::sink::{KafkaOptions, SinkReport};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Statistics};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    delivered_bytes: AtomicU64,
    failed: AtomicU64,
    /// Produce requests retried (librdkafka statistics, summed over brokers).
    retries: AtomicU64,
    errors: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Counters {
    fn error(&self, e: String) {
        self.errors.fetch_add(1, Relaxed);
        if let Ok(mut g) = self.last_error.lock() {
            *g = Some(e);
        }
    }
}

struct Ctx(Arc<Counters>);

impl ClientContext for Ctx {
    fn stats(&self, s: Statistics) {
        let n = s.brokers.values().map(|b| b.txretries).sum();
        self.0.retries.store(n, Relaxed);
    }

    /// Client-level errors (broker down, all brokers down, ...): counted, never fatal here;
    /// librdkafka keeps reconnecting.
    fn error(&self, error: KafkaError, reason: &str) {
        self.0.error(format!("{error}: {reason}"));
    }
}

impl ProducerContext for Ctx {
    type DeliveryOpaque = ();

    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        match r {
            Ok(m) => {
                self.0.delivered.fetch_add(1, Relaxed);
                self.0
                    .delivered_bytes
                    .fetch_add(m.payload_len() as u64, Relaxed);
            }
            Err((e, _)) => {
                self.0.failed.fetch_add(1, Relaxed);
                if let Ok(mut g) = self.0.last_error.lock() {
                    *g = Some(e.to_string());
                }
            }
        }
    }
}

pub struct KafkaSink {
    producer: Option<ThreadedProducer<Ctx>>,
    topic: String,
    c: Arc<Counters>,
    /// Records accepted by librdkafka (each ends delivered or failed).
    accepted: u64,
    /// Refused at enqueue: queue full (or another local error).
    dropped: u64,
    drain: Duration,
    key: [u8; 16],
}

impl KafkaSink {
    /// Create the producer (validates every property now: a bad one fails before the run).
    pub fn open(
        brokers: &str,
        topic: &str,
        opts: &KafkaOptions,
        buffer_bytes: usize,
        drain: Duration,
    ) -> Result<KafkaSink, String> {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", brokers)
            .set("client.id", "flowprobe")
            .set("compression.codec", &opts.compression)
            .set("linger.ms", "20")
            // The bound on what a slow or absent broker may hold in memory.
            .set(
                "queue.buffering.max.kbytes",
                (buffer_bytes / 1024).max(1).to_string(),
            )
            .set("queue.buffering.max.messages", "100000")
            .set("statistics.interval.ms", "1000");
        for (k, v) in &opts.props {
            cfg.set(k, v);
        }
        let c = Arc::new(Counters::default());
        let producer: ThreadedProducer<Ctx> =
            cfg.create_with_context(Ctx(c.clone())).map_err(|e| {
                let why = match e {
                    KafkaError::ClientConfig(_, desc, k, v) => format!("{desc} ({k}={v})"),
                    e => e.to_string(),
                };
                format!("kafka://{brokers}/{topic}: {}", one_line(&why))
            })?;
        Ok(KafkaSink {
            producer: Some(producer),
            topic: topic.to_string(),
            c,
            accepted: 0,
            dropped: 0,
            drain,
            key: [0; 16],
        })
    }

    /// Enqueue the records of a batch: `marks` are (end offset in `buf`, flow key) per record;
    /// each of a record's lines becomes one message with the flow key.
    pub fn send(&mut self, buf: &[u8], marks: &[(usize, u64)]) {
        let Some(p) = &self.producer else { return };
        let mut start = 0;
        for &(end, key) in marks {
            hex_into(&mut self.key, &key.to_be_bytes());
            for line in buf[start..end].split(|&c| c == b'\n') {
                if line.is_empty() {
                    continue;
                }
                let rec = BaseRecord::to(&self.topic).key(&self.key[..]).payload(line);
                match p.send(rec) {
                    Ok(()) => self.accepted += 1,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        self.dropped += 1
                    }
                    Err((e, _)) => {
                        self.dropped += 1;
                        self.c.error(e.to_string());
                    }
                }
            }
            start = end;
        }
    }

    /// Deliver what is queued within the drain timeout; what is still undelivered then counts as
    /// failed (dropping the producer purges it and reports each message as failed).
    pub fn close(&mut self) {
        if let Some(p) = self.producer.take() {
            if let Err(e) = p.flush(self.drain) {
                self.c.error(format!("flush at stop: {e}"));
            }
            drop(p);
        }
        // Anything librdkafka never reported on is failed too.
        let settled = self.c.delivered.load(Relaxed) + self.c.failed.load(Relaxed);
        if self.accepted > settled {
            self.c.failed.fetch_add(self.accepted - settled, Relaxed);
        }
    }

    pub fn fill(&self, r: &mut SinkReport) {
        r.records = self.c.delivered.load(Relaxed);
        r.bytes = self.c.delivered_bytes.load(Relaxed);
        r.failed = self.c.failed.load(Relaxed);
        r.retries = self.c.retries.load(Relaxed);
        r.errors = self.c.errors.load(Relaxed);
        r.lost = self.dropped;
        r.last_error = self.c.last_error.lock().ok().and_then(|g| g.clone());
    }
}

impl Drop for KafkaSink {
    fn drop(&mut self) {
        self.drain = Duration::ZERO;
        self.close();
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_key() {
        let mut k = [0u8; 16];
        hex_into(&mut k, &0x0123_4567_89ab_cdefu64.to_be_bytes());
        assert_eq!(&k, b"0123456789abcdef");
    }

    /// No broker and a 5-message queue: the sink never blocks, drops what does not fit, and at
    /// stop counts what was never delivered as failed.
    #[test]
    fn full_queue_drops_and_undelivered_fail_without_blocking() {
        let o = KafkaOptions {
            props: vec![("queue.buffering.max.messages".into(), "5".into())],
            ..Default::default()
        };
        let mut k =
            KafkaSink::open("127.0.0.1:1", "t", &o, 1 << 20, Duration::from_millis(200)).unwrap();
        let mut buf = Vec::new();
        let mut marks = Vec::new();
        for i in 0..10u64 {
            buf.extend_from_slice(format!("{{\"n\":{i}}}\n").as_bytes());
            marks.push((buf.len(), i));
        }
        let t = std::time::Instant::now();
        k.send(&buf, &marks);
        assert!(t.elapsed() < Duration::from_secs(1), "send never blocks");
        k.close();
        assert!(t.elapsed() < Duration::from_secs(5), "close is bounded");
        let mut r = SinkReport::default();
        k.fill(&mut r);
        assert_eq!((r.records, r.lost, r.failed), (0, 5, 5), "{r:?}");
    }

    #[test]
    fn bad_property_fails_at_open_in_one_line() {
        let o = KafkaOptions {
            props: vec![("no.such.property".into(), "1".into())],
            ..Default::default()
        };
        let e = KafkaSink::open("127.0.0.1:1", "t", &o, 1 << 20, Duration::ZERO)
            .err()
            .unwrap();
        assert!(e.contains("no.such.property"), "{e}");
        assert!(!e.contains('\n'));
    }
}
