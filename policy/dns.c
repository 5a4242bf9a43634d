/*
 * dns.c - the DNS look-ups of the policy engine, through c-ares
 *
 * SYNOPSIS
 *	struct mts_txt_records txt;
 *	char err[256];
 *	switch (mts_dns_txt(cfg, "_mta-sts.example.com", 10000, &txt,
 *			    err, sizeof(err))) { ... }
 *	mts_txt_records_free(&txt);
 *
 * DESCRIPTION
 *	Each call builds its own c-ares channel, sends its queries, runs a
 *	poll(2) loop until every query has completed or the caller's deadline
 *	has passed, and destroys the channel. No state survives a call, so
 *	any number of threads may call concurrently.
 *
 *	The channel's per-try timeout and number of tries are derived from
 *	the deadline: c-ares doubles the per-try timeout on every round over
 *	the servers, so with 3 tries the rounds take t + 2t + 4t; we choose
 *	t = deadline / 7 (at least 200 ms). The loop enforces the deadline
 *	itself in any case: when it passes, the queries are cancelled and the
 *	answer is a temporary failure ("timeout").
 *
 *	Servers: cfg->dns_servers (CSV as ares_set_servers_ports_csv() takes
 *	it; config.c normalises it), else the system's resolv.conf. Queries
 *	go out with RD set and without a search list (ares_query never
 *	searches), so the names asked are exactly the names given. CNAMEs are
 *	followed by the recursive server; the answer holds the chain and the
 *	c-ares parsers collect the records at its end. A truncated UDP answer
 *	is retried over TCP by c-ares.
 *
 *	c-ares retries a SERVFAIL or REFUSED answer on the next server; when
 *	every server failed so, it reports ARES_ECONNREFUSED, not the rcode.
 *
 *	Status mapping (dns.h): NXDOMAIN (ARES_ENOTFOUND) and NOERROR without
 *	a record of the type (ARES_ENODATA) are MTS_DNS_NOTFOUND. Everything
 *	else that is not an answer - SERVFAIL, REFUSED, timeouts, refused
 *	connections, malformed answers, out of memory, the deadline - is
 *	MTS_DNS_TEMPFAIL: "try later" must never be mistaken for "there is
 *	no policy".
 *
 *	TXT: the strings of one record are joined without separators
 *	(ares_parse_txt_reply_ext marks the first string of each record with
 *	record_start). Records keep their exact length, NUL bytes included.
 *	At most DNS_MAX_RECORDS records and DNS_MAX_TXT_BYTES bytes in all
 *	are accepted; a larger answer is a temporary failure ("answer too
 *	large") rather than a silently truncated one.
 *
 *	A/AAAA: both queries run at once on one channel. Any address found
 *	makes the answer MTS_DNS_OK, even if the other family failed; with
 *	none, a temporary failure of either family wins over "not found".
 *	IPv4 addresses come first, at most DNS_MAX_ADDRS per family.
 *
 * BUGS
 *	No DNSSEC validation: the recursive server is trusted, as RFC 8461
 *	assumes. c-ares does not check that TXT records carry the queried
 *	owner name (or the CNAME target); a hostile recursive server can say
 *	anything anyway.
 */
#include "dns.h"

#include <ares.h>
#include <ares_nameser.h>
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Bounds of a TXT answer we accept: far above any sane _mta-sts set. */
#define DNS_MAX_RECORDS 64
#define DNS_MAX_TXT_BYTES (64 * 1024)
/* Addresses kept per family. */
#define DNS_MAX_ADDRS 16
/* Default deadline when the caller passes 0. */
#define DNS_DEFAULT_TIMEOUT_MS 5000
#define DNS_TRIES 3
#define DNS_MIN_TRY_MS 200

/* One query in flight: what the callback saw, copied out of c-ares. */
struct dns_query {
	int done;
	int status;		/* ARES_SUCCESS or an ARES_E* code */
	unsigned char *abuf;	/* copy of the answer on ARES_SUCCESS */
	int alen;
	int *pending;		/* shared count of queries not yet done */
};

static pthread_once_t dns_once = PTHREAD_ONCE_INIT;
static int dns_init_status = ARES_SUCCESS;

static void dns_library_init(void)
{
	dns_init_status = ares_library_init(ARES_LIB_INIT_ALL);
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A short English name for a c-ares failure. */
static const char *ares_reason(int status)
{
	switch (status) {
	case ARES_ENOTFOUND:	return "no such name (NXDOMAIN)";
	case ARES_ENODATA:	return "no record of that type";
	case ARES_ESERVFAIL:	return "server failure (SERVFAIL)";
	case ARES_EREFUSED:	return "query refused (REFUSED)";
	case ARES_EFORMERR:	return "format error (FORMERR)";
	case ARES_ENOTIMP:	return "not implemented (NOTIMP)";
	case ARES_ETIMEOUT:	return "timeout";
	case ARES_ECANCELLED:	return "timeout";
	/* c-ares 1.18 moves on to the next server after SERVFAIL, REFUSED
	 * or an unreachable port, and reports this when none is left. */
	case ARES_ECONNREFUSED:
		return "no server answered (SERVFAIL, REFUSED or unreachable)";
	case ARES_EBADRESP:	return "malformed answer";
	case ARES_ENOMEM:	return "out of memory";
	default:		return ares_strerror(status);
	}
}

static enum mts_dns_status classify(int status)
{
	if (status == ARES_SUCCESS)
		return MTS_DNS_OK;
	if (status == ARES_ENOTFOUND || status == ARES_ENODATA)
		return MTS_DNS_NOTFOUND;
	return MTS_DNS_TEMPFAIL;
}

static void query_done(void *arg, int status, int timeouts,
		       unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;

	(void)timeouts;
	if (q->done)
		return;
	q->done = 1;
	(*q->pending)--;
	q->status = status;
	if (status != ARES_SUCCESS)
		return;
	if (abuf == NULL || alen <= 0) {
		q->status = ARES_EBADRESP;
		return;
	}
	q->abuf = malloc((size_t)alen);
	if (q->abuf == NULL) {
		q->status = ARES_ENOMEM;
		return;
	}
	memcpy(q->abuf, abuf, (size_t)alen);
	q->alen = alen;
}

static void query_init(struct dns_query *q, int *pending)
{
	memset(q, 0, sizeof(*q));
	q->status = ARES_ETIMEOUT;
	q->pending = pending;
	(*pending)++;
}

static void query_free(struct dns_query *q)
{
	free(q->abuf);
	q->abuf = NULL;
	q->alen = 0;
}

/* Opens a channel whose retries fit in timeout_ms. Returns 0 or -1. */
static int channel_open(const struct mts_config *cfg, unsigned timeout_ms,
			ares_channel *ch, char *err, size_t errlen)
{
	struct ares_options opts;
	int rc;

	pthread_once(&dns_once, dns_library_init);
	if (dns_init_status != ARES_SUCCESS) {
		snprintf(err, errlen, "resolver: %s",
			 ares_strerror(dns_init_status));
		return -1;
	}
	memset(&opts, 0, sizeof(opts));
	opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	opts.timeout = (int)(timeout_ms / 7);
	if (opts.timeout < DNS_MIN_TRY_MS)
		opts.timeout = DNS_MIN_TRY_MS;
	opts.tries = DNS_TRIES;
	rc = ares_init_options(ch, &opts, ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS |
			       ARES_OPT_TRIES);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "resolver: %s", ares_strerror(rc));
		return -1;
	}
	if (cfg->dns_servers[0] != '\0') {
		rc = ares_set_servers_ports_csv(*ch, cfg->dns_servers);
		if (rc != ARES_SUCCESS) {
			snprintf(err, errlen, "resolver: servers \"%s\": %s",
				 cfg->dns_servers, ares_strerror(rc));
			ares_destroy(*ch);
			return -1;
		}
	}
	return 0;
}

/* Milliseconds for poll(): the channel's next timeout, never beyond the
 * deadline, rounded up so that we do not spin before a timer is due. */
static int poll_timeout_ms(ares_channel ch, int64_t remaining_ms)
{
	struct timeval maxtv, tvbuf, *tv;
	int64_t ms;

	maxtv.tv_sec = (time_t)(remaining_ms / 1000);
	maxtv.tv_usec = (suseconds_t)((remaining_ms % 1000) * 1000);
	tv = ares_timeout(ch, &maxtv, &tvbuf);
	ms = (int64_t)tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000;
	if (ms > remaining_ms)
		ms = remaining_ms;
	return ms < 0 ? 0 : (int)ms;
}

/* Runs the channel until *pending reaches 0 or the deadline passes (then
 * the queries are cancelled: their callbacks see ARES_ECANCELLED). */
static void channel_run(ares_channel ch, const int *pending, int64_t deadline)
{
	while (*pending > 0) {
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		struct pollfd pfd[ARES_GETSOCK_MAXNUM];
		int64_t remaining = deadline - monotonic_ms();
		nfds_t nfds = 0;
		unsigned bits;
		int n;

		if (remaining <= 0)
			break;
		/* Not ARES_GETSOCK_WRITABLE(): it shifts a signed 1 by 31. */
		bits = (unsigned)ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
		for (unsigned i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			short events = 0;

			if ((bits >> i) & 1u)
				events |= POLLIN;
			if ((bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u)
				events |= POLLOUT;
			if (events == 0)
				continue;
			pfd[nfds].fd = socks[i];
			pfd[nfds].events = events;
			pfd[nfds].revents = 0;
			nfds++;
		}
		n = poll(pfd, nfds, poll_timeout_ms(ch, remaining));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (n == 0) {
			ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		for (nfds_t i = 0; i < nfds; i++) {
			short ev = pfd[i].revents;
			ares_socket_t r = ARES_SOCKET_BAD, w = ARES_SOCKET_BAD;

			if (ev & (POLLIN | POLLERR | POLLHUP))
				r = pfd[i].fd;
			if (ev & POLLOUT)
				w = pfd[i].fd;
			if (r != ARES_SOCKET_BAD || w != ARES_SOCKET_BAD)
				ares_process_fd(ch, r, w);
		}
	}
	if (*pending > 0)
		ares_cancel(ch);
}

static unsigned budget_ms(unsigned timeout_ms)
{
	return timeout_ms ? timeout_ms : DNS_DEFAULT_TIMEOUT_MS;
}

void mts_txt_records_free(struct mts_txt_records *r)
{
	mts_strlist_free(&r->rec);
	free(r->len);
	r->len = NULL;
}

/* Appends one joined record to out, its length to lens[]. */
static int txt_flush(struct mts_buf *cur, struct mts_txt_records *out,
		     size_t *lens)
{
	if (out->rec.count >= DNS_MAX_RECORDS)
		return -1;
	if (mts_strlist_addn(&out->rec, cur->data ? cur->data : "",
			     cur->len) < 0)
		return -1;
	lens[out->rec.count - 1] = cur->len;
	mts_buf_reset(cur);
	return 0;
}

/* Joins the strings of each record of a TXT answer into out. */
static enum mts_dns_status txt_collect(const unsigned char *abuf, int alen,
				       struct mts_txt_records *out,
				       char *err, size_t errlen)
{
	struct ares_txt_ext *list = NULL;
	struct mts_buf cur = MTS_BUF_INIT;
	size_t lens[DNS_MAX_RECORDS], total = 0;
	enum mts_dns_status st = MTS_DNS_TEMPFAIL;
	int in_record = 0, rc;

	rc = ares_parse_txt_reply_ext(abuf, alen, &list);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "%s", ares_reason(rc));
		return classify(rc);
	}
	for (const struct ares_txt_ext *t = list; t != NULL; t = t->next) {
		if (t->length > DNS_MAX_TXT_BYTES - total) {
			snprintf(err, errlen, "answer too large (over %d bytes)",
				 DNS_MAX_TXT_BYTES);
			goto out;
		}
		total += t->length;
		if (t->record_start && in_record &&
		    txt_flush(&cur, out, lens) < 0)
			goto too_many;
		in_record = 1;
		if (mts_buf_append(&cur, t->txt, t->length) < 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	if (in_record && txt_flush(&cur, out, lens) < 0)
		goto too_many;
	if (out->rec.count == 0) {
		snprintf(err, errlen, "%s", ares_reason(ARES_ENODATA));
		st = MTS_DNS_NOTFOUND;
		goto out;
	}
	out->len = calloc(out->rec.count, sizeof(*out->len));
	if (out->len == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	memcpy(out->len, lens, out->rec.count * sizeof(*out->len));
	st = MTS_DNS_OK;
	goto out;
too_many:
	snprintf(err, errlen, "answer too large (over %d records)",
		 DNS_MAX_RECORDS);
out:
	mts_buf_free(&cur);
	ares_free_data(list);
	if (st != MTS_DNS_OK)
		mts_txt_records_free(out);
	return st;
}

enum mts_dns_status mts_dns_txt(const struct mts_config *cfg,
				const char *name, unsigned timeout_ms,
				struct mts_txt_records *out,
				char *err, size_t errlen)
{
	unsigned budget = budget_ms(timeout_ms);
	int64_t deadline = monotonic_ms() + budget;
	struct dns_query q;
	ares_channel ch;
	enum mts_dns_status st;
	char why[192];
	int pending = 0;

	out->rec = (struct mts_strlist)MTS_STRLIST_INIT;
	out->len = NULL;
	if (channel_open(cfg, budget, &ch, err, errlen) < 0)
		return MTS_DNS_TEMPFAIL;
	query_init(&q, &pending);
	ares_query(ch, name, C_IN, T_TXT, query_done, &q);
	channel_run(ch, &pending, deadline);
	ares_destroy(ch);

	st = classify(q.status);
	if (st == MTS_DNS_OK)
		st = txt_collect(q.abuf, q.alen, out, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", ares_reason(q.status));
	query_free(&q);
	if (st != MTS_DNS_OK)
		snprintf(err, errlen, "TXT %s: %s", name, why);
	return st;
}

/* Appends the addresses of an A or AAAA answer to out. */
static int addrs_collect(const struct dns_query *q, int family,
			 struct mts_strlist *out)
{
	char text[INET6_ADDRSTRLEN];
	int n = DNS_MAX_ADDRS, rc;

	if (family == AF_INET) {
		struct ares_addrttl a[DNS_MAX_ADDRS];

		rc = ares_parse_a_reply(q->abuf, q->alen, NULL, a, &n);
		for (int i = 0; rc == ARES_SUCCESS && i < n; i++)
			if (inet_ntop(AF_INET, &a[i].ipaddr, text, sizeof(text)) == NULL ||
			    mts_strlist_add(out, text) < 0)
				rc = ARES_ENOMEM;
	} else {
		struct ares_addr6ttl a[DNS_MAX_ADDRS];

		rc = ares_parse_aaaa_reply(q->abuf, q->alen, NULL, a, &n);
		for (int i = 0; rc == ARES_SUCCESS && i < n; i++)
			if (inet_ntop(AF_INET6, &a[i].ip6addr, text, sizeof(text)) == NULL ||
			    mts_strlist_add(out, text) < 0)
				rc = ARES_ENOMEM;
	}
	return rc;
}

enum mts_dns_status mts_dns_addrs(const struct mts_config *cfg,
				  const char *host, unsigned timeout_ms,
				  struct mts_strlist *out,
				  char *err, size_t errlen)
{
	unsigned budget = budget_ms(timeout_ms);
	int64_t deadline = monotonic_ms() + budget;
	struct dns_query q4, q6;
	ares_channel ch;
	int pending = 0, st4, st6;

	if (channel_open(cfg, budget, &ch, err, errlen) < 0)
		return MTS_DNS_TEMPFAIL;
	query_init(&q4, &pending);
	query_init(&q6, &pending);
	ares_query(ch, host, C_IN, T_A, query_done, &q4);
	ares_query(ch, host, C_IN, T_AAAA, query_done, &q6);
	channel_run(ch, &pending, deadline);
	ares_destroy(ch);

	st4 = q4.status == ARES_SUCCESS ? addrs_collect(&q4, AF_INET, out)
					: q4.status;
	st6 = q6.status == ARES_SUCCESS ? addrs_collect(&q6, AF_INET6, out)
					: q6.status;
	query_free(&q4);
	query_free(&q6);
	if (out->count > 0)
		return MTS_DNS_OK;
	if (classify(st4) == MTS_DNS_TEMPFAIL) {
		snprintf(err, errlen, "A %s: %s", host, ares_reason(st4));
		return MTS_DNS_TEMPFAIL;
	}
	if (classify(st6) == MTS_DNS_TEMPFAIL) {
		snprintf(err, errlen, "AAAA %s: %s", host, ares_reason(st6));
		return MTS_DNS_TEMPFAIL;
	}
	snprintf(err, errlen, "%s: %s", host,
		 st4 == ARES_ENOTFOUND ? ares_reason(st4)
				       : "no A or AAAA record");
	return MTS_DNS_NOTFOUND;
}

const char *mts_dns_status_name(enum mts_dns_status s)
{
	switch (s) {
	case MTS_DNS_OK:	return "ok";
	case MTS_DNS_NOTFOUND:	return "notfound";
	case MTS_DNS_TEMPFAIL:	return "tempfail";
	}
	return "unknown";
}
