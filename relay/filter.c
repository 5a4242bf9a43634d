/*
 * filter.c - the relayed SMTP stream, with a policy decision per recipient
 *
 * DESCRIPTION
 *	See filter.h. The protocol is followed by smtpstream.c and the
 *	recipient judged by rcpt.c; this file holds what only a session
 *	has: the policies looked up so far (a small per-session cache, so a
 *	batch of recipients of one domain costs one look-up), the log line
 *	and the TLSRPT record.
 *
 *	A command the tracker hands over is settled (forwarded or answered)
 *	before anything else is fed; a forwarded line waits for room in the
 *	output, so it always leaves in one piece and in order.
 *
 *	Holding MAIL (docs/RCPT.md): when the connection's domain is unknown,
 *	no policy vouches for this MX, so the envelope sender must not reach
 *	it before a recipient was allowed. MAIL is answered here "250" and
 *	kept; the first allowed RCPT of the transaction sends the held MAIL
 *	just before itself. The server's reply to that MAIL is consumed here;
 *	if it is not 2yz, the RCPT's own reply (a 503, most likely) is
 *	replaced by it, so the application sees the server's refusal, with
 *	its code, on the recipient.
 *
 *	RFC 8461 section 5.1: a deferral decided on a policy from the cache
 *	is decided again after a look-up with the TXT record (the policy may
 *	have changed), once per domain and session.
 */
#include "filter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "certname.h"
#include "log.h"
#include "lookup.h"
#include "report.h"
#include "smtpstream.h"

#define POLICIES_MAX 32		/* recipient domains remembered per session */

struct known_policy {
	char domain[MTS_DOMAIN_MAX + 1];
	struct mts_result res;
	int rechecked;
	int reported;
};

struct relay_filter {
	struct relay_filter_conf c;
	struct relay_ss ss;
	int cmd_waiting;		/* ss.cmd not settled yet */
	int cmd_judged;			/* ...but its fate is known */
	int cmd_forward;
	char reply[RELAY_SS_LOCAL_MAX];
	struct known_policy *known[POLICIES_MAX];
	size_t known_count;
	size_t known_next;		/* round robin when full */
	unsigned rcpt_allowed, rcpt_deferred;
	unsigned mail_held_count, mail_released_count;
	/* the held MAIL */
	int hold_mail;			/* the connection's domain is unknown */
	int mail_held;			/* held, not sent in this transaction */
	char held[RELAY_SS_LINE_MAX];
	size_t held_len;
	/* the server's reply to a held MAIL sent */
	char mail_reply[RELAY_SS_LOCAL_MAX];
	size_t mail_reply_len;
	int mail_reply_over;		/* longer than mail_reply */
	int replace_next;		/* 1: the RCPT reply that follows a
					 * refused held MAIL is replaced;
					 * 2: dropped (a 421 went already) */
};

static const char reply_mail_held[] =
	"250 2.1.0 Sender OK (held by MTA-STS relay)\r\n";
static const char reply_queue_full[] =
	"451 4.3.0 MTA-STS relay: too many commands in flight\r\n";

struct relay_filter *relay_filter_new(const struct relay_filter_conf *c)
{
	struct relay_filter *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->c = *c;
	f->hold_mail = c->domain == NULL;
	relay_ss_init(&f->ss);
	return f;
}

static void known_free(struct known_policy *k)
{
	if (k == NULL)
		return;
	mts_result_free(&k->res);
	free(k);
}

void relay_filter_free(struct relay_filter *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->known_count; i++)
		known_free(f->known[i]);
	free(f);
}

/* --- policies of recipient domains ---------------------------------------- */

static unsigned timeout_ms(const struct mts_config *cfg)
{
	return cfg->timeout_s > 0 ? cfg->timeout_s * 1000u : 1000u;
}

static void lookup(struct relay_filter *f, struct known_policy *k,
		   unsigned flags)
{
	char q[300];

	if (relay_lookup_bounded(f->c.cfg, k->domain, flags,
				 timeout_ms(f->c.cfg), &k->res) == -ETIMEDOUT)
		mts_log(MTS_LOG_WARN, "policy rcpt_domain=%s: look-up not "
			"done within MTASTS_TIMEOUT: treated as no policy",
			mts_log_kv_value(k->domain, q, sizeof(q)));
	else if (k->res.status == MTS_TEMPFAIL)
		mts_log(MTS_LOG_WARN, "policy rcpt_domain=%s: temporary "
			"failure and nothing cached (%s): treated as no policy",
			mts_log_kv_value(k->domain, q, sizeof(q)),
			k->res.reason);
}

/* The remembered or freshly looked-up policy of domain; NULL only when
 * out of memory. */
static struct known_policy *policy_of(struct relay_filter *f,
				      const char *domain)
{
	struct known_policy *k;

	for (size_t i = 0; i < f->known_count; i++)
		if (strcmp(f->known[i]->domain, domain) == 0)
			return f->known[i];
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	mts_strlcpy(k->domain, domain, sizeof(k->domain));
	mts_result_init(&k->res);
	lookup(f, k, MTS_LOOKUP_NO_DNS);
	if (f->known_count < POLICIES_MAX) {
		f->known[f->known_count++] = k;
	} else {
		known_free(f->known[f->known_next]);
		f->known[f->known_next] = k;
		f->known_next = (f->known_next + 1) % POLICIES_MAX;
	}
	return k;
}

static const struct mts_policy *policy_ptr(const struct mts_result *r)
{
	return r->status == MTS_POLICY ? &r->policy : NULL;
}

/* Does a DNS SAN of the server's certificate match a pattern of p? Only
 * asked when the MX name is unknown. */
static enum relay_name san_vs_policy(const struct relay_filter *f,
				     const struct mts_policy *p)
{
	X509 *cert;

	if (f->c.ssl == NULL || p == NULL)
		return RELAY_NAME_UNCHECKED;
	cert = SSL_get0_peer_certificate(f->c.ssl);
	if (cert == NULL)
		return RELAY_NAME_MISMATCH;
	return mts_cert_matches_policy(cert, p) ? RELAY_NAME_OK :
						  RELAY_NAME_MISMATCH;
}

static void decide_for(const struct relay_filter *f, const struct mts_result *r,
		       struct relay_rcpt_decision *d)
{
	const struct mts_policy *p = policy_ptr(r);

	relay_rcpt_decide(&f->c.conn, p, san_vs_policy(f, p), d);
}

/* --- the log line and the report ----------------------------------------------- */

static const char *source_name(const struct mts_result *r)
{
	if (r == NULL)
		return "-";
	switch (r->source) {
	case MTS_SRC_CACHE: return "cache";
	case MTS_SRC_NETWORK: return "network";
	case MTS_SRC_NONE:
	default: return "-";
	}
}

static void log_rcpt(const struct relay_filter *f, const char *rcpt_domain,
		     const struct mts_result *r, const char *policy,
		     const char *verdict, const char *reason,
		     const char *detail, const char *error)
{
	char dom[300], rdom[400], mx[300], ip[80], rs[80], dt[80], er[300];
	const char *pfail = r != NULL && r->failure != MTS_FAIL_NONE ?
			    mts_failure_name(r->failure) : "-";

	mts_log(MTS_LOG_INFO,
		"rcpt domain=%s rcpt_domain=%s mx=%s ip=%s policy=%s "
		"policy_source=%s verdict=%s reason=%s detail=%s "
		"policy_failure=%s error=%s",
		mts_log_kv_value(f->c.domain, dom, sizeof(dom)),
		mts_log_kv_value(rcpt_domain, rdom, sizeof(rdom)),
		mts_log_kv_value(f->c.mx, mx, sizeof(mx)),
		mts_log_kv_value(f->c.ip, ip, sizeof(ip)), policy,
		source_name(r), verdict,
		mts_log_kv_value(reason, rs, sizeof(rs)),
		mts_log_kv_value(detail, dt, sizeof(dt)), pfail,
		mts_log_kv_value(error, er, sizeof(er)));
}

static void report_once(struct relay_filter *f, struct known_policy *k,
			const struct relay_rcpt_decision *d)
{
	struct relay_report r;

	if (k->reported)
		return;
	k->reported = 1;
	memset(&r, 0, sizeof(r));
	r.domain = k->domain;
	r.policy = &k->res;
	r.mx = f->c.mx;
	r.tcp_fd = f->c.tcp_fd;
	r.receiving_ip = f->c.ip;
	r.greeting = f->c.greeting;
	r.greeting_len = f->c.greeting_len;
	r.result = d->reason;
	r.failure_reason = d->detail;
	relay_report_record(f->c.cfg, &r);
}

/* --- judging one RCPT ------------------------------------------------------------ */

static void judge_domain(struct relay_filter *f, const char *domain)
{
	struct relay_rcpt_decision d;
	struct known_policy *k = NULL;
	const struct mts_result *r;

	if (f->c.domain != NULL && strcmp(domain, f->c.domain) == 0) {
		r = f->c.domain_policy;	/* decided at connect time */
	} else if ((k = policy_of(f, domain)) == NULL) {
		log_rcpt(f, domain, NULL, "-", "defer", NULL, "internal",
			 "out of memory");
		snprintf(f->reply, sizeof(f->reply), "451 4.3.0 MTA-STS "
			 "relay: out of memory\r\n");
		return;
	} else {
		r = &k->res;
	}
	if (r->status == MTS_TEMPFAIL && r->failure == MTS_FAIL_CACHE) {
		/* As at connect time (session.c): a cache we may not trust
		 * is a local fault, never "no policy". */
		log_rcpt(f, domain, r, "-", "defer", NULL, "cache-error",
			 r->reason);
		snprintf(f->reply, sizeof(f->reply), "451 4.3.0 MTA-STS relay: "
			 "policy of %.253s unknown: cache unusable\r\n", domain);
		return;
	}
	decide_for(f, r, &d);
	if (d.verdict == RELAY_RCPT_DEFER && k != NULL && !k->rechecked &&
	    k->res.source == MTS_SRC_CACHE) {
		k->rechecked = 1;
		mts_log(MTS_LOG_DEBUG, "deferring on a cached policy: "
			"checking the TXT record for an update first");
		lookup(f, k, 0);
		decide_for(f, r, &d);
	}
	if (d.verdict == RELAY_RCPT_DEFER) {
		log_rcpt(f, domain, r, d.policy, "defer", d.reason, d.detail,
			 NULL);
		if (relay_rcpt_reply(&d, domain, f->reply, sizeof(f->reply)) < 0)
			mts_strlcpy(f->reply, "450 4.7.5 MTA-STS: policy not "
				    "satisfied\r\n", sizeof(f->reply));
	} else {
		log_rcpt(f, domain, r, d.policy, "allow", d.reason, d.detail,
			 NULL);
		f->cmd_forward = 1;
	}
	if (k != NULL)
		report_once(f, k, &d);
}

static void judge_rcpt(struct relay_filter *f)
{
	struct relay_rcpt_addr a;
	const char *why;

	f->cmd_forward = 0;
	why = relay_rcpt_parse(f->ss.cmd.line, f->ss.cmd.len, &a);
	if (why != NULL) {
		log_rcpt(f, NULL, NULL, "-", "refuse", NULL, "syntax", why);
		snprintf(f->reply, sizeof(f->reply), "501 5.1.3 MTA-STS relay: "
			 "cannot read the recipient address: %s\r\n", why);
		return;
	}
	switch (a.kind) {
	case RELAY_RCPT_LITERAL:
		/* No name, no policy (RFC 8461 applies to domains). */
		log_rcpt(f, a.domain, NULL, "no-policy", "allow", NULL,
			 "domain-literal", NULL);
		f->cmd_forward = 1;
		return;
	case RELAY_RCPT_NO_DOMAIN:
		log_rcpt(f, NULL, NULL, "no-policy", "allow", NULL,
			 "no-domain", NULL);
		f->cmd_forward = 1;
		return;
	case RELAY_RCPT_DOMAIN:
	default:
		judge_domain(f, a.domain);
		return;
	}
}

/* Keeps a MAIL (answered here) until a recipient is allowed. */
static void hold_mail(struct relay_filter *f)
{
	const struct relay_ss_command *c = &f->ss.cmd;

	memcpy(f->held, c->line, c->len);	/* c->len <= LINE_MAX */
	f->held_len = c->len;
	f->mail_held = 1;
	f->mail_held_count++;
	mts_log(MTS_LOG_DEBUG, "MAIL held until a recipient is allowed");
	relay_ss_answer(&f->ss, reply_mail_held);
	f->cmd_waiting = 0;
	f->cmd_judged = 0;
}

/* Sends the held MAIL ahead of an allowed RCPT. 1 sent (or nothing
 * held), 0 no room in out, -1 the tracker's queue is full. */
static int release_mail(struct relay_filter *f, char *out, size_t room,
			size_t *out_len)
{
	if (!f->mail_held)
		return 1;
	if (room - *out_len < f->held_len + f->ss.cmd.len)
		return 0;
	if (relay_ss_forward_hidden(&f->ss, RELAY_SS_MAIL) < 0)
		return -1;
	memcpy(out + *out_len, f->held, f->held_len);
	*out_len += f->held_len;
	f->mail_held = 0;
	f->mail_released_count++;
	mts_log(MTS_LOG_DEBUG, "held MAIL sent: a recipient was allowed");
	return 1;
}

/* Forwards or answers the waiting command; 0 when out has no room. */
static int settle(struct relay_filter *f, char *out, size_t room,
		  size_t *out_len)
{
	const struct relay_ss_command *c = &f->ss.cmd;

	if (c->verb == RELAY_SS_MAIL && f->hold_mail) {
		hold_mail(f);
		return 1;
	}
	if (c->verb == RELAY_SS_RSET || c->verb == RELAY_SS_EHLO)
		f->mail_held = 0;	/* a new transaction */
	if (!f->cmd_judged) {
		f->cmd_forward = 1;
		if (c->verb == RELAY_SS_RCPT)
			judge_rcpt(f);
		f->cmd_judged = 1;
	}
	if (f->cmd_forward && c->verb == RELAY_SS_RCPT) {
		int rc = release_mail(f, out, room, out_len);

		if (rc == 0)
			return 0;
		if (rc < 0) {
			f->cmd_forward = 0;
			mts_strlcpy(f->reply, reply_queue_full,
				    sizeof(f->reply));
		}
	}
	if (f->cmd_forward) {
		if (room - *out_len < c->len)
			return 0;
		if (c->verb == RELAY_SS_RCPT)
			f->rcpt_allowed++;
		memcpy(out + *out_len, c->line, c->len);
		*out_len += c->len;
		relay_ss_forward(&f->ss);
	} else {
		relay_ss_answer(&f->ss, f->reply);
		f->rcpt_deferred++;
	}
	f->cmd_waiting = 0;
	f->cmd_judged = 0;
	return 1;
}

size_t relay_filter_up(struct relay_filter *f, const char *in, size_t len,
		       char *out, size_t room, size_t *out_len)
{
	size_t taken = 0;

	*out_len = 0;
	for (;;) {
		enum relay_ss_event ev;
		size_t feed = len - taken, used = 0;

		if (f->cmd_waiting) {
			if (!settle(f, out, room, out_len))
				break;
			continue;
		}
		/* What passes unchanged must fit the output. */
		if ((f->ss.mode == RELAY_SS_M_CONTENT ||
		     f->ss.mode == RELAY_SS_M_CHUNK) && feed > room - *out_len)
			feed = room - *out_len;
		if (feed == 0)
			break;
		ev = relay_ss_client(&f->ss, in + taken, feed, &used);
		if (ev == RELAY_SS_PASS) {
			memcpy(out + *out_len, in + taken, used);
			*out_len += used;
		} else if (ev == RELAY_SS_COMMAND) {
			f->cmd_waiting = 1;
		} else if (ev == RELAY_SS_BLOCKED) {
			break;
		}
		taken += used;
		if (used == 0 && ev != RELAY_SS_COMMAND)
			break;
	}
	return taken;
}

/* Keeps (a bounded part of) a reply consumed here. */
static void capture(struct relay_filter *f, const char *in, size_t n)
{
	if (n > sizeof(f->mail_reply) - f->mail_reply_len) {
		f->mail_reply_over = 1;
		return;
	}
	memcpy(f->mail_reply + f->mail_reply_len, in, n);
	f->mail_reply_len += n;
}

/* The reply to a held MAIL has ended: what replaces the RCPT's. */
static void mail_reply_done(struct relay_filter *f)
{
	int code = f->ss.last_code;

	if (code >= 200 && code <= 299) {
		f->mail_reply_len = 0;
		return;
	}
	if (code < 400 || code > 599 || f->mail_reply_over) {
		int n = snprintf(f->mail_reply, sizeof(f->mail_reply),
				 "%d MTA-STS relay: the server refused MAIL "
				 "FROM\r\n",
				 code >= 400 && code <= 599 ? code : 451);

		f->mail_reply_len = n > 0 ? (size_t)n : 0;
	}
	f->replace_next = 1;
	mts_log(MTS_LOG_INFO, "held MAIL refused by the server (%d): the "
		"recipient gets that reply", code);
}

/* A server reply the application must not see: to a held MAIL, or the
 * RCPT reply replaced by a refused MAIL's. Returns octets taken; 0 when
 * out has no room for the replacement. */
static size_t consume_reply(struct relay_filter *f, const char *in,
			    size_t len, char *out, size_t room,
			    size_t *out_len)
{
	uint64_t before = f->ss.replies;
	int hidden = relay_ss_hidden_due(&f->ss);
	size_t used;

	/* Room for the replacement (a 421 goes out at once: the server
	 * closes, no RCPT reply will come to put it in place of). */
	if (room - *out_len < sizeof(f->mail_reply))
		return 0;
	if (hidden && f->ss.in_reply == 0) {
		f->mail_reply_len = 0;
		f->mail_reply_over = 0;
	}
	used = relay_ss_server(&f->ss, in, len);
	if (hidden)
		capture(f, in, used);
	if (f->ss.replies == before)
		return used;
	if (hidden) {
		mail_reply_done(f);
		if (f->replace_next && f->ss.last_code == 421) {
			memcpy(out + *out_len, f->mail_reply,
			       f->mail_reply_len);
			*out_len += f->mail_reply_len;
			f->replace_next = 2;
		}
		return used;
	}
	if (f->replace_next == 1) {
		memcpy(out + *out_len, f->mail_reply, f->mail_reply_len);
		*out_len += f->mail_reply_len;
	}
	f->replace_next = 0;
	return used;
}

size_t relay_filter_down(struct relay_filter *f, const char *in, size_t len,
			 char *out, size_t room, size_t *out_len)
{
	size_t taken = 0;

	*out_len = 0;
	for (;;) {
		const char *text;
		size_t n, feed, used;

		while (relay_ss_local(&f->ss, &text, &n)) {
			if (room - *out_len < n)
				return taken;
			memcpy(out + *out_len, text, n);
			*out_len += n;
			relay_ss_local_done(&f->ss);
		}
		feed = len - taken;
		if (feed > 0 && (relay_ss_hidden_due(&f->ss) ||
				 f->replace_next)) {
			used = consume_reply(f, in + taken, feed, out, room,
					     out_len);
			if (used == 0)
				break;
			taken += used;
			continue;
		}
		if (feed > room - *out_len)
			feed = room - *out_len;
		if (feed == 0)
			break;
		used = relay_ss_server(&f->ss, in + taken, feed);
		if (used == 0)
			break;
		memcpy(out + *out_len, in + taken, used);
		*out_len += used;
		taken += used;
	}
	return taken;
}

void relay_filter_stats(const struct relay_filter *f,
			struct relay_filter_stats *st)
{
	st->commands = f->ss.commands;
	st->local_replies = f->ss.local_replies;
	st->rcpt_allowed = f->rcpt_allowed;
	st->rcpt_deferred = f->rcpt_deferred;
	st->max_in_flight = f->ss.max_in_flight;
	st->mail_held = f->mail_held_count;
	st->mail_released = f->mail_released_count;
}
