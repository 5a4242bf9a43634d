/*
 * cmd_lint.c - `mtasts lint [FILE|-] [--json]`
 *
 * DESCRIPTION
 *	Validates a policy file as a domain owner would before publishing it,
 *	with exactly the parser the senders use. Valid: the normalised policy
 *	on stdout, exit 0. Invalid: every problem with its line number on
 *	stderr, exit 1. Notes (e.g. an ignored duplicate key) go to stderr
 *	either way. Reads at most one byte more than a policy may have, so an
 *	oversized file is reported without reading it all.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "policy.h"

const char cli_usage_lint[] =
"usage: mtasts lint [FILE|-] [--json]\n"
"\n"
"Validate an MTA-STS policy file (the body of\n"
"https://mta-sts.DOMAIN/.well-known/mta-sts.txt) with the same strict\n"
"parser that senders use: version, mode, mx patterns, max_age, line ends,\n"
"sizes. Reads FILE, or standard input when FILE is - or absent.\n"
"\n"
"  --json    print {\"valid\", \"mode\", \"mx\", \"max_age\", \"problems\":[...]}\n"
"\n"
"A valid file is printed normalised on stdout. Every problem is printed on\n"
"stderr as \"FILE:LINE: error: TEXT\" (LINE 0 concerns the whole file).\n"
"\n"
"exit status: 0 valid, 1 invalid, 2 usage error or unreadable file.\n";

static int read_all(int fd, struct mts_buf *out)
{
	char chunk[8192];
	ssize_t n;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if (mts_buf_append(out, chunk, (size_t)n) < 0)
			return -1;
		if (out->len > MTS_POLICY_MAX_BYTES)
			return 0;	/* the parser reports the size */
	}
}

static void print_problems(const char *name, const struct mts_diag *d)
{
	for (size_t i = 0; i < d->count; i++)
		fprintf(stderr, "%s:%u: %s: %s\n", name, d->item[i].line,
			d->item[i].is_error ? "error" : "note", d->item[i].text);
	if (d->dropped)
		fprintf(stderr, "%s: ... and %zu more problems\n", name,
			d->dropped);
}

static void print_json(const struct mts_policy *p, const struct mts_diag *d,
		       int valid)
{
	printf("{\"valid\":%s", valid ? "true" : "false");
	if (valid) {
		fputs(",\"mode\":", stdout);
		cli_json_string(stdout, mts_mode_name(p->mode));
		fputs(",\"mx\":[", stdout);
		for (size_t i = 0; i < p->mx.count; i++) {
			if (i)
				putchar(',');
			cli_json_string(stdout, p->mx.item[i]);
		}
		printf("],\"max_age\":%u", (unsigned)p->max_age);
	}
	fputs(",\"problems\":[", stdout);
	for (size_t i = 0; i < d->count; i++) {
		printf("%s{\"line\":%u,\"error\":%s,\"text\":", i ? "," : "",
		       d->item[i].line, d->item[i].is_error ? "true" : "false");
		cli_json_string(stdout, d->item[i].text);
		putchar('}');
	}
	printf("],\"more_problems\":%zu}\n", d->dropped);
}

int cmd_lint(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mts_policy p = MTS_POLICY_INIT;
	struct mts_buf text = MTS_BUF_INIT, norm = MTS_BUF_INIT;
	struct mts_diag diag;
	const char *path = "-", *name = "<stdin>";
	int json = 0, c, fd = 0, valid, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'h': fputs(cli_usage_lint, stdout); return 0;
		default: fputs(cli_usage_lint, stderr); return EXIT_USAGE;
		}
	}
	if (argc - optind > 1)
		return cli_usage_error(cli_usage_lint, "lint: one FILE at most");
	if (argc - optind == 1)
		path = argv[optind];
	if (strcmp(path, "-") != 0) {
		name = path;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "mtasts: lint: %s: %s\n", path,
				strerror(errno));
			return EXIT_USAGE;
		}
	}
	rc = read_all(fd, &text);
	if (fd != 0)
		close(fd);
	if (rc < 0) {
		fprintf(stderr, "mtasts: lint: %s: %s\n", name, strerror(errno));
		mts_buf_free(&text);
		return EXIT_USAGE;
	}

	memset(&diag, 0, sizeof(diag));
	valid = mts_policy_parse(text.data ? text.data : "", text.len, &p,
				 &diag) == 0;
	print_problems(name, &diag);
	if (json)
		print_json(&p, &diag, valid);
	else if (valid && mts_policy_format(&p, 0, &norm) == 0)
		fputs(mts_buf_str(&norm), stdout);
	if (!valid && !json)
		fprintf(stderr, "%s: invalid policy (%zu error%s)\n", name,
			diag.errors, diag.errors == 1 ? "" : "s");
	mts_policy_free(&p);
	mts_buf_free(&norm);
	mts_buf_free(&text);
	return valid ? 0 : EXIT_NEGATIVE;
}
