/* SPDX-License-Identifier: ISC */
/* placeholder until the smtp/addr module lands */
typedef int rt_placeholder_smtp_addr;
