/* SPDX-License-Identifier: ISC */
/* placeholder until the smtp/auth module lands */
typedef int rt_placeholder_smtp_auth;
