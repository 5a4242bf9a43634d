/*
 * filter.h - the relayed SMTP stream, with a policy decision per recipient
 *
 * SYNOPSIS
 *	struct relay_filter_conf c = { .cfg = cfg, .domain = ..., .conn = ... };
 *	struct relay_filter *f = relay_filter_new(&c);
 *	used = relay_filter_up(f, app_bytes, n, out, room, &out_len);
 *	used = relay_filter_down(f, srv_bytes, n, out, room, &out_len);
 *	relay_filter_free(f);
 *
 * DESCRIPTION
 *	Sits in the pump (pump.h) between the application and the server,
 *	on the plaintext side of the TLS session. The application's bytes go
 *	through the SMTP stream tracker (smtpstream.h): message content and
 *	other commands go on unchanged; each RCPT TO is judged first
 *	(rcpt.h): its domain's policy, from the connection's own look-up
 *	when it is the connection's domain, else from a per-session cache,
 *	else from the engine (relay_lookup_bounded: at most MTASTS_TIMEOUT,
 *	while the application waits for that RCPT's reply), against what
 *	the connection proved (conf.conn and the certificate of conf.ssl).
 *	A recipient whose enforce policy is not satisfied is not forwarded;
 *	the application gets "450 4.7.x MTA-STS: ..." in its place among the
 *	replies. A RCPT that cannot be parsed is not forwarded either
 *	("501 5.1.3"): what we cannot read, we cannot check.
 *
 *	When conf.domain is NULL (no policy vouches for this MX) MAIL is
 *	held: answered "250 2.1.0 Sender OK (held by MTA-STS relay)" here,
 *	and sent only just before the transaction's first allowed RCPT; a
 *	refusal of it by the server becomes that RCPT's reply. A server no
 *	recipient was allowed for never sees the envelope sender.
 *
 *	One log line per recipient decision (info):
 *	  rcpt domain=<connection's domain> rcpt_domain=<domain> mx= ip=
 *	    policy=enforce|testing|none|no-policy policy_source=cache|network|-
 *	    verdict=allow|defer reason=<RFC 8460 result type>|-
 *	    detail=<token>|- policy_failure=<RFC 8460 policy failure>|-
 *	detail tokens: those of decide.h, plus domain-literal, no-domain,
 *	syntax (with verdict=refuse and error=<why>), cache-error (the
 *	engine refused its cache: deferred "451 4.3.0", never "no policy").
 *
 *	Each recipient domain other than the connection's gets one TLSRPT
 *	record per session (report.h), with the result of its check.
 *
 *	relay_filter_up() takes application bytes from in[] and appends
 *	what goes to the server to out (at most room octets; *out_len set);
 *	relay_filter_down() does the same for server bytes, inserting the
 *	local replies where they belong. Both return how many input octets
 *	they took; fewer than len means "call again when out has room or
 *	the other direction moved".
 */
#ifndef RELAY_FILTER_H
#define RELAY_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "config.h"
#include "engine.h"
#include "rcpt.h"

struct relay_filter_conf {
	const struct mts_config *cfg;
	const char *domain;			/* the connection's, or NULL */
	const struct mts_result *domain_policy;	/* its look-up */
	const char *mx;				/* NULL when unknown */
	const char *ip;
	int tcp_fd;				/* for TLSRPT's sending-ip */
	const char *greeting;			/* the server's 220 */
	size_t greeting_len;
	struct relay_rcpt_conn conn;
	SSL *ssl;				/* NULL without TLS */
};

struct relay_filter;

/* For the session's last log line. */
struct relay_filter_stats {
	uint64_t commands;		/* command lines seen */
	uint64_t local_replies;		/* answered by the relay */
	unsigned rcpt_allowed;
	unsigned rcpt_deferred;		/* deferred or refused here */
	size_t max_in_flight;		/* most commands awaiting replies */
	unsigned mail_held;		/* MAIL answered here and kept */
	unsigned mail_released;		/* ...and sent: a recipient allowed */
};

struct relay_filter *relay_filter_new(const struct relay_filter_conf *c);
void relay_filter_free(struct relay_filter *f);

size_t relay_filter_up(struct relay_filter *f, const char *in, size_t len,
		       char *out, size_t room, size_t *out_len);
size_t relay_filter_down(struct relay_filter *f, const char *in, size_t len,
			 char *out, size_t room, size_t *out_len);

void relay_filter_stats(const struct relay_filter *f,
			struct relay_filter_stats *st);

#endif
