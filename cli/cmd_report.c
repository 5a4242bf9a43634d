/*
 * cmd_report.c - `mtasts report`: build and send the daily TLSRPT reports (RFC 8460)
 *
 * DESCRIPTION
 *	Reads the session spool that the relays write (policy/tlsrpt.h),
 *	builds one RFC 8460 report per policy domain and UTC day, keeps it
 *	as <report_dir>/out/<submitter>!<domain>!<begin>!<end>!<id>.json.gz
 *	with a state file beside it (policy/report.h), and with --send
 *	delivers it to the endpoints of the domain's _smtp._tls record.
 *
 *	Exactly-once: a report's identity (unique id, report id, file) is
 *	fixed the first time it is built and stored atomically; every
 *	endpoint that accepted it is recorded at once, before the next
 *	endpoint is tried, and is never sent to again. A second run, or a
 *	run after a crash, only retries what is still pending and due. Two
 *	runs at the same time are kept apart by a non-blocking flock on
 *	<report_dir>/.report.lock: the second one does nothing. The relays
 *	never take that lock.
 *
 *	Retries (RFC 8460 5.5): after a failed attempt the report waits
 *	MTASTS_REPORT_RETRY seconds (default 300), doubling per attempt up
 *	to 4 hours, and is given up 24 hours after its first attempt.
 *
 *	Never under the shim: if LD_PRELOAD names the MTA-STS shim, the
 *	command executes itself again without it, and sendmail children
 *	never inherit LD_PRELOAD (policy/deliver.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "cli.h"
#include "deliver.h"
#include "dkim.h"
#include "gzip.h"
#include "report.h"
#include "tlsrpt.h"

const char cli_usage_report[] =
"usage: mtasts report [--date YYYY-MM-DD] [--dry-run] [--send] [--outdir DIR]\n"
"\n"
"Build the daily TLSRPT reports (RFC 8460) from the sessions the relays\n"
"recorded in MTASTS_REPORT_DIR, and send them.\n"
"\n"
"  --date DAY   only the reports of DAY (UTC); default: every finished day\n"
"               of the last 7 days\n"
"  --dry-run    print what would be sent, change nothing\n"
"  --send       deliver every report that is due to the endpoints of its\n"
"               domain's _smtp._tls TXT record (https: POST, mailto: mail);\n"
"               failures are retried with backoff for 24 hours; a report\n"
"               is never sent twice to the same endpoint\n"
"  --outdir DIR also copy each report file (.json.gz) into DIR\n"
"\n"
"Without --send, reports are only built (and kept for a later --send).\n"
"Run it from cron or scripts/mtasts-report.timer, e.g. hourly:\n"
"  17 * * * *  mtasts report --send\n"
"\n"
"environment: MTASTS_REPORT_ORG, MTASTS_REPORT_CONTACT,\n"
"MTASTS_REPORT_SUBMITTER, MTASTS_REPORT_FROM, MTASTS_REPORT_SMTP,\n"
"MTASTS_REPORT_SENDMAIL, MTASTS_REPORT_DKIM_KEY, MTASTS_REPORT_DKIM_SELECTOR,\n"
"MTASTS_REPORT_DKIM_DOMAIN, MTASTS_REPORT_RETRY (see mtasts(1) and\n"
"docs/TLSRPT.md).\n"
"\n"
"exit status: 0 done (or nothing due), 1 a delivery was given up (24\n"
"hours of retries ran out, or no endpoint could take a report), 2 usage\n"
"or configuration error, 3 some delivery failed and will be retried, or\n"
"another report run is active.\n";

#define OUT_SUBDIR "out"
#define LOCK_NAME ".report.lock"
#define DAY_GRACE 300		/* a day is over 5 minutes after midnight */
#define MAX_AGE_DAYS 7		/* default scope */
#define KEEP_DAYS 32		/* spool, state and files kept this long */
#define REPORT_FILE_MAX ((size_t)32 << 20)
#define RETRY_DEFAULT 300
#define FINAL_SUFFIX ".final"	/* state/<day>.final: nothing left to do */
#define DRY_GROUPS 10		/* failure lines per policy in --dry-run */
#define DRY_REASON 60		/* characters of a reason shown there */

struct run {
	struct mts_config cfg;
	struct mts_report_meta meta;
	struct mts_dkim dkim;
	int have_dkim;
	struct mts_deliver_opts opts;
	unsigned retry_base;
	int dry_run;
	int send;
	const char *outdir;
	int64_t now;
	char out_dir[PATH_MAX];		/* <report_dir>/out */
	int worst;			/* exit status so far */
};

static void note_status(struct run *r, int status)
{
	/* 2 > 1 > 3 > 0: configuration errors first, then give-ups. */
	static const int rank[] = { 0, 3, 4, 2 };

	if (rank[status] > rank[r->worst])
		r->worst = status;
}

/* ---- set-up ---------------------------------------------------------- */

/* Executes the command again without the MTA-STS shim when it was
 * preloaded: report deliveries must not be enforced or reported on. */
static void drop_shim(int argc, char **argv)
{
	const char *pre = getenv("LD_PRELOAD");
	char **args;

	if (pre == NULL || strstr(pre, "mtasts") == NULL)
		return;
	unsetenv("LD_PRELOAD");
	args = calloc((size_t)argc + 2, sizeof(*args));
	if (args == NULL)
		return;
	args[0] = "mtasts";
	for (int i = 0; i < argc; i++)
		args[i + 1] = argv[i];
	execv("/proc/self/exe", args);
	/* Still here: go on; connections are ours to make anyway. */
	fprintf(stderr, "mtasts: report: cannot re-execute without "
		"LD_PRELOAD: %s\n", strerror(errno));
	free(args);
}

static int load_retry_base(unsigned *out)
{
	const char *v = secure_getenv("MTASTS_REPORT_RETRY");
	char *end;
	long n;

	*out = RETRY_DEFAULT;
	if (v == NULL || v[0] == '\0')
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (*end != '\0' || errno != 0 || n < 1 || n > 3600) {
		fprintf(stderr, "mtasts: MTASTS_REPORT_RETRY: \"%.40s\" is not "
			"a number of seconds from 1 to 3600\n", v);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

static int setup(struct run *r)
{
	char err[512];
	int rc;

	if (cli_setup(&r->cfg) < 0)
		return -1;
	if (mts_report_meta_load(&r->meta, r->cfg.ehlo_name, err,
				 sizeof(err)) < 0) {
		fprintf(stderr, "mtasts: report: %s\n", err);
		return -1;
	}
	if (load_retry_base(&r->retry_base) < 0)
		return -1;
	if (!r->send)
		return 0;
	rc = mts_dkim_from_env(&r->dkim, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "mtasts: report: %s\n", err);
		return -1;
	}
	r->have_dkim = rc == 0;
	if (mts_deliver_opts_load(&r->opts, &r->cfg, r->meta.submitter,
				  r->have_dkim ? &r->dkim : NULL, err,
				  sizeof(err)) < 0) {
		fprintf(stderr, "mtasts: report: %s\n", err);
		return -1;
	}
	return 0;
}

/* Non-blocking: a second concurrent run returns at once. -1 busy/error. */
static int take_lock(const char *report_dir)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", report_dir, LOCK_NAME) >=
	    (int)sizeof(path))
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "mtasts: report: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "mtasts: report: another `mtasts report` is "
			"running (%s is locked); nothing done\n", path);
		close(fd);
		return -1;
	}
	return fd;	/* held until exit */
}

/* ---- which days ------------------------------------------------------ */

static int day_is_over(int64_t start, int64_t now)
{
	return now >= start + MTS_REPORT_DAY_SECONDS + DAY_GRACE;
}

/* state/<day>.final marks a day whose reports are all final, so hourly
 * runs need not read its spool again. */
static int final_marker(const char *day, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s" FINAL_SUFFIX, day);

	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

static int day_is_final(struct run *r, const char *day)
{
	char name[32], path[PATH_MAX];
	struct stat st;
	int n;

	if (final_marker(day, name, sizeof(name)) < 0)
		return 0;
	n = snprintf(path, sizeof(path), "%s/state/%s", r->cfg.report_dir,
		     name);
	return n > 0 && (size_t)n < sizeof(path) && lstat(path, &st) == 0;
}

static void mark_day_final(struct run *r, const char *day)
{
	char dir[PATH_MAX], name[32], err[512];

	if (final_marker(day, name, sizeof(name)) < 0 ||
	    mts_tlsrpt_dir(r->cfg.report_dir, "state", dir, sizeof(dir), err,
			   sizeof(err)) < 0 ||
	    mts_tlsrpt_write_atomic(dir, name, "final\n", 6, err,
				    sizeof(err)) < 0)
		mts_log(MTS_LOG_DEBUG, "tlsrpt: cannot mark %s final", day);
}

static int default_days(struct run *r, struct mts_strlist *days)
{
	struct mts_strlist all = MTS_STRLIST_INIT;
	char err[512];
	int64_t oldest = r->now - (int64_t)(MAX_AGE_DAYS + 1) *
				  MTS_REPORT_DAY_SECONDS;

	if (mts_tlsrpt_days(r->cfg.report_dir, &all, err, sizeof(err)) < 0) {
		fprintf(stderr, "mtasts: report: %s\n", err);
		return -1;
	}
	for (size_t i = 0; i < all.count; i++) {
		int64_t start;

		if (mts_tlsrpt_day_parse(all.item[i], &start) == 0 &&
		    start >= oldest && day_is_over(start, r->now) &&
		    !day_is_final(r, all.item[i]) &&
		    mts_strlist_add(days, all.item[i]) < 0) {
			mts_strlist_free(&all);
			return -1;
		}
	}
	mts_strlist_free(&all);
	return 0;
}

/* ---- building -------------------------------------------------------- */

static int random_id(char *out, size_t bytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];

	if (bytes > sizeof(b) || RAND_bytes(b, (int)bytes) != 1)
		return -1;
	for (size_t i = 0; i < bytes; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * bytes] = '\0';
	return 0;
}

/* A fresh identity for a report never built before. */
static int new_state(struct run *r, const struct mts_report_day *d,
		     const struct mts_report_domain *dom,
		     struct mts_report_state *st)
{
	memset(st, 0, sizeof(*st));
	mts_strlcpy(st->day, d->day, sizeof(st->day));
	mts_strlcpy(st->domain, dom->name, sizeof(st->domain));
	if (random_id(st->unique_id, 8) < 0)
		return -1;
	if (snprintf(st->report_id, sizeof(st->report_id), "%s.%s@%s", d->day,
		     st->unique_id, r->meta.submitter) >=
	    (int)sizeof(st->report_id) ||
	    mts_report_filename(&r->meta, d, dom->name, st->unique_id,
				st->file, sizeof(st->file)) < 0)
		return -1;
	st->created = r->now;
	st->status = MTS_RS_PENDING;
	return 0;
}

/* The gzip'd JSON of dom with the identity in st. */
static int build_report(struct run *r, const struct mts_report_day *d,
			const struct mts_report_domain *dom,
			const struct mts_report_state *st, struct mts_buf *gz,
			char *err, size_t errlen)
{
	struct mts_buf json = MTS_BUF_INIT;
	int rc;

	rc = mts_report_json(r->cfg.report_dir, d, dom, &r->meta,
			     st->report_id, &json, err, errlen);
	if (rc == 0 && mts_gzip(json.data, json.len, gz) < 0) {
		snprintf(err, errlen, "gzip: out of memory");
		rc = -1;
	}
	mts_buf_free(&json);
	return rc;
}

/* Loads or creates the state of dom's report and makes sure its file
 * exists (it is rebuilt, identically, when it went missing). */
static int ensure_report(struct run *r, const struct mts_report_day *d,
			 const struct mts_report_domain *dom,
			 struct mts_report_state *st, struct mts_buf *gz)
{
	char err[512];
	int rc;

	rc = mts_report_state_load(r->cfg.report_dir, d->day, dom->name, st,
				   err, sizeof(err));
	if (rc < 0)
		goto fail;
	/* A new identity is saved before its file is written: after a
	 * crash in between, the file is rebuilt with the same identity. */
	if (rc == 1 && new_state(r, d, dom, st) < 0) {
		snprintf(err, sizeof(err), "cannot make a report id");
		goto fail;
	}
	if (rc == 1 && mts_report_state_store(r->cfg.report_dir, st, err,
					      sizeof(err)) < 0)
		goto fail;
	rc = mts_tlsrpt_read_file(r->out_dir, st->file, REPORT_FILE_MAX, gz,
				  err, sizeof(err));
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		if (build_report(r, d, dom, st, gz, err, sizeof(err)) < 0 ||
		    mts_tlsrpt_write_atomic(r->out_dir, st->file, gz->data,
					    gz->len, err, sizeof(err)) < 0)
			goto fail;
		printf("%s %s: built %s\n", d->day, dom->name, st->file);
	}
	if (r->outdir != NULL &&
	    mts_tlsrpt_write_atomic(r->outdir, st->file, gz->data, gz->len,
				    err, sizeof(err)) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "mtasts: report: %s %s: %s\n", d->day, dom->name, err);
	note_status(r, EXIT_USAGE);
	return -1;
}

/* ---- sending --------------------------------------------------------- */

static int store(struct run *r, const struct mts_report_state *st)
{
	char err[512];

	if (mts_report_state_store(r->cfg.report_dir, st, err,
				   sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "mtasts: report: %s %s: cannot save the delivery "
		"state: %s\n", st->day, st->domain, err);
	note_status(r, EXIT_USAGE);
	return -1;
}

/* "a: b" into the state's last error, cut to fit. */
static void set_last_error(struct mts_report_state *st, const char *a,
			   const char *b)
{
	int n = snprintf(st->last_error, sizeof(st->last_error), "%s: %s",
			 a, b);

	if (n < 0)
		st->last_error[0] = '\0';
}

/* Reads the rua record into st's endpoints. 0 found, 1 none (final),
 * -1 temporary failure (err set). */
static int resolve_endpoints(struct run *r, struct mts_report_state *st,
			     char *err, size_t errlen)
{
	struct mts_strlist rua = MTS_STRLIST_INIT;
	enum mts_dns_status ds;

	ds = mts_deliver_rua_lookup(&r->cfg, st->domain, &rua, err, errlen);
	if (ds == MTS_DNS_TEMPFAIL)
		return -1;
	if (ds == MTS_DNS_NOTFOUND)
		return 1;
	for (size_t i = 0; i < rua.count && st->nep < MTS_REPORT_MAX_ENDPOINTS;
	     i++) {
		struct mts_report_endpoint *ep = &st->ep[st->nep];

		if (strlen(rua.item[i]) > MTS_REPORT_URI_MAX ||
		    strchr(rua.item[i], ' ') != NULL)
			continue;
		memset(ep, 0, sizeof(*ep));
		mts_strlcpy(ep->uri, rua.item[i], sizeof(ep->uri));
		st->nep++;
	}
	mts_strlist_free(&rua);
	if (st->nep == 0) {
		snprintf(err, errlen, "no usable rua URI");
		return 1;
	}
	return 0;
}

static void try_endpoints(struct run *r, struct mts_report_state *st,
			  const struct mts_report_msg *msg)
{
	for (size_t i = 0; i < st->nep; i++) {
		struct mts_report_endpoint *ep = &st->ep[i];
		enum mts_deliver_status ds;
		char err[512] = "";

		if (ep->status != MTS_EP_PENDING)
			continue;
		ep->attempts++;
		ds = mts_deliver(&r->opts, ep->uri, msg, err, sizeof(err));
		if (ds == MTS_DELIVER_OK) {
			ep->status = MTS_EP_SENT;
			printf("%s %s: sent to %s\n", st->day, st->domain,
			       ep->uri);
			mts_log(MTS_LOG_INFO, "tlsrpt report sent day=%s "
				"domain=%s to=%s id=%s", st->day, st->domain,
				ep->uri, st->report_id);
		} else {
			if (ds == MTS_DELIVER_PERMFAIL)
				ep->status = MTS_EP_FAILED;
			set_last_error(st, ep->uri, err);
			printf("%s %s: %s to %s: %s\n", st->day, st->domain,
			       ds == MTS_DELIVER_PERMFAIL ? "cannot send"
							 : "failed to send",
			       ep->uri, err);
			mts_log(MTS_LOG_WARN, "tlsrpt report failed day=%s "
				"domain=%s to=%s error=%s", st->day, st->domain,
				ep->uri, err);
		}
		/* Saved after every endpoint: an accepted report is
		 * recorded before anything else can go wrong. */
		if (store(r, st) < 0)
			return;
	}
}

/* After an attempt: done, or when to try again, or given up. */
static void settle(struct run *r, struct mts_report_state *st)
{
	size_t sent = 0, pending = 0;
	char t[32];

	for (size_t i = 0; i < st->nep; i++) {
		sent += st->ep[i].status == MTS_EP_SENT;
		pending += st->ep[i].status == MTS_EP_PENDING;
	}
	if (st->nep > 0 && pending == 0) {
		st->status = sent > 0 ? MTS_RS_DONE : MTS_RS_FAILED;
		st->next_attempt = 0;
		note_status(r, sent > 0 ? 0 : EXIT_NEGATIVE);
		return;
	}
	st->attempts++;
	st->next_attempt = mts_report_next_attempt(r->now, st->first_attempt,
						   st->attempts, r->retry_base);
	if (st->next_attempt == 0) {
		/* Final either way; "done" when some endpoint has it (the
		 * meaning of MTS_RS_DONE), "failed" when none has. */
		st->status = sent > 0 ? MTS_RS_DONE : MTS_RS_FAILED;
		for (size_t i = 0; i < st->nep; i++)
			if (st->ep[i].status == MTS_EP_PENDING)
				st->ep[i].status = MTS_EP_FAILED;
		printf("%s %s: given up after %u attempts in 24 hours%s\n",
		       st->day, st->domain, st->attempts,
		       sent > 0 ? " (delivered elsewhere)" : "");
		note_status(r, EXIT_NEGATIVE);
		return;
	}
	printf("%s %s: will retry at %s\n", st->day, st->domain,
	       cli_time(st->next_attempt, t, sizeof(t)));
	note_status(r, EXIT_TEMPFAIL);
}

static void send_report(struct run *r, struct mts_report_state *st,
			const struct mts_buf *gz)
{
	struct mts_report_msg msg = {
		st->domain, r->meta.submitter, r->meta.org, st->report_id,
		st->day, st->file, gz->data, gz->len, r->now,
	};
	char err[512] = "", t[32];
	int rc;

	if (st->status != MTS_RS_PENDING)
		return;
	if (st->next_attempt > r->now) {
		printf("%s %s: next attempt at %s\n", st->day, st->domain,
		       cli_time(st->next_attempt, t, sizeof(t)));
		return;
	}
	if (st->first_attempt == 0)
		st->first_attempt = r->now;
	if (st->nep == 0) {
		rc = resolve_endpoints(r, st, err, sizeof(err));
		if (rc == 1) {
			st->status = MTS_RS_NO_RUA;
			mts_strlcpy(st->last_error, err, sizeof(st->last_error));
			printf("%s %s: not sent, the domain asks for no reports "
			       "(%s)\n", st->day, st->domain, err);
			store(r, st);
			return;
		}
		if (rc < 0) {
			set_last_error(st, "rua look-up", err);
			printf("%s %s: rua look-up failed: %s\n", st->day,
			       st->domain, err);
		}
	}
	try_endpoints(r, st, &msg);
	settle(r, st);
	store(r, st);
}

/* ---- dry run --------------------------------------------------------- */

static void print_dry_header(void)
{
	printf("%-10s  %-28s %-20s %8s %8s  %-8s %s\n", "DAY", "POLICY DOMAIN",
	       "POLICY", "SUCCESS", "FAILURE", "STATE", "REPORT TO");
}

static void dry_endpoints(struct run *r, const struct mts_report_state *st,
			  int have_state, struct mts_buf *out)
{
	struct mts_strlist rua = MTS_STRLIST_INIT;
	char err[256] = "";

	if (have_state && st->nep > 0) {
		for (size_t i = 0; i < st->nep; i++)
			mts_buf_printf(out, "%s%s (%s)", i ? ", " : "",
				       st->ep[i].uri,
				       mts_endpoint_status_name(st->ep[i].status));
		return;
	}
	switch (mts_deliver_rua_lookup(&r->cfg, st->domain, &rua, err,
				       sizeof(err))) {
	case MTS_DNS_OK:
		for (size_t i = 0; i < rua.count; i++)
			mts_buf_printf(out, "%s%s", i ? ", " : "", rua.item[i]);
		break;
	case MTS_DNS_NOTFOUND:
		mts_buf_printf(out, "(nobody: %s)", err);
		break;
	default:
		mts_buf_printf(out, "(rua look-up failed: %s)", err);
	}
	mts_strlist_free(&rua);
}

/* The failure groups of a policy, at most DRY_GROUPS, reasons cut. */
static void print_dry_failures(const struct mts_report_policy *p)
{
	size_t shown = p->nfail < DRY_GROUPS ? p->nfail : DRY_GROUPS;

	for (size_t f = 0; f < shown; f++) {
		const struct mts_report_failure *x = &p->fail[f];
		int cut = strlen(x->reason) > DRY_REASON;

		printf("%12s%" PRIu64 " x %s mx=%s ip=%s%s%.*s%s\n", "",
		       x->count, mts_tlsrpt_result_name(x->result),
		       x->mx_host[0] ? x->mx_host : "-",
		       x->receiving_ip[0] ? x->receiving_ip : "-",
		       x->reason[0] ? " reason=" : "", DRY_REASON, x->reason,
		       cut ? "..." : "");
	}
	if (p->nfail > shown)
		printf("%12s... and %zu more failure groups\n", "",
		       p->nfail - shown);
}

static void print_dry_row(struct run *r, const struct mts_report_day *d,
			  const struct mts_report_domain *dom)
{
	struct mts_report_state st;
	struct mts_buf types = MTS_BUF_INIT, to = MTS_BUF_INIT;
	uint64_t ok, bad;
	char err[256];
	int have;

	have = mts_report_state_load(r->cfg.report_dir, d->day, dom->name, &st,
				     err, sizeof(err)) == 0;
	if (!have) {
		memset(&st, 0, sizeof(st));
		mts_strlcpy(st.domain, dom->name, sizeof(st.domain));
	}
	for (size_t i = 0; i < dom->npol; i++)
		mts_buf_printf(&types, "%s%s", i ? "," : "",
			       dom->pol[i].type == MTS_TLSRPT_POLICY_STS ? "sts"
								: "none");
	mts_report_domain_totals(dom, &ok, &bad);
	dry_endpoints(r, &st, have, &to);
	printf("%-10s  %-28s %-20s %8" PRIu64 " %8" PRIu64 "  %-8s %s\n",
	       d->day, dom->name, mts_buf_str(&types), ok, bad,
	       have ? mts_report_status_name(st.status) : "new",
	       mts_buf_str(&to));
	for (size_t i = 0; i < dom->npol; i++)
		print_dry_failures(&dom->pol[i]);
	mts_buf_free(&types);
	mts_buf_free(&to);
}

/* ---- one day --------------------------------------------------------- */

static void do_day(struct run *r, const char *day)
{
	struct mts_report_day *d = NULL;
	char err[512];
	int rc, all_final = 1;

	rc = mts_report_day_load(r->cfg.report_dir, day, &d, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "mtasts: report: %s: %s\n", day, err);
		note_status(r, EXIT_USAGE);
		return;
	}
	if (d->damaged > 0)
		fprintf(stderr, "mtasts: report: %s: %zu damaged spool "
			"line%s skipped\n", day, d->damaged,
			d->damaged == 1 ? "" : "s");
	if (rc == 1 || d->ndomains == 0)
		printf("%s: no sessions recorded\n", day);
	for (size_t i = 0; i < d->ndomains; i++) {
		struct mts_report_state st;
		struct mts_buf gz = MTS_BUF_INIT;

		if (r->dry_run) {
			print_dry_row(r, d, &d->domains[i]);
			continue;
		}
		if (ensure_report(r, d, &d->domains[i], &st, &gz) == 0 &&
		    r->send)
			send_report(r, &st, &gz);
		else
			st.status = MTS_RS_PENDING;	/* not final */
		if (st.status == MTS_RS_PENDING)
			all_final = 0;
		mts_buf_free(&gz);
	}
	if (r->send && all_final && d->ndomains > 0)
		mark_day_final(r, d->day);
	mts_report_day_free(d);
}

/* Removes dir/sub/name (sub may be NULL); errors are ignored. */
static void remove_file(const char *dir, const char *sub, const char *name)
{
	char path[PATH_MAX];
	int n = sub ? snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name)
		    : snprintf(path, sizeof(path), "%s/%s", dir, name);

	if (n > 0 && (size_t)n < sizeof(path))
		unlink(path);
}

/* The states and report files of one old day. */
static void prune_day(struct run *r, const char *day)
{
	struct mts_report_day *d = NULL;
	char err[512], name[300];

	if (mts_report_day_load(r->cfg.report_dir, day, &d, err,
				sizeof(err)) < 0 || d == NULL)
		return;
	for (size_t k = 0; k < d->ndomains; k++) {
		struct mts_report_state st;

		if (mts_report_state_load(r->cfg.report_dir, d->day,
					  d->domains[k].name, &st, err,
					  sizeof(err)) != 0)
			continue;
		remove_file(r->out_dir, NULL, st.file);
		if (mts_report_state_name(st.day, st.domain, name,
					  sizeof(name)) == 0)
			remove_file(r->cfg.report_dir, "state", name);
	}
	mts_report_day_free(d);
}

/* Removes policies/<sha256> texts no record has used for KEEP_DAYS + 2
 * days: every record refreshes its text's time stamp at least daily
 * (mts_tlsrpt_record), so a text still named by a kept spool day stays. */
static void prune_policies(struct run *r)
{
	int64_t cutoff = r->now - (int64_t)(KEEP_DAYS + 2) *
				  MTS_REPORT_DAY_SECONDS;
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (snprintf(dir, sizeof(dir), "%s/policies", r->cfg.report_dir) >=
	    (int)sizeof(dir) || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n != MTS_TLSRPT_HASH_HEX ||
		    strspn(de->d_name, "0123456789abcdef") != n ||
		    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    (int64_t)st.st_mtime < cutoff)
			unlink(path);
	}
	closedir(d);
}

/* Removes spool days older than KEEP_DAYS with their states and files. */
static void prune(struct run *r)
{
	struct mts_strlist days = MTS_STRLIST_INIT;
	char err[512], name[32];

	if (mts_tlsrpt_days(r->cfg.report_dir, &days, err, sizeof(err)) < 0)
		return;
	for (size_t i = 0; i < days.count; i++) {
		int64_t start;

		if (mts_tlsrpt_day_parse(days.item[i], &start) < 0 ||
		    start >= r->now - (int64_t)KEEP_DAYS * MTS_REPORT_DAY_SECONDS)
			continue;
		prune_day(r, days.item[i]);
		if (final_marker(days.item[i], name, sizeof(name)) == 0)
			remove_file(r->cfg.report_dir, "state", name);
		remove_file(r->cfg.report_dir, "spool", days.item[i]);
	}
	mts_strlist_free(&days);
	prune_policies(r);
}

/* ---- the command ----------------------------------------------------- */

static int parse_args(int argc, char **argv, struct run *r, const char **date)
{
	static const struct option longopts[] = {
		{ "date", required_argument, NULL, 'd' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "send", no_argument, NULL, 's' },
		{ "outdir", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t start;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': *date = optarg; break;
		case 'n': r->dry_run = 1; break;
		case 's': r->send = 1; break;
		case 'o': r->outdir = optarg; break;
		case 'h': fputs(cli_usage_report, stdout); return 1;
		default:
			return cli_usage_error(cli_usage_report,
					       "report: unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error(cli_usage_report,
				       "report: unexpected argument \"%s\"",
				       argv[optind]);
	if (*date != NULL && mts_tlsrpt_day_parse(*date, &start) < 0)
		return cli_usage_error(cli_usage_report, "report: --date \"%s\" "
				       "is not a date YYYY-MM-DD", *date);
	if (r->dry_run && (r->send || r->outdir))
		return cli_usage_error(cli_usage_report, "report: --dry-run "
				       "changes nothing: not with --send or "
				       "--outdir");
	return 0;
}

static int check_outdir(const char *outdir)
{
	struct stat st;

	if (stat(outdir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "mtasts: report: --outdir %s: not a "
			"directory\n", outdir);
		return -1;
	}
	return 0;
}

static int run_days(struct run *r, const char *date)
{
	struct mts_strlist days = MTS_STRLIST_INIT;
	int64_t start;

	if (date != NULL) {
		if (mts_tlsrpt_day_parse(date, &start) < 0)
			return EXIT_USAGE;	/* checked in parse_args */
		if (!day_is_over(start, r->now) && !r->dry_run) {
			fprintf(stderr, "mtasts: report: %s is not over yet "
				"(UTC); use --dry-run to preview it\n", date);
			return EXIT_USAGE;
		}
		if (mts_strlist_add(&days, date) < 0)
			return EXIT_USAGE;
	} else if (default_days(r, &days) < 0) {
		return EXIT_USAGE;
	}
	if (r->dry_run)
		print_dry_header();
	if (days.count == 0)
		printf("no finished day with recorded sessions to report\n");
	for (size_t i = 0; i < days.count; i++)
		do_day(r, days.item[i]);
	mts_strlist_free(&days);
	return 0;
}

int cmd_report(int argc, char **argv)
{
	struct run *r = calloc(1, sizeof(*r));
	const char *date = NULL;
	char err[512];
	struct stat sb;
	int rc, lock = -1;

	if (r == NULL)
		return EXIT_USAGE;
	drop_shim(argc, argv);
	rc = parse_args(argc, argv, r, &date);
	if (rc != 0) {
		free(r);
		return rc == 1 ? 0 : rc;
	}
	r->now = (int64_t)time(NULL);
	if (setup(r) < 0 || (r->outdir && check_outdir(r->outdir) < 0)) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (r->dry_run && stat(r->cfg.report_dir, &sb) < 0) {
		printf("no sessions recorded (%s does not exist)\n",
		       r->cfg.report_dir);
		rc = 0;
		goto out;
	}
	if (!r->dry_run) {
		if (mts_tlsrpt_dir(r->cfg.report_dir, OUT_SUBDIR, r->out_dir,
				   sizeof(r->out_dir), err, sizeof(err)) < 0) {
			fprintf(stderr, "mtasts: report: %s\n", err);
			rc = EXIT_USAGE;
			goto out;
		}
		if ((lock = take_lock(r->cfg.report_dir)) < 0) {
			rc = EXIT_TEMPFAIL;
			goto out;
		}
	} else if (mts_cache_dir_check(r->cfg.report_dir, err,
				       sizeof(err)) < 0) {
		fprintf(stderr, "mtasts: report: %s\n", err);
		rc = EXIT_USAGE;
		goto out;
	}
	rc = run_days(r, date);
	if (rc == 0 && r->send)
		prune(r);
	if (rc == 0)
		rc = r->worst;
out:
	if (lock >= 0)
		close(lock);
	if (r->have_dkim)
		mts_dkim_free(&r->dkim);
	free(r);
	return rc;
}
