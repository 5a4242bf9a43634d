/*
 * engine.h - the policy of a domain, with RFC 8461 section 5 cache semantics
 *
 * DESCRIPTION
 *	mts_engine_lookup() answers "what policy applies to DOMAIN now?":
 *
 *	 1. Load the cache entry (corrupt = absent). A cached policy is valid
 *	    while now < expires_at (fetched_at + max_age).
 *	 2. Unless MTS_LOOKUP_FRESH: with a valid cached policy and
 *	    MTS_LOOKUP_NO_DNS, answer from the cache.
 *	 3. Query TXT _mta-sts.<domain> (mts_txt_select rules).
 *	    - temporary failure: the valid cached policy, else MTS_TEMPFAIL.
 *	    - no record / no valid single record: the valid cached policy
 *	      (a missing TXT never removes it), else MTS_NO_POLICY.
 *	    - id equal to the valid cached policy's id (and not FRESH): cache.
 *	 4. Backoff: if the cache remembers a failed fetch of this domain and
 *	    this id less than MTS_FETCH_BACKOFF seconds ago, do not fetch
 *	    (unless MTS_LOOKUP_FRESH): valid cache, else MTS_TEMPFAIL
 *	    ("fetch backoff"). When fetches of two different ids failed
 *	    within that window (a TXT id that churns), every id of the
 *	    domain is held back until the window has passed.
 *	 5. Fetch and parse. On success store (fetched_at = now, expires_at =
 *	    now + max_age, id from TXT; mode none replaces an enforce policy)
 *	    and answer from the network. On failure remember it in the cache
 *	    (failed_at, failed_id, failed_reason) and answer with the valid
 *	    cached policy, else MTS_TEMPFAIL, with failure set to the TLSRPT
 *	    class (fetch error, invalid policy, webpki).
 *
 *	A cache directory that fails mts_cache_dir_check() makes the lookup
 *	fail with MTS_TEMPFAIL and reason "cache: ..." (never silently
 *	uncached). MTS_LOOKUP_NO_STORE skips writing (read-only use).
 *
 *	The domain is normalised first (lower case, one trailing dot
 *	removed) and must pass mts_hostname_check(): anything else (an
 *	address literal, a single label, a name too long for the _mta-sts
 *	record) has no policy: MTS_NO_POLICY.
 *
 *	out must have been set up with mts_result_init(); what it held
 *	before is freed. The caller frees it with mts_result_free().
 *
 *	The status values are the `mtasts policy` exit codes.
 */
#ifndef MTS_ENGINE_H
#define MTS_ENGINE_H

#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "dns.h"
#include "fetch.h"
#include "policy.h"
#include "txt.h"

#define MTS_FETCH_BACKOFF 300

enum mts_status {
	MTS_POLICY = 0,		/* a policy (any mode) applies */
	MTS_NO_POLICY = 1,	/* the domain publishes none */
	MTS_TEMPFAIL = 3,	/* temporary failure, nothing usable cached */
};

enum mts_source {
	MTS_SRC_NONE = 0,
	MTS_SRC_CACHE,
	MTS_SRC_NETWORK,
};

/* What went wrong on the way, for logs and TLSRPT (RFC 8460 4.3). */
enum mts_failure {
	MTS_FAIL_NONE = 0,
	MTS_FAIL_FETCH,		/* sts-policy-fetch-error */
	MTS_FAIL_INVALID,	/* sts-policy-invalid */
	MTS_FAIL_WEBPKI,	/* sts-webpki-invalid */
	MTS_FAIL_DNS,		/* TXT look-up temporary failure */
	MTS_FAIL_CACHE,		/* cache directory refused or unwritable */
};

#define MTS_LOOKUP_FRESH	0x1	/* ignore cache validity and backoff */
#define MTS_LOOKUP_NO_DNS	0x2	/* trust a valid cache without TXT */
#define MTS_LOOKUP_NO_STORE	0x4	/* never write the cache */

struct mts_result {
	enum mts_status status;
	enum mts_source source;
	struct mts_policy policy;	/* valid when status == MTS_POLICY */
	struct mts_buf text;		/* the policy body as fetched */
	char id[MTS_ID_MAX + 1];
	int64_t fetched_at;
	int64_t expires_at;
	enum mts_failure failure;	/* set even when a cache was served */
	char reason[256];		/* human text for failure / no policy */
};

void mts_result_init(struct mts_result *r);
void mts_result_free(struct mts_result *r);

enum mts_status mts_engine_lookup(const struct mts_config *cfg,
				  const char *domain, unsigned flags,
				  struct mts_result *out);

/* TLSRPT result type: "sts-policy-fetch-error" (FETCH, and DNS, the
 * nearest type for a TXT look-up that failed), "sts-policy-invalid",
 * "sts-webpki-invalid"; "none" and "cache-error" (local, never reported). */
const char *mts_failure_name(enum mts_failure f);

/*
 * Testing interface (the CLI and the relay never use it): the same
 * decision core with its inputs replaced, so unit tests can run every
 * case of section 5 without a network and without waiting for the clock.
 * A NULL member means the real one: mts_dns_txt(), mts_fetch_policy(),
 * time(NULL). mts_engine_lookup(cfg, d, f, out) is
 * mts_engine_lookup_with(NULL, cfg, d, f, out).
 */
struct mts_engine_ops {
	enum mts_dns_status (*txt_lookup)(const struct mts_config *cfg,
					  const char *name, unsigned timeout_ms,
					  struct mts_txt_records *out,
					  char *err, size_t errlen);
	enum mts_fetch_status (*fetch)(const struct mts_config *cfg,
				       const char *domain, struct mts_buf *body,
				       char *err, size_t errlen);
	int64_t (*now)(void);
};

enum mts_status mts_engine_lookup_with(const struct mts_engine_ops *ops,
				       const struct mts_config *cfg,
				       const char *domain, unsigned flags,
				       struct mts_result *out);

#endif
