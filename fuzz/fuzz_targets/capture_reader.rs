//! Any bytes as a capture file: the reader returns packets or an error, never panics, never
//! loops (every call consumes input), and never allocates more than the input can justify.
#![no_main]

use flowprobe::parse::parse_frame;
use flowprobe::pcapfile::CaptureReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut r) = CaptureReader::new(data) else {
        return;
    };
    let mut buf = Vec::new();
    // Each packet consumes at least a record header, so this bound is never the one that stops.
    for _ in 0..data.len() {
        match r.next_packet(&mut buf) {
            Ok(Some(rec)) => {
                assert_eq!(buf.len(), rec.caplen as usize);
                let _ = parse_frame(rec.linktype, &buf, true);
            }
            Ok(None) | Err(_) => return,
        }
    }
    panic!("reader did not finish");
});
