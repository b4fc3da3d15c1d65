/* SPDX-License-Identifier: ISC */
/* placeholder until the persona/persona module lands */
typedef int rt_placeholder_persona_persona;
