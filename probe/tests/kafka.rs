//! The kafka:// output against a real Kafka-protocol broker on loopback: `tansu` (found through
//! `TANSU_BIN` or `PATH`; `scripts/test.sh` installs it). Each test starts its own broker with
//! in-memory storage, creates its topic, runs the built probe, and consumes the topic back with
//! librdkafka. Skips, saying so, where tansu is not installed.
#![cfg(feature = "kafka")]

mod common;

use common::*;
use flowprobe::rdkafka;
use flowprobe::synth::trace::TraceConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::task::{Context, Poll, Wake};
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 3;

fn tansu() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TANSU_BIN") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("tansu"))
            .find(|p| p.is_file())
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A tansu broker with in-memory storage on a free loopback port; SIGKILLed on drop.
struct Broker {
    child: Child,
    addr: String,
}

impl Broker {
    fn start(bin: &Path, log: &Path) -> Broker {
        let port = free_port();
        Broker::spawn(bin, log, port, port)
    }

    /// A broker behind a loopback relay that holds every client request for `delay` before
    /// passing it on (the broker advertises the relay, so every connection goes through it):
    /// delivery then takes a known minimum time however fast the probe produces.
    fn start_throttled(bin: &Path, log: &Path, delay: Duration) -> Broker {
        // The relay's listener bound first and kept: a port picked and released could be handed
        // out again (to `inner`, or to the other test's broker) before it is bound (AddrInUse).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let outer = listener.local_addr().unwrap().port();
        let inner = free_port();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                relay(client, inner, delay);
            }
        });
        Broker::spawn(bin, log, inner, outer)
    }

    fn spawn(bin: &Path, log: &Path, port: u16, advertised: u16) -> Broker {
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(bin)
            .args(["broker", "--listener-url", &url])
            .args([
                "--advertised-listener-url",
                &format!("tcp://127.0.0.1:{advertised}"),
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("start tansu");
        let b = Broker {
            child,
            addr: format!("127.0.0.1:{advertised}"),
        };
        // Ready once it answers a metadata request.
        let c: BaseConsumer = client_config(&b.addr).create().unwrap();
        let end = Instant::now() + Duration::from_secs(20);
        while c.fetch_metadata(None, Duration::from_millis(500)).is_err() {
            assert!(Instant::now() < end, "tansu did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        b
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn create_topic(&self, name: &str) {
        let admin: AdminClient<DefaultClientContext> = client_config(&self.addr).create().unwrap();
        let t = NewTopic::new(name, PARTITIONS, TopicReplication::Fixed(1));
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let res = block_on(admin.create_topics([&t], &opts)).expect("create_topics");
        assert_eq!(res.len(), 1);
        for r in res {
            r.unwrap_or_else(|(t, e)| panic!("create topic {t}: {e}"));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Copies one client connection to the broker on `inner` and back, delaying each read from the
/// client by `delay`. Ends both sides when either ends (the broker killed: clients see it go).
fn relay(client: std::net::TcpStream, inner: u16, delay: Duration) {
    let Ok(broker) = std::net::TcpStream::connect(("127.0.0.1", inner)) else {
        return; // broker gone: dropping the client refuses it
    };
    let (mut c_rd, mut b_wr) = (client.try_clone().unwrap(), broker.try_clone().unwrap());
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 << 10];
        while let Ok(n @ 1..) = c_rd.read(&mut buf) {
            std::thread::sleep(delay);
            if b_wr.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = b_wr.shutdown(std::net::Shutdown::Both);
        let _ = c_rd.shutdown(std::net::Shutdown::Both);
    });
    let (mut b_rd, mut c_wr) = (broker, client);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut b_rd, &mut c_wr);
        let _ = b_rd.shutdown(std::net::Shutdown::Both);
        let _ = c_wr.shutdown(std::net::Shutdown::Both);
    });
}

fn client_config(addr: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", addr);
    c
}

/// Enough of an executor for the admin client's futures (no async runtime in this crate).
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

/// One consumed message.
struct Msg {
    partition: i32,
    key: String,
    payload: String,
}

/// Read the topic from the beginning of every partition (assign(): no consumer-group join) until
/// `want` messages are in or nothing new came for a while.
fn consume(addr: &str, topic: &str, want: usize) -> Vec<Msg> {
    let c: BaseConsumer = client_config(addr)
        .set("group.id", "flowprobe-test")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "50")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let mut last = Instant::now();
    while out.len() < want && last.elapsed() < Duration::from_secs(5) {
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                out.push(Msg {
                    partition: m.partition(),
                    key: String::from_utf8(m.key().unwrap().to_vec()).unwrap(),
                    payload: String::from_utf8(m.payload().unwrap().to_vec()).unwrap(),
                });
                last = Instant::now();
            }
            Some(Err(e)) => panic!("consume: {e}"),
            None => {}
        }
    }
    out
}

fn sink<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["output"]["sinks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no sink {name} in {summary}"))
}

fn read_lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// The topic holds exactly `lines` (in any order), and each key is in one partition only.
fn assert_same_records(msgs: &[Msg], lines: &[String]) {
    let mut got: Vec<&str> = msgs.iter().map(|m| m.payload.as_str()).collect();
    let mut want: Vec<&str> = lines.iter().map(String::as_str).collect();
    got.sort_unstable();
    want.sort_unstable();
    assert!(got == want, "the topic holds exactly the file's records");
    let mut part_of: HashMap<&str, i32> = HashMap::new();
    for m in msgs {
        assert_eq!(m.key.len(), 16, "{}", m.key);
        assert_eq!(*part_of.entry(&m.key).or_insert(m.partition), m.partition);
    }
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

macro_rules! need_tansu {
    ($name:literal) => {
        match tansu() {
            Some(b) => b,
            None => {
                eprintln!(
                    "SKIP {}: tansu not found (set TANSU_BIN or put it on PATH; scripts/test.sh installs it)",
                    $name
                );
                return;
            }
        }
    };
}

/// A replay to Kafka and to a file: the topic holds exactly the file's records, each flow's
/// records under one key, and each key in one partition.
#[test]
fn replay_to_kafka_matches_the_file_output() {
    let bin = need_tansu!("replay_to_kafka_matches_the_file_output");
    let dir = scratch("kafka");
    let broker = Broker::start(&bin, &dir.join("tansu.log"));
    broker.create_topic("flows");
    broker.create_topic("flows-netobserv");
    let cap = dir.join("t.pcap");
    write_trace(
        &cap,
        TraceConfig {
            packets: 20_000,
            concurrent_flows: 200,
            seed: 5,
            ..Default::default()
        },
    );
    let (file, no_file) = (dir.join("netify.json"), dir.join("netobserv.json"));
    let (topic, no_topic) = (
        format!("kafka://{}/flows", broker.addr),
        format!("kafka://{}/flows-netobserv", broker.addr),
    );
    let t = Instant::now();
    let r = run(&[
        "--pcap",
        cap.to_str().unwrap(),
        "--output",
        file.to_str().unwrap(),
        "--output",
        &topic,
        "--output",
        &format!("netobserv:{}", no_file.display()),
        "--output",
        &format!("netobserv:{no_topic}"),
    ]);
    let run_time = t.elapsed();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines = read_lines(&file);
    assert!(lines.len() > 500, "{}", lines.len());
    let k = sink(&r.summary, &topic);
    assert_eq!(u(&k["records"]), lines.len() as u64, "delivered: {k}");
    assert_eq!((u(&k["failed"]), u(&k["lost"])), (0, 0), "{k}");
    let t = Instant::now();
    let msgs = consume(&broker.addr, "flows", lines.len());
    eprintln!(
        "kafka: {} records delivered, run {:?}, consumed back in {:?}",
        msgs.len(),
        run_time,
        t.elapsed()
    );
    assert_same_records(&msgs, &lines);
    // One key per flow (Netify digest), distinct between flows; all partitions used.
    let mut key_of: HashMap<String, &str> = HashMap::new();
    for m in &msgs {
        let v: Value = serde_json::from_str(&m.payload).unwrap();
        let digest = v["flow"]["digest"].as_str().unwrap().to_string();
        assert_eq!(*key_of.entry(digest).or_insert(&m.key), m.key.as_str());
    }
    let keys: HashSet<&str> = key_of.values().copied().collect();
    assert_eq!(keys.len(), key_of.len(), "flows have distinct keys");
    let parts: HashSet<i32> = msgs.iter().map(|m| m.partition).collect();
    assert_eq!(parts.len(), PARTITIONS as usize);
    // NetObserv: a record is several lines, each its own message under the same flow keys.
    let no_lines = read_lines(&no_file);
    let k = sink(&r.summary, &no_topic);
    assert_eq!(u(&k["records"]), no_lines.len() as u64, "delivered: {k}");
    let no_msgs = consume(&broker.addr, "flows-netobserv", no_lines.len());
    assert_same_records(&no_msgs, &no_lines);
    let no_keys: HashSet<&str> = no_msgs.iter().map(|m| m.key.as_str()).collect();
    assert!(no_keys == keys, "the same flows under the same keys");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The broker is SIGKILLed mid-run: the probe still exits 0 within its drain timeout, and every
/// record is accounted for: delivered + failed + lost (queue full) = records handed to the sink.
#[test]
fn broker_killed_mid_run_every_record_is_accounted_for() {
    let bin = need_tansu!("broker_killed_mid_run_every_record_is_accounted_for");
    let dir = scratch("kafka-kill");
    // 2 ms per request through the relay, 5 records a request, one in flight: delivering the
    // ~9k records takes over 3 s, so the kill lands mid-delivery on any machine speed.
    let mut broker =
        Broker::start_throttled(&bin, &dir.join("tansu.log"), Duration::from_millis(2));
    broker.create_topic("flows");
    let cap = dir.join("t.pcap");
    write_trace(
        &cap,
        TraceConfig {
            packets: 60_000,
            concurrent_flows: 2000,
            seed: 6,
            ..Default::default()
        },
    );
    // Small batches, one request in flight: delivery takes many round trips, so the kill lands
    // while most records are still queued.
    // --linger keeps /metrics up after the run, to check the counters there too.
    let metrics = format!("127.0.0.1:{}", free_port());
    let mut probe = Command::new("timeout")
        .args(["-s", "KILL", "120", env!("CARGO_BIN_EXE_flowprobe")])
        .args(["--no-huge", "--metrics-listen", &metrics, "--linger", "60s"])
        .args(["--pcap", cap.to_str().unwrap(), "--stats-interval", "0"])
        .args(["--output", dir.join("records.json").to_str().unwrap()])
        .args(["--output", &format!("kafka://{}/flows", broker.addr)])
        .args(["--output-drain-timeout", "2s", "--output-buffer", "64M"])
        .args(["--kafka-opt", "batch.num.messages=5"])
        .args(["--kafka-opt", "max.in.flight.requests.per.connection=1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the broker once the first records have arrived (the consumer is closed before: closing
    // it with the broker gone would wait for the broker).
    let c: BaseConsumer = client_config(&broker.addr)
        .set("group.id", "flowprobe-test")
        .set("fetch.wait.max.ms", "10")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset("flows", p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < end, "no record reached the broker");
        if let Some(Ok(_)) = c.poll(Duration::from_millis(20)) {
            break;
        }
    }
    drop(c);
    broker.kill();
    let killed = Instant::now();
    let mut stderr = String::new();
    let mut err = BufReader::new(probe.stderr.take().unwrap());
    let summary: Value = loop {
        let mut l = String::new();
        assert!(err.read_line(&mut l).unwrap() > 0, "no summary: {stderr}");
        stderr.push_str(&l);
        if l.contains("\"type\":\"summary\"") {
            break serde_json::from_str(&l).unwrap();
        }
    };
    let after_kill = killed.elapsed();
    let name = format!("kafka://{}/flows", broker.addr);
    let scraped = http_get(&metrics, "/metrics");
    // SIGTERM ends the linger; the exit code is the run's. (Not SIGINT: `timeout` delivers a
    // signal twice, to the child and to its process group, and a second SIGINT means "exit now".)
    Command::new("kill")
        .args(["-TERM", &probe.id().to_string()])
        .status()
        .unwrap();
    let status = probe.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?} {stderr}");
    let k = sink(&summary, &name);
    let produced = summary["records"]["flow"]["exported"].as_u64().unwrap()
        + summary["records"]["flow_stats"]["exported"]
            .as_u64()
            .unwrap()
        + summary["records"]["flow_purge"]["exported"]
            .as_u64()
            .unwrap();
    let (delivered, failed, lost) = (u(&k["records"]), u(&k["failed"]), u(&k["lost"]));
    eprintln!(
        "broker killed: produced {produced}, delivered {delivered}, failed {failed}, lost {lost}, probe ended {after_kill:?} after the kill"
    );
    assert_eq!(delivered + failed + lost, produced, "{k}");
    assert!(delivered > 0, "{k}");
    assert!(failed > 0, "the kill left records undelivered: {k}");
    assert!(u(&k["errors"]) > 0, "the broker's loss is reported: {k}");
    // The same counts in Prometheus, labelled by the output's name.
    for (metric, v) in [("records", delivered), ("failed", failed), ("lost", lost)] {
        let line = format!("flowprobe_sink_{metric}_total{{sink=\"{name}\"}} {v}\n");
        assert!(scraped.contains(&line), "no '{line}' in:\n{scraped}");
    }
    assert!(after_kill < Duration::from_secs(30), "{after_kill:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
