//! flowprobe binary: CLI → config → runtime. The only place that turns errors into exit codes.

use clap::Parser;
use flowprobe::config::{Cli, Config};

fn main() {
    let cli = Cli::parse();
    let code = match Config::from_cli(cli).and_then(flowprobe::runtime::run) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("flowprobe: error: {e}");
            1
        }
    };
    std::process::exit(code);
}
