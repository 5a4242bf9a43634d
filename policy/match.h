/*
 * match.h - MX host names and MX patterns (RFC 8461 sections 3.2 and 4.1)
 *
 * DESCRIPTION
 *	Pure string functions, no I/O, no OpenSSL.
 *
 *	mts_hostname_check(): a DNS host name in A-label form: labels of 1-63
 *	of [A-Za-z0-9-] not starting or ending with '-', total <= 253
 *	(one trailing dot allowed and not counted), at least two labels, not
 *	an IP literal (an all-numeric last label, or anything containing ':'
 *	or '[').
 *
 *	mts_mx_pattern_check(): a host name, optionally starting with "*." as
 *	the whole left-most label (no other '*'). The part after "*." must
 *	itself be a valid host name, so "*.com" is refused; the 253 limit
 *	applies to the whole pattern.
 *
 *	mts_mx_match(): case-insensitive (ASCII only), a trailing dot on
 *	either side is ignored; "*.example.com" matches exactly one extra
 *	label: "mx.example.com" yes, "example.com" and "a.b.example.com" no.
 *	A comparison, not a validator, but a host containing '*' never
 *	matches, nor does a host whose first label is not a valid LDH label
 *	match a wildcard.
 *
 * DIAGNOSTICS
 *	The check functions return NULL when valid, else a static reason.
 */
#ifndef MTS_MATCH_H
#define MTS_MATCH_H

#include "policy.h"

const char *mts_hostname_check(const char *name);
const char *mts_mx_pattern_check(const char *pattern);
int mts_mx_match(const char *pattern, const char *host);
/* 1 if any of p->mx matches host. */
int mts_policy_mx_allowed(const struct mts_policy *p, const char *host);

/* Normalises a host or domain name into out[outlen]: lower case, one
 * trailing dot removed. Returns 0, or -1 if it does not fit or is empty. */
int mts_name_normalise(const char *in, char *out, size_t outlen);

#endif
