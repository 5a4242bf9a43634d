/*
 * report.h - RFC 8460 aggregate reports: one per policy domain and UTC day
 *
 * SYNOPSIS
 *	struct mts_report_day *day;
 *	if (mts_report_day_load(cfg.report_dir, "2025-01-01", &day, err,
 *				sizeof(err)) < 0) ...
 *	for (size_t i = 0; i < day->ndomains; i++) {
 *		mts_report_json(cfg.report_dir, day, &day->domains[i], &meta,
 *				report_id, &json, err, sizeof(err));
 *		mts_gzip(json.data, json.len, &gz);
 *	}
 *	mts_report_day_free(day);
 *
 * DESCRIPTION
 *	mts_report_day_load() reads the spool of one day (tlsrpt.h) and adds
 *	up its sessions: per policy domain, per applied policy (policy type
 *	and policy text: a domain that changed its policy during the day has
 *	two entries), the successful and failed sessions, and the failures
 *	grouped by everything a failure-details entry holds (result type,
 *	sending IP, MX host, MX HELO name, receiving IP, reason code,
 *	additional information). Domains come out sorted by name, policies
 *	and failure groups in order of first appearance. Look-ups of both
 *	domains and failure groups are hashed, so a day of a million
 *	distinct failures (a hostile MX that varies its HELO name) is added
 *	up in linear time. A policy lists at most
 *	MTS_REPORT_FAILURE_GROUPS_MAX failure groups: further distinct
 *	failures are counted in one catch-all group per result type that
 *	carries only result-type, failed-session-count and
 *	MTS_REPORT_OVERFLOW_REASON as failure-reason-code. The summary
 *	counts stay exact and the report stays a bounded size (a few MiB
 *	per policy at most, far below MTS_BUF_MAX).
 *
 *	mts_report_json() writes the report of one domain with exactly the
 *	field names of RFC 8460 section 4.4:
 *	  organization-name, date-range {start-datetime, end-datetime},
 *	  contact-info, report-id, policies[] {policy {policy-type,
 *	  policy-string[], policy-domain, mx-host[]}, summary
 *	  {total-successful-session-count, total-failure-session-count},
 *	  failure-details[] {result-type, sending-mta-ip,
 *	  receiving-mx-hostname, receiving-mx-helo, receiving-ip,
 *	  failed-session-count, additional-information,
 *	  failure-reason-code}}
 *	The day runs from YYYY-MM-DDT00:00:00Z to YYYY-MM-DDT23:59:59Z.
 *	policy-string holds the lines of the policy text (CR and empty lines
 *	dropped) and mx-host the values of its "mx:" lines, for "sts"
 *	policies whose text is known; both are left out otherwise (e.g. a
 *	fetch error before any policy was seen). Optional failure fields
 *	are left out when unknown, failure-details when there is none.
 *
 *	mts_report_meta_load() reads who sends the reports, with
 *	secure_getenv():
 *	  MTASTS_REPORT_ORG        organization-name (default: the submitter)
 *	  MTASTS_REPORT_CONTACT    contact-info (default postmaster@<submitter>)
 *	  MTASTS_REPORT_SUBMITTER  the submitter's domain, used in file names,
 *	                           report ids and the TLS-Report-Submitter
 *	                           header (default: the caller's fallback,
 *	                           e.g. MTASTS_EHLO_NAME)
 *	Values are checked: printable ASCII, bounded, the submitter a host
 *	name. Errors name the variable.
 *
 *	mts_report_filename(): submitter!policy-domain!begin!end!unique-id
 *	.json.gz (RFC 8460 section 5.1), begin and end in Unix seconds.
 *
 * DIAGNOSTICS
 *	0 on success, -1 with a message in err; load returns 1 when the day
 *	has no spool file (nothing to report).
 */
#ifndef MTS_REPORT_H
#define MTS_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "tlsrpt.h"

#define MTS_REPORT_ORG_MAX 128
#define MTS_REPORT_CONTACT_MAX 320
#define MTS_REPORT_DAY_SECONDS 86400
/* Distinct failure-details entries per policy (see DESCRIPTION); the
 * reason text below names the number: keep the two in step. */
#define MTS_REPORT_FAILURE_GROUPS_MAX 4096
#define MTS_REPORT_OVERFLOW_REASON \
	"mtasts: further failures of this type, not listed one by one " \
	"(more than 4096 distinct failure groups)"

struct mts_report_meta {
	char org[MTS_REPORT_ORG_MAX + 1];
	char contact[MTS_REPORT_CONTACT_MAX + 1];
	char submitter[MTS_TLSRPT_HOST_MAX + 1];
};

struct mts_report_failure {
	enum mts_tlsrpt_result result;
	char *sending_ip;	/* "" when unknown, like every field here */
	char *mx_host;
	char *helo;
	char *receiving_ip;
	char *reason;
	char *info;
	uint64_t count;
};

struct mts_report_policy {
	enum mts_tlsrpt_policy_type type;
	char hash[MTS_TLSRPT_HASH_HEX + 1];	/* "" when no text known */
	uint64_t successes;
	uint64_t failures;
	struct mts_report_failure *fail;
	size_t nfail;
	size_t capfail;
	void *fail_index;		/* private: failure group look-up */
};

struct mts_report_domain {
	char name[MTS_TLSRPT_HOST_MAX + 1];
	struct mts_report_policy *pol;
	size_t npol;
	size_t cappol;
};

struct mts_report_day {
	char day[11];			/* YYYY-MM-DD */
	int64_t start;			/* 00:00:00Z of the day */
	struct mts_report_domain *domains;
	size_t ndomains;
	size_t capdomains;
	size_t records;			/* spool lines read */
	size_t damaged;			/* spool lines skipped */
	void *index;			/* private: domain name look-up */
};

int mts_report_meta_load(struct mts_report_meta *m,
			 const char *default_submitter,
			 char *err, size_t errlen);

/* Returns 0, 1 when the day has no spool file, -1 on error. On 0 and 1,
 * *out is a (possibly empty) day to free with mts_report_day_free. */
int mts_report_day_load(const char *report_dir, const char *day,
			struct mts_report_day **out, char *err, size_t errlen);
void mts_report_day_free(struct mts_report_day *d);

/* Adds one record (used by the loader; exposed for tests). */
int mts_report_day_add(struct mts_report_day *d,
		       const struct mts_tlsrpt_rec *rec);
/* A new empty day. NULL when out of memory or day is invalid. */
struct mts_report_day *mts_report_day_new(const char *day);
/* Sorts the domains by name (the loader does it). */
void mts_report_day_sort(struct mts_report_day *d);

/* Session totals of a domain over all its policies. */
void mts_report_domain_totals(const struct mts_report_domain *dom,
			      uint64_t *successes, uint64_t *failures);

/* The RFC 8460 JSON report of dom, appended to out. Policy texts are read
 * from report_dir (tlsrpt.h); report_dir may be NULL (texts unknown). */
int mts_report_json(const char *report_dir, const struct mts_report_day *d,
		    const struct mts_report_domain *dom,
		    const struct mts_report_meta *m, const char *report_id,
		    struct mts_buf *out, char *err, size_t errlen);

int mts_report_filename(const struct mts_report_meta *m,
			const struct mts_report_day *d, const char *domain,
			const char *unique_id, char *out, size_t outlen);

/* Appends s as a JSON string: quotes, escapes, control characters as
 * \u00XX, bytes >= 0x80 as U+FFFD (the spool holds no valid UTF-8 we
 * could vouch for). */
int mts_report_json_string(struct mts_buf *out, const char *s);

/* ---- delivery state of one report (docs/TLSRPT.md) ---- */

#define MTS_REPORT_MAX_ENDPOINTS 8
#define MTS_REPORT_URI_MAX 512

enum mts_report_status {
	MTS_RS_PENDING = 0,	/* not yet delivered everywhere, retrying */
	MTS_RS_DONE,		/* delivered: an endpoint accepted it and no
				   endpoint is left to try (final) */
	MTS_RS_NO_RUA,		/* the domain asks for no reports (final) */
	MTS_RS_FAILED,		/* given up: 24 hours of retries ran out, or
				   no endpoint could take it (final) */
};

enum mts_endpoint_status {
	MTS_EP_PENDING = 0,
	MTS_EP_SENT,		/* accepted: never sent there again */
	MTS_EP_FAILED,		/* given up */
};

struct mts_report_endpoint {
	enum mts_endpoint_status status;
	unsigned attempts;
	char uri[MTS_REPORT_URI_MAX + 1];
};

struct mts_report_state {
	char day[11];
	char domain[MTS_TLSRPT_HOST_MAX + 1];
	char unique_id[33];		/* letters and digits */
	char report_id[128];
	char file[384];			/* the .json.gz under <report_dir>/out */
	int64_t created;
	int64_t first_attempt;		/* 0: never tried */
	int64_t next_attempt;		/* 0: as soon as possible */
	unsigned attempts;
	enum mts_report_status status;
	char last_error[256];
	struct mts_report_endpoint ep[MTS_REPORT_MAX_ENDPOINTS];
	size_t nep;			/* 0 until the rua record was read */
};

const char *mts_report_status_name(enum mts_report_status s);
const char *mts_endpoint_status_name(enum mts_endpoint_status s);

/* "<day>!<domain>", the state's file name under <report_dir>/state. */
int mts_report_state_name(const char *day, const char *domain, char *out,
			  size_t outlen);
/* Returns 0, 1 when there is no state yet, -1 on error (also for a file
 * that does not parse: it is never silently reset, which could send a
 * report twice). */
int mts_report_state_load(const char *report_dir, const char *day,
			  const char *domain, struct mts_report_state *st,
			  char *err, size_t errlen);
/* Atomic write (temporary file + rename). */
int mts_report_state_store(const char *report_dir,
			   const struct mts_report_state *st,
			   char *err, size_t errlen);
/* Exposed for tests. */
int mts_report_state_format(const struct mts_report_state *st,
			    struct mts_buf *out);
int mts_report_state_parse(const char *text, size_t len,
			   struct mts_report_state *st);

/* When to try again after `attempts` failed attempts: base * 2^(n-1)
 * seconds (capped at 4 hours per step), never past first_attempt + 24 h.
 * Returns 0 when the 24 hours are over (give up). */
int64_t mts_report_next_attempt(int64_t now, int64_t first_attempt,
				unsigned attempts, unsigned base);

#define MTS_REPORT_RETRY_WINDOW 86400	/* RFC 8460 5.5: up to 24 hours */

#endif
