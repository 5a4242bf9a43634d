/*
 * decide.h - the relay's decision table (RFC 8461 sections 4 and 5)
 *
 * SYNOPSIS
 *	struct relay_facts f;
 *	relay_facts_init(&f);
 *	f.policy = &result.policy; f.have_policy = 1; f.mx = "mx1.example.com";
 *	relay_decide(&f, &d);          stage RELAY_STAGE_BEFORE_CONNECT
 *	... connect, EHLO, STARTTLS, TLS: fill in what was learnt ...
 *	f.stage = RELAY_STAGE_NEGOTIATED;
 *	relay_decide(&f, &d);
 *
 * DESCRIPTION
 *	A pure function: no I/O, no clock, no globals, so that every row of
 *	the table can be unit-tested (tests/unit/test_decide.c).
 *
 *	The policy that governs: "enforce" or "testing" when the domain has
 *	a policy of that mode; otherwise (no domain, no policy, a temporary
 *	failure with nothing cached, or mode none) the fallback of
 *	MTASTS_FALLBACK.
 *
 *	Before connecting (RELAY_STAGE_BEFORE_CONNECT) the answer is
 *	  REFUSE   enforce, the MX name is known and no mx pattern matches
 *	           it (validation-failure / mx-not-listed): no TCP
 *	           connection is ever made;
 *	  HANDOFF  no governing policy and fallback none;
 *	  PROCEED  otherwise: connect and negotiate.
 *
 *	After the SMTP dialogue and TLS (RELAY_STAGE_NEGOTIATED), the first
 *	failure found, in this order, gives reason (RFC 8460 result type)
 *	and detail:
 *	  MX not listed (enforce/testing only)   validation-failure  mx-not-listed
 *	  STARTTLS not in the EHLO reply          starttls-not-supported starttls-not-offered
 *	  STARTTLS answered with other than 220   starttls-not-supported starttls-refused
 *	  TLS handshake failed                    validation-failure  handshake-failed
 *	  certificate expired / not yet valid     certificate-expired cert-expired / cert-not-yet-valid
 *	  chain not trusted                       certificate-not-trusted cert-untrusted
 *	  other chain error, no certificate       validation-failure  cert-invalid
 *	  name: MX known, no SAN matches it       certificate-host-mismatch name-mismatch
 *	  name: MX unknown, no SAN matches a
 *	        policy mx pattern, or no policy
 *	        to check against                  certificate-host-mismatch mx-unknown
 *	and the action:
 *	  enforce   any failure: REFUSE; else ALLOW_TLS_VERIFIED.
 *	  testing   ALLOW whatever failed (TLS whenever established, else
 *	            plaintext), reason/detail say what failed for the log and
 *	            TLSRPT; a failed handshake leaves no session: REFUSE.
 *	  may       TLS when established (VERIFIED when every check passed,
 *	            else UNVERIFIED), plaintext when STARTTLS is not offered
 *	            or refused; a failed handshake: REFUSE.
 *	  encrypt   TLS required (VERIFIED or UNVERIFIED): REFUSE without it.
 *	  verify    TLS with every check passed, else REFUSE.
 *	  none      (only reached with a governing policy absent and the
 *	            hand-off already decided) treated as may.
 *	reason and detail are set for every failure found, also when the
 *	verdict allows (they are logged; NULL when nothing failed).
 *
 *	tls_state (relay_decision.tls): "verified" when TLS was established
 *	and every check passed, "unverified" when established otherwise,
 *	"none" without TLS.
 */
#ifndef RELAY_DECIDE_H
#define RELAY_DECIDE_H

#include "config.h"
#include "policy.h"

enum relay_stage {
	RELAY_STAGE_BEFORE_CONNECT = 0,
	RELAY_STAGE_NEGOTIATED,
};

/* What the TLS handshake and chain validation gave. */
enum relay_tls_state {
	RELAY_TLS_NOT_TRIED = 0,	/* no STARTTLS, or it was refused */
	RELAY_TLS_FAILED,		/* the handshake did not complete */
	RELAY_TLS_ESTABLISHED,
};

enum relay_chain {
	RELAY_CHAIN_OK = 0,
	RELAY_CHAIN_EXPIRED,
	RELAY_CHAIN_NOT_YET_VALID,
	RELAY_CHAIN_UNTRUSTED,
	RELAY_CHAIN_INVALID,		/* any other error, or no certificate */
};

/* Did the certificate name the peer? */
enum relay_name {
	RELAY_NAME_UNCHECKED = 0,	/* neither MX name nor policy to check */
	RELAY_NAME_OK,
	RELAY_NAME_MISMATCH,
};

struct relay_facts {
	enum relay_stage stage;
	/* policy: have_policy = mts_engine_lookup() gave MTS_POLICY */
	int have_policy;
	const struct mts_policy *policy;	/* when have_policy */
	enum mts_fallback fallback;
	/* the MX host name, NULL when unknown (an address literal...) */
	const char *mx;
	/* RELAY_STAGE_NEGOTIATED only */
	int starttls_offered;
	int starttls_accepted;
	enum relay_tls_state tls;
	enum relay_chain chain;			/* when ESTABLISHED */
	enum relay_name name;			/* when ESTABLISHED */
};

enum relay_action {
	RELAY_PROCEED = 0,
	RELAY_ALLOW_TLS_VERIFIED,
	RELAY_ALLOW_TLS_UNVERIFIED,
	RELAY_ALLOW_PLAINTEXT,
	RELAY_REFUSE,
	RELAY_HANDOFF,
};

struct relay_decision {
	enum relay_action action;
	const char *policy;	/* enforce | testing | none | no-policy */
	const char *reason;	/* RFC 8460 result type, NULL if none */
	const char *detail;	/* short token, NULL if none */
	const char *tls;	/* verified | unverified | none */
};

void relay_facts_init(struct relay_facts *f);
void relay_decide(const struct relay_facts *f, struct relay_decision *out);

const char *relay_action_name(enum relay_action a);
/* "allow", "refuse", "handoff" or "proceed" (for the log's verdict=). */
const char *relay_action_verdict(enum relay_action a);

#endif
