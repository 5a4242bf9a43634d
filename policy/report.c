/*
 * report.c - RFC 8460 aggregate reports: one per policy domain and UTC day
 *
 * SYNOPSIS
 *	mts_report_day_load(dir, "2025-01-01", &day, err, errlen);
 *	mts_report_json(dir, day, &day->domains[i], &meta, id, &json, ...);
 *	mts_report_state_load(dir, day, domain, &st, err, errlen);
 *
 * DESCRIPTION
 *	Aggregation streams the day's spool once. Domains are found through
 *	a small open-addressing hash index (a busy day has thousands of
 *	domains); within a domain the policies and failure groups are few
 *	and searched linearly. Counts are 64-bit.
 *
 *	The JSON is written by hand (no JSON library among the project's
 *	dependencies) with one escaping function for every string, so no
 *	field from the spool - MX names, EHLO names, reasons - can break out
 *	of its string.
 *
 *	Delivery state: one small text file per report, written atomically,
 *	so a crash leaves the old or the new state and never a torn one.
 *	An unparsable state file is an error, not "no state": treating it as
 *	new would build and send the report a second time.
 */
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "match.h"

#define STATE_MAGIC "mtasts-report-state 1"
#define STATE_SUBDIR "state"
#define STATE_MAX 16384
#define RETRY_STEP_MAX (4 * 3600)

/* ---- who reports ----------------------------------------------------- */

static const char *printable_reason(const char *v, size_t max)
{
	size_t len = strlen(v);

	if (len == 0)
		return "is empty";
	if (len > max)
		return "is too long";
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
			return "holds a control or non-ASCII character";
	return NULL;
}

static int lower_copy(const char *in, char *out, size_t outsize)
{
	size_t n = strlen(in);

	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n >= outsize)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] + 32)
							: in[i];
	out[n] = '\0';
	return 0;
}

int mts_report_meta_load(struct mts_report_meta *m,
			 const char *default_submitter,
			 char *err, size_t errlen)
{
	const char *sub = secure_getenv("MTASTS_REPORT_SUBMITTER");
	const char *org = secure_getenv("MTASTS_REPORT_ORG");
	const char *contact = secure_getenv("MTASTS_REPORT_CONTACT");
	const char *var = "MTASTS_REPORT_SUBMITTER", *why;

	memset(m, 0, sizeof(*m));
	if (sub == NULL || sub[0] == '\0') {
		sub = default_submitter;
		var = "the submitter (MTASTS_REPORT_SUBMITTER unset, from "
		      "MTASTS_EHLO_NAME or the host name)";
	}
	if (sub == NULL || sub[0] == '\0')
		return mts_errorf(err, errlen, "MTASTS_REPORT_SUBMITTER is not set");
	if ((why = printable_reason(sub, MTS_TLSRPT_HOST_MAX)) != NULL ||
	    (why = mts_hostname_check(sub)) != NULL)
		return mts_errorf(err, errlen, "%s: \"%.80s\" is not a host name: %s",
				  var, sub, why);
	if (lower_copy(sub, m->submitter, sizeof(m->submitter)) < 0)
		return mts_errorf(err, errlen, "%s: too long", var);
	if (org != NULL && org[0] != '\0') {
		if ((why = printable_reason(org, MTS_REPORT_ORG_MAX)) != NULL)
			return mts_errorf(err, errlen, "MTASTS_REPORT_ORG: the value "
					  "%s (at most %d printable ASCII "
					  "characters)", why, MTS_REPORT_ORG_MAX);
		mts_strlcpy(m->org, org, sizeof(m->org));
	} else {
		mts_strlcpy(m->org, m->submitter, sizeof(m->org));
	}
	if (contact != NULL && contact[0] != '\0') {
		if ((why = printable_reason(contact, MTS_REPORT_CONTACT_MAX)))
			return mts_errorf(err, errlen, "MTASTS_REPORT_CONTACT: the "
					  "value %s (at most %d printable ASCII "
					  "characters)", why, MTS_REPORT_CONTACT_MAX);
		mts_strlcpy(m->contact, contact, sizeof(m->contact));
	} else {
		snprintf(m->contact, sizeof(m->contact), "postmaster@%s",
			 m->submitter);
	}
	return 0;
}

/* ---- the day's aggregate --------------------------------------------- */

struct domain_index {
	size_t *slot;		/* domain index + 1; 0 = empty */
	size_t cap;		/* power of two */
};

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static int index_grow(struct mts_report_day *d)
{
	struct domain_index *ix = d->index;
	size_t cap = ix->cap ? ix->cap * 2 : 64;
	size_t *slot;

	/* At most half full after the next insertion. */
	while (cap < 2 * (d->ndomains + 1)) {
		if (cap > SIZE_MAX / 4 / sizeof(*slot))
			return -1;
		cap *= 2;
	}
	slot = calloc(cap, sizeof(*slot));
	if (slot == NULL)
		return -1;
	for (size_t i = 0; i < d->ndomains; i++) {
		size_t h = (size_t)name_hash(d->domains[i].name) & (cap - 1);

		while (slot[h] != 0)
			h = (h + 1) & (cap - 1);
		slot[h] = i + 1;
	}
	free(ix->slot);
	ix->slot = slot;
	ix->cap = cap;
	return 0;
}

struct mts_report_day *mts_report_day_new(const char *day)
{
	struct mts_report_day *d;
	int64_t start;

	if (mts_tlsrpt_day_parse(day, &start) < 0)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->index = calloc(1, sizeof(struct domain_index));
	if (d->index == NULL) {
		free(d);
		return NULL;
	}
	mts_strlcpy(d->day, day, sizeof(d->day));
	d->start = start;
	return d;
}

/* Allocated for policies with failures only: most domains have none. */
struct fail_index {
	size_t *slot;		/* failure index + 1; 0 = empty */
	size_t cap;		/* power of two, at most half full */
	size_t overflow[MTS_TLSRPT_RESULT_COUNT];	/* index + 1 of the
				   catch-all group of each result type */
};

static void fail_index_free(struct mts_report_policy *p)
{
	struct fail_index *ix = p->fail_index;

	if (ix != NULL)
		free(ix->slot);
	free(ix);
	p->fail_index = NULL;
}

static void failure_free(struct mts_report_failure *f)
{
	free(f->sending_ip);
	free(f->mx_host);
	free(f->helo);
	free(f->receiving_ip);
	free(f->reason);
	free(f->info);
}

void mts_report_day_free(struct mts_report_day *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->ndomains; i++) {
		struct mts_report_domain *dom = &d->domains[i];

		for (size_t p = 0; p < dom->npol; p++) {
			for (size_t f = 0; f < dom->pol[p].nfail; f++)
				failure_free(&dom->pol[p].fail[f]);
			free(dom->pol[p].fail);
			fail_index_free(&dom->pol[p]);
		}
		free(dom->pol);
	}
	free(d->domains);
	if (d->index != NULL)
		free(((struct domain_index *)d->index)->slot);
	free(d->index);
	free(d);
}

/* Grows an array of elements of size sz to hold one more. */
static int grow(void **arr, size_t *cap, size_t count, size_t sz)
{
	size_t ncap;
	void *p;

	if (count < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 4;
	if (ncap > SIZE_MAX / sz)
		return -1;
	p = realloc(*arr, ncap * sz);
	if (p == NULL)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

static struct mts_report_domain *find_domain(struct mts_report_day *d,
					     const char *name)
{
	struct domain_index *ix = d->index;
	struct mts_report_domain *dom;
	size_t h;

	if (ix->cap > 0) {
		h = (size_t)name_hash(name) & (ix->cap - 1);
		while (ix->slot[h] != 0) {
			dom = &d->domains[ix->slot[h] - 1];
			if (strcmp(dom->name, name) == 0)
				return dom;
			h = (h + 1) & (ix->cap - 1);
		}
	}
	/* Keep the load factor at most 1/2. */
	if ((d->ndomains + 1) * 2 > ix->cap && index_grow(d) < 0)
		return NULL;
	if (grow((void **)&d->domains, &d->capdomains, d->ndomains,
		 sizeof(*d->domains)) < 0)
		return NULL;
	dom = &d->domains[d->ndomains];
	memset(dom, 0, sizeof(*dom));
	mts_strlcpy(dom->name, name, sizeof(dom->name));
	h = (size_t)name_hash(name) & (ix->cap - 1);
	while (ix->slot[h] != 0)
		h = (h + 1) & (ix->cap - 1);
	ix->slot[h] = ++d->ndomains;
	return dom;
}

static struct mts_report_policy *find_policy(struct mts_report_domain *dom,
					     enum mts_tlsrpt_policy_type type,
					     const char *hash)
{
	struct mts_report_policy *p;

	for (size_t i = 0; i < dom->npol; i++)
		if (dom->pol[i].type == type &&
		    strcmp(dom->pol[i].hash, hash) == 0)
			return &dom->pol[i];
	/* Room for one at first: nearly every domain has one policy a day,
	 * and a busy day has a million domains. */
	if (dom->cappol == 0 &&
	    (dom->pol = calloc(1, sizeof(*dom->pol))) != NULL)
		dom->cappol = 1;
	if (grow((void **)&dom->pol, &dom->cappol, dom->npol,
		 sizeof(*dom->pol)) < 0)
		return NULL;
	p = &dom->pol[dom->npol++];
	memset(p, 0, sizeof(*p));
	p->type = type;
	mts_strlcpy(p->hash, hash, sizeof(p->hash));
	return p;
}

/* ---- failure groups: hashed look-up, bounded count ------------------ */

static uint64_t mix_field(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	h ^= 0x100;		/* field separator: "ab","c" != "a","bc" */
	return h * 1099511628211ull;
}

static uint64_t failure_hash(enum mts_tlsrpt_result result, const char *sip,
			     const char *mx, const char *helo, const char *rip,
			     const char *reason, const char *info)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)result;

	h = mix_field(h, sip);
	h = mix_field(h, mx);
	h = mix_field(h, helo);
	h = mix_field(h, rip);
	h = mix_field(h, reason);
	return mix_field(h, info);
}

static uint64_t hash_of_failure(const struct mts_report_failure *f)
{
	return failure_hash(f->result, f->sending_ip, f->mx_host, f->helo,
			    f->receiving_ip, f->reason, f->info);
}

static uint64_t hash_of_rec(const struct mts_tlsrpt_rec *r)
{
	return failure_hash(r->result, r->sending_ip, r->mx_host,
			    r->receiving_helo, r->receiving_ip,
			    r->failure_reason, r->additional_info);
}

static void fail_index_put(struct fail_index *ix, uint64_t hash, size_t i)
{
	size_t h = (size_t)hash & (ix->cap - 1);

	while (ix->slot[h] != 0)
		h = (h + 1) & (ix->cap - 1);
	ix->slot[h] = i + 1;
}

/* Room for one more group, at a load factor of at most 1/2. Overflow
 * groups are not indexed (they are found through ix->overflow[]). */
static int fail_index_reserve(struct mts_report_policy *p)
{
	struct fail_index *ix = p->fail_index;
	size_t cap;
	size_t *slot;

	if (ix == NULL) {
		if ((ix = calloc(1, sizeof(*ix))) == NULL)
			return -1;
		p->fail_index = ix;
	}
	if (ix->cap >= 2 * (p->nfail + 1))
		return 0;
	cap = ix->cap ? ix->cap : 16;
	while (cap < 2 * (p->nfail + 1)) {
		if (cap > SIZE_MAX / 4 / sizeof(*slot))
			return -1;
		cap *= 2;
	}
	if ((slot = calloc(cap, sizeof(*slot))) == NULL)
		return -1;
	free(ix->slot);
	ix->slot = slot;
	ix->cap = cap;
	for (size_t i = 0; i < p->nfail; i++)
		fail_index_put(ix, hash_of_failure(&p->fail[i]), i);
	return 0;
}

static int same_failure(const struct mts_report_failure *f,
			const struct mts_tlsrpt_rec *r)
{
	return f->result == r->result &&
	       strcmp(f->sending_ip, r->sending_ip) == 0 &&
	       strcmp(f->mx_host, r->mx_host) == 0 &&
	       strcmp(f->helo, r->receiving_helo) == 0 &&
	       strcmp(f->receiving_ip, r->receiving_ip) == 0 &&
	       strcmp(f->reason, r->failure_reason) == 0 &&
	       strcmp(f->info, r->additional_info) == 0;
}

static int is_overflow_group(const struct mts_report_policy *p, size_t i)
{
	const struct fail_index *ix = p->fail_index;

	return ix->overflow[p->fail[i].result] == i + 1;
}

/* The existing group of r, or NULL. */
static struct mts_report_failure *find_failure(struct mts_report_policy *p,
					       const struct mts_tlsrpt_rec *r,
					       uint64_t hash)
{
	struct fail_index *ix = p->fail_index;
	size_t h;

	if (ix == NULL || ix->cap == 0)
		return NULL;
	for (h = (size_t)hash & (ix->cap - 1); ix->slot[h] != 0;
	     h = (h + 1) & (ix->cap - 1)) {
		size_t i = ix->slot[h] - 1;

		if (!is_overflow_group(p, i) && same_failure(&p->fail[i], r))
			return &p->fail[i];
	}
	return NULL;
}

/* A new group at the end of p->fail: r's fields, or (overflow) only its
 * result type and MTS_REPORT_OVERFLOW_REASON. */
static int new_failure(struct mts_report_policy *p,
		       const struct mts_tlsrpt_rec *r, int overflow)
{
	struct mts_report_failure *f;

	if (grow((void **)&p->fail, &p->capfail, p->nfail,
		 sizeof(*p->fail)) < 0)
		return -1;
	f = &p->fail[p->nfail];
	memset(f, 0, sizeof(*f));
	f->result = r->result;
	f->count = 1;
	f->sending_ip = strdup(overflow ? "" : r->sending_ip);
	f->mx_host = strdup(overflow ? "" : r->mx_host);
	f->helo = strdup(overflow ? "" : r->receiving_helo);
	f->receiving_ip = strdup(overflow ? "" : r->receiving_ip);
	f->reason = strdup(overflow ? MTS_REPORT_OVERFLOW_REASON
				    : r->failure_reason);
	f->info = strdup(overflow ? "" : r->additional_info);
	if (!f->sending_ip || !f->mx_host || !f->helo || !f->receiving_ip ||
	    !f->reason || !f->info) {
		failure_free(f);
		return -1;
	}
	p->nfail++;
	return 0;
}

static int add_failure(struct mts_report_policy *p,
		       const struct mts_tlsrpt_rec *r)
{
	uint64_t hash = hash_of_rec(r);
	struct mts_report_failure *f = find_failure(p, r, hash);
	size_t *over;

	if (f != NULL) {
		f->count++;
		return 0;
	}
	if (p->nfail >= MTS_REPORT_FAILURE_GROUPS_MAX) {
		over = &((struct fail_index *)p->fail_index)->overflow[r->result];
		/* Too many distinct groups: the catch-all of this type. */
		if (*over != 0) {
			p->fail[*over - 1].count++;
			return 0;
		}
		if (new_failure(p, r, 1) < 0)
			return -1;
		*over = p->nfail;
		return 0;
	}
	if (fail_index_reserve(p) < 0 || new_failure(p, r, 0) < 0)
		return -1;
	fail_index_put(p->fail_index, hash, p->nfail - 1);
	return 0;
}

int mts_report_day_add(struct mts_report_day *d,
		       const struct mts_tlsrpt_rec *rec)
{
	struct mts_report_domain *dom = find_domain(d, rec->domain);
	struct mts_report_policy *p;

	if (dom == NULL)
		return -1;
	p = find_policy(dom, rec->policy_type,
			rec->policy_type == MTS_TLSRPT_POLICY_STS ?
			rec->policy_hash : "");
	if (p == NULL)
		return -1;
	if (rec->result == MTS_TLSRPT_SUCCESS) {
		p->successes++;
		return 0;
	}
	p->failures++;
	return add_failure(p, rec);
}

static int compare_domains(const void *a, const void *b)
{
	return strcmp(((const struct mts_report_domain *)a)->name,
		      ((const struct mts_report_domain *)b)->name);
}

void mts_report_day_sort(struct mts_report_day *d)
{
	if (d->ndomains > 1)
		qsort(d->domains, d->ndomains, sizeof(*d->domains),
		      compare_domains);
	/* The index points at old positions: rebuild it. */
	if (d->ndomains > 0) {
		struct domain_index *ix = d->index;

		free(ix->slot);
		ix->slot = NULL;
		ix->cap = 0;
		if (index_grow(d) < 0) {
			/* Look-ups after sorting are not needed by callers;
			 * an empty index only makes them miss. */
		}
	}
}

void mts_report_domain_totals(const struct mts_report_domain *dom,
			      uint64_t *successes, uint64_t *failures)
{
	*successes = *failures = 0;
	for (size_t i = 0; i < dom->npol; i++) {
		*successes += dom->pol[i].successes;
		*failures += dom->pol[i].failures;
	}
}

static int add_visit(const struct mts_tlsrpt_rec *rec, void *arg)
{
	return mts_report_day_add(arg, rec) < 0 ? -1 : 0;
}

int mts_report_day_load(const char *report_dir, const char *day,
			struct mts_report_day **out, char *err, size_t errlen)
{
	struct mts_report_day *d = mts_report_day_new(day);
	int rc;

	*out = NULL;
	if (d == NULL)
		return mts_errorf(err, errlen, "invalid day \"%.20s\" (or out of "
				  "memory)", day);
	rc = mts_tlsrpt_read_day(report_dir, day, add_visit, d, &d->records,
				 &d->damaged, err, errlen);
	if (rc < 0) {
		mts_report_day_free(d);
		return -1;
	}
	mts_report_day_sort(d);
	*out = d;
	return rc;
}

/* ---- JSON ------------------------------------------------------------ */

int mts_report_json_string(struct mts_buf *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	int rc = mts_buf_append(out, "\"", 1);

	for (const unsigned char *p = (const unsigned char *)s;
	     rc == 0 && *p; p++) {
		char esc[7] = "\\u00";

		switch (*p) {
		case '"': rc = mts_buf_append(out, "\\\"", 2); break;
		case '\\': rc = mts_buf_append(out, "\\\\", 2); break;
		case '\n': rc = mts_buf_append(out, "\\n", 2); break;
		case '\r': rc = mts_buf_append(out, "\\r", 2); break;
		case '\t': rc = mts_buf_append(out, "\\t", 2); break;
		default:
			if (*p >= 0x80) {
				rc = mts_buf_append(out, "\\ufffd", 6);
			} else if (*p < 0x20 || *p == 0x7f) {
				esc[4] = hex[*p >> 4];
				esc[5] = hex[*p & 15];
				rc = mts_buf_append(out, esc, 6);
			} else {
				rc = mts_buf_append(out, p, 1);
			}
		}
	}
	if (rc == 0)
		rc = mts_buf_append(out, "\"", 1);
	return rc;
}

/* ,"key":"value" - only when value is not empty. */
static int json_opt(struct mts_buf *out, const char *key, const char *value)
{
	if (value == NULL || value[0] == '\0')
		return 0;
	if (mts_buf_printf(out, ",\"%s\":", key) < 0)
		return -1;
	return mts_report_json_string(out, value);
}

/* The lines of a policy text (no CR, no empty lines) and its mx values. */
static int split_policy(const struct mts_buf *text, struct mts_strlist *lines,
			struct mts_strlist *mx)
{
	const char *p = text->data, *end = text->data + text->len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		size_t n = (size_t)(e - p);

		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > 0 && mts_strlist_addn(lines, p, n) < 0)
			return -1;
		if (n > 3 && memcmp(p, "mx:", 3) == 0) {
			const char *v = p + 3, *ve = p + n;

			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			if (ve > v && mts_strlist_addn(mx, v,
						       (size_t)(ve - v)) < 0)
				return -1;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

static int json_string_array(struct mts_buf *out, const char *key,
			     const struct mts_strlist *l)
{
	if (mts_buf_printf(out, ",\"%s\":[", key) < 0)
		return -1;
	for (size_t i = 0; i < l->count; i++)
		if ((i && mts_buf_append(out, ",", 1) < 0) ||
		    mts_report_json_string(out, l->item[i]) < 0)
			return -1;
	return mts_buf_append(out, "]", 1);
}

static int json_policy_desc(struct mts_buf *out, const char *report_dir,
			    const char *domain,
			    const struct mts_report_policy *p,
			    char *err, size_t errlen)
{
	struct mts_strlist lines = MTS_STRLIST_INIT, mx = MTS_STRLIST_INIT;
	struct mts_buf text = MTS_BUF_INIT;
	int have_text = 0, rc = -1;

	if (p->type == MTS_TLSRPT_POLICY_STS && p->hash[0] != '\0' &&
	    report_dir != NULL) {
		int lrc = mts_tlsrpt_policy_load(report_dir, p->hash, &text,
						 err, errlen);

		if (lrc < 0)
			goto out;
		have_text = lrc == 0;
		if (have_text && split_policy(&text, &lines, &mx) < 0) {
			mts_errorf(err, errlen, "out of memory");
			goto out;
		}
	}
	if (mts_buf_printf(out, "{\"policy-type\":\"%s\"",
			   mts_tlsrpt_policy_type_name(p->type)) < 0 ||
	    (have_text && json_string_array(out, "policy-string", &lines) < 0) ||
	    mts_buf_append_str(out, ",\"policy-domain\":") < 0 ||
	    mts_report_json_string(out, domain) < 0 ||
	    (have_text && json_string_array(out, "mx-host", &mx) < 0) ||
	    mts_buf_append(out, "}", 1) < 0) {
		mts_errorf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	mts_strlist_free(&lines);
	mts_strlist_free(&mx);
	mts_buf_free(&text);
	return rc;
}

static int json_failure(struct mts_buf *out, const struct mts_report_failure *f)
{
	if (mts_buf_printf(out, "{\"result-type\":\"%s\"",
			   mts_tlsrpt_result_name(f->result)) < 0 ||
	    json_opt(out, "sending-mta-ip", f->sending_ip) < 0 ||
	    json_opt(out, "receiving-mx-hostname", f->mx_host) < 0 ||
	    json_opt(out, "receiving-mx-helo", f->helo) < 0 ||
	    json_opt(out, "receiving-ip", f->receiving_ip) < 0 ||
	    mts_buf_printf(out, ",\"failed-session-count\":%" PRIu64,
			   f->count) < 0 ||
	    json_opt(out, "additional-information", f->info) < 0 ||
	    json_opt(out, "failure-reason-code", f->reason) < 0)
		return -1;
	return mts_buf_append(out, "}", 1);
}

static int json_policy(struct mts_buf *out, const char *report_dir,
		       const char *domain, const struct mts_report_policy *p,
		       char *err, size_t errlen)
{
	if (mts_buf_append_str(out, "{\"policy\":") < 0)
		return mts_errorf(err, errlen, "out of memory");
	if (json_policy_desc(out, report_dir, domain, p, err, errlen) < 0)
		return -1;
	if (mts_buf_printf(out, ",\"summary\":{\"total-successful-session-"
			   "count\":%" PRIu64 ",\"total-failure-session-"
			   "count\":%" PRIu64 "}", p->successes,
			   p->failures) < 0)
		return mts_errorf(err, errlen, "out of memory");
	if (p->nfail > 0) {
		if (mts_buf_append_str(out, ",\"failure-details\":[") < 0)
			return mts_errorf(err, errlen, "out of memory");
		for (size_t i = 0; i < p->nfail; i++)
			if ((i && mts_buf_append(out, ",", 1) < 0) ||
			    json_failure(out, &p->fail[i]) < 0)
				return mts_errorf(err, errlen, "out of memory");
		if (mts_buf_append(out, "]", 1) < 0)
			return mts_errorf(err, errlen, "out of memory");
	}
	if (mts_buf_append(out, "}", 1) < 0)
		return mts_errorf(err, errlen, "out of memory");
	return 0;
}

int mts_report_json(const char *report_dir, const struct mts_report_day *d,
		    const struct mts_report_domain *dom,
		    const struct mts_report_meta *m, const char *report_id,
		    struct mts_buf *out, char *err, size_t errlen)
{
	if (mts_buf_append_str(out, "{\"organization-name\":") < 0 ||
	    mts_report_json_string(out, m->org) < 0 ||
	    mts_buf_printf(out, ",\"date-range\":{\"start-datetime\":"
			   "\"%sT00:00:00Z\",\"end-datetime\":"
			   "\"%sT23:59:59Z\"},\"contact-info\":",
			   d->day, d->day) < 0 ||
	    mts_report_json_string(out, m->contact) < 0 ||
	    mts_buf_append_str(out, ",\"report-id\":") < 0 ||
	    mts_report_json_string(out, report_id) < 0 ||
	    mts_buf_append_str(out, ",\"policies\":[") < 0)
		return mts_errorf(err, errlen, "out of memory");
	for (size_t i = 0; i < dom->npol; i++) {
		if (i && mts_buf_append(out, ",", 1) < 0)
			return mts_errorf(err, errlen, "out of memory");
		if (json_policy(out, report_dir, dom->name, &dom->pol[i], err,
				errlen) < 0)
			return -1;
	}
	if (mts_buf_append_str(out, "]}\n") < 0)
		return mts_errorf(err, errlen, "out of memory");
	return 0;
}

int mts_report_filename(const struct mts_report_meta *m,
			const struct mts_report_day *d, const char *domain,
			const char *unique_id, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s!%s!%" PRId64 "!%" PRId64
			 "!%s.json.gz", m->submitter, domain, d->start,
			 d->start + MTS_REPORT_DAY_SECONDS - 1, unique_id);

	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

/* ---- delivery state -------------------------------------------------- */

static const char *const status_names[] = {
	[MTS_RS_PENDING] = "pending",
	[MTS_RS_DONE] = "done",
	[MTS_RS_NO_RUA] = "no-rua",
	[MTS_RS_FAILED] = "failed",
};

static const char *const ep_names[] = {
	[MTS_EP_PENDING] = "pending",
	[MTS_EP_SENT] = "sent",
	[MTS_EP_FAILED] = "failed",
};

const char *mts_report_status_name(enum mts_report_status s)
{
	return (unsigned)s < 4 ? status_names[s] : "?";
}

const char *mts_endpoint_status_name(enum mts_endpoint_status s)
{
	return (unsigned)s < 3 ? ep_names[s] : "?";
}

int mts_report_state_name(const char *day, const char *domain, char *out,
			  size_t outlen)
{
	int n = snprintf(out, outlen, "%s!%s", day, domain);

	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

/* A one-line, printable copy (the state file is line-based). */
static void single_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

int mts_report_state_format(const struct mts_report_state *st,
			    struct mts_buf *out)
{
	char last_error[sizeof(st->last_error)];
	int rc;

	mts_strlcpy(last_error, st->last_error, sizeof(last_error));
	single_line(last_error);
	rc = mts_buf_printf(out, STATE_MAGIC "\nday %s\ndomain %s\n"
			    "unique-id %s\nreport-id %s\nfile %s\n"
			    "created %" PRId64 "\nfirst-attempt %" PRId64 "\n"
			    "next-attempt %" PRId64 "\nattempts %u\n"
			    "status %s\nlast-error %s\n",
			    st->day, st->domain, st->unique_id, st->report_id,
			    st->file, st->created, st->first_attempt,
			    st->next_attempt, st->attempts,
			    mts_report_status_name(st->status),
			    last_error[0] ? last_error : "-");
	for (size_t i = 0; rc == 0 && i < st->nep; i++)
		rc = mts_buf_printf(out, "endpoint %s %u %s\n",
				    mts_endpoint_status_name(st->ep[i].status),
				    st->ep[i].attempts, st->ep[i].uri);
	return rc;
}

static int parse_u64(const char *s, int64_t *out)
{
	int64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return 0;
}

static int copy_word(const char *v, char *out, size_t outsize, int spaces)
{
	if (strlen(v) >= outsize || v[0] == '\0')
		return -1;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e ||
		    (!spaces && *p == ' '))
			return -1;
	mts_strlcpy(out, v, outsize);
	return 0;
}

static int parse_status(const char *v, enum mts_report_status *out)
{
	for (unsigned i = 0; i < 4; i++)
		if (strcmp(v, status_names[i]) == 0) {
			*out = (enum mts_report_status)i;
			return 0;
		}
	return -1;
}

static int parse_endpoint(const char *v, struct mts_report_state *st)
{
	struct mts_report_endpoint *ep;
	char word[16];
	const char *sp = strchr(v, ' '), *sp2;
	int64_t n;
	unsigned i;

	if (st->nep >= MTS_REPORT_MAX_ENDPOINTS || sp == NULL ||
	    (size_t)(sp - v) >= sizeof(word))
		return -1;
	ep = &st->ep[st->nep];
	memcpy(word, v, (size_t)(sp - v));
	word[sp - v] = '\0';
	for (i = 0; i < 3; i++)
		if (strcmp(word, ep_names[i]) == 0)
			break;
	if (i == 3)
		return -1;
	ep->status = (enum mts_endpoint_status)i;
	sp2 = strchr(sp + 1, ' ');
	if (sp2 == NULL || (size_t)(sp2 - sp - 1) >= sizeof(word))
		return -1;
	memcpy(word, sp + 1, (size_t)(sp2 - sp - 1));
	word[sp2 - sp - 1] = '\0';
	if (parse_u64(word, &n) < 0 || n > 100000)
		return -1;
	ep->attempts = (unsigned)n;
	if (copy_word(sp2 + 1, ep->uri, sizeof(ep->uri), 0) < 0)
		return -1;
	st->nep++;
	return 0;
}

/* One "key value" line into st. */
static int state_line(char *line, struct mts_report_state *st, unsigned *seen)
{
	char *v = strchr(line, ' ');
	int64_t n;

	if (v == NULL)
		return -1;
	*v++ = '\0';
#define WORD(k, field, bit, spaces) \
	if (strcmp(line, k) == 0) { \
		*seen |= bit; \
		return copy_word(v, st->field, sizeof(st->field), spaces); \
	}
#define NUMBER(k, field, bit) \
	if (strcmp(line, k) == 0) { \
		*seen |= bit; \
		if (parse_u64(v, &n) < 0) \
			return -1; \
		st->field = n; \
		return 0; \
	}
	WORD("day", day, 0x1, 0)
	WORD("domain", domain, 0x2, 0)
	WORD("unique-id", unique_id, 0x4, 0)
	WORD("report-id", report_id, 0x8, 0)
	if (strcmp(line, "file") == 0) {
		/* A plain name under out/: it is read and, when the day is
		 * pruned, unlinked there. */
		*seen |= 0x10;
		if (v[0] == '.' || strchr(v, '/') != NULL)
			return -1;
		return copy_word(v, st->file, sizeof(st->file), 0);
	}
	NUMBER("created", created, 0x20)
	NUMBER("first-attempt", first_attempt, 0x40)
	NUMBER("next-attempt", next_attempt, 0x80)
#undef WORD
#undef NUMBER
	if (strcmp(line, "attempts") == 0) {
		*seen |= 0x100;
		if (parse_u64(v, &n) < 0 || n > 100000)
			return -1;
		st->attempts = (unsigned)n;
		return 0;
	}
	if (strcmp(line, "status") == 0) {
		*seen |= 0x200;
		return parse_status(v, &st->status);
	}
	if (strcmp(line, "last-error") == 0) {
		*seen |= 0x400;
		if (strcmp(v, "-") == 0)
			return 0;
		return copy_word(v, st->last_error, sizeof(st->last_error), 1);
	}
	if (strcmp(line, "endpoint") == 0)
		return parse_endpoint(v, st);
	return -1;
}

int mts_report_state_parse(const char *text, size_t len,
			   struct mts_report_state *st)
{
	char *copy, *line, *save = NULL;
	unsigned seen = 0;
	int rc = -1, first = 1;

	memset(st, 0, sizeof(*st));
	if (len == 0 || memchr(text, '\0', len) != NULL ||
	    text[len - 1] != '\n')
		return -1;
	if ((copy = malloc(len + 1)) == NULL)
		return -1;
	memcpy(copy, text, len);
	copy[len] = '\0';
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (first) {
			if (strcmp(line, STATE_MAGIC) != 0)
				goto out;
			first = 0;
			continue;
		}
		if (state_line(line, st, &seen) < 0)
			goto out;
	}
	if (seen == 0x7ff)
		rc = 0;
out:
	free(copy);
	if (rc < 0)
		memset(st, 0, sizeof(*st));
	return rc;
}

static int state_dir(const char *report_dir, char *out, size_t outlen,
		     char *err, size_t errlen)
{
	return mts_tlsrpt_dir(report_dir, STATE_SUBDIR, out, outlen, err,
			      errlen);
}

int mts_report_state_load(const char *report_dir, const char *day,
			  const char *domain, struct mts_report_state *st,
			  char *err, size_t errlen)
{
	struct mts_buf text = MTS_BUF_INIT;
	char dir[PATH_MAX], name[300];
	int rc;

	memset(st, 0, sizeof(*st));
	if (mts_report_state_name(day, domain, name, sizeof(name)) < 0)
		return mts_errorf(err, errlen, "state name too long");
	/* Reading creates nothing (--dry-run): a missing directory reads
	 * as a missing file. */
	if (snprintf(dir, sizeof(dir), "%s/" STATE_SUBDIR, report_dir) >=
	    (int)sizeof(dir))
		return mts_errorf(err, errlen, "path too long");
	rc = mts_tlsrpt_read_file(dir, name, STATE_MAX, &text, err, errlen);
	if (rc == 0 && (mts_report_state_parse(text.data, text.len, st) < 0 ||
			strcmp(st->day, day) != 0 ||
			strcmp(st->domain, domain) != 0))
		rc = mts_errorf(err, errlen, "%s/%s is damaged: fix or remove it "
				"(it is never reset on its own, to never send a "
				"report twice)", dir, name);
	mts_buf_free(&text);
	return rc;
}

int mts_report_state_store(const char *report_dir,
			   const struct mts_report_state *st,
			   char *err, size_t errlen)
{
	struct mts_buf text = MTS_BUF_INIT;
	char dir[PATH_MAX], name[300];
	int rc;

	if (mts_report_state_name(st->day, st->domain, name, sizeof(name)) < 0)
		return mts_errorf(err, errlen, "state name too long");
	if (state_dir(report_dir, dir, sizeof(dir), err, errlen) < 0)
		return -1;
	if (mts_report_state_format(st, &text) < 0) {
		mts_buf_free(&text);
		return mts_errorf(err, errlen, "out of memory");
	}
	rc = mts_tlsrpt_write_atomic(dir, name, text.data, text.len, err,
				     errlen);
	mts_buf_free(&text);
	return rc;
}

int64_t mts_report_next_attempt(int64_t now, int64_t first_attempt,
				unsigned attempts, unsigned base)
{
	int64_t step = base ? base : 300, deadline;

	for (unsigned i = 1; i < attempts && step < RETRY_STEP_MAX; i++)
		step *= 2;
	if (step > RETRY_STEP_MAX)
		step = RETRY_STEP_MAX;
	deadline = first_attempt + MTS_REPORT_RETRY_WINDOW;
	if (now >= deadline)
		return 0;
	return now + step < deadline ? now + step : deadline;
}
