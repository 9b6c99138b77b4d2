#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include <rte_ring_elem.h>
#include "shim.h"

int shim_rte_errno(void) { return rte_errno; }

uint16_t shim_rte_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts, uint16_t nb_pkts)
{
	return rte_eth_rx_burst(port_id, queue_id, rx_pkts, nb_pkts);
}

void shim_rte_pktmbuf_free(struct rte_mbuf *m) { rte_pktmbuf_free(m); }

unsigned int shim_rte_lcore_id(void) { return rte_lcore_id(); }

uint64_t shim_rte_rdtsc(void) { return rte_rdtsc(); }

uint64_t shim_rte_get_tsc_hz(void) { return rte_get_tsc_hz(); }

unsigned int shim_rte_ring_sp_enqueue_burst_elem(struct rte_ring *r, const void *obj_table, unsigned int esize, unsigned int n, unsigned int *free_space)
{
	return rte_ring_sp_enqueue_burst_elem(r, obj_table, esize, n, free_space);
}

unsigned int shim_rte_ring_sc_dequeue_burst_elem(struct rte_ring *r, void *obj_table, unsigned int esize, unsigned int n, unsigned int *available)
{
	return rte_ring_sc_dequeue_burst_elem(r, obj_table, esize, n, available);
}

unsigned int shim_rte_ring_count(const struct rte_ring *r) { return rte_ring_count(r); }

unsigned int shim_rte_ring_free_count(const struct rte_ring *r) { return rte_ring_free_count(r); }

