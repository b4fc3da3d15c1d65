/* SPDX-License-Identifier: ISC */
/* placeholder until the core/config module lands */
typedef int rt_placeholder_core_config;
