/*
 * session.c - one intercepted connection, from policy to the last byte
 *
 * DESCRIPTION
 *	See session.h for the steps. The state of the connection lives in
 *	one struct session; each step is a function that either lets the
 *	next one run or ends the connection through refuse(), which logs the
 *	decision line, sends the verdict and says goodbye to the server.
 *
 *	Errors before the verdict map onto what connect() would have said:
 *	a policy refusal is ECONNREFUSED (the sender treats the MX as
 *	unreachable and tries the next one or defers: RFC 8461 section 5.1
 *	wants a temporary failure, never a bounce); a failed connect gives
 *	its own errno; a deadline ETIMEDOUT; an SMTP or TLS failure
 *	ECONNREFUSED.
 *
 *	A TLS handshake that fails (a reset, no common protocol or cipher:
 *	not a certificate that fails its checks, which is a finished
 *	handshake) leaves a socket no one can use. When the governing rule
 *	would have accepted this server without STARTTLS (a testing policy,
 *	fallback may or none) the relay does what Postfix's "may" level
 *	does: a new TCP connection to the same address and port, bound to
 *	the first leg's local IP, no STARTTLS, the failure logged
 *	(tls=failed-retried-plain) and recorded for TLSRPT (validation-
 *	failure). Under enforce, encrypt or verify it still refuses.
 */
#include "session.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "decide.h"
#include "engine.h"
#include "filter.h"
#include "log.h"
#include "match.h"
#include "pump.h"
#include "report.h"
#include "smtp.h"
#include "tcp.h"
#include "tls.h"
#include "verdict.h"
#include "wait.h"

#define QUIT_MS 1000		/* the polite goodbye after a refusal */
#define VERDICT_MS 2000		/* writing the verdict on a fresh pair */
#define CERT_NAMES_MAX 512	/* logged SAN list */

_Static_assert(RELAY_SMTP_REPLY_MAX <= RELAY_PUMP_BUF,
	       "the saved greeting must fit the pump's buffer");

struct session {
	const struct mts_config *cfg;
	const struct relay_hints *h;
	int tcp_fd, app_fd;
	int64_t deadline;
	const char *mx;			/* normalised, or NULL */
	const char *domain;		/* normalised, or NULL */
	char mx_buf[MTS_DOMAIN_MAX + 1];
	char domain_buf[MTS_DOMAIN_MAX + 1];
	struct mts_result policy;
	int policy_rechecked;
	struct relay_facts facts;
	struct relay_decision d;
	SSL_CTX *ctx;
	SSL *ssl;
	int connected;
	struct relay_dest dest;		/* of the TCP leg */
	struct sockaddr_storage local;	/* the first leg's local address */
	socklen_t local_len;
	int retried_plain;		/* the handshake failed: plaintext leg */
	struct relay_smtp smtp;
	struct relay_smtp_result smtp_res;
	struct relay_tls_outcome tls;
	int decided;			/* a TLS decision, for TLSRPT */
	char error[256];		/* for the log's error= */
};

/* The log's error= text; cutting a long one is fine (vsnprintf keeps
 * gcc's truncation warnings for the buffers where it is not). */
static void set_error(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_error(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->error, sizeof(s->error), fmt, ap);
	va_end(ap);
}

/* --- names ------------------------------------------------------------- */

/* A usable host name, normalised into buf; NULL when absent or bad. */
static const char *valid_name(const char *what, const char *name, char *buf,
			      size_t buflen)
{
	const char *why;

	if (name == NULL || name[0] == '\0')
		return NULL;
	if ((why = mts_hostname_check(name)) != NULL ||
	    mts_name_normalise(name, buf, buflen) < 0) {
		char q[300];

		mts_log(MTS_LOG_DEBUG, "%s %s ignored: %s", what,
			mts_log_kv_value(name, q, sizeof(q)),
			why ? why : "too long");
		return NULL;
	}
	return buf;
}

/* --- the decision line --------------------------------------------------- */

static const char *source_name(const struct session *s)
{
	if (s->domain == NULL)
		return "-";
	switch (s->policy.source) {
	case MTS_SRC_CACHE: return "cache";
	case MTS_SRC_NETWORK: return "network";
	case MTS_SRC_NONE:
	default: return "-";
	}
}

static void join_names(const struct mts_strlist *l, char *out, size_t outlen)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < l->count; i++) {
		size_t n = strlen(l->item[i]);

		if (used + n + 2 > outlen) {
			if (used + 4 <= outlen)
				memcpy(out + used, "...", 4);
			return;
		}
		if (used > 0)
			out[used++] = ',';
		memcpy(out + used, l->item[i], n + 1);
		used += n;
	}
}

static void log_decision(const struct session *s, const char *verdict)
{
	char domain[300], mx[300], ip[80], reason[80], detail[80], ver[40],
	     cipher[80], names[CERT_NAMES_MAX], qnames[CERT_NAMES_MAX + 40],
	     error[300];
	const char *pfail = s->domain != NULL &&
			    s->policy.failure != MTS_FAIL_NONE ?
				mts_failure_name(s->policy.failure) : NULL;
	int established = s->tls.state == RELAY_TLS_ESTABLISHED;

	join_names(&s->tls.cert_names, names, sizeof(names));
	mts_log(MTS_LOG_INFO,
		"decision domain=%s mx=%s ip=%s port=%u policy=%s "
		"policy_source=%s tls=%s verdict=%s reason=%s detail=%s "
		"tls_version=%s cipher=%s cert_names=%s policy_failure=%s "
		"error=%s",
		mts_log_kv_value(s->domain, domain, sizeof(domain)),
		mts_log_kv_value(s->mx, mx, sizeof(mx)),
		mts_log_kv_value(s->h->dest, ip, sizeof(ip)),
		(unsigned)s->h->port, s->d.policy, source_name(s), s->d.tls,
		verdict, mts_log_kv_value(s->d.reason, reason, sizeof(reason)),
		mts_log_kv_value(s->d.detail, detail, sizeof(detail)),
		mts_log_kv_value(established ? s->tls.version : NULL, ver,
				 sizeof(ver)),
		mts_log_kv_value(established ? s->tls.cipher : NULL, cipher,
				 sizeof(cipher)),
		mts_log_kv_value(names, qnames, sizeof(qnames)),
		pfail != NULL ? pfail : "-",
		mts_log_kv_value(s->error, error, sizeof(error)));
}

/* --- policy --------------------------------------------------------------- */

static void lookup_policy(struct session *s, unsigned flags)
{
	enum mts_status st;
	char q[300];

	if (s->domain == NULL)
		return;
	st = mts_engine_lookup(s->cfg, s->domain, flags, &s->policy);
	if (st == MTS_TEMPFAIL)
		mts_log(MTS_LOG_WARN,
			"policy domain=%s: temporary failure and nothing "
			"cached (%s): treated as no policy",
			mts_log_kv_value(s->domain, q, sizeof(q)),
			s->policy.reason);
}

static void set_policy_facts(struct session *s)
{
	int have = s->domain != NULL && s->policy.status == MTS_POLICY;

	s->facts.have_policy = have;
	s->facts.policy = have ? &s->policy.policy : NULL;
}

/* RFC 8461 section 5.1: before failing a delivery under an enforce
 * policy that came from the cache, look for an updated policy. Returns
 * 1 when the policy was looked up again (facts updated). */
static int recheck_policy(struct session *s)
{
	if (s->d.action != RELAY_REFUSE || s->policy_rechecked ||
	    s->domain == NULL || s->policy.source != MTS_SRC_CACHE ||
	    s->policy.status != MTS_POLICY)
		return 0;
	s->policy_rechecked = 1;
	mts_log(MTS_LOG_DEBUG, "refusing on a cached policy: checking the "
		"TXT record for an update first");
	lookup_policy(s, 0);
	set_policy_facts(s);
	return 1;
}

/* --- ending a connection ------------------------------------------------- */

/* Best effort and bounded: QUIT, its reply, close_notify. */
static void quit_politely(struct session *s)
{
	int64_t until = relay_now_ms() + QUIT_MS;

	/* After a failed handshake the stream is neither SMTP nor TLS. */
	if (!s->connected || s->tls.state == RELAY_TLS_FAILED)
		return;
	if (s->ssl != NULL) {
		static const char quit[] = "QUIT\r\n";
		char reply[512];
		int sent = 0;

		while (relay_ms_left(until) > 0) {
			int r, e, ev;

			ERR_clear_error();
			r = sent ? SSL_read(s->ssl, reply, sizeof(reply)) :
				   SSL_write(s->ssl, quit, sizeof(quit) - 1);
			if (r > 0 && !sent) {
				sent = 1;
				continue;
			}
			if (r > 0)
				break;	/* some reply: good enough */
			e = SSL_get_error(s->ssl, r);
			if (e != SSL_ERROR_WANT_READ &&
			    e != SSL_ERROR_WANT_WRITE)
				return;	/* fatal: no close_notify either */
			ev = relay_wait_fd(s->tcp_fd,
					   e == SSL_ERROR_WANT_READ ? POLLIN :
					   POLLOUT, until);
			if (ev <= 0)
				break;
		}
		relay_tls_close(s->ssl, until);
		return;
	}
	if (s->smtp.fd >= 0) {
		struct relay_smtp_reply r = { 0, 0, MTS_BUF_INIT };

		s->smtp.deadline = until;
		s->smtp.in_len = 0;
		mts_log(MTS_LOG_DEBUG, "smtp -> QUIT");
		if (relay_smtp_send(&s->smtp, "QUIT") == 0)
			relay_smtp_read_reply(&s->smtp, &r, NULL, 0);
		relay_smtp_reply_free(&r);
	}
}

/* The TLSRPT record of a session that reached a TLS decision. */
static void report(struct session *s)
{
	struct relay_report r;

	if (!s->decided)
		return;
	memset(&r, 0, sizeof(r));
	r.domain = s->domain;
	r.policy = &s->policy;
	r.mx = s->mx;
	r.tcp_fd = s->connected ? s->tcp_fd : -1;
	r.receiving_ip = s->h->dest;
	r.greeting = s->smtp_res.greeting.data;
	r.greeting_len = s->smtp_res.greeting.len;
	r.result = s->d.reason;
	/* The certificate or handshake error when there is one, else the
	 * decision's own word for what failed (mx-not-listed...). */
	r.failure_reason = s->d.reason == NULL ? NULL :
			   s->error[0] != '\0' ? s->error : s->d.detail;
	relay_report_record(s->cfg, &r);
}

/* Logs, sends a REFUSE verdict with err, records, says goodbye. */
static void refuse(struct session *s, int err)
{
	s->d.action = RELAY_REFUSE;
	log_decision(s, "refuse");
	relay_verdict_send(s->app_fd, MTS_VERDICT_REFUSE, err, -1,
			   relay_now_ms() + VERDICT_MS);
	report(s);
	quit_politely(s);
}

/* A failure that is not a policy decision: network, SMTP, TLS set-up. */
static void refuse_failure(struct session *s, int err, const char *detail)
{
	s->d.reason = NULL;
	s->d.detail = detail;
	refuse(s, err);
}

static void handoff(struct session *s)
{
	log_decision(s, "handoff");
	relay_verdict_send(s->app_fd, MTS_VERDICT_HANDOFF, 0, -1,
			   relay_now_ms() + VERDICT_MS);
}

/* 1 when the shim has already closed its end (it gave up waiting).
 * Before the verdict nobody else can write to or shut the channel, so
 * its end of file means just that: POLLHUP on the AF_UNIX fallback,
 * POLLRDHUP (a FIN) or POLLERR (a reset) on loopback TCP. */
static int shim_gone(int app_fd)
{
	struct pollfd pfd = { .fd = app_fd, .events = POLLRDHUP };

	return poll(&pfd, 1, 0) == 1 &&
	       (pfd.revents & (POLLHUP | POLLERR | POLLRDHUP));
}

/* --- connecting and negotiating --------------------------------------------- */

/* The network errno for the verdict: timeouts stay timeouts. */
static int verdict_errno(int rc)
{
	return rc == -ETIMEDOUT ? ETIMEDOUT : ECONNREFUSED;
}

/* Connects, creating the TLS context while the SYN is on its way.
 * 0, or -1 after refusing. */
static int connect_leg(struct session *s)
{
	struct relay_dest dest;
	char why[200] = "";
	int rc;

	if ((rc = relay_dest_parse(s->tcp_fd, s->h->dest, s->h->port,
				   &dest)) < 0) {
		set_error(s, "destination: %s",
			 strerror(-rc));
		refuse_failure(s, ECONNREFUSED, "connect-failed");
		return -1;
	}
	s->dest = dest;
	if ((rc = relay_tcp_connect_start(s->tcp_fd, &dest)) < 0)
		goto connect_failed;
	s->ctx = relay_tls_ctx_new(s->cfg, why, sizeof(why));
	if (s->ctx == NULL) {
		mts_log(MTS_LOG_ERROR, "TLS set-up: %s", why);
		set_error(s, "TLS set-up: %s", why);
		s->connected = 0;
		refuse_failure(s, ECONNREFUSED, "tls-setup-failed");
		return -1;
	}
	if ((rc = relay_tcp_connect_finish(s->tcp_fd, s->deadline)) < 0)
		goto connect_failed;
	s->connected = 1;
	s->local_len = sizeof(s->local);
	if (getsockname(s->tcp_fd, (struct sockaddr *)&s->local,
			&s->local_len) < 0)
		s->local_len = 0;	/* a retry then binds nothing */
	return 0;
connect_failed:
	set_error(s, "connect: %s", strerror(-rc));
	refuse_failure(s, -rc, rc == -ETIMEDOUT ? "timeout" : "connect-failed");
	return -1;
}

/* Greeting, EHLO, STARTTLS, TLS; fills the facts. 0, or -1 after
 * refusing. */
static int negotiate(struct session *s)
{
	int rc;

	relay_smtp_init(&s->smtp, s->tcp_fd, s->deadline);
	rc = relay_smtp_negotiate(&s->smtp, s->cfg->ehlo_name, &s->smtp_res);
	if (rc < 0) {
		set_error(s, "smtp: %s",
			 s->smtp_res.error);
		refuse_failure(s, verdict_errno(rc),
			       rc == -ETIMEDOUT ? "timeout" : "smtp-failed");
		return -1;
	}
	s->facts.starttls_offered = s->smtp_res.starttls_offered;
	s->facts.starttls_accepted = s->smtp_res.starttls_accepted;
	if (!s->smtp_res.starttls_accepted)
		return 0;
	rc = relay_tls_handshake(s->ctx, s->tcp_fd, s->mx, s->deadline,
				 &s->ssl, &s->tls);
	s->facts.tls = s->tls.state;
	if (rc < 0) {
		set_error(s, "%s", s->tls.error);
		if (rc == -ETIMEDOUT) {
			refuse_failure(s, ETIMEDOUT, "timeout");
			return -1;
		}
		return 0;	/* the decision says what a failed handshake means */
	}
	relay_tls_check(s->ssl, s->mx, s->facts.policy, &s->tls);
	s->facts.chain = s->tls.chain;
	s->facts.name = s->tls.name;
	if (s->tls.chain != RELAY_CHAIN_OK)
		set_error(s, "%s", s->tls.error);
	return 0;
}

/* --- the plaintext retry after a failed handshake --------------------------- */

/* 1 when the handshake failed and the rule governing this connection
 * would have accepted the server had it not offered STARTTLS at all:
 * testing, fallback may or none (never enforce, encrypt or verify). */
static int plain_retry_allowed(const struct session *s)
{
	struct relay_facts f = s->facts;
	struct relay_decision d;

	if (!s->facts.starttls_accepted ||
	    s->facts.tls == RELAY_TLS_ESTABLISHED ||
	    s->d.action != RELAY_REFUSE)
		return 0;
	f.starttls_offered = 0;
	f.starttls_accepted = 0;
	f.tls = RELAY_TLS_NOT_TRIED;
	relay_decide(&f, &d);
	return d.action == RELAY_ALLOW_PLAINTEXT;
}

/* Reads the second leg's greeting into s->smtp_res. 0 or -errno. */
static int read_plain_greeting(struct session *s)
{
	struct relay_smtp_reply r = { 0, 0, MTS_BUF_INIT };
	char why[200] = "";
	int rc;

	relay_smtp_init(&s->smtp, s->tcp_fd, s->deadline);
	rc = relay_smtp_read_reply(&s->smtp, &r, why, sizeof(why));
	if (rc == 0 && (r.code < 200 || r.code > 299)) {
		mts_strlcpy(why, "greeting refuses the session", sizeof(why));
		rc = -ECONNREFUSED;
	}
	if (rc == 0 && s->smtp.in_len > 0) {
		/* It speaks only when spoken to (smtp.h). */
		mts_strlcpy(why, "unexpected data after the greeting",
			    sizeof(why));
		rc = -EPROTO;
	}
	if (rc < 0) {
		set_error(s, "plaintext retry: greeting: %s", why);
		relay_smtp_reply_free(&r);
		return rc;
	}
	mts_buf_free(&s->smtp_res.greeting);
	s->smtp_res.greeting = r.raw;	/* handed over: replayed later */
	s->smtp_res.greeting_code = r.code;
	return 0;
}

/* A new connection in plaintext. 0, or -1 after refusing. The decision
 * keeps what failed (validation-failure, handshake-failed) for the log
 * and TLSRPT; the action becomes plaintext. */
static int retry_plain(struct session *s)
{
	char tls_error[sizeof(s->error)];
	int rc;

	mts_strlcpy(tls_error, s->error, sizeof(tls_error));
	mts_log(MTS_LOG_WARN, "TLS handshake failed (%s) under policy=%s: "
		"retrying in plaintext on a new connection", s->error,
		s->d.policy);
	if (s->ssl != NULL) {
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	s->connected = 0;
	s->retried_plain = 1;
	if ((rc = relay_tcp_reopen(s->tcp_fd, &s->local, s->local_len,
				   &s->dest)) < 0 ||
	    (rc = relay_tcp_connect_finish(s->tcp_fd, s->deadline)) < 0) {
		set_error(s, "plaintext retry: connect: %s", strerror(-rc));
		refuse_failure(s, verdict_errno(rc),
			       rc == -ETIMEDOUT ? "timeout" : "connect-failed");
		return -1;
	}
	s->connected = 1;
	if ((rc = read_plain_greeting(s)) < 0) {
		refuse_failure(s, verdict_errno(rc),
			       rc == -ETIMEDOUT ? "timeout" : "smtp-failed");
		return -1;
	}
	mts_strlcpy(s->error, tls_error, sizeof(s->error));
	s->d.action = RELAY_ALLOW_PLAINTEXT;
	s->d.tls = "failed-retried-plain";
	return 0;
}

/* --- the allowed session ----------------------------------------------------- */

/* The per-recipient check's view of the connection (filter.h): what
 * the negotiation proved, whatever the connect-time verdict made of it. */
static struct relay_filter *new_filter(struct session *s, SSL *ssl)
{
	struct relay_filter_conf c;

	memset(&c, 0, sizeof(c));
	c.cfg = s->cfg;
	c.domain = s->domain;
	c.domain_policy = &s->policy;
	c.mx = s->mx;
	c.ip = s->h->dest;
	c.tcp_fd = s->tcp_fd;
	c.greeting = s->smtp_res.greeting.data;
	c.greeting_len = s->smtp_res.greeting.len;
	c.conn.starttls_offered = s->facts.starttls_offered;
	c.conn.starttls_accepted = s->facts.starttls_accepted;
	c.conn.tls = ssl != NULL ? s->tls.state :
		     s->retried_plain ? RELAY_TLS_FAILED : RELAY_TLS_NOT_TRIED;
	c.conn.chain = s->tls.chain;
	c.conn.mx = s->mx;
	c.conn.mx_name = s->mx != NULL ? s->tls.name : RELAY_NAME_UNCHECKED;
	c.ssl = ssl;
	return relay_filter_new(&c);
}

static void relay_bytes(struct session *s)
{
	struct relay_pump p;
	struct relay_pump_stats st;
	struct relay_filter_stats fs;
	char q[300];
	int rc;

	memset(&p, 0, sizeof(p));
	p.app_fd = s->app_fd;
	p.tcp_fd = s->tcp_fd;
	p.ssl = s->d.action == RELAY_ALLOW_PLAINTEXT ? NULL : s->ssl;
	p.prefix = s->smtp_res.greeting.data;
	p.prefix_len = s->smtp_res.greeting.len;
	/* Fail closed: without the filter no recipient could be checked. */
	if ((p.filter = new_filter(s, p.ssl)) == NULL) {
		mts_log(MTS_LOG_ERROR, "relay: out of memory for the filter");
		return;
	}
	rc = relay_pump_run(&p, &st);
	relay_filter_stats(p.filter, &fs);
	relay_filter_free(p.filter);
	if (rc < 0) {
		mts_log(MTS_LOG_ERROR, "relay: cannot relay: %s", strerror(-rc));
		return;
	}
	mts_log(MTS_LOG_INFO,
		"session end domain=%s ip=%s port=%u to_server=%llu "
		"to_app=%llu closed_by=%s commands=%llu rcpt_allowed=%u "
		"rcpt_deferred=%u local_replies=%llu max_pipelined=%zu "
		"mail_held=%u mail_sent=%u",
		mts_log_kv_value(s->domain, q, sizeof(q)), s->h->dest,
		(unsigned)s->h->port, (unsigned long long)st.to_server,
		(unsigned long long)st.to_app, st.closed_by,
		(unsigned long long)fs.commands, fs.rcpt_allowed,
		fs.rcpt_deferred, (unsigned long long)fs.local_replies,
		fs.max_in_flight, fs.mail_held, fs.mail_released);
}

static void allow(struct session *s)
{
	int rc;

	log_decision(s, "allow");
	rc = relay_verdict_send(s->app_fd, MTS_VERDICT_RELAY, 0, s->tcp_fd,
				relay_now_ms() + VERDICT_MS);
	report(s);
	if (rc < 0) {
		mts_log(MTS_LOG_INFO, "verdict not delivered (%s): the "
			"application is gone", strerror(-rc));
		quit_politely(s);
		return;
	}
	relay_bytes(s);
}

/* --- the whole connection ------------------------------------------------------ */

static void decide(struct session *s, enum relay_stage stage)
{
	s->facts.stage = stage;
	relay_decide(&s->facts, &s->d);
	if (s->d.action == RELAY_REFUSE && recheck_policy(s)) {
		/* The certificate's names against the new policy, when the
		 * MX name is unknown and the policy's patterns decide. */
		if (s->ssl != NULL && s->mx == NULL) {
			relay_tls_check(s->ssl, s->mx, s->facts.policy,
					&s->tls);
			s->facts.name = s->tls.name;
		}
		relay_decide(&s->facts, &s->d);
	}
}

/* The engine could not use its cache (a directory others may write, an
 * unsafe file): a fault of this host, not "the domain has no policy".
 * Falling back would let whoever can write the cache switch enforcement
 * off; so refuse, the application defers, the log says why. */
static int cache_unusable(const struct session *s)
{
	return s->domain != NULL && s->policy.status == MTS_TEMPFAIL &&
	       s->policy.failure == MTS_FAIL_CACHE;
}

static void run(struct session *s)
{
	if (cache_unusable(s)) {
		set_error(s, "%s", s->policy.reason);
		refuse_failure(s, ECONNREFUSED, "cache-error");
		return;
	}
	decide(s, RELAY_STAGE_BEFORE_CONNECT);
	if (s->d.action == RELAY_HANDOFF) {
		handoff(s);
		return;
	}
	if (s->d.action == RELAY_REFUSE) {
		s->decided = 1;
		refuse(s, ECONNREFUSED);
		return;
	}
	if (relay_ms_left(s->deadline) == 0) {
		snprintf(s->error, sizeof(s->error),
			 "policy look-up used up the time budget");
		refuse_failure(s, ETIMEDOUT, "timeout");
		return;
	}
	if (shim_gone(s->app_fd)) {
		snprintf(s->error, sizeof(s->error),
			 "the shim stopped waiting before we connected");
		refuse_failure(s, ETIMEDOUT, "shim-gone");
		return;
	}
	if (connect_leg(s) < 0 || negotiate(s) < 0)
		return;
	decide(s, RELAY_STAGE_NEGOTIATED);
	s->decided = 1;
	if (plain_retry_allowed(s) && retry_plain(s) < 0)
		return;
	switch (s->d.action) {
	case RELAY_ALLOW_TLS_VERIFIED:
	case RELAY_ALLOW_TLS_UNVERIFIED:
	case RELAY_ALLOW_PLAINTEXT:
		allow(s);
		break;
	case RELAY_REFUSE:
	default:
		refuse(s, ECONNREFUSED);
		break;
	}
}

int relay_session_run(const struct mts_config *cfg,
		      const struct relay_hints *hints, int tcp_fd, int app_fd)
{
	struct session *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		relay_verdict_send(app_fd, MTS_VERDICT_REFUSE, ECONNREFUSED, -1,
				   relay_now_ms() + VERDICT_MS);
		return -1;
	}
	s->cfg = cfg;
	s->h = hints;
	s->tcp_fd = tcp_fd;
	s->app_fd = app_fd;
	s->smtp.fd = -1;
	s->deadline = relay_now_ms() + (int64_t)cfg->timeout_s * 1000;
	mts_result_init(&s->policy);
	relay_facts_init(&s->facts);
	relay_tls_outcome_init(&s->tls);
	s->facts.fallback = cfg->fallback;
	s->mx = valid_name("mx", hints->mx, s->mx_buf, sizeof(s->mx_buf));
	s->domain = valid_name("domain", hints->domain, s->domain_buf,
			       sizeof(s->domain_buf));
	s->facts.mx = s->mx;
	lookup_policy(s, MTS_LOOKUP_NO_DNS);
	set_policy_facts(s);

	run(s);

	if (s->ssl != NULL)
		SSL_free(s->ssl);
	if (s->ctx != NULL)
		SSL_CTX_free(s->ctx);
	relay_tls_outcome_free(&s->tls);
	relay_smtp_result_free(&s->smtp_res);
	mts_result_free(&s->policy);
	free(s);
	return 0;
}
