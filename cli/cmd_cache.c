/*
 * cmd_cache.c - `mtasts cache list|show DOMAIN|flush [DOMAIN]|refresh`
 *
 * DESCRIPTION
 *	Inspects and manages the policy cache shared by every process of the
 *	user (MTASTS_CACHE_DIR). `refresh` re-validates every cached domain
 *	through the network (RFC 8461 section 10.2 asks senders to refresh
 *	proactively, about daily); a failed refresh keeps the cached policy.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "cli.h"
#include "match.h"
#include "policy.h"

const char cli_usage_cache[] =
"usage: mtasts cache list\n"
"       mtasts cache show DOMAIN\n"
"       mtasts cache flush [DOMAIN]\n"
"       mtasts cache refresh\n"
"\n"
"Inspect and manage the policy cache in MTASTS_CACHE_DIR (one file per\n"
"domain, shared by every process of the user).\n"
"\n"
"  list      one line per cached domain: mode, id, expiry, state\n"
"  show      everything cached for DOMAIN, including the policy text and\n"
"            the last failed fetch\n"
"  flush     forget DOMAIN, or every domain\n"
"  refresh   fetch every cached domain's policy again now; a failure keeps\n"
"            the cached policy. Run it daily, e.g. from cron:\n"
"              17 3 * * *  mtasts cache refresh\n"
"            or with scripts/mtasts-refresh.timer (systemd).\n"
"\n"
"exit status: 0 done, 1 DOMAIN not cached, 2 usage or cache directory\n"
"error, 3 (refresh) some domain could not be refreshed and has no valid\n"
"cached policy.\n";

static const char *entry_state(const struct mts_cache_entry *e, int64_t now)
{
	if (e->text.len == 0)
		return "no-policy";
	if (now >= e->expires_at)
		return "expired";
	if (e->failed_at != 0)
		return "valid,last-fetch-failed";
	return "valid";
}

static const char *entry_mode(const struct mts_cache_entry *e,
			      struct mts_policy *p)
{
	if (e->text.len == 0 ||
	    mts_policy_parse(e->text.data, e->text.len, p, NULL) < 0)
		return "-";
	return mts_mode_name(p->mode);
}

static int cache_list(const struct mts_config *cfg)
{
	struct mts_strlist domains = MTS_STRLIST_INIT;
	char err[512], t[32];
	int64_t now = time(NULL);

	if (mts_cache_list(cfg->cache_dir, &domains, err, sizeof(err)) < 0) {
		fprintf(stderr, "mtasts: cache: %s\n", err);
		return EXIT_USAGE;
	}
	printf("%-32s %-8s %-32s %-20s %s\n", "DOMAIN", "MODE", "ID",
	       "EXPIRES", "STATE");
	for (size_t i = 0; i < domains.count; i++) {
		struct mts_cache_entry e;
		struct mts_policy p = MTS_POLICY_INIT;

		mts_cache_entry_init(&e);
		if (mts_cache_load(cfg->cache_dir, domains.item[i], &e, err,
				   sizeof(err)) == 0)
			printf("%-32s %-8s %-32s %-20s %s\n", e.domain,
			       entry_mode(&e, &p), e.id[0] ? e.id : "-",
			       cli_time(e.expires_at, t, sizeof(t)),
			       entry_state(&e, now));
		mts_policy_free(&p);
		mts_cache_entry_free(&e);
	}
	mts_strlist_free(&domains);
	return 0;
}

static int cache_show(const struct mts_config *cfg, const char *domain)
{
	struct mts_cache_entry e;
	char err[512], t[32];
	int rc;

	mts_cache_entry_init(&e);
	rc = mts_cache_load(cfg->cache_dir, domain, &e, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "mtasts: cache: %s\n", err);
		return EXIT_USAGE;
	}
	if (rc == 1) {
		fprintf(stderr, "mtasts: cache: %s is not cached\n", domain);
		mts_cache_entry_free(&e);
		return EXIT_NEGATIVE;
	}
	printf("domain: %s\n", e.domain);
	printf("id: %s\n", e.id[0] ? e.id : "-");
	printf("fetched_at: %s\n", cli_time(e.fetched_at, t, sizeof(t)));
	printf("expires_at: %s\n", cli_time(e.expires_at, t, sizeof(t)));
	printf("state: %s\n", entry_state(&e, time(NULL)));
	if (e.failed_at != 0) {
		printf("failed_at: %s\n", cli_time(e.failed_at, t, sizeof(t)));
		printf("failed_id: %s\n", e.failed_id[0] ? e.failed_id : "-");
		printf("failed_reason: %s\n", e.failed_reason);
	}
	if (e.text.len) {
		printf("policy:\n");
		fwrite(e.text.data, 1, e.text.len, stdout);
		if (e.text.data[e.text.len - 1] != '\n')
			putchar('\n');
	}
	mts_cache_entry_free(&e);
	return 0;
}

static int cache_flush(const struct mts_config *cfg, const char *domain)
{
	struct mts_strlist domains = MTS_STRLIST_INIT;
	char err[512];
	int rc = 0;

	if (domain) {
		rc = mts_cache_remove(cfg->cache_dir, domain, err, sizeof(err));
		if (rc < 0)
			fprintf(stderr, "mtasts: cache: %s\n", err);
		else if (rc == 1)
			fprintf(stderr, "mtasts: cache: %s is not cached\n",
				domain);
		return rc < 0 ? EXIT_USAGE : rc;
	}
	if (mts_cache_list(cfg->cache_dir, &domains, err, sizeof(err)) < 0) {
		fprintf(stderr, "mtasts: cache: %s\n", err);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < domains.count; i++)
		if (mts_cache_remove(cfg->cache_dir, domains.item[i], err,
				     sizeof(err)) < 0) {
			fprintf(stderr, "mtasts: cache: %s\n", err);
			rc = EXIT_USAGE;
		}
	printf("flushed %zu domain%s\n", domains.count,
	       domains.count == 1 ? "" : "s");
	mts_strlist_free(&domains);
	return rc;
}

static int cache_refresh(const struct mts_config *cfg)
{
	struct mts_strlist domains = MTS_STRLIST_INIT;
	char err[512];
	int rc = 0;

	if (mts_cache_list(cfg->cache_dir, &domains, err, sizeof(err)) < 0) {
		fprintf(stderr, "mtasts: cache: %s\n", err);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < domains.count; i++) {
		struct mts_result r;
		enum mts_status st;

		mts_result_init(&r);
		st = mts_engine_lookup(cfg, domains.item[i], MTS_LOOKUP_FRESH, &r);
		if (st == MTS_POLICY && r.source == MTS_SRC_NETWORK)
			printf("%s: refreshed (mode %s, id %s)\n",
			       domains.item[i], mts_mode_name(r.policy.mode), r.id);
		else if (st == MTS_POLICY)
			printf("%s: kept cached policy: %s\n", domains.item[i],
			       r.reason);
		else if (st == MTS_NO_POLICY)
			printf("%s: publishes no policy: %s\n", domains.item[i],
			       r.reason);
		else {
			printf("%s: failed: %s\n", domains.item[i], r.reason);
			rc = EXIT_TEMPFAIL;
		}
		mts_result_free(&r);
	}
	mts_strlist_free(&domains);
	return rc;
}

int cmd_cache(int argc, char **argv)
{
	struct mts_config cfg;
	char err[512];
	const char *sub, *why;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
			  strcmp(argv[1], "-h") == 0)) {
		fputs(cli_usage_cache, stdout);
		return 0;
	}
	if (argc < 2)
		return cli_usage_error(cli_usage_cache, "cache: need a subcommand");
	sub = argv[1];
	if ((strcmp(sub, "list") == 0 || strcmp(sub, "refresh") == 0) &&
	    argc != 2)
		return cli_usage_error(cli_usage_cache, "cache %s: no arguments",
				       sub);
	if (strcmp(sub, "show") == 0 && argc != 3)
		return cli_usage_error(cli_usage_cache, "cache show: need DOMAIN");
	if (strcmp(sub, "flush") == 0 && argc > 3)
		return cli_usage_error(cli_usage_cache,
				       "cache flush: one DOMAIN at most");
	if (argc == 3 && (why = mts_hostname_check(argv[2])) != NULL)
		return cli_usage_error(cli_usage_cache,
				       "cache: \"%s\" is not a domain name: %s",
				       argv[2], why);
	if (cli_setup(&cfg) < 0)
		return EXIT_USAGE;
	if (mts_cache_dir_check(cfg.cache_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "mtasts: cache: %s\n", err);
		return EXIT_USAGE;
	}
	if (strcmp(sub, "list") == 0)
		return cache_list(&cfg);
	if (strcmp(sub, "show") == 0)
		return cache_show(&cfg, argv[2]);
	if (strcmp(sub, "flush") == 0)
		return cache_flush(&cfg, argc == 3 ? argv[2] : NULL);
	if (strcmp(sub, "refresh") == 0)
		return cache_refresh(&cfg);
	return cli_usage_error(cli_usage_cache, "cache: unknown subcommand \"%s\"",
			       sub);
}
