/* SPDX-License-Identifier: ISC */
/* placeholder until the capture/store module lands */
typedef int rt_placeholder_capture_store;
