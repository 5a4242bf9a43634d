/*
 * lookup.h - a policy look-up that cannot outlast its deadline
 *
 * SYNOPSIS
 *	struct mts_result r;
 *	mts_result_init(&r);
 *	rc = relay_lookup_bounded(&cfg, "example.com", MTS_LOOKUP_NO_DNS,
 *				  5000, &r);
 *	...
 *	mts_result_free(&r);
 *
 * DESCRIPTION
 *	mts_engine_lookup() bounds its DNS query and its HTTPS fetch by
 *	MTASTS_TIMEOUT each, so one look-up can take up to twice that. A
 *	look-up made in the middle of a session (a recipient's domain, while
 *	the application waits for the RCPT reply) must end within the time
 *	budget: it runs in a detached thread, and the caller waits at most
 *	timeout_ms for it. When the thread is late, the caller gets
 *	-ETIMEDOUT and out says MTS_TEMPFAIL with failure MTS_FAIL_FETCH
 *	("policy look-up timed out"), which RFC 8461 section 5 treats like
 *	any failed fetch with nothing cached: no policy. The thread finishes
 *	on its own (its result, written to the cache by the engine, serves
 *	the next session) and frees what it used.
 *
 *	relay_lookup_running(): how many look-up threads have not finished
 *	(abandoned ones included). A process that ends while one runs must
 *	leave with _exit(): exit() would run the libraries' atexit clean-ups
 *	(OpenSSL's) under the thread's feet, and cfg may be on the caller's
 *	stack.
 *
 * RETURN VALUE
 *	0 (out holds the engine's answer), -ETIMEDOUT, or -ENOMEM /
 *	-EAGAIN when no thread could be started (out: MTS_TEMPFAIL).
 */
#ifndef RELAY_LOOKUP_H
#define RELAY_LOOKUP_H

#include "config.h"
#include "engine.h"

int relay_lookup_bounded(const struct mts_config *cfg, const char *domain,
			 unsigned flags, unsigned timeout_ms,
			 struct mts_result *out);
int relay_lookup_running(void);

#endif
