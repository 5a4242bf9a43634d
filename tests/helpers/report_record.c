/*
 * report_record.c - record TLSRPT sessions through the real spool API
 *
 * SYNOPSIS
 *	report_record --dir DIR --domain DOMAIN [options]
 *	  --time UNIX | --day YYYY-MM-DD   when (default now; --day: noon UTC)
 *	  --type sts|none                  policy type (default sts)
 *	  --policy-file FILE               the policy text (sts)
 *	  --mx HOST --sip IP --rip IP --helo NAME
 *	  --result NAME                    success (default) or an RFC 8460
 *	                                   result type
 *	  --reason TEXT --info URI
 *	  --count N                        record N sessions (default 1)
 *	  --procs P                        in P processes at once, each N
 *	                                   (they start together)
 *
 * DESCRIPTION
 *	A test helper for tests/integration/t_report_*.sh: it fills one
 *	struct mts_tlsrpt_session exactly as the relay does and calls
 *	mts_tlsrpt_record(), so the tests exercise the same code path. With
 *	--procs, the reason of each record is suffixed " p<P>/<i>" so a test
 *	can check that no record was lost or torn.
 *
 *	Built by the Makefile rule for tests/helpers/report_*.c, which links
 *	build/libmtastspolicy.a (see docs/TLSRPT.md); the tests build it
 *	themselves when that rule is missing.
 *
 * EXIT STATUS
 *	0 when every session was recorded; 1 otherwise (messages on stderr);
 *	2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../policy/buf.h"
#include "../../policy/policy.h"
#include "../../policy/tlsrpt.h"

static void usage(void)
{
	fputs("usage: report_record --dir DIR --domain DOMAIN [--time T | "
	      "--day D] [--type sts|none]\n"
	      "  [--policy-file F] [--mx H] [--sip IP] [--rip IP] [--helo N] "
	      "[--result R]\n"
	      "  [--reason S] [--info URI] [--count N] [--procs P]\n", stderr);
	exit(2);
}

static long number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0' || errno || v < min || v > max)
		usage();
	return v;
}

static int read_policy(const char *path, struct mts_buf *text)
{
	char chunk[4096];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (text->len + n > MTS_POLICY_MAX_BYTES ||
		    mts_buf_append(text, chunk, n) < 0) {
			fclose(f);
			fprintf(stderr, "%s: too large\n", path);
			return -1;
		}
	fclose(f);
	return 0;
}

/* Records count sessions; proc >= 0 tags each reason. */
static int record_many(const char *dir, const struct mts_tlsrpt_session *tpl,
		       long count, int proc)
{
	struct mts_tlsrpt_session s = *tpl;
	char reason[1200], err[512];
	int failed = 0;

	for (long i = 0; i < count; i++) {
		if (proc >= 0) {
			if (tpl->failure_reason != NULL)
				snprintf(reason, sizeof(reason), "%.1000s p%d/%ld",
					 tpl->failure_reason, proc, i);
			else
				snprintf(reason, sizeof(reason), "p%d/%ld",
					 proc, i);
			s.failure_reason = reason;
		}
		if (mts_tlsrpt_record(dir, &s, err, sizeof(err)) < 0) {
			fprintf(stderr, "report_record: %s\n", err);
			failed++;
		}
	}
	return failed ? 1 : 0;
}

static int record_parallel(const char *dir,
			   const struct mts_tlsrpt_session *tpl, long count,
			   long procs)
{
	int go[2], bad = 0;
	pid_t *pids = calloc((size_t)procs, sizeof(*pids));

	if (pids == NULL || pipe(go) < 0)
		return 1;
	for (long p = 0; p < procs; p++) {
		pids[p] = fork();
		if (pids[p] < 0)
			return 1;
		if (pids[p] == 0) {
			char c;

			close(go[1]);
			/* Everyone waits for the pipe to close: all start
			 * at the same moment. */
			if (read(go[0], &c, 1) < 0)
				_exit(1);
			_exit(record_many(dir, tpl, count, (int)p));
		}
	}
	close(go[0]);
	close(go[1]);
	for (long p = 0; p < procs; p++) {
		int st;

		if (waitpid(pids[p], &st, 0) != pids[p] || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			bad = 1;
	}
	free(pids);
	return bad;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "domain", required_argument, NULL, 'D' },
		{ "time", required_argument, NULL, 't' },
		{ "day", required_argument, NULL, 'y' },
		{ "type", required_argument, NULL, 'T' },
		{ "policy-file", required_argument, NULL, 'p' },
		{ "mx", required_argument, NULL, 'm' },
		{ "sip", required_argument, NULL, 's' },
		{ "rip", required_argument, NULL, 'r' },
		{ "helo", required_argument, NULL, 'h' },
		{ "result", required_argument, NULL, 'R' },
		{ "reason", required_argument, NULL, 'e' },
		{ "info", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "procs", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	struct mts_tlsrpt_session s;
	struct mts_buf text = MTS_BUF_INIT;
	const char *dir = NULL;
	long count = 1, procs = 0;
	int64_t start;
	int c, rc;

	mts_tlsrpt_session_init(&s);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'D': s.policy_domain = optarg; break;
		case 't': s.time = number(optarg, 1, 253402300799L); break;
		case 'y':
			if (mts_tlsrpt_day_parse(optarg, &start) < 0)
				usage();
			s.time = start + 43200;
			break;
		case 'T':
			if (strcmp(optarg, "sts") == 0)
				s.policy_type = MTS_TLSRPT_POLICY_STS;
			else if (strcmp(optarg, "none") == 0)
				s.policy_type = MTS_TLSRPT_POLICY_NO_POLICY;
			else
				usage();
			break;
		case 'p':
			if (read_policy(optarg, &text) < 0)
				return 1;
			s.policy_text = text.data;
			s.policy_text_len = text.len;
			break;
		case 'm': s.mx_host = optarg; break;
		case 's': s.sending_ip = optarg; break;
		case 'r': s.receiving_ip = optarg; break;
		case 'h': s.receiving_helo = optarg; break;
		case 'R':
			if (mts_tlsrpt_result_parse(optarg, &s.result) < 0) {
				fprintf(stderr, "unknown result %s\n", optarg);
				return 2;
			}
			break;
		case 'e': s.failure_reason = optarg; break;
		case 'i': s.additional_info = optarg; break;
		case 'c': count = number(optarg, 1, 1000000); break;
		case 'P': procs = number(optarg, 1, 1000); break;
		default: usage();
		}
	}
	if (dir == NULL || s.policy_domain == NULL || optind != argc)
		usage();
	rc = procs > 0 ? record_parallel(dir, &s, count, procs)
		       : record_many(dir, &s, count, -1);
	mts_buf_free(&text);
	return rc;
}
