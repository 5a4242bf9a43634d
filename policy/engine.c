/*
 * engine.c - the policy of a domain, with RFC 8461 section 5 cache semantics
 *
 * SYNOPSIS
 *	struct mts_result r;
 *	mts_result_init(&r);
 *	switch (mts_engine_lookup(&cfg, "example.com", 0, &r)) { ... }
 *	mts_result_free(&r);
 *
 * DESCRIPTION
 *	The decision procedure of engine.h, step by step, over three inputs:
 *	the cache entry (cache.h), the TXT record (dns.h, txt.h) and the
 *	HTTPS fetch (fetch.h, policy.h). The two network inputs and the clock
 *	come through a struct mts_engine_ops, so unit tests can drive every
 *	branch without a network (tests/unit/test_engine.c).
 *
 *	A lookup keeps its state in one struct lookup; each step is a small
 *	function that either answers (fills the result and returns the
 *	status) or lets the next step run.
 *
 *	Failed fetches are remembered in the cache entry (failed_at,
 *	failed_id, failed_reason) next to the cached policy, which they
 *	never replace. failed_reason starts with the TLSRPT class
 *	("sts-webpki-invalid: certificate: ...") so that a lookup held back
 *	by the 5-minute backoff reports the same failure class as the fetch
 *	that caused it. A failure time in the future (the clock went back)
 *	does not hold fetches back.
 *
 *	Churning ids. The RFC 8461 3.3 backoff is per id, so a TXT id that
 *	changes on every query (an attacker who controls or spoofs the
 *	domain's DNS) would make every look-up fetch again from a failing
 *	host. A new id is still fetched at once after a failure, but when
 *	that fetch fails too (a second id failing within MTS_FETCH_BACKOFF)
 *	the failure is remembered with the CHURN_TAG in its reason, and
 *	then every id of the domain is held back until the window has
 *	passed: at most two failed fetches per domain per window. The tag
 *	lives in failed_reason so that the cache format stays as it is.
 *
 *	Time budget: the TXT look-up gets at most ENGINE_DNS_MAX_MS (and at
 *	most cfg->timeout_s); the fetch bounds itself by cfg->timeout_s.
 *
 *	One info line per lookup says what was decided and why:
 *	  policy domain=example.com status=policy source=network id=2024a
 *	    mode=enforce max_age=86400 expires=... failure=none reason=-
 *	(failure= is none, fetch, invalid, webpki, dns or cache), plus one
 *	"policy domain=... fetch failed: ... (cached policy kept)" line when
 *	a fetch fails. Steps are logged at debug level. Policy bodies are
 *	never logged.
 */
#include "engine.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "log.h"
#include "match.h"

#define ENGINE_DNS_MAX_MS 10000
#define TXT_PREFIX "_mta-sts."
#define CHURN_TAG "several ids failed: "

/* Like snprintf, for human text, where cutting a long name is fine
 * (vsnprintf keeps gcc's truncation warnings for real buffers only). */
static void textf(char *out, size_t outlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void textf(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
}

/* The state of one lookup. */
struct lookup {
	const struct mts_engine_ops *ops;
	const struct mts_config *cfg;
	unsigned flags;
	int64_t now;
	char domain[MTS_DOMAIN_MAX + 1];
	struct mts_cache_entry entry;	/* as loaded, or empty */
	struct mts_policy cached;	/* entry's policy, parsed */
	int cached_valid;		/* a policy usable now */
	struct mts_txt txt;		/* the live TXT record */
	struct mts_result *out;
};

/* What the TXT step found. */
enum txt_outcome {
	TXT_FOUND,
	TXT_NONE,
	TXT_TEMPFAIL,
};

static const char *const failure_names[] = {
	[MTS_FAIL_NONE] = "none",
	[MTS_FAIL_FETCH] = "sts-policy-fetch-error",
	[MTS_FAIL_INVALID] = "sts-policy-invalid",
	[MTS_FAIL_WEBPKI] = "sts-webpki-invalid",
	[MTS_FAIL_DNS] = "sts-policy-fetch-error",
	[MTS_FAIL_CACHE] = "cache-error",
};

const char *mts_failure_name(enum mts_failure f)
{
	if ((unsigned)f >= sizeof(failure_names) / sizeof(failure_names[0]))
		return "unknown";
	return failure_names[f];
}

void mts_result_init(struct mts_result *r)
{
	memset(r, 0, sizeof(*r));
	r->status = MTS_TEMPFAIL;
	r->source = MTS_SRC_NONE;
	r->policy = (struct mts_policy)MTS_POLICY_INIT;
	r->text = (struct mts_buf)MTS_BUF_INIT;
	r->failure = MTS_FAIL_NONE;
}

void mts_result_free(struct mts_result *r)
{
	mts_policy_free(&r->policy);
	mts_buf_free(&r->text);
	mts_result_init(r);
}

/* Distinct names for logs (two classes share a TLSRPT type). */
static const char *failure_tag(enum mts_failure f)
{
	switch (f) {
	case MTS_FAIL_NONE:	return "none";
	case MTS_FAIL_FETCH:	return "fetch";
	case MTS_FAIL_INVALID:	return "invalid";
	case MTS_FAIL_WEBPKI:	return "webpki";
	case MTS_FAIL_DNS:	return "dns";
	case MTS_FAIL_CACHE:	return "cache";
	}
	return "unknown";
}

static int64_t real_now(void)
{
	return (int64_t)time(NULL);
}

static const char *status_name(enum mts_status s)
{
	switch (s) {
	case MTS_POLICY:	return "policy";
	case MTS_NO_POLICY:	return "none";
	case MTS_TEMPFAIL:	return "tempfail";
	}
	return "unknown";
}

static const char *source_name(enum mts_source s)
{
	switch (s) {
	case MTS_SRC_CACHE:	return "cache";
	case MTS_SRC_NETWORK:	return "network";
	case MTS_SRC_NONE:	break;
	}
	return "none";
}

/* The one info line that says what the lookup decided. */
static void log_outcome(const struct lookup *lk)
{
	const struct mts_result *r = lk->out;
	char reason[sizeof(r->reason) + 64], domain[MTS_DOMAIN_MAX + 64];

	if (!mts_log_enabled(MTS_LOG_INFO))
		return;
	mts_log_kv_value(r->reason, reason, sizeof(reason));
	mts_log_kv_value(lk->domain, domain, sizeof(domain));
	if (r->status == MTS_POLICY)
		mts_log(MTS_LOG_INFO, "policy domain=%s status=policy source=%s "
			"id=%s mode=%s max_age=%" PRIu32 " expires=%" PRId64
			" failure=%s reason=%s", domain,
			source_name(r->source), r->id[0] ? r->id : "-",
			mts_mode_name(r->policy.mode), r->policy.max_age,
			r->expires_at, failure_tag(r->failure), reason);
	else
		mts_log(MTS_LOG_INFO, "policy domain=%s status=%s failure=%s "
			"reason=%s", domain, status_name(r->status),
			failure_tag(r->failure), reason);
}

/* ---- answers ---- */

static enum mts_status answer(struct lookup *lk, enum mts_status status,
			      enum mts_failure failure, const char *reason)
{
	lk->out->status = status;
	lk->out->failure = failure;
	mts_strlcpy(lk->out->reason, reason ? reason : "",
		    sizeof(lk->out->reason));
	log_outcome(lk);
	return status;
}

/* Answers with the cached policy (which must be valid). */
static enum mts_status serve_cache(struct lookup *lk, enum mts_failure failure,
				   const char *reason)
{
	struct mts_result *r = lk->out;

	r->source = MTS_SRC_CACHE;
	r->policy = lk->cached;
	lk->cached = (struct mts_policy)MTS_POLICY_INIT;
	r->text = lk->entry.text;
	lk->entry.text = (struct mts_buf)MTS_BUF_INIT;
	lk->cached_valid = 0;
	mts_strlcpy(r->id, lk->entry.id, sizeof(r->id));
	r->fetched_at = lk->entry.fetched_at;
	r->expires_at = lk->entry.expires_at;
	return answer(lk, MTS_POLICY, failure, reason);
}

/* The valid cached policy when there is one, else status. */
static enum mts_status cache_or(struct lookup *lk, enum mts_status status,
				enum mts_failure failure, const char *reason)
{
	if (lk->cached_valid)
		return serve_cache(lk, failure, reason);
	return answer(lk, status, failure, reason);
}

/* ---- step 0: the name ---- */

/* Normalises and checks the domain. NULL, or why it cannot have a policy. */
static const char *domain_setup(struct lookup *lk, const char *domain)
{
	const char *bad;

	if (domain == NULL ||
	    mts_name_normalise(domain, lk->domain, sizeof(lk->domain)) < 0)
		return "not a domain name: empty or too long";
	if ((bad = mts_hostname_check(lk->domain)) != NULL)
		return bad;
	if (strlen(TXT_PREFIX) + strlen(lk->domain) > MTS_DOMAIN_MAX)
		return "name too long for a _mta-sts record";
	return NULL;
}

/* ---- step 1: the cache ---- */

/* Loads the entry and decides whether its policy is usable now.
 * Returns 0, or -1 with the reason in err (the cache cannot be trusted). */
static int cache_setup(struct lookup *lk, char *err, size_t errlen)
{
	const struct mts_cache_entry *e = &lk->entry;
	int rc;

	if (mts_cache_dir_check(lk->cfg->cache_dir, err, errlen) < 0)
		return -1;
	rc = mts_cache_load(lk->cfg->cache_dir, lk->domain, &lk->entry, err,
			    errlen);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		mts_cache_entry_free(&lk->entry);
		mts_cache_entry_init(&lk->entry);
		mts_log(MTS_LOG_DEBUG, "policy domain=%s cache=absent",
			lk->domain);
		return 0;
	}
	if (e->text.len > 0 && e->id[0] != '\0' &&
	    mts_policy_parse(e->text.data, e->text.len, &lk->cached, NULL) == 0)
		lk->cached_valid = lk->now < e->expires_at;
	mts_log(MTS_LOG_DEBUG, "policy domain=%s cache=%s id=%s expires=%"
		PRId64 " failed_at=%" PRId64, lk->domain,
		lk->cached_valid ? "valid" : e->text.len ? "expired" : "no-policy",
		e->id[0] ? e->id : "-", e->expires_at, e->failed_at);
	return 0;
}

/* ---- step 3: the TXT record ---- */

static enum txt_outcome txt_step(struct lookup *lk, char *why, size_t whylen)
{
	struct mts_txt_records recs = { MTS_STRLIST_INIT, NULL };
	char name[sizeof(TXT_PREFIX) + MTS_DOMAIN_MAX], err[256];
	unsigned timeout_ms = ENGINE_DNS_MAX_MS;
	enum mts_dns_status st;
	enum txt_outcome outcome;
	const char *bad;

	if (lk->cfg->timeout_s > 0 &&
	    lk->cfg->timeout_s < ENGINE_DNS_MAX_MS / 1000)
		timeout_ms = lk->cfg->timeout_s * 1000u;
	textf(name, sizeof(name), "%s%s", TXT_PREFIX, lk->domain);
	err[0] = '\0';
	st = lk->ops->txt_lookup(lk->cfg, name, timeout_ms, &recs, err,
				 sizeof(err));
	switch (st) {
	case MTS_DNS_OK:
		bad = mts_txt_select(recs.rec.item, recs.len, recs.rec.count,
				     &lk->txt);
		if (bad == NULL) {
			outcome = TXT_FOUND;
			mts_log(MTS_LOG_DEBUG, "policy domain=%s txt_id=%s",
				lk->domain, lk->txt.id);
		} else {
			outcome = TXT_NONE;
			textf(why, whylen, "TXT %s: %s", name, bad);
		}
		break;
	case MTS_DNS_NOTFOUND:
		outcome = TXT_NONE;
		textf(why, whylen, "no TXT record %s", name);
		break;
	default:
		outcome = TXT_TEMPFAIL;
		textf(why, whylen, "DNS: %s", err[0] ? err : "lookup failed");
		break;
	}
	mts_txt_records_free(&recs);
	return outcome;
}

/* ---- step 4: the backoff ---- */

/* The class a remembered failure was stored with (see store_failure). */
static enum mts_failure remembered_class(const char *reason, const char **text)
{
	static const enum mts_failure classes[] = {
		MTS_FAIL_INVALID, MTS_FAIL_WEBPKI, MTS_FAIL_FETCH,
	};

	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		const char *name = mts_failure_name(classes[i]);
		size_t n = strlen(name);

		if (strncmp(reason, name, n) == 0 && reason[n] == ':' &&
		    reason[n + 1] == ' ') {
			*text = reason + n + 2;
			return classes[i];
		}
	}
	*text = reason;
	return MTS_FAIL_FETCH;
}

/* 1 when the entry remembers a failed fetch less than MTS_FETCH_BACKOFF
 * ago (a failure time in the future does not count). */
static int recent_failure(const struct lookup *lk)
{
	const struct mts_cache_entry *e = &lk->entry;

	return e->failed_at != 0 && e->failed_at <= lk->now &&
	       lk->now - e->failed_at < MTS_FETCH_BACKOFF;
}

/* 1 when the remembered failure carries the churn tag (see the top). */
static int churn_tagged(const struct mts_cache_entry *e)
{
	const char *text;

	remembered_class(e->failed_reason, &text);
	return strncmp(text, CHURN_TAG, strlen(CHURN_TAG)) == 0;
}

/* 1 when a fetch is held back: this id failed recently, or several ids
 * of this domain did (churn). */
static int in_backoff(const struct lookup *lk)
{
	const struct mts_cache_entry *e = &lk->entry;

	if (lk->flags & MTS_LOOKUP_FRESH)
		return 0;
	if (!recent_failure(lk))
		return 0;
	return strcmp(e->failed_id, lk->txt.id) == 0 || churn_tagged(e);
}

static enum mts_status backoff_answer(struct lookup *lk)
{
	const struct mts_cache_entry *e = &lk->entry;
	enum mts_failure failure;
	const char *text;
	char reason[sizeof(lk->out->reason)];

	failure = remembered_class(e->failed_reason, &text);
	textf(reason, sizeof(reason), "fetch backoff: id %s failed %"
		 PRId64 " s ago: %s", lk->txt.id, lk->now - e->failed_at,
		 text[0] ? text : "-");
	return cache_or(lk, MTS_TEMPFAIL, failure, reason);
}

/* ---- step 5: fetch, parse, store ---- */

/* Remembers a failed fetch of the live id next to the cached policy. */
static void store_failure(struct lookup *lk, enum mts_failure failure,
			  const char *reason)
{
	struct mts_cache_entry *e = &lk->entry;
	char err[512];
	int churn;

	if (lk->flags & MTS_LOOKUP_NO_STORE)
		return;
	/* Another id failed within the window (or the domain was already
	 * tagged): hold every id back from now on. */
	churn = recent_failure(lk) &&
		(strcmp(e->failed_id, lk->txt.id) != 0 || churn_tagged(e));
	if (churn)
		mts_log(MTS_LOG_WARN, "policy domain=%s: fetches of several "
			"ids failed within %d s: no more fetches of any id "
			"for %d s", lk->domain, MTS_FETCH_BACKOFF,
			MTS_FETCH_BACKOFF);
	if (e->domain[0] == '\0')
		mts_strlcpy(e->domain, lk->domain, sizeof(e->domain));
	e->failed_at = lk->now;
	mts_strlcpy(e->failed_id, lk->txt.id, sizeof(e->failed_id));
	textf(e->failed_reason, sizeof(e->failed_reason), "%s: %s%s",
		 mts_failure_name(failure), churn ? CHURN_TAG : "", reason);
	if (mts_cache_store(lk->cfg->cache_dir, e, err, sizeof(err)) < 0)
		mts_log(MTS_LOG_WARN, "policy domain=%s cannot remember the "
			"failed fetch: %s", lk->domain, err);
}

static enum mts_status fetch_failed(struct lookup *lk,
				    enum mts_failure failure,
				    const char *reason)
{
	char text[sizeof(lk->out->reason)];

	mts_log(MTS_LOG_INFO, "policy domain=%s fetch failed: %s (%s)",
		lk->domain, reason,
		lk->cached_valid ? "cached policy kept" : "nothing cached");
	store_failure(lk, failure, reason);
	textf(text, sizeof(text), "%s: %s",
		 failure == MTS_FAIL_INVALID ? "policy invalid" : "fetch",
		 reason);
	return cache_or(lk, MTS_TEMPFAIL, failure, text);
}

/* Stores a freshly fetched policy (replacing whatever was cached: a new
 * id, a mode none withdrawal) and answers with it. */
static enum mts_status fetched(struct lookup *lk, struct mts_policy *p,
			       struct mts_buf *body)
{
	struct mts_result *r = lk->out;
	struct mts_cache_entry fresh;
	enum mts_failure failure = MTS_FAIL_NONE;
	char err[512], reason[sizeof(r->reason)] = "";

	r->source = MTS_SRC_NETWORK;
	mts_strlcpy(r->id, lk->txt.id, sizeof(r->id));
	r->fetched_at = lk->now;
	r->expires_at = lk->now + (int64_t)p->max_age;
	r->policy = *p;
	*p = (struct mts_policy)MTS_POLICY_INIT;
	r->text = *body;
	*body = (struct mts_buf)MTS_BUF_INIT;

	if (!(lk->flags & MTS_LOOKUP_NO_STORE)) {
		mts_cache_entry_init(&fresh);
		mts_strlcpy(fresh.domain, lk->domain, sizeof(fresh.domain));
		mts_strlcpy(fresh.id, r->id, sizeof(fresh.id));
		fresh.fetched_at = r->fetched_at;
		fresh.expires_at = r->expires_at;
		fresh.text = r->text;	/* borrowed: not freed below */
		if (mts_cache_store(lk->cfg->cache_dir, &fresh, err,
				    sizeof(err)) < 0) {
			mts_log(MTS_LOG_WARN, "policy domain=%s not cached: %s",
				lk->domain, err);
			failure = MTS_FAIL_CACHE;
			textf(reason, sizeof(reason), "cache: %s", err);
		}
	}
	return answer(lk, MTS_POLICY, failure, reason);
}

static enum mts_status fetch_step(struct lookup *lk)
{
	struct mts_buf body = MTS_BUF_INIT;
	struct mts_policy p = MTS_POLICY_INIT;
	struct mts_diag diag;
	enum mts_fetch_status fs;
	enum mts_status status;
	char err[256] = "", first[MTS_DIAG_TEXT + 32];

	mts_log(MTS_LOG_DEBUG, "policy domain=%s fetching id=%s", lk->domain,
		lk->txt.id);
	fs = lk->ops->fetch(lk->cfg, lk->domain, &body, err, sizeof(err));
	if (fs != MTS_FETCH_OK) {
		mts_buf_free(&body);
		return fetch_failed(lk, fs == MTS_FETCH_WEBPKI ? MTS_FAIL_WEBPKI
							       : MTS_FAIL_FETCH,
				    err[0] ? err : "failed");
	}
	memset(&diag, 0, sizeof(diag));
	if (body.len > MTS_POLICY_MAX_BYTES ||
	    mts_policy_parse(body.data ? body.data : "", body.len, &p,
			     &diag) < 0) {
		mts_buf_free(&body);
		if (diag.count == 0)
			mts_strlcpy(first, "body too large", sizeof(first));
		else
			mts_diag_first(&diag, first, sizeof(first));
		return fetch_failed(lk, MTS_FAIL_INVALID, first);
	}
	status = fetched(lk, &p, &body);
	mts_policy_free(&p);
	mts_buf_free(&body);
	return status;
}

/* ---- the procedure ---- */

static enum mts_status decide(struct lookup *lk)
{
	char why[sizeof(lk->out->reason)];

	if (cache_setup(lk, why, sizeof(why)) < 0) {
		char reason[sizeof(why) + 8];

		textf(reason, sizeof(reason), "cache: %s", why);
		return answer(lk, MTS_TEMPFAIL, MTS_FAIL_CACHE, reason);
	}
	if (!(lk->flags & MTS_LOOKUP_FRESH) && lk->cached_valid &&
	    (lk->flags & MTS_LOOKUP_NO_DNS))
		return serve_cache(lk, MTS_FAIL_NONE, "");

	switch (txt_step(lk, why, sizeof(why))) {
	case TXT_TEMPFAIL:
		return cache_or(lk, MTS_TEMPFAIL, MTS_FAIL_DNS, why);
	case TXT_NONE:
		/* A missing TXT record never removes a cached policy. */
		return cache_or(lk, MTS_NO_POLICY, MTS_FAIL_NONE, why);
	case TXT_FOUND:
		break;
	}
	if (!(lk->flags & MTS_LOOKUP_FRESH) && lk->cached_valid &&
	    strcmp(lk->entry.id, lk->txt.id) == 0)
		return serve_cache(lk, MTS_FAIL_NONE, "");
	if (in_backoff(lk))
		return backoff_answer(lk);
	return fetch_step(lk);
}

enum mts_status mts_engine_lookup_with(const struct mts_engine_ops *ops,
				       const struct mts_config *cfg,
				       const char *domain, unsigned flags,
				       struct mts_result *out)
{
	static const struct mts_engine_ops real = {
		mts_dns_txt, mts_fetch_policy, real_now,
	};
	struct mts_engine_ops use = ops ? *ops : real;
	struct lookup lk;
	enum mts_status status;
	const char *bad;

	if (use.txt_lookup == NULL)
		use.txt_lookup = real.txt_lookup;
	if (use.fetch == NULL)
		use.fetch = real.fetch;
	if (use.now == NULL)
		use.now = real.now;

	mts_result_free(out);
	memset(&lk, 0, sizeof(lk));
	lk.ops = &use;
	lk.cfg = cfg;
	lk.flags = flags;
	lk.now = use.now();
	lk.out = out;
	lk.cached = (struct mts_policy)MTS_POLICY_INIT;
	mts_cache_entry_init(&lk.entry);

	if ((bad = domain_setup(&lk, domain)) != NULL) {
		char reason[sizeof(out->reason)];

		if (lk.domain[0] == '\0')
			mts_strlcpy(lk.domain, "-", sizeof(lk.domain));
		textf(reason, sizeof(reason), "no policy for this name: %s",
			 bad);
		status = answer(&lk, MTS_NO_POLICY, MTS_FAIL_NONE, reason);
	} else {
		status = decide(&lk);
	}
	mts_policy_free(&lk.cached);
	mts_cache_entry_free(&lk.entry);
	return status;
}

enum mts_status mts_engine_lookup(const struct mts_config *cfg,
				  const char *domain, unsigned flags,
				  struct mts_result *out)
{
	return mts_engine_lookup_with(NULL, cfg, domain, flags, out);
}
