/*
 * fetch.h - the HTTPS policy fetch (RFC 8461 sections 3.3, 7.1), with libcurl
 *
 * DESCRIPTION
 *	mts_fetch_policy() GETs https://mta-sts.<domain>/.well-known/mta-sts.txt:
 *	  - the policy host is resolved with mts_dns_addrs() (the same resolver
 *	    as the TXT record) and pinned with CURLOPT_RESOLVE;
 *	  - TLS 1.2+, SNI and certificate validated for the policy host against
 *	    cfg->ca_file / cfg->ca_path or the system store;
 *	  - no redirects, no HTTP caching (no conditional requests, no proxy:
 *	    proxy variables are ignored), protocols restricted to HTTPS;
 *	  - only status 200; Content-Type must be text/plain (case-insensitive,
 *	    parameters allowed);
 *	  - the body is capped at MTS_POLICY_MAX_BYTES: one byte more fails;
 *	  - connect + transfer bounded by cfg->timeout_s.
 *
 * RETURNS
 *	MTS_FETCH_OK with body filled, or a failure class with a reason in err
 *	("HTTP status 404", "redirect (301) not followed", "media type
 *	text/html", "body larger than 65536 bytes", "timeout", "certificate:
 *	...", "resolve: ..."). The class maps to the TLSRPT result types:
 *	MTS_FETCH_WEBPKI -> sts-webpki-invalid, others -> sts-policy-fetch-error.
 */
#ifndef MTS_FETCH_H
#define MTS_FETCH_H

#include <stddef.h>

#include "buf.h"
#include "config.h"

enum mts_fetch_status {
	MTS_FETCH_OK = 0,
	MTS_FETCH_ERROR,	/* DNS, connect, timeout, HTTP status, type, size */
	MTS_FETCH_WEBPKI,	/* certificate chain, expiry or name */
};

enum mts_fetch_status mts_fetch_policy(const struct mts_config *cfg,
				       const char *domain, struct mts_buf *body,
				       char *err, size_t errlen);

/* curl_global_init once (thread-safe via pthread_once). Called by
 * mts_fetch_policy itself; exposed for programs that want it early. */
void mts_fetch_global_init(void);

#endif
