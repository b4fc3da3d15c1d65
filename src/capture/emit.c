/* SPDX-License-Identifier: ISC */
/* placeholder until the capture/emit module lands */
typedef int rt_placeholder_capture_emit;
