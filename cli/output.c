/*
 * output.c - shared output of the `mtasts` command: times, JSON, results
 */
#include "cli.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "buf.h"

int cli_setup(struct mts_config *cfg)
{
	char err[512];

	if (mts_config_load(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "mtasts: %s\n", err);
		return -1;
	}
	if (mts_log_init("mtasts", cfg->log_target, cfg->log_level,
			 err, sizeof(err)) < 0) {
		fprintf(stderr, "mtasts: MTASTS_LOG: %s\n", err);
		return -1;
	}
	return 0;
}

const char *cli_time(int64_t t, char *out, size_t outlen)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		mts_strlcpy(out, "-", outlen);
	return out;
}

void cli_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20 || *p >= 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static const char *source_name(enum mts_source s)
{
	switch (s) {
	case MTS_SRC_CACHE: return "cache";
	case MTS_SRC_NETWORK: return "network";
	default: return "none";
	}
}

static void print_json(FILE *f, const char *domain, const struct mts_result *r)
{
	const struct mts_policy *p = &r->policy;
	char t1[32], t2[32];

	fputs("{\"domain\":", f);
	cli_json_string(f, domain);
	fputs(",\"mode\":", f);
	cli_json_string(f, mts_mode_name(p->mode));
	fputs(",\"mx\":[", f);
	for (size_t i = 0; i < p->mx.count; i++) {
		if (i)
			fputc(',', f);
		cli_json_string(f, p->mx.item[i]);
	}
	fprintf(f, "],\"max_age\":%u,\"id\":", (unsigned)p->max_age);
	cli_json_string(f, r->id);
	fputs(",\"fetched_at\":", f);
	cli_json_string(f, cli_time(r->fetched_at, t1, sizeof(t1)));
	fputs(",\"expires_at\":", f);
	cli_json_string(f, cli_time(r->expires_at, t2, sizeof(t2)));
	fputs(",\"source\":", f);
	cli_json_string(f, source_name(r->source));
	fputs("}\n", f);
}

void cli_print_result(FILE *f, const char *domain, const struct mts_result *r,
		      int json)
{
	const struct mts_policy *p = &r->policy;
	char t[32];

	if (json) {
		print_json(f, domain, r);
		return;
	}
	fprintf(f, "domain: %s\n", domain);
	fprintf(f, "mode: %s\n", mts_mode_name(p->mode));
	for (size_t i = 0; i < p->mx.count; i++)
		fprintf(f, "mx: %s\n", p->mx.item[i]);
	fprintf(f, "max_age: %u\n", (unsigned)p->max_age);
	fprintf(f, "id: %s\n", r->id);
	fprintf(f, "fetched_at: %s\n", cli_time(r->fetched_at, t, sizeof(t)));
	fprintf(f, "expires_at: %s\n", cli_time(r->expires_at, t, sizeof(t)));
	fprintf(f, "source: %s\n", source_name(r->source));
}

int cli_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fputs("mtasts: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage);
	return EXIT_USAGE;
}
