/* SPDX-License-Identifier: ISC */
/* placeholder until the persona/identity module lands */
typedef int rt_placeholder_persona_identity;
