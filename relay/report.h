/*
 * report.h - one TLSRPT spool record per decided session (RFC 8460)
 *
 * SYNOPSIS
 *	struct relay_report r = { .domain = "example.com", ... };
 *	relay_report_record(&cfg, &r);
 *
 * DESCRIPTION
 *	Turns what the relay learnt about one session into the record that
 *	tlsrpt.h spools for the daily aggregate report, and writes it
 *	(mts_tlsrpt_record: one append, no lock, no network). Called after
 *	the verdict, so the application never waits for it.
 *
 *	Which sessions: those of a known policy domain that reached a TLS
 *	decision, i.e. refused before connecting because the MX is not
 *	listed, or negotiated (STARTTLS offered or not, TLS or not). Not:
 *	hand-offs, and connections that failed for network or SMTP reasons
 *	(nothing about TLS was learnt).
 *
 *	Policy type: "sts" when the domain has an MTA-STS policy (any mode,
 *	cached or fetched), or when its fetch failed with nothing cached
 *	(then the result is the sts-policy-* failure, with no policy text);
 *	"no-policy-found" otherwise.
 *
 *	Result: the RFC 8460 result type of the first failure the decision
 *	found (decide.h), "success" when none.
 *
 *	A failure to record is logged at warn level and changes nothing for
 *	the session.
 */
#ifndef RELAY_REPORT_H
#define RELAY_REPORT_H

#include "config.h"
#include "engine.h"

struct relay_report {
	const char *domain;		/* normalised; NULL: nothing recorded */
	const struct mts_result *policy;	/* the lookup's answer */
	const char *mx;			/* NULL when unknown */
	int tcp_fd;			/* the MX leg, -1 when never connected */
	const char *receiving_ip;	/* numeric */
	const char *greeting;		/* the MX's 220 reply, NULL if none */
	size_t greeting_len;
	const char *result;		/* RFC 8460 result type, NULL: success */
	const char *failure_reason;	/* e.g. the certificate error, or NULL */
};

void relay_report_record(const struct mts_config *cfg,
			 const struct relay_report *r);

#endif
