/*
 * cmd_policy.c - `mtasts policy DOMAIN [--json] [--fresh]`
 *
 * DESCRIPTION
 *	Prints the policy that applies to DOMAIN now, from the cache while it
 *	is valid (after checking the TXT id), else from the network. The exit
 *	status is the engine's: 0 policy, 1 none published, 3 temporary
 *	failure with nothing usable cached.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "match.h"

const char cli_usage_policy[] =
"usage: mtasts policy DOMAIN [--json] [--fresh]\n"
"\n"
"Print the MTA-STS policy that applies to DOMAIN now: mode, mx patterns,\n"
"max_age, id, when it was fetched, when it expires and where it came from.\n"
"A cached policy is used while it is valid and its id matches the TXT\n"
"record _mta-sts.DOMAIN; otherwise the policy is fetched from\n"
"https://mta-sts.DOMAIN/.well-known/mta-sts.txt and cached.\n"
"\n"
"  --json    print one JSON object: domain, mode, mx, max_age, id,\n"
"            fetched_at, expires_at, source (cache or network)\n"
"  --fresh   ignore the cache and the 5-minute retry backoff; fetch now\n"
"\n"
"exit status: 0 a policy (any mode), 1 the domain publishes none,\n"
"2 usage error, 3 temporary failure and nothing usable cached.\n";

int cmd_policy(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "fresh", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mts_config cfg;
	struct mts_result r;
	unsigned flags = 0;
	int json = 0, c, status;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jfh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'f': flags |= MTS_LOOKUP_FRESH; break;
		case 'h': fputs(cli_usage_policy, stdout); return 0;
		default: fputs(cli_usage_policy, stderr); return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(cli_usage_policy, "policy: need one DOMAIN");
	if (mts_hostname_check(argv[optind]) != NULL)
		return cli_usage_error(cli_usage_policy,
				       "policy: \"%s\" is not a domain name: %s",
				       argv[optind], mts_hostname_check(argv[optind]));
	if (cli_setup(&cfg) < 0)
		return EXIT_USAGE;

	mts_result_init(&r);
	status = mts_engine_lookup(&cfg, argv[optind], flags, &r);
	switch (status) {
	case MTS_POLICY:
		if (r.failure != MTS_FAIL_NONE)
			fprintf(stderr, "mtasts: note: %s (%s); the cached "
				"policy stays in force\n", r.reason,
				mts_failure_name(r.failure));
		cli_print_result(stdout, argv[optind], &r, json);
		break;
	case MTS_NO_POLICY:
		fprintf(stderr, "mtasts: %s publishes no MTA-STS policy: %s\n",
			argv[optind], r.reason);
		break;
	default:
		fprintf(stderr, "mtasts: %s: temporary failure: %s\n",
			argv[optind], r.reason);
		status = EXIT_TEMPFAIL;
		break;
	}
	mts_result_free(&r);
	return status;
}
