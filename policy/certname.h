/*
 * certname.h - does a certificate name an MX host? (RFC 8461 sections 4.2, 7)
 *
 * DESCRIPTION
 *	Only subjectAltName dNSName entries count; the subject CN is never
 *	used. A wildcard matches only as the whole left-most label and one
 *	label only. Implemented with X509_check_host() and the flags
 *	X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
 *	X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, after checking that at least one
 *	DNS SAN exists (so a CN-only certificate never matches) and that the
 *	host is a valid name without a leading dot.
 *
 *	mts_cert_matches_policy(): 1 when some DNS SAN of the certificate is
 *	matched by one of the policy's mx patterns (the rule for connections
 *	whose MX name is unknown, e.g. to an address literal). A SAN counts
 *	only when every name it covers is authorised: a plain SAN when a
 *	pattern matches it (mts_mx_match); a wildcard SAN "*.example.com"
 *	only when the identical pattern "*.example.com" is listed (an exact
 *	pattern "mx.example.com" is not enough: the holder could be any
 *	host under example.com). SANs that are not valid names (partial
 *	wildcards, NUL bytes, a trailing dot) never count.
 */
#ifndef MTS_CERTNAME_H
#define MTS_CERTNAME_H

#include <openssl/x509.h>

#include "buf.h"
#include "policy.h"

/* 1 match, 0 no match. */
int mts_cert_name_match(X509 *cert, const char *host);
int mts_cert_matches_policy(X509 *cert, const struct mts_policy *p);
/* Appends the DNS SAN names to out (for logs and reports). */
int mts_cert_dns_names(X509 *cert, struct mts_strlist *out);

#endif
