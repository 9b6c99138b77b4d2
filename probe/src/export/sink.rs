//! Output sinks. The exporter is their only writer; workers never touch them.

use std::fs::File;
use std::io::{self, BufWriter, Stdout, Write};
use std::path::PathBuf;

pub enum SinkKind {
    Stdout(BufWriter<Stdout>),
    File(BufWriter<File>, PathBuf),
}

/// A sink with its own counters.
pub struct Sink {
    pub name: String,
    kind: SinkKind,
    pub records: u64,
    pub bytes: u64,
    pub errors: u64,
    pub last_error: Option<String>,
}

impl Sink {
    /// `-` is standard output; anything else a file path (created or truncated).
    pub fn open(spec: &str) -> io::Result<Sink> {
        let kind = if spec == "-" {
            SinkKind::Stdout(BufWriter::with_capacity(1 << 20, io::stdout()))
        } else {
            let f = File::create(spec).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot create output {spec}: {e}"))
            })?;
            SinkKind::File(BufWriter::with_capacity(1 << 20, f), PathBuf::from(spec))
        };
        Ok(Sink {
            name: if spec == "-" {
                "stdout".into()
            } else {
                spec.into()
            },
            kind,
            records: 0,
            bytes: 0,
            errors: 0,
            last_error: None,
        })
    }

    fn w(&mut self) -> &mut dyn Write {
        match &mut self.kind {
            SinkKind::Stdout(w) => w,
            SinkKind::File(w, _) => w,
        }
    }

    /// Write a batch of `n` encoded records. A failure is counted, never fatal.
    pub fn write(&mut self, buf: &[u8], n: u64) {
        match self.w().write_all(buf) {
            Ok(()) => {
                self.records += n;
                self.bytes += buf.len() as u64;
            }
            Err(e) => {
                self.errors += 1;
                self.last_error = Some(e.to_string());
            }
        }
    }

    pub fn flush(&mut self) {
        if let Err(e) = self.w().flush() {
            self.errors += 1;
            self.last_error = Some(e.to_string());
        }
    }

    /// Flush and, for files, fsync: called once at stop.
    pub fn close(&mut self) {
        self.flush();
        if let SinkKind::File(w, _) = &mut self.kind {
            if let Err(e) = w.get_ref().sync_all() {
                self.errors += 1;
                self.last_error = Some(e.to_string());
            }
        }
    }
}
