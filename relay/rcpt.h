/*
 * rcpt.h - the recipient of a RCPT command, and its policy decision
 *
 * SYNOPSIS
 *	struct relay_rcpt_addr a;
 *	if ((why = relay_rcpt_parse(line, len, &a)) != NULL) ... 501 ...
 *	relay_rcpt_decide(&conn, policy_or_NULL, san_vs_policy, &d);
 *	if (d.verdict == RELAY_RCPT_DEFER)
 *		relay_rcpt_reply(&d, a.domain, text, sizeof(text));
 *
 * DESCRIPTION
 *	relay_rcpt_parse(): "RCPT TO:" Forward-path [SP parameters] CRLF
 *	(RFC 5321 4.1.1.3, 4.1.2), with the verb and "TO:" in any case and
 *	spaces after the colon tolerated. The path is "<" [source route ":"]
 *	mailbox ">": a source route (@a,@b:user@d) is skipped (RFC 5321
 *	C: the mailbox's domain is the destination); the local part is a
 *	dot-string or a quoted string (quoted pairs and "@" inside quotes
 *	are part of it); the domain is what follows the last "@" outside
 *	quotes, up to ">". Result kinds:
 *	  RELAY_RCPT_DOMAIN   domain: lower case, one trailing dot removed
 *	                      (a non-ASCII name is kept as sent: it has no
 *	                      A-label policy we could look up; see RCPT.md)
 *	  RELAY_RCPT_LITERAL  [1.2.3.4] or [IPv6:...]: no policy can apply
 *	  RELAY_RCPT_NO_DOMAIN <Postmaster> (RFC 5321 4.5.1): the server's own
 *	A path without angle brackets ("RCPT TO:u@d", seen from old
 *	clients) is accepted up to the first space. ESMTP parameters after
 *	">" are not interpreted. Returns NULL, or a static reason.
 *
 *	relay_rcpt_decide(): the policy of the recipient's domain against
 *	what the connection proved, with the connect-time table of decide.h
 *	(first failure: MX not listed, STARTTLS not offered or refused, TLS
 *	failed, chain, name). The name fact is the certificate against the
 *	MX host when its name is known (conn->mx_name), else against the
 *	policy's mx patterns (san_vs_policy). So a recipient's enforce policy
 *	is satisfied iff TLS is up with a valid chain AND either the MX name
 *	is known, listed by the policy and named by a DNS SAN, or the MX
 *	name is unknown and some DNS SAN is matched by a policy pattern.
 *	  enforce, not satisfied   DEFER (the RCPT is not forwarded)
 *	  testing                  ALLOW; reason says what failed (TLSRPT)
 *	  none, no policy          ALLOW
 *	report is 1 when the policy is enforce or testing (a TLSRPT record).
 *
 *	relay_rcpt_reply(): the reply the application gets instead of the
 *	server's, one line, CRLF-ended:
 *	  450 4.7.4 MTA-STS: policy of <domain> not satisfied: <reason> (<detail>)
 *	    for starttls-not-supported (RFC 3463 X.7.4, security features
 *	    not supported);
 *	  450 4.7.5 ... for every other failure (X.7.5, cryptographic
 *	    failure: chain, name, MX not listed).
 *	450 is a temporary failure of that recipient (RFC 8461 section 5.1:
 *	never bounce for a policy failure); the application defers it and
 *	delivers the others.
 */
#ifndef RELAY_RCPT_H
#define RELAY_RCPT_H

#include <stddef.h>

#include "config.h"
#include "decide.h"
#include "policy.h"

#define RELAY_RCPT_DOMAIN_MAX 300	/* a literal may be longer than 253 */

enum relay_rcpt_kind {
	RELAY_RCPT_DOMAIN = 0,
	RELAY_RCPT_LITERAL,
	RELAY_RCPT_NO_DOMAIN,
};

struct relay_rcpt_addr {
	enum relay_rcpt_kind kind;
	char domain[RELAY_RCPT_DOMAIN_MAX + 1];	/* or the literal; "" */
};

const char *relay_rcpt_parse(const char *line, size_t len,
			     struct relay_rcpt_addr *out);

/* What the connection proved, from the connect-time negotiation. */
struct relay_rcpt_conn {
	int starttls_offered;
	int starttls_accepted;
	enum relay_tls_state tls;
	enum relay_chain chain;
	const char *mx;			/* NULL when unknown */
	enum relay_name mx_name;	/* a DNS SAN names mx (when known) */
};

enum relay_rcpt_verdict {
	RELAY_RCPT_ALLOW = 0,
	RELAY_RCPT_DEFER,
};

struct relay_rcpt_decision {
	enum relay_rcpt_verdict verdict;
	const char *policy;	/* enforce | testing | none | no-policy */
	const char *reason;	/* RFC 8460 result type, NULL if none */
	const char *detail;	/* decide.h token, NULL if none */
	int report;		/* a TLSRPT record for this domain */
};

void relay_rcpt_decide(const struct relay_rcpt_conn *c,
		       const struct mts_policy *p,
		       enum relay_name san_vs_policy,
		       struct relay_rcpt_decision *out);

/* Formats the deferral reply; returns its length, or -1 if it does not
 * fit (outlen >= 512 always suffices: the domain is cut to 253). */
int relay_rcpt_reply(const struct relay_rcpt_decision *d, const char *domain,
		     char *out, size_t outlen);

#endif
