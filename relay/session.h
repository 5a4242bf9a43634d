/*
 * session.h - one intercepted connection, from policy to the last byte
 *
 * SYNOPSIS
 *	struct relay_hints h = { .dest = "192.0.2.1", .port = 25,
 *				 .mx = "mx1.example.com", .domain = "example.com" };
 *	relay_session_run(&cfg, &h, MTS_RELAY_TCP_FD, MTS_RELAY_APP_FD);
 *
 * DESCRIPTION
 *	Everything the relay does for one connection, given the
 *	application's end of the pair (app_fd), its unconnected TCP socket
 *	(tcp_fd) and what the shim knows (hints), so that the same function
 *	can serve a relay started per connection (main.c) or, later, a
 *	long-lived relay that receives the fds over a UNIX socket.
 *
 *	 1. Deadline: now + cfg->timeout_s for everything up to the verdict.
 *	 2. Policy: mts_engine_lookup(domain, MTS_LOOKUP_NO_DNS): a valid
 *	    cached policy is used without any network; otherwise TXT and
 *	    HTTPS. A temporary failure with nothing cached counts as no
 *	    policy (logged as such). No domain: no policy.
 *	 3. Decide before connecting (decide.h): refuse an unlisted MX under
 *	    enforce without a single packet to it; hand off for fallback
 *	    none without a policy, leaving the socket untouched.
 *	 4. Connect tcp_fd, SMTP greeting, EHLO, STARTTLS (smtp.h), TLS with
 *	    SNI = the MX name and our own validation (tls.h).
 *	 5. Decide. A refusal made on a cached policy is decided again after
 *	    a fresh TXT look-up: RFC 8461 section 5.1 says not to fail
 *	    delivery on enforce before checking for an updated policy.
 *	 6. Log one decision line, send the verdict (verdict.h). A refusal
 *	    after connecting ends with a polite, bounded QUIT.
 *	 7. Allowed: replay the greeting and relay (pump.h) until both ends
 *	    close, through the per-recipient filter (filter.h): each RCPT TO
 *	    is judged against its own domain's policy with what steps 4-5
 *	    proved, and deferred (450 4.7.x) when that policy is enforce and
 *	    not satisfied. docs/RCPT.md.
 *
 *	The decision line (info):
 *	  decision domain= mx= ip= port= policy=enforce|testing|none|no-policy
 *	    policy_source=cache|network|- tls=verified|unverified|none
 *	    verdict=allow|refuse|handoff reason=<RFC 8460 result type>|-
 *	    detail=<token>|- tls_version= cipher= cert_names=
 *	    policy_failure=<RFC 8460 policy failure>|- error=<text>|-
 *	detail tokens: those of decide.h, plus connect-failed, smtp-failed,
 *	tls-setup-failed, timeout, shim-gone, cache-error (the engine
 *	refused its cache directory: refused, never treated as no policy).
 *
 * RETURN VALUE
 *	0 when the session ran its course (allowed, refused or handed off),
 *	-1 when it could not start (bad hints); the verdict has been sent in
 *	every case where the shim could still read it.
 */
#ifndef RELAY_SESSION_H
#define RELAY_SESSION_H

#include "config.h"

struct relay_hints {
	const char *dest;	/* numeric address */
	unsigned short port;
	const char *mx;		/* NULL when unknown */
	const char *domain;	/* NULL when unknown */
};

int relay_session_run(const struct mts_config *cfg,
		      const struct relay_hints *hints, int tcp_fd, int app_fd);

#endif
