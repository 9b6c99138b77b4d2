//! Ethernet ports: configure N RX queues with symmetric RSS, start, read counters, stop, close.

use super::mempool::Mempool;
use super::{check, DpdkError, Result};
use std::ffi::CStr;

/// Toeplitz key 0x6d5a repeated: hashes A→B and B→A alike, so both directions of a flow land on
/// the same queue (and worker).
pub const SYMMETRIC_RSS_KEY: [u8; 40] = {
    let mut k = [0u8; 40];
    let mut i = 0;
    while i < 40 {
        k[i] = if i % 2 == 0 { 0x6d } else { 0x5a };
        i += 1;
    }
    k
};

/// Port settings derived from the CLI.
#[derive(Clone, Debug)]
pub struct PortConfig {
    pub rx_queues: u16,
    pub rx_desc: u16,
    /// Ask for the PMD's RX timestamp (replay on capture time).
    pub timestamps: bool,
    pub promiscuous: bool,
}

/// Port counters (`rte_eth_stats`), per port and per queue.
#[derive(Clone, Debug, Default)]
pub struct PortStats {
    pub ipackets: u64,
    pub ibytes: u64,
    pub imissed: u64,
    pub ierrors: u64,
    pub rx_nombuf: u64,
    pub q_ipackets: Vec<u64>,
    pub q_errors: Vec<u64>,
}

pub struct Port {
    id: u16,
    name: String,
    rx_queues: u16,
    started: bool,
    /// Whether the PMD will stamp packets with an RX timestamp.
    pub timestamps: bool,
    /// Log of RSS decisions, printed by the caller.
    pub notes: Vec<String>,
}

fn dev_info(id: u16) -> Result<dpdk_sys::rte_eth_dev_info> {
    let mut info = dpdk_sys::rte_eth_dev_info::default();
    // SAFETY: info is a valid out-pointer; invalid port ids return -ENODEV.
    check(
        unsafe { dpdk_sys::rte_eth_dev_info_get(id, &mut info) },
        || format!("port {id}: dev_info"),
    )?;
    Ok(info)
}

impl Port {
    pub fn name_of(id: u16) -> String {
        let mut buf = [0 as std::ffi::c_char; 64];
        // SAFETY: buf is large enough for RTE_ETH_NAME_MAX_LEN (64) including the NUL.
        let ret = unsafe { dpdk_sys::rte_eth_dev_get_name_by_port(id, buf.as_mut_ptr()) };
        if ret != 0 {
            return format!("port{id}");
        }
        // SAFETY: on success buf holds a NUL-terminated name.
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    /// Configure `id` with `cfg.rx_queues` RX queues fed from `pool`, no TX queue.
    pub fn configure(id: u16, cfg: &PortConfig, pool: &Mempool) -> Result<Port> {
        let info = dev_info(id)?;
        let name = Port::name_of(id);
        let mut notes = Vec::new();
        if cfg.rx_queues > info.max_rx_queues {
            return Err(DpdkError::new(
                format!(
                    "port {name}: {} RX queues requested, the device has {}",
                    cfg.rx_queues, info.max_rx_queues
                ),
                22,
            ));
        }
        let mut conf = dpdk_sys::rte_eth_conf::default();
        let mut key = SYMMETRIC_RSS_KEY;
        let want_hf =
            dpdk_sys::RTE_ETH_RSS_IP | dpdk_sys::RTE_ETH_RSS_TCP | dpdk_sys::RTE_ETH_RSS_UDP;
        let hf = want_hf & info.flow_type_rss_offloads;
        let rss = cfg.rx_queues > 1 && hf != 0;
        if cfg.rx_queues > 1 && hf != want_hf {
            notes.push(format!(
                "port {name}: RSS hash types 0x{want_hf:x} requested, device supports 0x{:x}: using 0x{hf:x}",
                info.flow_type_rss_offloads
            ));
        }
        if rss {
            conf.rxmode.mq_mode = dpdk_sys::RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_key = key.as_mut_ptr();
            conf.rx_adv_conf.rss_conf.rss_key_len = key.len() as u8;
            conf.rx_adv_conf.rss_conf.rss_hf = hf;
        }
        let timestamps =
            cfg.timestamps && info.rx_offload_capa & dpdk_sys::RTE_ETH_RX_OFFLOAD_TIMESTAMP != 0;
        if timestamps {
            conf.rxmode.offloads |= dpdk_sys::RTE_ETH_RX_OFFLOAD_TIMESTAMP;
        } else if cfg.timestamps {
            notes.push(format!(
                "port {name}: no RX timestamp offload; using the TSC clock"
            ));
        }
        // SAFETY: conf is a valid, fully initialised rte_eth_conf; key outlives the call.
        check(
            unsafe { dpdk_sys::rte_eth_dev_configure(id, cfg.rx_queues, 0, &conf) },
            || format!("port {name}: configure {} RX queues", cfg.rx_queues),
        )?;
        if rss {
            // Some PMDs ignore the key given to configure (net_null does): set it explicitly.
            let mut rc = dpdk_sys::rte_eth_rss_conf {
                rss_key: key.as_mut_ptr(),
                rss_key_len: key.len() as u8,
                rss_hf: hf,
            };
            // SAFETY: rc points at a 40-byte key that outlives the call.
            let ret = unsafe { dpdk_sys::rte_eth_dev_rss_hash_update(id, &mut rc) };
            if ret < 0 {
                notes.push(format!("port {name}: cannot set the symmetric RSS key (errno {}): flows may split across queues", -ret));
            }
            if info.reta_size > 0 {
                Self::spread_reta(id, info.reta_size, cfg.rx_queues, &name, &mut notes);
            }
        }
        // SAFETY: socket lookup for a valid port id.
        let socket = unsafe { dpdk_sys::rte_eth_dev_socket_id(id) };
        for q in 0..cfg.rx_queues {
            // SAFETY: port configured above; NULL rxconf selects the driver defaults; pool outlives
            // the port (the runtime closes ports before dropping pools).
            check(
                unsafe {
                    dpdk_sys::rte_eth_rx_queue_setup(
                        id,
                        q,
                        cfg.rx_desc,
                        socket.max(0) as u32,
                        std::ptr::null(),
                        pool.as_ptr(),
                    )
                },
                || format!("port {name}: RX queue {q} setup"),
            )?;
        }
        if cfg.promiscuous {
            // SAFETY: valid configured port. Failure is not fatal (virtual devices may not support it).
            let _ = unsafe { dpdk_sys::rte_eth_promiscuous_enable(id) };
        }
        Ok(Port {
            id,
            name,
            rx_queues: cfg.rx_queues,
            started: false,
            timestamps,
            notes,
        })
    }

    fn spread_reta(id: u16, reta_size: u16, queues: u16, name: &str, notes: &mut Vec<String>) {
        let groups = (reta_size as usize).div_ceil(64);
        let mut reta = vec![dpdk_sys::rte_eth_rss_reta_entry64::default(); groups];
        for i in 0..reta_size as usize {
            let e = &mut reta[i / 64];
            e.mask |= 1 << (i % 64);
            e.reta[i % 64] = (i % queues as usize) as u16;
        }
        // SAFETY: reta has reta_size/64 rounded-up entries, as the API requires.
        let ret =
            unsafe { dpdk_sys::rte_eth_dev_rss_reta_update(id, reta.as_mut_ptr(), reta_size) };
        if ret < 0 {
            notes.push(format!("port {name}: RETA update failed (errno {})", -ret));
        }
    }

    pub fn start(&mut self) -> Result<()> {
        // SAFETY: the port is configured with its queues set up.
        check(unsafe { dpdk_sys::rte_eth_dev_start(self.id) }, || {
            format!("port {}: start", self.name)
        })?;
        self.started = true;
        Ok(())
    }

    pub fn id(&self) -> u16 {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn rx_queues(&self) -> u16 {
        self.rx_queues
    }

    /// Read the port counters. Control path: called off the packet loop.
    pub fn stats(id: u16) -> PortStats {
        let mut s = dpdk_sys::rte_eth_stats::default();
        // SAFETY: s is a valid out-pointer.
        let ret = unsafe { dpdk_sys::rte_eth_stats_get(id, &mut s) };
        if ret != 0 {
            return PortStats::default();
        }
        PortStats {
            ipackets: s.ipackets,
            ibytes: s.ibytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            rx_nombuf: s.rx_nombuf,
            q_ipackets: s.q_ipackets.to_vec(),
            q_errors: s.q_errors.to_vec(),
        }
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        // SAFETY: workers polling this port have returned before the runtime drops it.
        unsafe {
            if self.started {
                dpdk_sys::rte_eth_dev_stop(self.id);
            }
            dpdk_sys::rte_eth_dev_close(self.id);
        }
    }
}
