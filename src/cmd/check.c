/* SPDX-License-Identifier: ISC */
/* placeholder until the cmd/check module lands */
typedef int rt_placeholder_cmd_check;
