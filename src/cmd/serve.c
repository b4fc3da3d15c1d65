/* SPDX-License-Identifier: ISC */
/* placeholder until the cmd/serve module lands */
typedef int rt_placeholder_cmd_serve;
