//! Binds the system DPDK (found with pkg-config) and compiles the C shim.
use std::{env, path::PathBuf, process::Command};

#[derive(Debug)]
struct U64Flags;

impl bindgen::callbacks::ParseCallbacks for U64Flags {
    // RTE_BIT64()-based flag macros come out as a mix of i64/u32/u64; flags are u64 in the API.
    fn int_macro(&self, name: &str, _value: i64) -> Option<bindgen::callbacks::IntKind> {
        const PREFIXES: [&str; 4] = [
            "RTE_ETH_RSS_",
            "RTE_MBUF_F_",
            "RTE_ETH_RX_OFFLOAD_",
            "RTE_ETH_TX_OFFLOAD_",
        ];
        PREFIXES
            .iter()
            .any(|p| name.starts_with(p))
            .then_some(bindgen::callbacks::IntKind::U64)
    }
}

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=shim/shim.c");
    println!("cargo:rerun-if-changed=shim/shim.h");

    // The pkg-config crate does not expose `-include rte_config.h -march=corei7`; DPDK's headers need them.
    let out = Command::new("pkg-config")
        .args(["--cflags", "libdpdk"])
        .output()
        .expect("pkg-config not found: install pkg-config and libdpdk-dev (scripts/setup.sh)");
    if !out.status.success() {
        panic!(
            "pkg-config --cflags libdpdk failed: {} (install libdpdk-dev: scripts/setup.sh)",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let cflags: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();

    pkg_config::Config::new()
        .atleast_version("22.11")
        .probe("libdpdk")
        .expect("libdpdk >= 22.11 not found by pkg-config");

    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let bindings = bindgen::Builder::default()
        .header("wrapper.h")
        .clang_args(&cflags)
        .allowlist_function("rte_.*|shim_.*")
        .allowlist_type("rte_.*")
        .allowlist_var("RTE_.*|rte_.*|RING_F_.*|SOCKET_ID_ANY|LCORE_ID_ANY")
        // __thread per-lcore variables: bindgen would emit plain statics. Reach them through the shim.
        .blocklist_item("per_lcore_.*")
        // bindgen 0.73: a packed struct with a flexible array gets no Debug, but its container would.
        .no_debug("rte_flow_item_gtp_psc")
        .prepend_enum_name(false)
        .derive_default(true)
        .layout_tests(true)
        .clang_macro_fallback()
        .parse_callbacks(Box::new(U64Flags))
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("bindgen failed on the DPDK headers");
    bindings
        .write_to_file(out_dir.join("bindings.rs"))
        .expect("writing bindings.rs");

    let mut cc = cc::Build::new();
    cc.opt_level(3).warnings(false);
    for f in &cflags {
        cc.flag(f);
    }
    cc.file("shim/shim.c").compile("dpdk_shim");
}
