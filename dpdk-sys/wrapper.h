/* Headers bindgen sees. Keep the set small: rte_flow.h is left out on purpose (bindgen Debug bug). */
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_version.h>
#include "shim/shim.h"
