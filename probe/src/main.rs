//! flowprobe binary: CLI → config → runtime. The only place that turns errors into exit codes.

use clap::Parser;
use flowprobe::config::{Cli, Config};

fn main() {
    // Built for x86-64-v3 (`.cargo/config.toml`): one clear line instead of SIGILL on an older CPU.
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    if !(std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("bmi2")
        && std::is_x86_feature_detected!("fma")
        && std::is_x86_feature_detected!("movbe"))
    {
        eprintln!("flowprobe: error: this CPU lacks AVX2/BMI2/FMA/MOVBE; the binary was built for x86-64-v3 (rebuild with RUSTFLAGS='-C target-cpu=native')");
        std::process::exit(1);
    }
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
