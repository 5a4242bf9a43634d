/*
 * cli.h - what the subcommands of `mtasts` share
 *
 * DESCRIPTION
 *	Each subcommand is a function taking argc/argv (argv[0] is the
 *	subcommand's name) and returning the process exit status:
 *	  0  success / policy found / allowed
 *	  1  negative answer (no policy, invalid file, refused)
 *	  2  usage or configuration error
 *	  3  temporary failure with nothing usable cached
 *	Output helpers write times as RFC 3339 UTC and strings as JSON.
 */
#ifndef MTS_CLI_H
#define MTS_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "engine.h"

#define EXIT_NEGATIVE 1
#define EXIT_USAGE 2
#define EXIT_TEMPFAIL 3

int cmd_policy(int argc, char **argv);
int cmd_lint(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_cache(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_doctor(int argc, char **argv);

/* Loads the configuration and starts logging; prints the problem and
 * returns -1 on a bad environment. */
int cli_setup(struct mts_config *cfg);

/* "2026-11-29T02:40:00Z" into out[32]; "-" for 0. */
const char *cli_time(int64_t t, char *out, size_t outlen);
void cli_json_string(FILE *f, const char *s);
/* Prints a lookup result as text or one JSON object. */
void cli_print_result(FILE *f, const char *domain,
		      const struct mts_result *r, int json);

/* Usage texts, printed by --help and on errors. */
extern const char cli_usage_policy[], cli_usage_lint[], cli_usage_check[],
	cli_usage_cache[], cli_usage_report[], cli_usage_doctor[];
int cli_usage_error(const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
