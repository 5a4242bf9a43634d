/*
 * test_tlsrpt.c - unit tests of policy/tlsrpt.c: records, spool, TXT record
 *
 * DESCRIPTION
 *	Format and parse of spool lines (escaping, truncation, CRC), the
 *	spool on disk (day files, policy side files, damaged lines skipped,
 *	the size cap, permissions), 50 processes appending at once without
 *	losing or tearing a record, day arithmetic, and the _smtp._tls TXT
 *	record rules of RFC 8460 section 3.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "tlsrpt.h"

extern char **environ;

static char tmpdir[] = "/tmp/test_tlsrpt.XXXXXX";
static char report_dir[256];

static const char policy_text[] =
	"version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\n"
	"mx: *.backup.example.com\r\nmax_age: 86400\r\n";

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(report_dir, sizeof(report_dir), "%s/reports", tmpdir);
}

static void teardown(void)
{
	char *argv[] = { "rm", "-rf", tmpdir, NULL };
	pid_t pid;
	int st;

	if (posix_spawnp(&pid, "rm", NULL, NULL, argv, environ) == 0)
		waitpid(pid, &st, 0);
	memcpy(tmpdir + strlen(tmpdir) - 6, "XXXXXX", 6);
}

static void full_session(struct mts_tlsrpt_session *s)
{
	mts_tlsrpt_session_init(s);
	s->time = 1735732800;	/* 2025-01-01T12:00:00Z */
	s->policy_domain = "Example.COM";
	s->policy_type = MTS_TLSRPT_POLICY_STS;
	s->policy_text = policy_text;
	s->policy_text_len = sizeof(policy_text) - 1;
	s->mx_host = "MX1.example.com.";
	s->sending_ip = "192.0.2.10";
	s->receiving_ip = "2001:db8::25";
	s->receiving_helo = "mx1.example.com";
	s->result = MTS_TLSRPT_CERT_EXPIRED;
	s->failure_reason = "X509_V_ERR_CERT_HAS_EXPIRED";
	s->additional_info = "https://example.org/info#expired";
}

/* ---- names and days ---- */

START_TEST(session_init_defaults)
{
	struct mts_tlsrpt_session s;

	memset(&s, 0x5a, sizeof(s));
	mts_tlsrpt_session_init(&s);
	ck_assert_int_eq(s.time, 0);
	ck_assert_ptr_null(s.policy_domain);
	ck_assert_ptr_null(s.policy_text);
	ck_assert_int_eq(s.policy_type, MTS_TLSRPT_POLICY_STS);
	ck_assert_int_eq(s.result, MTS_TLSRPT_SUCCESS);
}
END_TEST

START_TEST(result_names_round_trip)
{
	static const char *const want[] = {
		"success", "starttls-not-supported",
		"certificate-host-mismatch", "certificate-expired",
		"certificate-not-trusted", "validation-failure",
		"sts-policy-fetch-error", "sts-policy-invalid",
		"sts-webpki-invalid",
	};
	enum mts_tlsrpt_result r;

	for (int i = 0; i < MTS_TLSRPT_RESULT_COUNT; i++) {
		ck_assert_str_eq(mts_tlsrpt_result_name(i), want[i]);
		ck_assert_int_eq(mts_tlsrpt_result_parse(want[i], &r), 0);
		ck_assert_int_eq(r, i);
	}
	ck_assert_str_eq(mts_tlsrpt_result_name(MTS_TLSRPT_RESULT_COUNT), "?");
	ck_assert_int_eq(mts_tlsrpt_result_parse("tlsa-invalid", &r), -1);
	ck_assert_int_eq(mts_tlsrpt_result_parse("Success", &r), -1);
	ck_assert_str_eq(mts_tlsrpt_policy_type_name(MTS_TLSRPT_POLICY_STS),
			 "sts");
	ck_assert_str_eq(mts_tlsrpt_policy_type_name(
				 MTS_TLSRPT_POLICY_NO_POLICY),
			 "no-policy-found");
}
END_TEST

START_TEST(result_from_engine_failure)
{
	ck_assert_int_eq(mts_tlsrpt_result_from_failure(MTS_FAIL_FETCH),
			 MTS_TLSRPT_STS_POLICY_FETCH_ERROR);
	ck_assert_int_eq(mts_tlsrpt_result_from_failure(MTS_FAIL_INVALID),
			 MTS_TLSRPT_STS_POLICY_INVALID);
	ck_assert_int_eq(mts_tlsrpt_result_from_failure(MTS_FAIL_WEBPKI),
			 MTS_TLSRPT_STS_WEBPKI_INVALID);
	ck_assert_int_eq(mts_tlsrpt_result_from_failure(MTS_FAIL_NONE),
			 MTS_TLSRPT_SUCCESS);
	ck_assert_int_eq(mts_tlsrpt_result_from_failure(MTS_FAIL_DNS),
			 MTS_TLSRPT_SUCCESS);
}
END_TEST

START_TEST(day_arithmetic)
{
	char day[11];
	int64_t t;

	ck_assert_int_eq(mts_tlsrpt_day_of(0, day), 0);
	ck_assert_str_eq(day, "1970-01-01");
	ck_assert_int_eq(mts_tlsrpt_day_of(1735732800, day), 0);
	ck_assert_str_eq(day, "2025-01-01");
	ck_assert_int_eq(mts_tlsrpt_day_of(1735775999, day), 0);
	ck_assert_str_eq(day, "2025-01-01");
	ck_assert_int_eq(mts_tlsrpt_day_of(1735776000, day), 0);
	ck_assert_str_eq(day, "2025-01-02");
	ck_assert_int_eq(mts_tlsrpt_day_of(-1, day), -1);

	ck_assert_int_eq(mts_tlsrpt_day_parse("2025-01-01", &t), 0);
	ck_assert_int_eq(t, 1735689600);
	ck_assert_int_eq(mts_tlsrpt_day_parse("2024-02-29", &t), 0);
	ck_assert_int_eq(mts_tlsrpt_day_parse("2025-02-29", &t), -1);
	ck_assert_int_eq(mts_tlsrpt_day_parse("2025-02-30", &t), -1);
	ck_assert_int_eq(mts_tlsrpt_day_parse("2025-13-01", &t), -1);
	ck_assert_int_eq(mts_tlsrpt_day_parse("2025-1-01", &t), -1);
	ck_assert_int_eq(mts_tlsrpt_day_parse("2025-01-01x", &t), -1);
	ck_assert_int_eq(mts_tlsrpt_day_parse("../etc/pas", &t), -1);
	ck_assert_int_eq(mts_tlsrpt_day_parse("", &t), -1);
	ck_assert_int_eq(mts_tlsrpt_day_parse(NULL, &t), -1);
}
END_TEST

/* ---- format and parse ---- */

START_TEST(format_parse_round_trip)
{
	struct mts_tlsrpt_session s;
	struct mts_tlsrpt_rec rec;
	struct mts_buf line = MTS_BUF_INIT;
	char err[256];

	full_session(&s);
	ck_assert_int_eq(mts_tlsrpt_format(&s, 1, "0123456789abcdef0123456789"
					   "abcdef0123456789abcdef0123456789abcdef",
					   &line, err, sizeof(err)), 0);
	ck_assert_uint_eq(line.data[line.len - 1], '\n');
	ck_assert_ptr_null(memchr(line.data, '\n', line.len - 1));
	ck_assert_int_eq(strncmp(line.data, "T1\t1735732800\texample.com\tsts\t",
				 30), 0);
	ck_assert_int_eq(mts_tlsrpt_parse(line.data, line.len, &rec), 0);
	ck_assert_int_eq(rec.time, 1735732800);
	ck_assert_str_eq(rec.domain, "example.com");
	ck_assert_int_eq(rec.policy_type, MTS_TLSRPT_POLICY_STS);
	ck_assert_str_eq(rec.policy_hash, "0123456789abcdef0123456789abcdef"
			 "0123456789abcdef0123456789abcdef");
	ck_assert_str_eq(rec.mx_host, "mx1.example.com");
	ck_assert_str_eq(rec.sending_ip, "192.0.2.10");
	ck_assert_str_eq(rec.receiving_ip, "2001:db8::25");
	ck_assert_str_eq(rec.receiving_helo, "mx1.example.com");
	ck_assert_int_eq(rec.result, MTS_TLSRPT_CERT_EXPIRED);
	ck_assert_str_eq(rec.failure_reason, "X509_V_ERR_CERT_HAS_EXPIRED");
	ck_assert_str_eq(rec.additional_info,
			 "https://example.org/info#expired");
	/* Without its LF too. */
	ck_assert_int_eq(mts_tlsrpt_parse(line.data, line.len - 1, &rec), 0);
	mts_buf_free(&line);
}
END_TEST

START_TEST(format_time_zero_means_now_and_no_policy)
{
	struct mts_tlsrpt_session s;
	struct mts_tlsrpt_rec rec;
	struct mts_buf line = MTS_BUF_INIT;
	char err[256];

	mts_tlsrpt_session_init(&s);
	s.policy_domain = "nopolicy.example";
	s.policy_type = MTS_TLSRPT_POLICY_NO_POLICY;
	s.policy_text = policy_text;	/* ignored for no-policy-found */
	s.policy_text_len = 10;
	s.result = MTS_TLSRPT_STARTTLS_NOT_SUPPORTED;
	ck_assert_int_eq(mts_tlsrpt_format(&s, 1700000000, "ab", &line, err,
					   sizeof(err)), 0);
	ck_assert_int_eq(mts_tlsrpt_parse(line.data, line.len, &rec), 0);
	ck_assert_int_eq(rec.time, 1700000000);
	ck_assert_int_eq(rec.policy_type, MTS_TLSRPT_POLICY_NO_POLICY);
	ck_assert_str_eq(rec.policy_hash, "");
	ck_assert_str_eq(rec.mx_host, "");
	ck_assert_str_eq(rec.sending_ip, "");
	ck_assert_str_eq(rec.receiving_helo, "");
	ck_assert_str_eq(rec.failure_reason, "");
	ck_assert_int_eq(rec.result, MTS_TLSRPT_STARTTLS_NOT_SUPPORTED);
	mts_buf_free(&line);
}
END_TEST

START_TEST(format_escapes_hostile_fields)
{
	struct mts_tlsrpt_session s;
	struct mts_tlsrpt_rec rec;
	struct mts_buf line = MTS_BUF_INIT;
	char err[256];

	full_session(&s);
	s.receiving_helo = "evil\tname\nT1\t0\tforged\\\x01\xff";
	s.failure_reason = "line1\r\nline2";
	ck_assert_int_eq(mts_tlsrpt_format(&s, 1, NULL, &line, err,
					   sizeof(err)), 0);
	/* One line, exactly 13 fields. */
	ck_assert_ptr_null(memchr(line.data, '\n', line.len - 1));
	{
		size_t tabs = 0;

		for (size_t i = 0; i < line.len; i++)
			tabs += line.data[i] == '\t';
		ck_assert_uint_eq(tabs, 12);
	}
	ck_assert_ptr_nonnull(strstr(line.data,
		"evil\\tname\\nT1\\t0\\tforged\\\\\\x01\\xff"));
	ck_assert_int_eq(mts_tlsrpt_parse(line.data, line.len, &rec), 0);
	ck_assert_str_eq(rec.receiving_helo, "evil\tname\nT1\t0\tforged\\\x01\xff");
	ck_assert_str_eq(rec.failure_reason, "line1\r\nline2");
	ck_assert_str_eq(rec.policy_hash, "");
	mts_buf_free(&line);
}
END_TEST

START_TEST(format_truncates_long_fields_to_fit_one_write)
{
	struct mts_tlsrpt_session s;
	struct mts_tlsrpt_rec rec;
	struct mts_buf line = MTS_BUF_INIT;
	char err[256], *big = malloc(20001), *ctl = malloc(2001);

	ck_assert_ptr_nonnull(big);
	ck_assert_ptr_nonnull(ctl);
	memset(big, 'r', 20000);
	big[20000] = '\0';
	memset(ctl, '\x01', 2000);	/* 4 bytes each once escaped */
	ctl[2000] = '\0';
	full_session(&s);
	s.failure_reason = big;
	s.additional_info = big;
	s.receiving_helo = ctl;
	ck_assert_int_eq(mts_tlsrpt_format(&s, 1, NULL, &line, err,
					   sizeof(err)), 0);
	ck_assert_uint_le(line.len, MTS_TLSRPT_RECORD_MAX);
	ck_assert_int_eq(mts_tlsrpt_parse(line.data, line.len, &rec), 0);
	ck_assert_uint_eq(strlen(rec.failure_reason), MTS_TLSRPT_REASON_MAX);
	ck_assert_uint_eq(strlen(rec.additional_info), MTS_TLSRPT_INFO_MAX);
	/* Cut between escapes: 512 / 4 whole "\x01". */
	ck_assert_uint_eq(strlen(rec.receiving_helo), MTS_TLSRPT_HELO_MAX / 4);
	mts_buf_free(&line);
	free(big);
	free(ctl);
}
END_TEST

START_TEST(format_refuses_bad_sessions)
{
	struct mts_tlsrpt_session s;
	struct mts_buf line = MTS_BUF_INIT;
	char err[256];

	full_session(&s);
	s.policy_domain = NULL;
	ck_assert_int_eq(mts_tlsrpt_format(&s, 1, NULL, &line, err,
					   sizeof(err)), -1);
	ck_assert_str_eq(err, "no policy domain");
	full_session(&s);
	s.policy_domain = "../../etc";
	ck_assert_int_eq(mts_tlsrpt_format(&s, 1, NULL, &line, err,
					   sizeof(err)), -1);
	full_session(&s);
	s.policy_domain = "192.0.2.1";
	ck_assert_int_eq(mts_tlsrpt_format(&s, 1, NULL, &line, err,
					   sizeof(err)), -1);
	full_session(&s);
	s.sending_ip = "mx.example.com";
	ck_assert_int_eq(mts_tlsrpt_format(&s, 1, NULL, &line, err,
					   sizeof(err)), -1);
	ck_assert_str_eq(err, "sending IP is not an IP address");
	full_session(&s);
	s.receiving_ip = "1.2.3.4\t";
	ck_assert_int_eq(mts_tlsrpt_format(&s, 1, NULL, &line, err,
					   sizeof(err)), -1);
	full_session(&s);
	s.result = (enum mts_tlsrpt_result)42;
	ck_assert_int_eq(mts_tlsrpt_format(&s, 1, NULL, &line, err,
					   sizeof(err)), -1);
	full_session(&s);
	s.policy_type = (enum mts_tlsrpt_policy_type)7;
	ck_assert_int_eq(mts_tlsrpt_format(&s, 1, NULL, &line, err,
					   sizeof(err)), -1);
	full_session(&s);
	s.policy_text_len = 70000;
	ck_assert_int_eq(mts_tlsrpt_format(&s, 1, NULL, &line, err,
					   sizeof(err)), -1);
	mts_buf_free(&line);
}
END_TEST

START_TEST(parse_rejects_damage)
{
	struct mts_tlsrpt_session s;
	struct mts_tlsrpt_rec rec;
	struct mts_buf line = MTS_BUF_INIT;
	char err[256], *copy;

	full_session(&s);
	ck_assert_int_eq(mts_tlsrpt_format(&s, 1, NULL, &line, err,
					   sizeof(err)), 0);
	copy = strdup(line.data);
	ck_assert_ptr_nonnull(copy);
	/* Any changed byte breaks the CRC. */
	copy[20] ^= 1;
	ck_assert_int_eq(mts_tlsrpt_parse(copy, line.len, &rec), -1);
	strcpy(copy, line.data);
	copy[line.len - 3] = copy[line.len - 3] == '0' ? '1' : '0';
	ck_assert_int_eq(mts_tlsrpt_parse(copy, line.len, &rec), -1);
	/* A truncated line (torn write). */
	ck_assert_int_eq(mts_tlsrpt_parse(line.data, line.len / 2, &rec), -1);
	/* Two records run together. */
	{
		struct mts_buf two = MTS_BUF_INIT;

		ck_assert_int_eq(mts_buf_append(&two, line.data, 40), 0);
		ck_assert_int_eq(mts_buf_append(&two, line.data, line.len), 0);
		ck_assert_int_eq(mts_tlsrpt_parse(two.data, two.len, &rec), -1);
		mts_buf_free(&two);
	}
	ck_assert_int_eq(mts_tlsrpt_parse("", 0, &rec), -1);
	ck_assert_int_eq(mts_tlsrpt_parse("\n", 1, &rec), -1);
	ck_assert_int_eq(mts_tlsrpt_parse("T2\t1\n", 5, &rec), -1);
	free(copy);
	mts_buf_free(&line);
}
END_TEST

/* ---- the spool on disk ---- */

struct collected {
	size_t count;
	size_t expired;
	size_t per_writer[64];
};

static int collect(const struct mts_tlsrpt_rec *rec, void *arg)
{
	struct collected *c = arg;
	unsigned writer = 0, seq = 0;

	c->count++;
	if (rec->result == MTS_TLSRPT_CERT_EXPIRED)
		c->expired++;
	if (sscanf(rec->failure_reason, "writer %u seq %u", &writer, &seq) == 2 &&
	    writer < 64)
		c->per_writer[writer]++;
	return 0;
}

static void file_path(char *out, size_t len, const char *sub, const char *name)
{
	snprintf(out, len, "%s/%s/%s", report_dir, sub, name);
}

START_TEST(record_writes_day_file_and_policy_once)
{
	struct mts_tlsrpt_session s;
	struct collected c = { 0 };
	struct mts_buf text = MTS_BUF_INIT;
	struct mts_strlist days = MTS_STRLIST_INIT;
	char err[256], path[512];
	size_t records = 0, damaged = 9;
	struct stat st;

	full_session(&s);
	ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err, sizeof(err)), 0);
	s.result = MTS_TLSRPT_SUCCESS;
	s.failure_reason = NULL;
	ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err, sizeof(err)), 0);
	s.time = 1735776000 + 5;	/* next day */
	ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err, sizeof(err)), 0);

	file_path(path, sizeof(path), "spool", "2025-01-01");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	file_path(path, sizeof(path), "spool", "");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);

	ck_assert_int_eq(mts_tlsrpt_read_day(report_dir, "2025-01-01", collect,
					     &c, &records, &damaged, err,
					     sizeof(err)), 0);
	ck_assert_uint_eq(records, 2);
	ck_assert_uint_eq(damaged, 0);
	ck_assert_uint_eq(c.count, 2);
	ck_assert_uint_eq(c.expired, 1);

	ck_assert_int_eq(mts_tlsrpt_days(report_dir, &days, err, sizeof(err)), 0);
	ck_assert_uint_eq(days.count, 2);
	ck_assert_str_eq(days.item[0], "2025-01-01");
	ck_assert_str_eq(days.item[1], "2025-01-02");

	/* The policy text, stored once under its SHA-256. */
	ck_assert_int_eq(mts_tlsrpt_policy_load(report_dir,
		"0000000000000000000000000000000000000000000000000000000000000000",
		&text, err, sizeof(err)), 1);
	{
		struct mts_tlsrpt_rec rec;
		FILE *f;
		char buf[MTS_TLSRPT_RECORD_MAX];

		file_path(path, sizeof(path), "spool", "2025-01-01");
		f = fopen(path, "r");
		ck_assert_ptr_nonnull(f);
		ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
		fclose(f);
		ck_assert_int_eq(mts_tlsrpt_parse(buf, strlen(buf), &rec), 0);
		/* sha256 of policy_text, computed independently:
		 * printf '...' | sha256sum */
		ck_assert_uint_eq(strlen(rec.policy_hash), 64);
		ck_assert_int_eq(mts_tlsrpt_policy_load(report_dir,
				 rec.policy_hash, &text, err, sizeof(err)), 0);
		ck_assert_uint_eq(text.len, sizeof(policy_text) - 1);
		ck_assert_int_eq(memcmp(text.data, policy_text, text.len), 0);
	}
	ck_assert_int_eq(mts_tlsrpt_read_day(report_dir, "2025-01-03", collect,
					     &c, NULL, NULL, err, sizeof(err)), 1);
	mts_strlist_free(&days);
	mts_buf_free(&text);
}
END_TEST

START_TEST(policy_hash_is_sha256_of_text)
{
	struct mts_tlsrpt_session s;
	char err[256], path[512], line[512], expect[80], sum[512];
	char script[700];
	char *argv[] = { "sh", "-c", script, NULL };
	pid_t pid;
	int st;
	FILE *f;

	full_session(&s);
	s.policy_text = "version: STSv1\n";
	s.policy_text_len = 15;
	ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err, sizeof(err)), 0);
	/* sha256sum(1) computes the expected name independently. */
	snprintf(sum, sizeof(sum), "%s/sum", tmpdir);
	snprintf(script, sizeof(script),
		 "printf 'version: STSv1\\n' | sha256sum | cut -c1-64 > %s",
		 sum);
	ck_assert_int_eq(posix_spawnp(&pid, "sh", NULL, NULL, argv, environ), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	f = fopen(sum, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(expect, sizeof(expect), f));
	fclose(f);
	expect[strcspn(expect, "\n")] = '\0';
	ck_assert_uint_eq(strlen(expect), 64);
	file_path(path, sizeof(path), "spool", "2025-01-01");
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	ck_assert_ptr_nonnull(strstr(line, expect));
	file_path(path, sizeof(path), "policies", expect);
	ck_assert_int_eq(access(path, R_OK), 0);
}
END_TEST

START_TEST(read_day_skips_damaged_lines)
{
	struct mts_tlsrpt_session s;
	struct collected c = { 0 };
	char err[256], path[512], junk[6000];
	size_t records = 0, damaged = 0;
	FILE *f;

	full_session(&s);
	ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err, sizeof(err)), 0);
	file_path(path, sizeof(path), "spool", "2025-01-01");
	f = fopen(path, "a");
	ck_assert_ptr_nonnull(f);
	fputs("T1\t1735732800\texample.com\tsts\n", f);	/* damaged */
	fputs("\n", f);					/* LF after a short write */
	memset(junk, 'j', sizeof(junk) - 2);		/* longer than any record */
	junk[sizeof(junk) - 2] = '\n';
	junk[sizeof(junk) - 1] = '\0';
	fputs(junk, f);
	fclose(f);
	ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err, sizeof(err)), 0);
	f = fopen(path, "a");
	ck_assert_ptr_nonnull(f);
	fputs("T1\t17357", f);	/* torn last line, no LF */
	fclose(f);
	ck_assert_int_eq(mts_tlsrpt_read_day(report_dir, "2025-01-01", collect,
					     &c, &records, &damaged, err,
					     sizeof(err)), 0);
	ck_assert_uint_eq(records, 2);
	ck_assert_uint_eq(damaged, 3);
	ck_assert_uint_eq(c.count, 2);
}
END_TEST

static int stop_after_one(const struct mts_tlsrpt_rec *rec, void *arg)
{
	(void)rec;
	++*(int *)arg;
	return 7;
}

START_TEST(read_day_visit_can_stop)
{
	struct mts_tlsrpt_session s;
	char err[256];
	int seen = 0;

	full_session(&s);
	ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(mts_tlsrpt_read_day(report_dir, "2025-01-01",
					     stop_after_one, &seen, NULL, NULL,
					     err, sizeof(err)), 7);
	ck_assert_int_eq(seen, 1);
}
END_TEST

START_TEST(record_refuses_unsafe_directory)
{
	struct mts_tlsrpt_session s;
	char err[256];

	full_session(&s);
	ck_assert_int_eq(mkdir(report_dir, 0700), 0);
	ck_assert_int_eq(chmod(report_dir, 0777), 0);
	ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "writable"));
	ck_assert_int_eq(mts_tlsrpt_record("relative/dir", &s, err,
					   sizeof(err)), -1);
}
END_TEST

START_TEST(record_refuses_symlinked_spool_file)
{
	struct mts_tlsrpt_session s;
	char err[256], path[512], target[512];

	full_session(&s);
	ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err, sizeof(err)), 0);
	file_path(path, sizeof(path), "spool", "2025-01-01");
	ck_assert_int_eq(unlink(path), 0);
	snprintf(target, sizeof(target), "%s/elsewhere", tmpdir);
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err, sizeof(err)), -1);
	ck_assert_int_eq(access(target, F_OK), -1);
}
END_TEST

START_TEST(record_respects_spool_cap)
{
	struct mts_tlsrpt_session s;
	char err[256], path[512];
	int fd;

	full_session(&s);
	ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err, sizeof(err)), 0);
	file_path(path, sizeof(path), "spool", "2025-01-01");
	fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, MTS_TLSRPT_SPOOL_MAX), 0);	/* sparse */
	close(fd);
	ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is full"));
}
END_TEST

/* 50 processes append 40 records each, all at once, with long records
 * (about 3 KiB) so that a non-atomic append would show. */
START_TEST(concurrent_appends_lose_nothing)
{
	enum { WRITERS = 50, EACH = 40 };
	struct collected c = { 0 };
	char err[256], helo[600];
	size_t records = 0, damaged = 0;
	int pipefd[2];
	pid_t pids[WRITERS];

	memset(helo, 'h', sizeof(helo) - 1);
	helo[sizeof(helo) - 1] = '\0';
	/* Create the directories first, as a running system would have. */
	{
		struct mts_tlsrpt_session s;

		full_session(&s);
		s.time = 1735689600 - 10;	/* another day */
		ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err,
						   sizeof(err)), 0);
	}
	ck_assert_int_eq(pipe(pipefd), 0);
	for (int w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		ck_assert_int_ge(pids[w], 0);
		if (pids[w] == 0) {
			struct mts_tlsrpt_session s;
			char reason[1100], go;
			int bad = 0;

			close(pipefd[1]);
			/* Wait until every writer exists. */
			if (read(pipefd[0], &go, 1) < 0)
				_exit(3);
			for (int i = 0; i < EACH; i++) {
				full_session(&s);
				s.receiving_helo = helo;
				memset(reason, 'x', sizeof(reason) - 1);
				reason[sizeof(reason) - 1] = '\0';
				snprintf(reason, 40, "writer %d seq %d", w, i);
				reason[strlen(reason)] = ' ';
				s.failure_reason = reason;
				if (mts_tlsrpt_record(report_dir, &s, err,
						      sizeof(err)) < 0)
					bad++;
			}
			_exit(bad ? 1 : 0);
		}
	}
	close(pipefd[0]);
	close(pipefd[1]);	/* EOF releases every writer at once */
	for (int w = 0; w < WRITERS; w++) {
		int st;

		ck_assert_int_eq(waitpid(pids[w], &st, 0), pids[w]);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	ck_assert_int_eq(mts_tlsrpt_read_day(report_dir, "2025-01-01", collect,
					     &c, &records, &damaged, err,
					     sizeof(err)), 0);
	ck_assert_uint_eq(damaged, 0);
	ck_assert_uint_eq(records, WRITERS * EACH);
	for (int w = 0; w < WRITERS; w++)
		ck_assert_uint_eq(c.per_writer[w], EACH);
}
END_TEST

/* ---- file helpers ---- */

START_TEST(atomic_write_and_bounded_read)
{
	struct mts_buf b = MTS_BUF_INIT;
	char err[256], path[512];

	ck_assert_int_eq(mts_tlsrpt_write_atomic(tmpdir, "state", "hello", 5,
						 err, sizeof(err)), 0);
	ck_assert_int_eq(mts_tlsrpt_read_file(tmpdir, "state", 100, &b, err,
					      sizeof(err)), 0);
	ck_assert_str_eq(b.data, "hello");
	ck_assert_int_eq(mts_tlsrpt_write_atomic(tmpdir, "state", "bye", 3,
						 err, sizeof(err)), 0);
	ck_assert_int_eq(mts_tlsrpt_read_file(tmpdir, "state", 100, &b, err,
					      sizeof(err)), 0);
	ck_assert_str_eq(b.data, "bye");
	ck_assert_int_eq(mts_tlsrpt_read_file(tmpdir, "state", 2, &b, err,
					      sizeof(err)), -1);
	ck_assert_int_eq(mts_tlsrpt_read_file(tmpdir, "absent", 100, &b, err,
					      sizeof(err)), 1);
	ck_assert_int_eq(mts_tlsrpt_write_atomic(tmpdir, "../x", "a", 1, err,
						 sizeof(err)), -1);
	ck_assert_int_eq(mts_tlsrpt_write_atomic(tmpdir, ".hidden", "a", 1, err,
						 sizeof(err)), -1);
	snprintf(path, sizeof(path), "%s/link", tmpdir);
	ck_assert_int_eq(symlink("state", path), 0);
	ck_assert_int_eq(mts_tlsrpt_read_file(tmpdir, "link", 100, &b, err,
					      sizeof(err)), -1);
	mts_buf_free(&b);
}
END_TEST

/* ---- the _smtp._tls TXT record ---- */

static const char *parse_rua(const char *rec, struct mts_strlist *rua)
{
	mts_strlist_free(rua);
	return mts_tlsrpt_txt_parse(rec, strlen(rec), rua);
}

START_TEST(txt_record_valid_forms)
{
	struct mts_strlist rua = MTS_STRLIST_INIT;

	ck_assert_ptr_null(parse_rua("v=TLSRPTv1; rua=mailto:tls@example.com",
				     &rua));
	ck_assert_uint_eq(rua.count, 1);
	ck_assert_str_eq(rua.item[0], "mailto:tls@example.com");

	ck_assert_ptr_null(parse_rua("v=TLSRPTv1;rua=https://r.example.com/"
				     "v1 , mailto:a@example.com;", &rua));
	ck_assert_uint_eq(rua.count, 2);
	ck_assert_str_eq(rua.item[0], "https://r.example.com/v1");
	ck_assert_str_eq(rua.item[1], "mailto:a@example.com");

	ck_assert_ptr_null(parse_rua("v=TLSRPTv1 ;\trua=HTTPS://x.example/ ; "
				     "ext_1=val; x.y-z=1", &rua));
	ck_assert_uint_eq(rua.count, 1);

	/* Unknown schemes are skipped, usable ones kept. */
	ck_assert_ptr_null(parse_rua("v=TLSRPTv1; rua=ftp://x.example/,"
				     "mailto:b@example.com", &rua));
	ck_assert_uint_eq(rua.count, 1);
	ck_assert_str_eq(rua.item[0], "mailto:b@example.com");

	/* Only the first rua counts. */
	ck_assert_ptr_null(parse_rua("v=TLSRPTv1; rua=mailto:a@x.example; "
				     "rua=mailto:b@x.example", &rua));
	ck_assert_uint_eq(rua.count, 1);
	ck_assert_str_eq(rua.item[0], "mailto:a@x.example");
	mts_strlist_free(&rua);
}
END_TEST

START_TEST(txt_record_invalid_forms)
{
	struct mts_strlist rua = MTS_STRLIST_INIT;

	ck_assert_str_eq(parse_rua("v=TLSRPTv1", &rua),
			 "no field after the version");
	ck_assert_str_eq(parse_rua("v=TLSRPTv1;", &rua),
			 "no field after the version");
	ck_assert_str_eq(parse_rua("v=TLSRPTv1; ext=1", &rua), "no rua field");
	ck_assert_str_eq(parse_rua("v=TLSRPTv1; rua=", &rua),
			 "empty URI in rua");
	ck_assert_str_eq(parse_rua("v=TLSRPTv1; rua=ftp://x.example/", &rua),
			 "no mailto: or https: URI in rua");
	ck_assert_str_eq(parse_rua("v=TLSRPTv1; rua=nothing", &rua),
			 "rua URI without a scheme");
	ck_assert_str_eq(parse_rua("v=TLSRPTv1; rua=mailto:a@b.example;;", &rua),
			 "invalid field name");
	ck_assert_str_eq(parse_rua("v=TLSRPTv1 rua=mailto:a@b.example", &rua),
			 "expected ';' between fields");
	ck_assert_str_eq(parse_rua("v=tlsrptv1; rua=mailto:a@b.example", &rua),
			 "does not begin with v=TLSRPTv1");
	ck_assert_str_eq(parse_rua("v=TLSRPTv1; =x; rua=mailto:a@b.example",
				   &rua), "invalid field name");
	ck_assert_str_eq(parse_rua("v=TLSRPTv1; x=; rua=mailto:a@b.example",
				   &rua), "empty field value");
	ck_assert_str_eq(parse_rua("v=TLSRPTv1; "
				   "a234567890123456789012345678901234=1; "
				   "rua=mailto:a@b.example", &rua),
			 "field name longer than 32 characters");
	ck_assert_str_eq(mts_tlsrpt_txt_parse("v=TLSRPTv1; rua=mailto:a@b\0x",
					      28, &rua), "NUL byte in record");
	mts_strlist_free(&rua);
}
END_TEST

START_TEST(txt_select_discards_then_counts)
{
	struct mts_strlist rua = MTS_STRLIST_INIT;
	char *recs[3] = {
		"v=spf1 -all",
		"v=TLSRPTv1; rua=mailto:a@example.com",
		"v=TLSRPTv10; rua=mailto:b@example.com",	/* not ours */
	};
	size_t lens[3];

	for (int i = 0; i < 3; i++)
		lens[i] = strlen(recs[i]);
	ck_assert_ptr_null(mts_tlsrpt_txt_select(recs, lens, 3, &rua));
	ck_assert_uint_eq(rua.count, 1);
	ck_assert_str_eq(rua.item[0], "mailto:a@example.com");
	mts_strlist_free(&rua);

	recs[2] = "v=TLSRPTv1;rua=mailto:c@example.com";
	lens[2] = strlen(recs[2]);
	ck_assert_str_eq(mts_tlsrpt_txt_select(recs, lens, 3, &rua),
			 "more than one v=TLSRPTv1 record");
	ck_assert_str_eq(mts_tlsrpt_txt_select(recs, lens, 1, &rua),
			 "no v=TLSRPTv1 record");
	/* The single record must also be valid. */
	recs[1] = "v=TLSRPTv1; nope";
	lens[1] = strlen(recs[1]);
	ck_assert_str_eq(mts_tlsrpt_txt_select(recs, lens, 2, &rua),
			 "field without '='");
	ck_assert(mts_tlsrpt_txt_is_tlsrpt("v=TLSRPTv1", 10));
	ck_assert(mts_tlsrpt_txt_is_tlsrpt("v=TLSRPTv1 ;", 12));
	ck_assert(!mts_tlsrpt_txt_is_tlsrpt("v=TLSRPTv1x", 11));
	ck_assert(!mts_tlsrpt_txt_is_tlsrpt(" v=TLSRPTv1;", 12));
	mts_strlist_free(&rua);
}
END_TEST

/* The reader works in 64 KiB chunks: junk far longer than a chunk, a
 * NUL inside a line, and valid records that straddle chunk boundaries. */
START_TEST(read_day_across_chunk_boundaries)
{
	struct mts_tlsrpt_session s;
	struct collected c = { 0 };
	char err[256], path[512], reason[64];
	size_t records = 0, damaged = 0;
	static char junk[200 * 1024];
	FILE *f;

	full_session(&s);
	file_path(path, sizeof(path), "spool", "2025-01-01");
	ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err, sizeof(err)), 0);
	f = fopen(path, "a");
	ck_assert_ptr_nonnull(f);
	memset(junk, 'j', sizeof(junk) - 1);
	junk[sizeof(junk) - 1] = '\n';
	ck_assert_uint_eq(fwrite(junk, 1, sizeof(junk), f), sizeof(junk));
	ck_assert_uint_eq(fwrite("T1\t1735732800\0x\n", 1, 16, f), 16);
	fclose(f);
	/* 150 records of about 1.2 KiB: some cross the 64 KiB marks. */
	for (unsigned i = 0; i < 150; i++) {
		char helo[1100];

		memset(helo, 'a' + (char)(i % 26), sizeof(helo) - 1);
		helo[sizeof(helo) - 1 - (i % 97)] = '\0';
		snprintf(reason, sizeof(reason), "writer 0 seq %u", i);
		s.receiving_helo = helo;
		s.failure_reason = reason;
		ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err,
						   sizeof(err)), 0);
	}
	ck_assert_int_eq(mts_tlsrpt_read_day(report_dir, "2025-01-01", collect,
					     &c, &records, &damaged, err,
					     sizeof(err)), 0);
	ck_assert_uint_eq(records, 151);
	ck_assert_uint_eq(damaged, 2);
	ck_assert_uint_eq(c.count, 151);
	ck_assert_uint_eq(c.expired, 151);
}
END_TEST

/* A policy text still in use has a fresh time stamp (refreshed at most
 * once a day), so `mtasts report` can prune texts nobody uses. */
START_TEST(record_refreshes_policy_time_stamp)
{
	struct mts_tlsrpt_session s;
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	char err[256], path[512], hash[MTS_TLSRPT_HASH_HEX + 1];
	struct stat st;
	time_t now = time(NULL);

	full_session(&s);
	ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err, sizeof(err)), 0);
	{
		struct mts_tlsrpt_rec rec;

		/* The hash the record names. */
		file_path(path, sizeof(path), "spool", "2025-01-01");
		{
			FILE *f = fopen(path, "r");
			char buf[MTS_TLSRPT_RECORD_MAX + 2];

			ck_assert_ptr_nonnull(f);
			ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
			fclose(f);
			ck_assert_int_eq(mts_tlsrpt_parse(buf, strlen(buf),
							  &rec), 0);
		}
		mts_strlcpy(hash, rec.policy_hash, sizeof(hash));
		ck_assert_uint_eq(strlen(hash), MTS_TLSRPT_HASH_HEX);
	}
	file_path(path, sizeof(path), "policies", hash);
	ck_assert_int_eq(utimensat(AT_FDCWD, path, old, 0), 0);
	ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_ge(st.st_mtime, now - 5);
	/* Fresh enough: left alone (no write per session). */
	old[0].tv_sec = old[1].tv_sec = now - 3600;
	ck_assert_int_eq(utimensat(AT_FDCWD, path, old, 0), 0);
	ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mtime, now - 3600);
}
END_TEST

/* Regression (fuzz_tlsrpt): a plain field with a NUL or another byte
 * the writer never puts there was cut at the NUL and accepted, so
 * "ele.com.\0..." read as the domain "ele.com.". The line gets a
 * correct CRC, so only the field check can refuse it. */
#include "gzip.h"

static int parse_with_crc(const char *body, size_t len,
			  struct mts_tlsrpt_rec *rec)
{
	char line[512];
	int n;

	ck_assert_uint_lt(len, 400);
	memcpy(line, body, len);
	n = snprintf(line + len, sizeof(line) - len, "\t%08x\n",
		     (unsigned)mts_crc32(0, body, len));
	ck_assert_int_gt(n, 0);
	return mts_tlsrpt_parse(line, len + (size_t)n, rec);
}

#define FUZZ_LINE(domain, type) \
	"T1\t1735732800\t" domain "\t" type "\t\t\t\t\t\t" \
	"starttls-not-supported\t\t"

START_TEST(fuzz_plain_fields_refuse_nul_and_controls)
{
	static const char good[] = FUZZ_LINE("ele.com", "no-policy-found");
	static const char nul_domain[] =
		FUZZ_LINE("ele.com.\0\0\0", "no-policy-found");
	static const char nul_type[] = FUZZ_LINE("ele.com", "sts\0x");
	static const char space_domain[] =
		FUZZ_LINE("ele.com ", "no-policy-found");
	static const char high_type[] = FUZZ_LINE("ele.com", "sts\xff");
	struct mts_tlsrpt_rec rec;

	ck_assert_int_eq(parse_with_crc(good, sizeof(good) - 1, &rec), 0);
	ck_assert_str_eq(rec.domain, "ele.com");
	ck_assert_int_eq(parse_with_crc(nul_domain, sizeof(nul_domain) - 1,
					&rec), -1);
	ck_assert_int_eq(parse_with_crc(nul_type, sizeof(nul_type) - 1, &rec),
			 -1);
	ck_assert_int_eq(parse_with_crc(space_domain, sizeof(space_domain) - 1,
					&rec), -1);
	ck_assert_int_eq(parse_with_crc(high_type, sizeof(high_type) - 1,
					&rec), -1);
}
END_TEST

static Suite *tlsrpt_suite(void)
{
	Suite *s = suite_create("tlsrpt");
	TCase *names = tcase_create("names");
	TCase *lines = tcase_create("lines");
	TCase *spool = tcase_create("spool");
	TCase *txt = tcase_create("txt");

	tcase_add_test(names, session_init_defaults);
	tcase_add_test(names, result_names_round_trip);
	tcase_add_test(names, result_from_engine_failure);
	tcase_add_test(names, day_arithmetic);
	suite_add_tcase(s, names);

	tcase_add_test(lines, format_parse_round_trip);
	tcase_add_test(lines, format_time_zero_means_now_and_no_policy);
	tcase_add_test(lines, format_escapes_hostile_fields);
	tcase_add_test(lines, format_truncates_long_fields_to_fit_one_write);
	tcase_add_test(lines, format_refuses_bad_sessions);
	tcase_add_test(lines, parse_rejects_damage);
	suite_add_tcase(s, lines);

	tcase_add_checked_fixture(spool, setup, teardown);
	tcase_set_timeout(spool, 60);
	tcase_add_test(spool, record_writes_day_file_and_policy_once);
	tcase_add_test(spool, policy_hash_is_sha256_of_text);
	tcase_add_test(spool, read_day_skips_damaged_lines);
	tcase_add_test(spool, read_day_across_chunk_boundaries);
	tcase_add_test(spool, record_refreshes_policy_time_stamp);
	tcase_add_test(spool, read_day_visit_can_stop);
	tcase_add_test(spool, record_refuses_unsafe_directory);
	tcase_add_test(spool, record_refuses_symlinked_spool_file);
	tcase_add_test(spool, record_respects_spool_cap);
	tcase_add_test(spool, concurrent_appends_lose_nothing);
	tcase_add_test(spool, atomic_write_and_bounded_read);
	suite_add_tcase(s, spool);

	tcase_add_test(txt, txt_record_valid_forms);
	tcase_add_test(txt, txt_record_invalid_forms);
	tcase_add_test(txt, txt_select_discards_then_counts);
	suite_add_tcase(s, txt);

	TCase *fuzz = tcase_create("fuzz");	/* regressions from fuzz/ */
	tcase_add_test(fuzz, fuzz_plain_fields_refuse_nul_and_controls);
	suite_add_tcase(s, fuzz);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tlsrpt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
