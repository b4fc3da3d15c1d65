/* SPDX-License-Identifier: ISC */
/* placeholder until the net/listener module lands */
typedef int rt_placeholder_net_listener;
