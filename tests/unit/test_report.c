/*
 * test_report.c - unit tests of policy/report.c and policy/deliver.c
 *
 * DESCRIPTION
 *	Aggregation (grouping, counts, many domains), the RFC 8460 JSON
 *	checked field by field by Python's json module, report file names,
 *	the delivery state file and the retry schedule, the sender's
 *	configuration, mailto: addresses, the report mail checked by
 *	Python's email package (headers, multipart/report structure, the
 *	gzip attachment), and the sendmail path with a fake sendmail that
 *	records what it got (and that LD_PRELOAD did not reach it).
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
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "deliver.h"
#include "gzip.h"
#include "report.h"
#include "tlsrpt.h"

extern char **environ;

static char tmpdir[] = "/tmp/test_report.XXXXXX";
static char report_dir[256];

static const char policy_text[] =
	"version: STSv1\r\nmode: testing\r\nmx: mx1.good.test\r\n"
	"mx: *.backup.good.test\r\n\r\nmax_age: 86400\r\n";

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(report_dir, sizeof(report_dir), "%s/reports", tmpdir);
	unsetenv("MTASTS_REPORT_ORG");
	unsetenv("MTASTS_REPORT_CONTACT");
	unsetenv("MTASTS_REPORT_SUBMITTER");
	unsetenv("MTASTS_REPORT_SMTP");
	unsetenv("MTASTS_REPORT_SENDMAIL");
	unsetenv("MTASTS_REPORT_FROM");
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

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* Runs python3 -c script args...; returns its exit status. */
static int python(const char *script, const char *a1, const char *a2)
{
	char *argv[] = { "python3", "-c", (char *)script, (char *)a1,
			 (char *)a2, NULL };
	pid_t pid;
	int st;

	ck_assert_int_eq(posix_spawnp(&pid, "python3", NULL, NULL, argv,
				      environ), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void rec_init(struct mts_tlsrpt_rec *r, const char *domain,
		     enum mts_tlsrpt_result result)
{
	memset(r, 0, sizeof(*r));
	r->time = 1735732800;
	mts_strlcpy(r->domain, domain, sizeof(r->domain));
	r->policy_type = MTS_TLSRPT_POLICY_STS;
	r->result = result;
}

/* ---- aggregation ---- */

START_TEST(aggregate_groups_and_counts)
{
	struct mts_report_day *d = mts_report_day_new("2025-01-01");
	struct mts_tlsrpt_rec r;
	uint64_t ok, bad;

	ck_assert_ptr_nonnull(d);
	for (int i = 0; i < 5; i++) {
		rec_init(&r, "b.test", MTS_TLSRPT_SUCCESS);
		strcpy(r.policy_hash, "aa");
		ck_assert_int_eq(mts_report_day_add(d, &r), 0);
	}
	for (int i = 0; i < 3; i++) {
		rec_init(&r, "b.test", MTS_TLSRPT_CERT_EXPIRED);
		strcpy(r.policy_hash, "aa");
		strcpy(r.mx_host, "mx1.b.test");
		strcpy(r.receiving_ip, "192.0.2.1");
		ck_assert_int_eq(mts_report_day_add(d, &r), 0);
	}
	/* Same result, another receiving IP: another group. */
	rec_init(&r, "b.test", MTS_TLSRPT_CERT_EXPIRED);
	strcpy(r.policy_hash, "aa");
	strcpy(r.mx_host, "mx1.b.test");
	strcpy(r.receiving_ip, "192.0.2.2");
	ck_assert_int_eq(mts_report_day_add(d, &r), 0);
	/* Another policy text: another policy entry. */
	rec_init(&r, "b.test", MTS_TLSRPT_STARTTLS_NOT_SUPPORTED);
	strcpy(r.policy_hash, "bb");
	ck_assert_int_eq(mts_report_day_add(d, &r), 0);
	/* no-policy-found ignores any hash. */
	rec_init(&r, "a.test", MTS_TLSRPT_SUCCESS);
	r.policy_type = MTS_TLSRPT_POLICY_NO_POLICY;
	ck_assert_int_eq(mts_report_day_add(d, &r), 0);

	mts_report_day_sort(d);
	ck_assert_uint_eq(d->ndomains, 2);
	ck_assert_str_eq(d->domains[0].name, "a.test");
	ck_assert_str_eq(d->domains[1].name, "b.test");
	ck_assert_uint_eq(d->domains[0].npol, 1);
	ck_assert_int_eq(d->domains[0].pol[0].type, MTS_TLSRPT_POLICY_NO_POLICY);
	ck_assert_uint_eq(d->domains[0].pol[0].successes, 1);
	ck_assert_uint_eq(d->domains[1].npol, 2);
	ck_assert_str_eq(d->domains[1].pol[0].hash, "aa");
	ck_assert_uint_eq(d->domains[1].pol[0].successes, 5);
	ck_assert_uint_eq(d->domains[1].pol[0].failures, 4);
	ck_assert_uint_eq(d->domains[1].pol[0].nfail, 2);
	ck_assert_uint_eq(d->domains[1].pol[0].fail[0].count, 3);
	ck_assert_str_eq(d->domains[1].pol[0].fail[0].receiving_ip, "192.0.2.1");
	ck_assert_uint_eq(d->domains[1].pol[0].fail[1].count, 1);
	ck_assert_uint_eq(d->domains[1].pol[1].failures, 1);
	ck_assert_uint_eq(d->domains[1].pol[1].successes, 0);
	mts_report_domain_totals(&d->domains[1], &ok, &bad);
	ck_assert_uint_eq(ok, 5);
	ck_assert_uint_eq(bad, 5);
	mts_report_day_free(d);
}
END_TEST

START_TEST(aggregate_many_domains)
{
	struct mts_report_day *d = mts_report_day_new("2025-01-01");
	struct mts_tlsrpt_rec r;
	char name[64];

	ck_assert_ptr_nonnull(d);
	for (int round = 0; round < 3; round++)
		for (int i = 2999; i >= 0; i--) {
			snprintf(name, sizeof(name), "d%04d.test", i);
			rec_init(&r, name, i % 2 ? MTS_TLSRPT_SUCCESS
						 : MTS_TLSRPT_VALIDATION_FAILURE);
			ck_assert_int_eq(mts_report_day_add(d, &r), 0);
		}
	mts_report_day_sort(d);
	ck_assert_uint_eq(d->ndomains, 3000);
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "d%04d.test", i);
		ck_assert_str_eq(d->domains[i].name, name);
		ck_assert_uint_eq(d->domains[i].pol[0].successes +
				  d->domains[i].pol[0].failures, 3);
	}
	mts_report_day_free(d);
	ck_assert_ptr_null(mts_report_day_new("2025-13-01"));
}
END_TEST

/* A hostile MX that names itself differently in every session makes
 * every failure a group of its own. Aggregation must stay linear (the
 * old linear search was quadratic: this test timed out) and the report
 * bounded: MTS_REPORT_FAILURE_GROUPS_MAX groups, then one catch-all
 * group per result type; the counts stay exact. */
START_TEST(aggregate_hostile_distinct_failures_bounded)
{
	struct mts_report_day *d = mts_report_day_new("2025-01-01");
	struct mts_report_meta m = { "o", "c", "s.test" };
	struct mts_buf json = MTS_BUF_INIT;
	const struct mts_report_policy *p;
	struct mts_tlsrpt_rec r;
	const size_t n = 500000, max = MTS_REPORT_FAILURE_GROUPS_MAX;
	char err[256], path[512];

	ck_assert_ptr_nonnull(d);
	for (size_t i = 0; i < n; i++) {
		rec_init(&r, "victim.test", MTS_TLSRPT_STARTTLS_NOT_SUPPORTED);
		strcpy(r.mx_host, "mx.victim.test");
		strcpy(r.receiving_ip, "192.0.2.7");
		snprintf(r.receiving_helo, sizeof(r.receiving_helo),
			 "h%zu.attacker.test", i);
		ck_assert_int_eq(mts_report_day_add(d, &r), 0);
	}
	/* A repeat of a listed group still counts there, after the cap. */
	rec_init(&r, "victim.test", MTS_TLSRPT_STARTTLS_NOT_SUPPORTED);
	strcpy(r.mx_host, "mx.victim.test");
	strcpy(r.receiving_ip, "192.0.2.7");
	strcpy(r.receiving_helo, "h7.attacker.test");
	ck_assert_int_eq(mts_report_day_add(d, &r), 0);
	/* Another result type past the cap: a catch-all of its own. */
	rec_init(&r, "victim.test", MTS_TLSRPT_CERT_EXPIRED);
	strcpy(r.failure_reason, "X509_V_ERR_CERT_HAS_EXPIRED");
	ck_assert_int_eq(mts_report_day_add(d, &r), 0);
	ck_assert_int_eq(mts_report_day_add(d, &r), 0);

	ck_assert_uint_eq(d->ndomains, 1);
	ck_assert_uint_eq(d->domains[0].npol, 1);
	p = &d->domains[0].pol[0];
	ck_assert_uint_eq(p->failures, n + 3);
	ck_assert_uint_eq(p->nfail, max + 2);
	ck_assert_str_eq(p->fail[0].helo, "h0.attacker.test");
	ck_assert_str_eq(p->fail[max - 1].helo, "h4095.attacker.test");
	ck_assert_uint_eq(p->fail[7].count, 2);
	ck_assert_uint_eq(p->fail[max].count, n - max);
	ck_assert_int_eq(p->fail[max].result, MTS_TLSRPT_STARTTLS_NOT_SUPPORTED);
	ck_assert_str_eq(p->fail[max].helo, "");
	ck_assert_str_eq(p->fail[max].mx_host, "");
	ck_assert_str_eq(p->fail[max].reason, MTS_REPORT_OVERFLOW_REASON);
	ck_assert_uint_eq(p->fail[max + 1].count, 2);
	ck_assert_int_eq(p->fail[max + 1].result, MTS_TLSRPT_CERT_EXPIRED);
	ck_assert_str_eq(p->fail[max + 1].reason, MTS_REPORT_OVERFLOW_REASON);

	ck_assert_int_eq(mts_report_json(NULL, d, &d->domains[0], &m, "id",
					 &json, err, sizeof(err)), 0);
	ck_assert_uint_lt(json.len, (size_t)4 << 20);
	snprintf(path, sizeof(path), "%s/huge.json", tmpdir);
	write_file(path, json.data, json.len);
	ck_assert_int_eq(python(
		"import json, sys\n"
		"r = json.load(open(sys.argv[1]))\n"
		"p = r['policies'][0]\n"
		"fd = p['failure-details']\n"
		"assert len(fd) == 4098, len(fd)\n"
		"assert p['summary']['total-failure-session-count'] == 500003\n"
		"assert sum(f['failed-session-count'] for f in fd) == 500003\n"
		"assert fd[4096] == {'result-type': 'starttls-not-supported',\n"
		"    'failed-session-count': 500000 - 4096,\n"
		"    'failure-reason-code': sys.argv[2]}, fd[4096]\n"
		"assert fd[4097]['result-type'] == 'certificate-expired'\n",
		path, MTS_REPORT_OVERFLOW_REASON), 0);
	mts_buf_free(&json);
	mts_report_day_free(d);
}
END_TEST

/* ---- JSON ---- */

/* Checks every field of the report, exactly; no other keys allowed. */
static const char py_check_json[] =
"import json, sys\n"
"r = json.load(open(sys.argv[1]))\n"
"def keys(o, want):\n"
"    assert set(o) == set(want), (sorted(o), sorted(want))\n"
"keys(r, ['organization-name','date-range','contact-info','report-id','policies'])\n"
"assert r['organization-name'] == 'Example \"Org\"'\n"
"assert r['date-range'] == {'start-datetime':'2025-01-01T00:00:00Z',"
" 'end-datetime':'2025-01-01T23:59:59Z'}\n"
"assert r['contact-info'] == 'tlsrpt@reporter.test'\n"
"assert r['report-id'] == '2025-01-01.abc@reporter.test'\n"
"p = r['policies']\n"
"assert len(p) == 2\n"
"keys(p[0], ['policy','summary','failure-details'])\n"
"keys(p[0]['policy'], ['policy-type','policy-string','policy-domain','mx-host'])\n"
"assert p[0]['policy']['policy-type'] == 'sts'\n"
"assert p[0]['policy']['policy-string'] == ['version: STSv1','mode: testing',"
"'mx: mx1.good.test','mx: *.backup.good.test','max_age: 86400']\n"
"assert p[0]['policy']['policy-domain'] == 'good.test'\n"
"assert p[0]['policy']['mx-host'] == ['mx1.good.test','*.backup.good.test']\n"
"assert p[0]['summary'] == {'total-successful-session-count':7,"
" 'total-failure-session-count':3}\n"
"f = p[0]['failure-details']\n"
"assert len(f) == 2\n"
"assert f[0] == {'result-type':'certificate-expired','sending-mta-ip':'192.0.2.10',"
"'receiving-mx-hostname':'mx1.good.test','receiving-mx-helo':'mx1 \"helo\"\\\\x',"
"'receiving-ip':'198.51.100.1','failed-session-count':2,"
"'additional-information':'https://info.test/x',"
"'failure-reason-code':'X509_V_ERR_CERT_HAS_EXPIRED\\n\\x01\\ufffd'}, f[0]\n"
"assert f[1] == {'result-type':'starttls-not-supported','failed-session-count':1}, f[1]\n"
"keys(p[1], ['policy','summary'])\n"
"assert p[1]['policy'] == {'policy-type':'no-policy-found','policy-domain':'good.test'}\n"
"assert p[1]['summary'] == {'total-successful-session-count':1,"
" 'total-failure-session-count':0}\n"
"sys.exit(0)\n";

START_TEST(json_report_fields_exact)
{
	struct mts_tlsrpt_session s;
	struct mts_report_day *d = NULL;
	struct mts_report_meta m;
	struct mts_buf json = MTS_BUF_INIT;
	char err[256], path[512];

	/* Record through the real spool, then aggregate it. */
	mts_tlsrpt_session_init(&s);
	s.time = 1735732800;
	s.policy_domain = "good.test";
	s.policy_text = policy_text;
	s.policy_text_len = sizeof(policy_text) - 1;
	s.mx_host = "mx1.good.test";
	for (int i = 0; i < 7; i++)
		ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err,
						   sizeof(err)), 0);
	s.sending_ip = "192.0.2.10";
	s.receiving_ip = "198.51.100.1";
	s.receiving_helo = "mx1 \"helo\"\\x";
	s.result = MTS_TLSRPT_CERT_EXPIRED;
	s.failure_reason = "X509_V_ERR_CERT_HAS_EXPIRED\n\x01\xc3";
	s.additional_info = "https://info.test/x";
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err,
						   sizeof(err)), 0);
	mts_tlsrpt_session_init(&s);
	s.time = 1735732801;
	s.policy_domain = "good.test";
	s.policy_text = policy_text;
	s.policy_text_len = sizeof(policy_text) - 1;
	s.result = MTS_TLSRPT_STARTTLS_NOT_SUPPORTED;
	ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err, sizeof(err)), 0);
	s.policy_type = MTS_TLSRPT_POLICY_NO_POLICY;
	s.result = MTS_TLSRPT_SUCCESS;
	ck_assert_int_eq(mts_tlsrpt_record(report_dir, &s, err, sizeof(err)), 0);

	ck_assert_int_eq(mts_report_day_load(report_dir, "2025-01-01", &d, err,
					     sizeof(err)), 0);
	ck_assert_uint_eq(d->records, 11);
	ck_assert_uint_eq(d->ndomains, 1);
	memset(&m, 0, sizeof(m));
	strcpy(m.org, "Example \"Org\"");
	strcpy(m.contact, "tlsrpt@reporter.test");
	strcpy(m.submitter, "reporter.test");
	ck_assert_int_eq(mts_report_json(report_dir, d, &d->domains[0], &m,
					 "2025-01-01.abc@reporter.test", &json,
					 err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/report.json", tmpdir);
	write_file(path, json.data, json.len);
	ck_assert_int_eq(python(py_check_json, path, NULL), 0);
	/* The no-policy entry counted its one success. */
	ck_assert_uint_eq(d->domains[0].pol[1].successes, 1);
	ck_assert_ptr_nonnull(strstr(json.data,
		"\"summary\":{\"total-successful-session-count\":1,"
		"\"total-failure-session-count\":0}"));
	mts_buf_free(&json);
	mts_report_day_free(d);
}
END_TEST

START_TEST(json_sts_without_known_text)
{
	struct mts_report_day *d = mts_report_day_new("2025-01-01");
	struct mts_tlsrpt_rec r;
	struct mts_report_meta m = { "o", "c", "s.test" };
	struct mts_buf json = MTS_BUF_INIT;
	char err[256];

	rec_init(&r, "x.test", MTS_TLSRPT_STS_POLICY_FETCH_ERROR);
	strcpy(r.failure_reason, "HTTP status 404");
	ck_assert_int_eq(mts_report_day_add(d, &r), 0);
	ck_assert_int_eq(mts_report_json(NULL, d, &d->domains[0], &m, "id",
					 &json, err, sizeof(err)), 0);
	ck_assert_str_eq(json.data,
		"{\"organization-name\":\"o\",\"date-range\":{\"start-datetime\":"
		"\"2025-01-01T00:00:00Z\",\"end-datetime\":\"2025-01-01T23:59:59Z\"},"
		"\"contact-info\":\"c\",\"report-id\":\"id\",\"policies\":[{\"policy\":"
		"{\"policy-type\":\"sts\",\"policy-domain\":\"x.test\"},\"summary\":"
		"{\"total-successful-session-count\":0,\"total-failure-session-count\":1},"
		"\"failure-details\":[{\"result-type\":\"sts-policy-fetch-error\","
		"\"failed-session-count\":1,\"failure-reason-code\":\"HTTP status 404\"}]}]}\n");
	mts_buf_free(&json);
	mts_report_day_free(d);
}
END_TEST

START_TEST(json_string_escaping)
{
	struct mts_buf b = MTS_BUF_INIT;

	ck_assert_int_eq(mts_report_json_string(&b, "a\"b\\c\n\r\t\x01\x7f\xff"), 0);
	ck_assert_str_eq(b.data, "\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u007f\\ufffd\"");
	mts_buf_free(&b);
}
END_TEST

START_TEST(report_file_name)
{
	struct mts_report_meta m = { "o", "c", "reporter.test" };
	struct mts_report_day *d = mts_report_day_new("2025-01-01");
	char name[400];

	ck_assert_int_eq(mts_report_filename(&m, d, "good.test", "0123abcd",
					     name, sizeof(name)), 0);
	ck_assert_str_eq(name, "reporter.test!good.test!1735689600!1735775999"
			 "!0123abcd.json.gz");
	ck_assert_int_eq(mts_report_filename(&m, d, "good.test", "0123abcd",
					     name, 20), -1);
	mts_report_day_free(d);
}
END_TEST

/* ---- who reports ---- */

START_TEST(meta_from_environment)
{
	struct mts_report_meta m;
	char err[512];

	ck_assert_int_eq(mts_report_meta_load(&m, NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "MTASTS_REPORT_SUBMITTER is not set");
	ck_assert_int_eq(mts_report_meta_load(&m, "Host.Example.", err,
					      sizeof(err)), 0);
	ck_assert_str_eq(m.submitter, "host.example");
	ck_assert_str_eq(m.org, "host.example");
	ck_assert_str_eq(m.contact, "postmaster@host.example");

	setenv("MTASTS_REPORT_SUBMITTER", "reporter.test", 1);
	setenv("MTASTS_REPORT_ORG", "Reporter Inc.", 1);
	setenv("MTASTS_REPORT_CONTACT", "mailto:tls@reporter.test", 1);
	ck_assert_int_eq(mts_report_meta_load(&m, "ignored.example", err,
					      sizeof(err)), 0);
	ck_assert_str_eq(m.submitter, "reporter.test");
	ck_assert_str_eq(m.org, "Reporter Inc.");
	ck_assert_str_eq(m.contact, "mailto:tls@reporter.test");

	setenv("MTASTS_REPORT_SUBMITTER", "not a host", 1);
	ck_assert_int_eq(mts_report_meta_load(&m, NULL, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "MTASTS_REPORT_SUBMITTER"));
	setenv("MTASTS_REPORT_SUBMITTER", "reporter.test", 1);
	setenv("MTASTS_REPORT_ORG", "bad\nname", 1);
	ck_assert_int_eq(mts_report_meta_load(&m, NULL, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "MTASTS_REPORT_ORG"));
	setenv("MTASTS_REPORT_ORG", "ok", 1);
	setenv("MTASTS_REPORT_CONTACT", "caf\xc3\xa9", 1);
	ck_assert_int_eq(mts_report_meta_load(&m, NULL, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "MTASTS_REPORT_CONTACT"));
}
END_TEST

/* ---- delivery state and retries ---- */

static void sample_state(struct mts_report_state *st)
{
	memset(st, 0, sizeof(*st));
	strcpy(st->day, "2025-01-01");
	strcpy(st->domain, "good.test");
	strcpy(st->unique_id, "0123456789abcdef");
	strcpy(st->report_id, "2025-01-01.0123456789abcdef@reporter.test");
	strcpy(st->file, "reporter.test!good.test!1735689600!1735775999!"
	       "0123456789abcdef.json.gz");
	st->created = 1735800000;
	st->first_attempt = 1735800001;
	st->next_attempt = 1735800301;
	st->attempts = 1;
	st->status = MTS_RS_PENDING;
	strcpy(st->last_error, "https://c.test/: HTTP status 500\n");
	st->nep = 2;
	strcpy(st->ep[0].uri, "https://c.test/");
	st->ep[0].attempts = 1;
	strcpy(st->ep[1].uri, "mailto:tls@good.test");
	st->ep[1].status = MTS_EP_SENT;
	st->ep[1].attempts = 1;
}

START_TEST(state_round_trip)
{
	struct mts_report_state st, back;
	struct mts_buf text = MTS_BUF_INIT;
	char err[512];

	sample_state(&st);
	ck_assert_int_eq(mts_report_state_format(&st, &text), 0);
	ck_assert_int_eq(mts_report_state_parse(text.data, text.len, &back), 0);
	ck_assert_str_eq(back.day, st.day);
	ck_assert_str_eq(back.domain, st.domain);
	ck_assert_str_eq(back.unique_id, st.unique_id);
	ck_assert_str_eq(back.report_id, st.report_id);
	ck_assert_str_eq(back.file, st.file);
	ck_assert_int_eq(back.created, st.created);
	ck_assert_int_eq(back.first_attempt, st.first_attempt);
	ck_assert_int_eq(back.next_attempt, st.next_attempt);
	ck_assert_uint_eq(back.attempts, 1);
	ck_assert_int_eq(back.status, MTS_RS_PENDING);
	/* The LF became '?': the file stays line-based. */
	ck_assert_str_eq(back.last_error, "https://c.test/: HTTP status 500?");
	ck_assert_uint_eq(back.nep, 2);
	ck_assert_int_eq(back.ep[0].status, MTS_EP_PENDING);
	ck_assert_int_eq(back.ep[1].status, MTS_EP_SENT);
	ck_assert_str_eq(back.ep[1].uri, "mailto:tls@good.test");

	/* Through the file system. */
	ck_assert_int_eq(mts_report_state_load(report_dir, st.day, st.domain,
					       &back, err, sizeof(err)), 1);
	ck_assert_int_eq(mts_report_state_store(report_dir, &st, err,
						sizeof(err)), 0);
	ck_assert_int_eq(mts_report_state_load(report_dir, st.day, st.domain,
					       &back, err, sizeof(err)), 0);
	ck_assert_str_eq(back.report_id, st.report_id);
	mts_buf_free(&text);
}
END_TEST

START_TEST(state_damage_is_an_error)
{
	struct mts_report_state st, back;
	struct mts_buf text = MTS_BUF_INIT;
	char err[512], path[600];

	sample_state(&st);
	ck_assert_int_eq(mts_report_state_format(&st, &text), 0);
	/* Each line is required: drop any one and it fails. */
	for (size_t cut = 0; cut < text.len; cut++) {
		const char *nl;
		struct mts_buf broken = MTS_BUF_INIT;

		if (cut != 0 && text.data[cut - 1] != '\n')
			continue;
		nl = strchr(text.data + cut, '\n');
		if (strncmp(text.data + cut, "endpoint", 8) == 0)
			continue;	/* endpoints are optional */
		ck_assert_int_eq(mts_buf_append(&broken, text.data, cut), 0);
		ck_assert_int_eq(mts_buf_append_str(&broken, nl + 1), 0);
		ck_assert_int_eq(mts_report_state_parse(broken.data, broken.len,
							&back), -1);
		mts_buf_free(&broken);
	}
	ck_assert_int_eq(mts_report_state_parse("x\n", 2, &back), -1);
	ck_assert_int_eq(mts_report_state_parse(text.data, text.len - 1, &back),
			 -1);
	/* The report file must be a plain name: prune unlinks it. */
	{
		static const char *const bad[] = { "../../etc/passwd",
						   "a/b.json.gz", ".hidden" };

		for (size_t i = 0; i < 3; i++) {
			struct mts_report_state evil = st;

			mts_strlcpy(evil.file, bad[i], sizeof(evil.file));
			mts_buf_reset(&text);
			ck_assert_int_eq(mts_report_state_format(&evil, &text),
					 0);
			ck_assert_int_eq(mts_report_state_parse(text.data,
								text.len,
								&back), -1);
		}
		mts_buf_reset(&text);
		ck_assert_int_eq(mts_report_state_format(&st, &text), 0);
		ck_assert_int_eq(mts_report_state_parse(text.data, text.len,
							&back), 0);
	}
	/* A damaged file on disk is an error, not "no state". */
	ck_assert_int_eq(mts_report_state_store(report_dir, &st, err,
						sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/state/2025-01-01!good.test",
		 report_dir);
	write_file(path, "garbage\n", 8);
	ck_assert_int_eq(mts_report_state_load(report_dir, st.day, st.domain,
					       &back, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "damaged"));
	mts_buf_free(&text);
}
END_TEST

START_TEST(retry_schedule)
{
	int64_t first = 1000000;

	ck_assert_int_eq(mts_report_next_attempt(first, first, 1, 300),
			 first + 300);
	ck_assert_int_eq(mts_report_next_attempt(first + 300, first, 2, 300),
			 first + 900);
	ck_assert_int_eq(mts_report_next_attempt(first + 900, first, 3, 300),
			 first + 2100);
	/* Steps stop growing at 4 hours. */
	ck_assert_int_eq(mts_report_next_attempt(first + 5000, first, 12, 300),
			 first + 5000 + 4 * 3600);
	/* Never past 24 hours after the first attempt... */
	ck_assert_int_eq(mts_report_next_attempt(first + 86000, first, 9, 300),
			 first + 86400);
	/* ...and then it is over. */
	ck_assert_int_eq(mts_report_next_attempt(first + 86400, first, 10, 300),
			 0);
	ck_assert_int_eq(mts_report_next_attempt(first, first, 1, 1), first + 1);
	ck_assert_str_eq(mts_report_status_name(MTS_RS_NO_RUA), "no-rua");
	ck_assert_str_eq(mts_report_status_name(MTS_RS_FAILED), "failed");
}
END_TEST

/* ---- delivery pieces ---- */

START_TEST(mailto_addresses)
{
	char a[MTS_MAIL_ADDR_MAX + 1];

	ck_assert_int_eq(mts_deliver_mailto_address("mailto:tls@good.test", a,
						    sizeof(a)), 0);
	ck_assert_str_eq(a, "tls@good.test");
	ck_assert_int_eq(mts_deliver_mailto_address(
		"MAILTO:tls+rpt@Good.Test?subject=x", a, sizeof(a)), 0);
	ck_assert_str_eq(a, "tls+rpt@Good.Test");
	ck_assert_int_eq(mts_deliver_mailto_address("mailto:a%2Eb@good.test",
						    a, sizeof(a)), 0);
	ck_assert_str_eq(a, "a.b@good.test");
	ck_assert_int_eq(mts_deliver_mailto_address(
		"mailto:a@good.test%2Cb@evil.test", a, sizeof(a)), -1);
	ck_assert_int_eq(mts_deliver_mailto_address("mailto:a b@good.test", a,
						    sizeof(a)), -1);
	ck_assert_int_eq(mts_deliver_mailto_address("mailto:-oQ@good.test", a,
						    sizeof(a)), -1);
	ck_assert_int_eq(mts_deliver_mailto_address("mailto:good.test", a,
						    sizeof(a)), -1);
	ck_assert_int_eq(mts_deliver_mailto_address("mailto:a@b", a,
						    sizeof(a)), -1);
	ck_assert_int_eq(mts_deliver_mailto_address("mailto:a%0d%0a@good.test",
						    a, sizeof(a)), -1);
	ck_assert_int_eq(mts_deliver_mailto_address("mailto:a%4@good.test", a,
						    sizeof(a)), -1);
	ck_assert_int_eq(mts_deliver_mailto_address("https://x.test/", a,
						    sizeof(a)), -1);
}
END_TEST

START_TEST(deliver_options)
{
	struct mts_deliver_opts o;
	struct mts_config cfg;
	char err[512];

	memset(&cfg, 0, sizeof(cfg));
	strcpy(cfg.ehlo_name, "sender.test");
	ck_assert_int_eq(mts_deliver_opts_load(&o, &cfg, "reporter.test", NULL,
					       err, sizeof(err)), 0);
	ck_assert_str_eq(o.smtp_host, "");
	ck_assert_str_eq(o.sendmail, "/usr/sbin/sendmail");
	ck_assert_str_eq(o.from, "noreply-tlsrpt@reporter.test");
	ck_assert_str_eq(o.ehlo, "sender.test");

	setenv("MTASTS_REPORT_SMTP", "127.0.0.1:2525", 1);
	setenv("MTASTS_REPORT_FROM", "tlsrpt@reporter.test", 1);
	ck_assert_int_eq(mts_deliver_opts_load(&o, &cfg, "reporter.test", NULL,
					       err, sizeof(err)), 0);
	ck_assert_str_eq(o.smtp_host, "127.0.0.1");
	ck_assert_uint_eq(o.smtp_port, 2525);
	ck_assert_str_eq(o.from, "tlsrpt@reporter.test");
	setenv("MTASTS_REPORT_SMTP", "[::1]:587", 1);
	ck_assert_int_eq(mts_deliver_opts_load(&o, &cfg, "reporter.test", NULL,
					       err, sizeof(err)), 0);
	ck_assert_str_eq(o.smtp_host, "::1");
	ck_assert_uint_eq(o.smtp_port, 587);
	setenv("MTASTS_REPORT_SMTP", "localhost", 1);
	ck_assert_int_eq(mts_deliver_opts_load(&o, &cfg, "reporter.test", NULL,
					       err, sizeof(err)), 0);
	ck_assert_uint_eq(o.smtp_port, 25);
	setenv("MTASTS_REPORT_SMTP", "host:0", 1);
	ck_assert_int_eq(mts_deliver_opts_load(&o, &cfg, "reporter.test", NULL,
					       err, sizeof(err)), -1);
	setenv("MTASTS_REPORT_SMTP", "host/x:25", 1);
	ck_assert_int_eq(mts_deliver_opts_load(&o, &cfg, "reporter.test", NULL,
					       err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "MTASTS_REPORT_SMTP"));
	unsetenv("MTASTS_REPORT_SMTP");
	setenv("MTASTS_REPORT_FROM", "-f@x.test", 1);
	ck_assert_int_eq(mts_deliver_opts_load(&o, &cfg, "reporter.test", NULL,
					       err, sizeof(err)), -1);
	unsetenv("MTASTS_REPORT_FROM");
	setenv("MTASTS_REPORT_SENDMAIL", "sendmail", 1);
	ck_assert_int_eq(mts_deliver_opts_load(&o, &cfg, "reporter.test", NULL,
					       err, sizeof(err)), -1);
	unsetenv("MTASTS_REPORT_SENDMAIL");
}
END_TEST

START_TEST(child_environment_drops_preload)
{
	char *env[] = { "PATH=/bin", "LD_PRELOAD=/x/libmtasts.so", "A=1",
			"LD_AUDIT=/y.so", "LD_PRELOADX=keep", NULL };
	char **out = mts_deliver_child_env(env);

	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out[0], "PATH=/bin");
	ck_assert_str_eq(out[1], "A=1");
	ck_assert_str_eq(out[2], "LD_PRELOADX=keep");
	ck_assert_ptr_null(out[3]);
	free(out);
}
END_TEST

/* The mail as Python's email package sees it. */
static const char py_check_mail[] =
"import email, email.policy, gzip, sys\n"
"raw = open(sys.argv[1], 'rb').read()\n"
"assert b'\\r\\n' in raw and b'\\n' not in raw.replace(b'\\r\\n', b'')\n"
"assert max(len(l) for l in raw.split(b'\\r\\n')) <= 998\n"
"m = email.message_from_bytes(raw, policy=email.policy.default)\n"
"assert m['From'] == 'noreply-tlsrpt@reporter.test'\n"
"assert m['To'] == 'tls@good.test'\n"
"assert m['Subject'] == 'Report Domain: good.test Submitter: reporter.test "
"Report-ID: <2025-01-01.abc@reporter.test>', m['Subject']\n"
"assert m['TLS-Report-Domain'] == 'good.test'\n"
"assert m['TLS-Report-Submitter'] == 'reporter.test'\n"
"assert m['MIME-Version'] == '1.0'\n"
"assert m['Date'] and m['Message-ID']\n"
"assert m.get_content_type() == 'multipart/report'\n"
"assert m.get_param('report-type') == 'tlsrpt'\n"
"parts = list(m.iter_parts())\n"
"assert len(parts) == 2\n"
"assert parts[0].get_content_type() == 'text/plain'\n"
"assert 'good.test' in parts[0].get_content()\n"
"assert parts[1].get_content_type() == 'application/tlsrpt+gzip'\n"
"fn = 'reporter.test!good.test!1735689600!1735775999!abc.json.gz'\n"
"assert parts[1].get_filename() == fn, parts[1].get_filename()\n"
"assert parts[1].get_content_disposition() == 'attachment'\n"
"data = gzip.decompress(parts[1].get_payload(decode=True))\n"
"assert data == open(sys.argv[2], 'rb').read()\n"
"sys.exit(0)\n";

static void sample_msg(struct mts_report_msg *r, struct mts_buf *gz,
		       struct mts_buf *json)
{
	for (int i = 0; i < 200; i++)
		ck_assert_int_eq(mts_buf_printf(json, "{\"n\":%d}\n", i), 0);
	ck_assert_int_eq(mts_gzip(json->data, json->len, gz), 0);
	memset(r, 0, sizeof(*r));
	r->domain = "good.test";
	r->submitter = "reporter.test";
	r->org = "Reporter Org";
	r->report_id = "2025-01-01.abc@reporter.test";
	r->day = "2025-01-01";
	r->filename = "reporter.test!good.test!1735689600!1735775999!abc.json.gz";
	r->gz = gz->data;
	r->gzlen = gz->len;
	r->now = 1735800000;
}

START_TEST(report_mail_structure)
{
	struct mts_deliver_opts o;
	struct mts_config cfg;
	struct mts_report_msg r;
	struct mts_buf gz = MTS_BUF_INIT, json = MTS_BUF_INIT;
	struct mts_buf mail = MTS_BUF_INIT;
	char err[512], mpath[512], jpath[512];

	memset(&cfg, 0, sizeof(cfg));
	ck_assert_int_eq(mts_deliver_opts_load(&o, &cfg, "reporter.test", NULL,
					       err, sizeof(err)), 0);
	sample_msg(&r, &gz, &json);
	ck_assert_int_eq(mts_deliver_build_mail(&o, "tls@good.test", &r, &mail,
						err, sizeof(err)), 0);
	ck_assert_ptr_null(strstr(mail.data, "DKIM-Signature"));
	ck_assert_ptr_nonnull(strstr(mail.data, "\r\nTLS-Required: No\r\n"));
	snprintf(mpath, sizeof(mpath), "%s/mail.eml", tmpdir);
	snprintf(jpath, sizeof(jpath), "%s/report.json", tmpdir);
	write_file(mpath, mail.data, mail.len);
	write_file(jpath, json.data, json.len);
	ck_assert_int_eq(python(py_check_mail, mpath, jpath), 0);
	/* The Subject is folded where RFC 8460's ABNF has FWS, so that no
	 * header line passes 78 characters. */
	ck_assert_ptr_nonnull(strstr(mail.data, "\r\nSubject: Report Domain: "
		"good.test Submitter: reporter.test\r\n Report-ID: "
		"<2025-01-01.abc@reporter.test>\r\nDate: "));
	for (const char *l = mail.data; strncmp(l, "\r\n", 2) != 0;
	     l = strstr(l, "\r\n") + 2)
		ck_assert_int_le(strstr(l, "\r\n") - l, 78);
	/* A policy domain of 251 characters: its own line. */
	{
		char longdom[254];
		const char *want;

		/* Four labels of 62 letters, dots between. */
		memset(longdom, 'a', 63 * 4 - 1);
		longdom[63 * 4 - 1] = '\0';
		for (int i = 1; i < 4; i++)
			longdom[63 * i - 1] = '.';
		ck_assert_uint_eq(strlen(longdom), 63 * 4 - 1);
		r.domain = longdom;
		mts_buf_reset(&mail);
		ck_assert_int_eq(mts_deliver_build_mail(&o, "tls@good.test", &r,
							&mail, err,
							sizeof(err)), 0);
		write_file(mpath, mail.data, mail.len);
		want = "import email, email.policy, sys\n"
		       "m = email.message_from_bytes(open(sys.argv[1], 'rb')"
		       ".read(), policy=email.policy.default)\n"
		       "want = 'Report Domain: %s Submitter: reporter.test "
		       "Report-ID: <2025-01-01.abc@reporter.test>' % sys.argv[2]\n"
		       "assert m['Subject'] == want, m['Subject']\n"
		       "assert m['TLS-Report-Domain'] == sys.argv[2]\n";
		ck_assert_int_eq(python(want, mpath, longdom), 0);
		ck_assert_ptr_nonnull(strstr(mail.data, longdom));
		ck_assert_ptr_nonnull(strstr(mail.data, "\r\n Submitter: "
					     "reporter.test Report-ID: <"));
		r.domain = "good.test";
	}
	/* Unsafe header material is refused. */
	r.org = "Evil\r\nBcc: x@y.test";
	mts_buf_reset(&mail);
	ck_assert_int_eq(mts_deliver_build_mail(&o, "tls@good.test", &r, &mail,
						err, sizeof(err)), -1);
	mts_buf_free(&gz);
	mts_buf_free(&json);
	mts_buf_free(&mail);
}
END_TEST

/* A fake sendmail: saves argv, environment and stdin, exits with $1. */
static void fake_sendmail(const char *path, int status)
{
	char script[1024];

	snprintf(script, sizeof(script),
		 "#!/bin/sh\n"
		 "echo \"$@\" > %s/argv\n"
		 "env > %s/env\n"
		 "cat > %s/stdin\n"
		 "exit %d\n", tmpdir, tmpdir, tmpdir, status);
	write_file(path, script, strlen(script));
	ck_assert_int_eq(chmod(path, 0755), 0);
}

static int file_contains(const char *path, const char *needle)
{
	char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

START_TEST(sendmail_delivery)
{
	struct mts_deliver_opts o;
	struct mts_config cfg;
	struct mts_report_msg r;
	struct mts_buf gz = MTS_BUF_INIT, json = MTS_BUF_INIT;
	char err[512], sm[512], path[512];

	memset(&cfg, 0, sizeof(cfg));
	cfg.timeout_s = 10;
	snprintf(sm, sizeof(sm), "%s/sendmail", tmpdir);
	fake_sendmail(sm, 0);
	setenv("MTASTS_REPORT_SENDMAIL", sm, 1);
	ck_assert_int_eq(mts_deliver_opts_load(&o, &cfg, "reporter.test", NULL,
					       err, sizeof(err)), 0);
	sample_msg(&r, &gz, &json);
	/* Our own LD_PRELOAD must not reach the MTA. */
	setenv("LD_PRELOAD", "", 1);
	setenv("MTASTS_TEST_MARK", "seen", 1);
	ck_assert_int_eq(mts_deliver(&o, "mailto:tls@good.test", &r, err,
				     sizeof(err)), MTS_DELIVER_OK);
	unsetenv("LD_PRELOAD");
	snprintf(path, sizeof(path), "%s/argv", tmpdir);
	ck_assert(file_contains(path, "-t -oi -f noreply-tlsrpt@reporter.test"));
	snprintf(path, sizeof(path), "%s/env", tmpdir);
	ck_assert(file_contains(path, "MTASTS_TEST_MARK=seen"));
	ck_assert(!file_contains(path, "LD_PRELOAD"));
	snprintf(path, sizeof(path), "%s/stdin", tmpdir);
	ck_assert(file_contains(path, "To: tls@good.test\r\n"));
	ck_assert(file_contains(path, "application/tlsrpt+gzip"));

	/* A failing sendmail is a temporary failure. */
	fake_sendmail(sm, 75);
	ck_assert_int_eq(mts_deliver(&o, "mailto:tls@good.test", &r, err,
				     sizeof(err)), MTS_DELIVER_TEMPFAIL);
	ck_assert_ptr_nonnull(strstr(err, "exit status 75"));
	/* A bad URI is permanent. */
	ck_assert_int_eq(mts_deliver(&o, "mailto:nobody", &r, err,
				     sizeof(err)), MTS_DELIVER_PERMFAIL);
	ck_assert_int_eq(mts_deliver(&o, "ftp://x.test/", &r, err,
				     sizeof(err)), MTS_DELIVER_PERMFAIL);
	/* A missing sendmail is temporary (it may be installed later). */
	strcpy(o.sendmail, "/nonexistent/sendmail");
	errno = 0;
	ck_assert_int_eq(mts_deliver(&o, "mailto:tls@good.test", &r, err,
				     sizeof(err)), MTS_DELIVER_TEMPFAIL);
	/* posix_spawn's own error number, not a stale errno ("Success"). */
	ck_assert_str_eq(err, "cannot start /nonexistent/sendmail: No such "
			 "file or directory");
	unsetenv("MTASTS_REPORT_SENDMAIL");
	unsetenv("MTASTS_TEST_MARK");
	mts_buf_free(&gz);
	mts_buf_free(&json);
}
END_TEST

static Suite *report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *agg = tcase_create("aggregate");
	TCase *huge = tcase_create("huge");
	TCase *state = tcase_create("state");
	TCase *deliver = tcase_create("deliver");

	tcase_add_checked_fixture(agg, setup, teardown);
	tcase_set_timeout(agg, 30);
	tcase_add_test(agg, aggregate_groups_and_counts);
	tcase_add_test(agg, aggregate_many_domains);
	tcase_add_test(agg, json_report_fields_exact);
	tcase_add_test(agg, json_sts_without_known_text);
	tcase_add_test(agg, json_string_escaping);
	tcase_add_test(agg, report_file_name);
	tcase_add_test(agg, meta_from_environment);
	suite_add_tcase(s, agg);

	/* Its own time limit: linear aggregation passes in about a second
	 * (three under ASan), a quadratic one does not. */
	tcase_add_checked_fixture(huge, setup, teardown);
	tcase_set_timeout(huge, 20);
	tcase_add_test(huge, aggregate_hostile_distinct_failures_bounded);
	suite_add_tcase(s, huge);

	tcase_add_checked_fixture(state, setup, teardown);
	tcase_add_test(state, state_round_trip);
	tcase_add_test(state, state_damage_is_an_error);
	tcase_add_test(state, retry_schedule);
	suite_add_tcase(s, state);

	tcase_add_checked_fixture(deliver, setup, teardown);
	tcase_set_timeout(deliver, 30);
	tcase_add_test(deliver, mailto_addresses);
	tcase_add_test(deliver, deliver_options);
	tcase_add_test(deliver, child_environment_drops_preload);
	tcase_add_test(deliver, report_mail_structure);
	tcase_add_test(deliver, sendmail_delivery);
	suite_add_tcase(s, deliver);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(report_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
