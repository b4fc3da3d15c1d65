/* SPDX-License-Identifier: ISC */
/* placeholder until the capture/frame module lands */
typedef int rt_placeholder_capture_frame;
