/* Out-of-line wrappers for DPDK's static inline functions and macros that Rust cannot call directly.
 * One call per burst: the per-call cost is amortised over up to 64 packets or records. */
#ifndef FLOWPROBE_DPDK_SHIM_H
#define FLOWPROBE_DPDK_SHIM_H
#include <stdint.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

int shim_rte_errno(void);
uint16_t shim_rte_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts, uint16_t nb_pkts);
void shim_rte_pktmbuf_free(struct rte_mbuf *m);
unsigned int shim_rte_lcore_id(void);
uint64_t shim_rte_rdtsc(void);
uint64_t shim_rte_get_tsc_hz(void);
unsigned int shim_rte_ring_sp_enqueue_burst_elem(struct rte_ring *r, const void *obj_table, unsigned int esize, unsigned int n, unsigned int *free_space);
unsigned int shim_rte_ring_sc_dequeue_burst_elem(struct rte_ring *r, void *obj_table, unsigned int esize, unsigned int n, unsigned int *available);
unsigned int shim_rte_ring_count(const struct rte_ring *r);
unsigned int shim_rte_ring_free_count(const struct rte_ring *r);
#endif
