//! The binary's failure modes: one clear line on stderr and a non-zero exit; and the null vdev.

mod common;

use common::*;
use std::process::Command;

fn fail(args: &[&str]) -> (i32, String) {
    let out = Command::new("timeout")
        .args(["-s", "KILL", "120", env!("CARGO_BIN_EXE_flowprobe")])
        .args(["--metrics-listen", "127.0.0.1:0"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn error_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("flowprobe: error:"))
        .collect();
    assert_eq!(lines.len(), 1, "exactly one error line in: {stderr}");
    lines[0].to_string()
}

#[test]
fn missing_capture_is_one_clear_error() {
    let (code, err) = fail(&["--pcap", "/nonexistent/x.pcap"]);
    assert_eq!(code, 1);
    let l = error_line(&err);
    assert!(l.contains("/nonexistent/x.pcap"), "{l}");
    assert!(!err.contains("EAL"), "fails before EAL starts: {err}");
}

#[test]
fn not_a_capture_is_rejected_by_magic() {
    let dir = scratch("notpcap");
    let p = dir.join("fake.pcap");
    std::fs::write(&p, b"this is not a capture file at all").unwrap();
    let (code, err) = fail(&["--pcap", p.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        error_line(&err).contains("not a pcap or pcapng file"),
        "{err}"
    );
}

#[test]
fn invalid_option_values() {
    let (code, err) = fail(&["--null", "--idle-timeout", "ten"]);
    assert_eq!(code, 2, "clap usage error: {err}");
    assert!(err.contains("invalid duration"), "{err}");
    let (code, err) = fail(&["--null", "--local-net", "10.0.0.0/99"]);
    assert_eq!(code, 1);
    assert!(error_line(&err).contains("prefix length"), "{err}");
    let (code, err) = fail(&[]);
    assert_eq!(code, 1);
    assert!(error_line(&err).contains("no packet source"), "{err}");
}

#[test]
fn table_over_the_per_worker_limit_is_one_clear_error() {
    // The flow index addresses 2^24 - 2 slots a worker: more is refused, not silently cut.
    let dir = scratch("bigtable");
    let cap = dir.join("a.pcap");
    write_frames(&cap, &[(T0, udp("10.0.0.1", 1, "10.0.0.2", 2, 10))]);
    let (code, err) = fail(&[
        "--pcap",
        cap.to_str().unwrap(),
        "--no-huge",
        "--max-flows",
        "16777215",
    ]);
    assert_eq!(code, 1);
    assert!(
        error_line(&err).contains("exceeds 16777214 flows per worker"),
        "{err}"
    );
}

#[test]
fn unwritable_output_fails_fast() {
    let dir = scratch("badout");
    let cap = dir.join("a.pcap");
    write_frames(&cap, &[(T0, udp("10.0.0.1", 1, "10.0.0.2", 2, 10))]);
    let (code, err) = fail(&[
        "--pcap",
        cap.to_str().unwrap(),
        "--output",
        "/nonexistent-dir/out.json",
    ]);
    assert_eq!(code, 1);
    assert!(error_line(&err).contains("cannot create output"), "{err}");
}

#[test]
fn huge_required_without_free_hugepages() {
    let free: u64 =
        std::fs::read_to_string("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
    if free >= 1024 {
        eprintln!("SKIP huge_required_without_free_hugepages: {free} hugepages are free here");
        return;
    }
    let (code, err) = fail(&["--null", "--huge", "--mem", "2048"]);
    assert_eq!(code, 1);
    assert!(error_line(&err).contains("hugepages"), "{err}");
}

#[test]
fn null_vdev_runs_for_a_duration_and_stops() {
    let r = run(&["--null", "--duration", "1s", "--max-flows", "1000"]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let rx = r.summary["packets_received"].as_u64().unwrap();
    assert!(rx > 1000, "net_null delivers packets: {rx}");
    // net_null frames (copy=1, zeroed) are not IP: every packet is unmatched, by reason.
    assert_eq!(r.summary["packets_unmatched"].as_u64().unwrap(), rx);
    let secs = r.summary["run_seconds"].as_f64().unwrap();
    assert!(
        (0.9..5.0).contains(&secs),
        "stopped after --duration: {secs}"
    );
}

#[test]
fn metrics_port_in_use_is_one_clear_error() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = Command::new("timeout")
        .args([
            "-s",
            "KILL",
            "60",
            env!("CARGO_BIN_EXE_flowprobe"),
            "--null",
            "--metrics-listen",
            &addr,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(error_line(&err).contains("--metrics-listen"), "{err}");
}

#[test]
fn malformed_kafka_output_is_one_clear_error() {
    for (spec, why) in [
        ("kafka://broker/flows", "HOST:PORT"),
        ("kafka://127.0.0.1:9092", "kafka://BROKER[,BROKER]/TOPIC"),
        ("kafka://127.0.0.1:9092/bad topic", "topic 'bad topic'"),
    ] {
        let (code, err) = fail(&["--null", "--output", spec]);
        assert_eq!(code, 1, "{spec}: {err}");
        let l = error_line(&err);
        assert!(l.contains(spec) && l.contains(why), "{l}");
    }
    // A librdkafka property it does not know fails when the producer is created, before EAL.
    let (code, err) = fail(&[
        "--null",
        "--output",
        "kafka://127.0.0.1:9/flows",
        "--kafka-opt",
        "no.such.property=1",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(error_line(&err).contains("no.such.property"), "{err}");
    assert!(!err.contains("EAL"), "fails before EAL starts: {err}");
}

#[test]
fn format_prefix_on_an_ipfix_output_is_one_clear_error() {
    // Before: taken as a file path (`netify:ipfix+udp:/...`), failing or writing JSON to a file.
    for spec in [
        "netify:ipfix+udp://127.0.0.1:4739",
        "netobserv:ipfix+tcp://127.0.0.1:4739",
    ] {
        let (code, err) = fail(&["--null", "--output", spec]);
        assert_eq!(code, 1, "{spec}: {err}");
        let l = error_line(&err);
        assert!(
            l.contains(spec) && l.contains("IPFIX has its own record format"),
            "{l}"
        );
        assert!(!err.contains("EAL"), "fails before EAL starts: {err}");
    }
}

/// A format prefix on a kafka:// output selects the format (the spec is not taken as a path): an
/// unknown producer property fails when the producer is created, which only a kafka sink does.
#[test]
fn format_prefix_on_a_kafka_output_is_a_kafka_output() {
    let (code, err) = fail(&[
        "--null",
        "--output",
        "netobserv:kafka://127.0.0.1:9/flows",
        "--kafka-opt",
        "no.such.property=1",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(error_line(&err).contains("no.such.property"), "{err}");
}

/// The CPUs a task may run on, from /proc (`Cpus_allowed_list`, e.g. `0-1` or `1`).
fn allowed_cpus(status: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

#[test]
fn sink_threads_run_on_the_exporters_cpu() {
    // A socket sink's sender thread must not float onto the workers' busy-polling CPUs: it is
    // made on the exporter's CPU (the first one the probe may use) and inherits it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let _ = std::io::copy(&mut s, &mut std::io::sink());
        }
    });
    let mut child = Command::new("timeout")
        .args(["-s", "KILL", "60", env!("CARGO_BIN_EXE_flowprobe")])
        .args([
            "--null",
            "--duration",
            "3s",
            "--max-flows",
            "1000",
            "--no-huge",
        ])
        .args(["--metrics-listen", "off", "--output"])
        .arg(format!("tcp://127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mine = allowed_cpus(&std::fs::read_to_string("/proc/self/status").unwrap());
    let first: String = mine.chars().take_while(|c| c.is_ascii_digit()).collect();
    // The probe runs under `timeout`: look at its children's threads.
    let children = format!("/proc/{0}/task/{0}/children", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut seen = None;
    while seen.is_none() && std::time::Instant::now() < deadline {
        let pids = std::fs::read_to_string(&children).unwrap_or_default();
        for pid in pids.split_whitespace() {
            let tasks = std::fs::read_dir(format!("/proc/{pid}/task"));
            for t in tasks.into_iter().flatten().flatten() {
                let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
                if comm.trim() == "flowprobe-sink" {
                    let st = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
                    seen = Some(allowed_cpus(&st));
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let status = child.wait().unwrap();
    assert!(status.success());
    assert_eq!(
        seen.as_deref(),
        Some(first.as_str()),
        "the sink thread's CPUs (the probe's: {mine})"
    );
}
