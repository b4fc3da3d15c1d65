/* SPDX-License-Identifier: ISC */
/* placeholder until the smtp/session module lands */
typedef int rt_placeholder_smtp_session;
