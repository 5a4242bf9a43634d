/*
 * cmd_check.c - `mtasts check DOMAIN MXHOST`
 *
 * DESCRIPTION
 *	Answers whether delivery for DOMAIN may go to MXHOST under the policy
 *	in force (RFC 8461 section 4.1 matching). Only `enforce` refuses;
 *	`testing` allows but says what would be refused. The TLS
 *	requirements that come with an allowed host are printed too: they
 *	are checked by the relay at connection time, not here.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "match.h"

const char cli_usage_check[] =
"usage: mtasts check DOMAIN MXHOST [--json]\n"
"\n"
"Would delivery of mail for DOMAIN to the MX host MXHOST be allowed under\n"
"DOMAIN's MTA-STS policy? Under mode enforce the host must match one of the\n"
"policy's mx patterns (and will need STARTTLS with a valid certificate for\n"
"MXHOST); under testing, none, or without a policy it is allowed.\n"
"\n"
"  --json    print {\"domain\", \"mx\", \"allowed\", \"mode\", \"reason\"}\n"
"\n"
"exit status: 0 allowed, 1 refused (the reason is printed), 2 usage error,\n"
"3 temporary failure and nothing usable cached.\n";

static void report(int json, const char *domain, const char *mx, int allowed,
		   const char *mode, const char *reason)
{
	if (!json) {
		printf("%s: %s for %s: %s\n", allowed ? "allowed" : "refused",
		       mx, domain, reason);
		return;
	}
	fputs("{\"domain\":", stdout);
	cli_json_string(stdout, domain);
	fputs(",\"mx\":", stdout);
	cli_json_string(stdout, mx);
	printf(",\"allowed\":%s,\"mode\":", allowed ? "true" : "false");
	cli_json_string(stdout, mode);
	fputs(",\"reason\":", stdout);
	cli_json_string(stdout, reason);
	fputs("}\n", stdout);
}

static int decide(int json, const char *domain, const char *mx,
		  const struct mts_result *r)
{
	const struct mts_policy *p = &r->policy;
	const char *mode = mts_mode_name(p->mode);
	int listed;

	if (r->status == MTS_NO_POLICY) {
		report(json, domain, mx, 1, "no-policy",
		       "the domain publishes no MTA-STS policy");
		return 0;
	}
	if (p->mode == MTS_MODE_NONE) {
		report(json, domain, mx, 1, mode, "policy mode is none");
		return 0;
	}
	listed = mts_policy_mx_allowed(p, mx);
	if (p->mode == MTS_MODE_TESTING) {
		report(json, domain, mx, 1, mode, listed ?
		       "listed; testing mode: TLS failures are reported, not enforced" :
		       "not listed (mx-not-listed), but testing mode only reports it");
		return 0;
	}
	if (!listed) {
		report(json, domain, mx, 0, mode,
		       "MX host not listed in the enforce policy (mx-not-listed)");
		return EXIT_NEGATIVE;
	}
	report(json, domain, mx, 1, mode,
	       "listed; STARTTLS with a certificate valid for this name is required");
	return 0;
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mts_config cfg;
	struct mts_result r;
	const char *domain, *mx, *why;
	int json = 0, c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'h': fputs(cli_usage_check, stdout); return 0;
		default: fputs(cli_usage_check, stderr); return EXIT_USAGE;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error(cli_usage_check,
				       "check: need DOMAIN and MXHOST");
	domain = argv[optind];
	mx = argv[optind + 1];
	if ((why = mts_hostname_check(domain)) != NULL)
		return cli_usage_error(cli_usage_check,
				       "check: \"%s\" is not a domain name: %s",
				       domain, why);
	if ((why = mts_hostname_check(mx)) != NULL)
		return cli_usage_error(cli_usage_check,
				       "check: \"%s\" is not a host name: %s",
				       mx, why);
	if (cli_setup(&cfg) < 0)
		return EXIT_USAGE;

	mts_result_init(&r);
	if (mts_engine_lookup(&cfg, domain, 0, &r) == MTS_TEMPFAIL) {
		fprintf(stderr, "mtasts: %s: temporary failure: %s\n", domain,
			r.reason);
		rc = EXIT_TEMPFAIL;
	} else {
		rc = decide(json, domain, mx, &r);
	}
	mts_result_free(&r);
	return rc;
}
