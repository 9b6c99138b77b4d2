//! Prometheus metrics: scrape a lingering replay, check the values against what was fed in, run
//! `promtool check metrics`, and let a real Prometheus server scrape it and answer a PromQL query.

mod common;

use common::*;
use flowprobe::synth::trace::TraceConfig;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A flowprobe child whose stderr lines arrive on a channel.
struct Probe {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Probe {
    fn start(args: &[&str]) -> Probe {
        let mut child = Command::new("timeout")
            .args([
                "-s",
                "KILL",
                "180",
                env!("CARGO_BIN_EXE_flowprobe"),
                "--no-huge",
            ])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Probe {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Wait for a stderr line containing `pat`.
    fn wait_for(&mut self, pat: &str, within: Duration) -> String {
        let end = Instant::now() + within;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(pat) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "no '{pat}' on stderr within {within:?}; got:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn stop(mut self) {
        // SIGINT ends the linger; the process then exits by itself.
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name{labels} value` lines → map from the series text to its value.
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn sum_of(m: &HashMap<String, f64>, name: &str) -> f64 {
    m.iter()
        .filter(|(k, _)| *k == name || k.starts_with(&format!("{name}{{")))
        .map(|(_, v)| v)
        .sum()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn capture(dir: &std::path::Path) -> (std::path::PathBuf, u64, usize) {
    let cap = dir.join("m.pcap");
    let truth = write_trace(
        &cap,
        TraceConfig {
            packets: 3000,
            seed: 5,
            ..Default::default()
        },
    );
    (cap, truth.packets, truth.flows.len())
}

#[test]
fn scraped_values_match_the_replay() {
    let dir = scratch("metrics");
    let (cap, packets, flows) = capture(&dir);
    let mut p = Probe::start(&[
        // Through the net_pcap vdev: the port counters are part of what is checked.
        "--pcap-reader",
        "vdev",
        "--pcap",
        cap.to_str().unwrap(),
        "--max-flows",
        "10000",
        "--idle-timeout",
        "0",
        "--metrics-listen",
        "127.0.0.1:0",
        "--linger",
        "60s",
        "--output",
        dir.join("r.json").to_str().unwrap(),
    ]);
    let l = p.wait_for("metrics on http://", Duration::from_secs(60));
    let addr = l
        .split("http://")
        .nth(1)
        .unwrap()
        .trim_end_matches("/metrics")
        .to_string();
    p.wait_for("\"type\":\"summary\"", Duration::from_secs(90));
    let text = http_get(&addr, "/metrics");
    let m = parse_metrics(&text);
    assert_eq!(sum_of(&m, "flowprobe_flows_created_total"), flows as f64);
    assert_eq!(m["flowprobe_packets_total"], packets as f64);
    assert_eq!(sum_of(&m, "flowprobe_packets_unmatched_total"), 0.0);
    assert_eq!(sum_of(&m, "flowprobe_flows_ended_total"), flows as f64);
    assert_eq!(m["flowprobe_flows_ended_total{reason=\"evicted\"}"], 0.0);
    assert_eq!(m["flowprobe_flows_active"], 0.0);
    assert_eq!(
        m["flowprobe_port_rx_packets_total{port=\"pcap0\"}"],
        packets as f64
    );
    assert_eq!(
        m["flowprobe_queue_rx_packets_total{port=\"pcap0\",queue=\"0\"}"],
        packets as f64
    );
    assert_eq!(
        m["flowprobe_worker_packets_total{worker=\"0\"}"],
        packets as f64
    );
    assert_eq!(sum_of(&m, "flowprobe_records_total"), 2.0 * flows as f64);
    // The exporter's histograms (counted locally, added per drained batch): one sample per
    // ended flow, and the flows' packets sum to every packet.
    assert_eq!(m["flowprobe_flow_packets_count"], flows as f64);
    assert_eq!(m["flowprobe_flow_packets_sum"], packets as f64);
    assert_eq!(m["flowprobe_flow_duration_seconds_count"], flows as f64);
    assert_eq!(m["flowprobe_flow_bytes_count"], flows as f64);
    assert_eq!(
        m["flowprobe_exporter_lag_seconds_count"],
        2.0 * flows as f64
    );
    assert_eq!(
        m["flowprobe_ring_dropped_total{worker=\"0\",type=\"flow_purge\"}"],
        0.0
    );
    assert!(text.contains("flowprobe_build_info{"), "build info present");
    // Every metric the shipped Grafana dashboard queries is exposed.
    let dash = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../dashboards/flowprobe.json"
    ))
    .unwrap();
    let mut used: Vec<String> = dash
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("flowprobe_"))
        .map(|w| w.trim_end_matches("_bucket").to_string())
        .collect();
    used.sort();
    used.dedup();
    assert!(used.len() >= 10, "{used:?}");
    for name in &used {
        assert!(
            text.contains(&format!("\n{name}")) || text.starts_with(name.as_str()),
            "dashboard metric {name} is not exposed"
        );
    }
    // No label carries an address: every label value is an enum or a configuration name.
    for k in m.keys() {
        assert!(
            !k.contains("10.") && !k.contains("198.51."),
            "address in a label: {k}"
        );
    }
    // promtool validates the exposition format.
    match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(mut c) => {
            c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
            let out = c.wait_with_output().unwrap();
            let msg = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "promtool check metrics failed:\n{msg}"
            );
        }
        Err(_) => {
            eprintln!("SKIP promtool check: promtool not installed (Debian package prometheus)")
        }
    }
    p.stop();
}

#[test]
fn real_prometheus_scrapes_and_answers_promql() {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIP real_prometheus_scrapes_and_answers_promql: prometheus not installed (Debian package prometheus)");
        return;
    }
    let dir = scratch("prom");
    let (cap, packets, _) = capture(&dir);
    let mport = free_port();
    let mut p = Probe::start(&[
        "--pcap",
        cap.to_str().unwrap(),
        "--max-flows",
        "10000",
        "--metrics-listen",
        &format!("127.0.0.1:{mport}"),
        "--linger",
        "120s",
        "--output",
        dir.join("r.json").to_str().unwrap(),
    ]);
    p.wait_for("\"type\":\"summary\"", Duration::from_secs(90));
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: flowprobe\n    static_configs:\n      - targets: ['127.0.0.1:{mport}']\n"),
    )
    .unwrap();
    let pport = free_port();
    let mut prom = Command::new("timeout")
        .args(["-s", "KILL", "120", "prometheus"])
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{pport}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let paddr = format!("127.0.0.1:{pport}");
    let q = "/api/v1/query?query=sum(flowprobe_packets_total)";
    let end = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    let got = loop {
        if Instant::now() > end {
            break None;
        }
        std::thread::sleep(Duration::from_millis(500));
        if let Ok(mut s) = TcpStream::connect(&paddr) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = write!(
                s,
                "GET {q} HTTP/1.1\r\nHost: {paddr}\r\nConnection: close\r\n\r\n"
            );
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            last = out.clone();
            if let Some((_, body)) = out.split_once("\r\n\r\n") {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
                    if let Some(val) = v["data"]["result"][0]["value"][1].as_str() {
                        break Some(val.to_string());
                    }
                }
            }
        }
    };
    // SIGTERM to `timeout`, which passes it on to prometheus: SIGKILL would end `timeout` alone
    // and leave prometheus running with nobody to stop it.
    let _ = Command::new("kill")
        .args(["-TERM", &prom.id().to_string()])
        .status();
    let _ = prom.wait();
    p.stop();
    assert_eq!(
        got.as_deref(),
        Some(packets.to_string().as_str()),
        "last answer: {last}"
    );
}
