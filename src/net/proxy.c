/* SPDX-License-Identifier: ISC */
/* placeholder until the net/proxy module lands */
typedef int rt_placeholder_net_proxy;
