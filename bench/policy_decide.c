/*
 * policy_decide.c - warm-cache policy decisions per second, in process
 *
 * SYNOPSIS
 *	policy_decide DOMAIN MX COUNT
 *
 * DESCRIPTION
 *	The decision the relay makes for every intercepted connection once a
 *	policy is cached: mts_engine_lookup(DOMAIN, MTS_LOOKUP_NO_DNS) (read
 *	and parse the cache entry, check its age), then
 *	mts_policy_mx_allowed(MX). COUNT times in one process, after one
 *	untimed round, with the configuration of the environment (MTASTS_*,
 *	as the relay reads it). The cache must be warm: every round must be
 *	answered from the cache with a policy that allows MX, otherwise the
 *	number would measure something else and the program fails.
 *
 *	Prints "decisions_per_s=N ns_per_decision=M".
 *
 * EXIT STATUS
 *	0; 1 when a decision was not a warm "allowed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "config.h"
#include "engine.h"
#include "log.h"
#include "match.h"

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One decision: 0 when DOMAIN's cached policy allows MX, else -1. */
static int decide(const struct mts_config *cfg, const char *domain,
		  const char *mx)
{
	struct mts_result r;
	int ok;

	mts_result_init(&r);
	ok = mts_engine_lookup(cfg, domain, MTS_LOOKUP_NO_DNS, &r) == MTS_POLICY &&
	     r.source == MTS_SRC_CACHE &&
	     mts_policy_mx_allowed(&r.policy, mx);
	mts_result_free(&r);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct mts_config cfg;
	char err[256];
	long count;
	long long t0, elapsed;

	if (argc != 4 || (count = strtol(argv[3], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: policy_decide DOMAIN MX COUNT\n");
		return 2;
	}
	if (mts_config_load(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "policy_decide: %s\n", err);
		return 1;
	}
	mts_log_init("policy_decide", "stderr", MTS_LOG_WARN, NULL, 0);
	if (decide(&cfg, argv[1], argv[2]) < 0) {
		fprintf(stderr, "policy_decide: %s: no warm cached policy allowing %s\n",
			argv[1], argv[2]);
		return 1;
	}
	t0 = now_ns();
	for (long i = 0; i < count; i++)
		if (decide(&cfg, argv[1], argv[2]) < 0) {
			fprintf(stderr, "policy_decide: decision %ld changed\n", i);
			return 1;
		}
	elapsed = now_ns() - t0;
	if (elapsed <= 0)
		elapsed = 1;
	printf("decisions_per_s=%.0f ns_per_decision=%lld\n",
	       (double)count * 1e9 / (double)elapsed, elapsed / count);
	return 0;
}
