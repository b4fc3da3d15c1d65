/* SPDX-License-Identifier: ISC */
/* placeholder until the cmd/version module lands */
typedef int rt_placeholder_cmd_version;
