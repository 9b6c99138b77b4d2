//! Refuses to build, with one clear line, a binary this CPU could not run: `.cargo/config.toml`
//! builds for x86-64-v3 (a native build runs on the build host).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(target_arch = "x86_64")]
    {
        let wanted = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
        let native = std::env::var("HOST").ok() == std::env::var("TARGET").ok();
        let missing: Vec<&str> = ["avx2", "bmi2", "fma", "movbe"]
            .into_iter()
            .filter(|f| wanted.split(',').any(|w| w == *f) && !detected(f))
            .collect();
        if native && !missing.is_empty() {
            panic!(
                "this CPU lacks {} (built for x86-64-v3 by .cargo/config.toml): build with \
                 RUSTFLAGS='-C target-cpu=native'",
                missing.join(", ")
            );
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn detected(f: &str) -> bool {
    match f {
        "avx2" => std::is_x86_feature_detected!("avx2"),
        "bmi2" => std::is_x86_feature_detected!("bmi2"),
        "fma" => std::is_x86_feature_detected!("fma"),
        "movbe" => std::is_x86_feature_detected!("movbe"),
        _ => true,
    }
}
