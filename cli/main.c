/*
 * main.c - `mtasts`: the MTA-STS policy engine on the command line
 *
 * DESCRIPTION
 *	Dispatches to one subcommand per file (cmd_*.c). `mtasts help CMD`
 *	and `mtasts CMD --help` print the same text as the man page section
 *	for CMD; mtasts(1) has the whole story.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#ifndef MTS_VERSION
#define MTS_VERSION "0.1.0"
#endif

static const char usage_main[] =
"usage: mtasts COMMAND [ARG...]\n"
"\n"
"Look up, check and cache MTA-STS policies (RFC 8461).\n"
"\n"
"commands:\n"
"  policy DOMAIN [--json] [--fresh]   the policy that applies to DOMAIN now\n"
"  check DOMAIN MXHOST [--json]       may mail for DOMAIN go to MXHOST?\n"
"  lint [FILE|-] [--json]             validate a policy file before publishing\n"
"  cache list|show|flush|refresh      inspect and manage the shared cache\n"
"  report [--send] [--dry-run] ...    build and send TLSRPT reports (RFC 8460)\n"
"  doctor COMMAND|PATH [--json]       will libmtasts.so cover this program?\n"
"  help [COMMAND]                     this text, or a command's own\n"
"\n"
"exit status: 0 yes/policy, 1 no/none/invalid, 2 usage or configuration\n"
"error, 3 temporary failure with nothing usable cached.\n"
"\n"
"environment: MTASTS_DNS_SERVERS, MTASTS_CA_FILE, MTASTS_CA_PATH,\n"
"MTASTS_CACHE_DIR, MTASTS_TIMEOUT, MTASTS_LOG, MTASTS_LOG_LEVEL (see mtasts(1)).\n";

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
};

static const struct command commands[] = {
	{ "policy", cmd_policy, cli_usage_policy },
	{ "check", cmd_check, cli_usage_check },
	{ "lint", cmd_lint, cli_usage_lint },
	{ "cache", cmd_cache, cli_usage_cache },
	{ "report", cmd_report, cli_usage_report },
	{ "doctor", cmd_doctor, cli_usage_doctor },
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct command *cmd;

	if (argc < 2) {
		fputs(usage_main, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage_main, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("mtasts %s\n", MTS_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			fputs(usage_main, stdout);
			return 0;
		}
		if ((cmd = find_command(argv[2])) == NULL)
			return cli_usage_error(usage_main,
					       "unknown command \"%s\"", argv[2]);
		fputs(cmd->usage, stdout);
		return 0;
	}
	if ((cmd = find_command(argv[1])) == NULL)
		return cli_usage_error(usage_main, "unknown command \"%s\"",
				       argv[1]);
	return cmd->run(argc - 1, argv + 1);
}
