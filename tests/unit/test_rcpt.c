/*
 * test_rcpt.c - RCPT TO parsing and the per-recipient decision (relay/rcpt.c)
 *
 * Two tables: RCPT command lines with the domain (or literal, or error)
 * each must give, and the decision rows: a recipient policy against what
 * the connection proved. rcpt.c and decide.c are pure, so they are
 * compiled in here directly.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../relay/decide.c"
#include "../../relay/rcpt.c"
#include "../../relay/smtpstream.h"

enum { ERR = -1 };

static const struct parse_row {
	const char *line;
	int kind;		/* enum relay_rcpt_kind, or ERR */
	const char *domain;	/* or the start of the error text */
} parse_rows[] = {
	{ "RCPT TO:<u@good.test>\r\n", RELAY_RCPT_DOMAIN, "good.test" },
	{ "rcpt to:<u@GOOD.Test.>\r\n", RELAY_RCPT_DOMAIN, "good.test" },
	{ "RCPT TO: <u@good.test>\r\n", RELAY_RCPT_DOMAIN, "good.test" },
	{ "RCPT  TO:<u@good.test>\n", RELAY_RCPT_DOMAIN, "good.test" },
	{ "RCPT TO:<u@good.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u@x.test\r\n",
	  RELAY_RCPT_DOMAIN, "good.test" },
	{ "RCPT TO:<\"a@evil.test>\"@good.test>\r\n", RELAY_RCPT_DOMAIN,
	  "good.test" },
	{ "RCPT TO:<\"a\\\"@b\\\\\"@good.test>\r\n", RELAY_RCPT_DOMAIN,
	  "good.test" },
	{ "RCPT TO:<\"with space\"@good.test>\r\n", RELAY_RCPT_DOMAIN,
	  "good.test" },
	{ "RCPT TO:<@relay.test,@[10.0.0.1]:u@good.test>\r\n",
	  RELAY_RCPT_DOMAIN, "good.test" },
	{ "RCPT TO:<@relay.test:u@good.test>\r\n", RELAY_RCPT_DOMAIN,
	  "good.test" },
	{ "RCPT TO:<@[IPv6:::1]:u@good.test>\r\n", RELAY_RCPT_DOMAIN,
	  "good.test" },
	{ "RCPT TO:<u@[192.0.2.1]>\r\n", RELAY_RCPT_LITERAL, "[192.0.2.1]" },
	{ "RCPT TO:<u@[IPv6:2001:db8::1]> X=1\r\n", RELAY_RCPT_LITERAL,
	  "[IPv6:2001:db8::1]" },
	{ "RCPT TO:<Postmaster>\r\n", RELAY_RCPT_NO_DOMAIN, "" },
	{ "RCPT TO:u@good.test\r\n", RELAY_RCPT_DOMAIN, "good.test" },
	{ "RCPT TO:u@good.test SIZE=1\r\n", RELAY_RCPT_DOMAIN, "good.test" },
	{ "RCPT TO:<u@b\xc3\xbc" "cher.test>\r\n", RELAY_RCPT_DOMAIN,
	  "b\xc3\xbc" "cher.test" },
	{ "RCPT TO:<>\r\n", ERR, "empty address" },
	{ "RCPT TO:<u@>\r\n", ERR, "empty domain" },
	{ "RCPT TO:<u@.>\r\n", ERR, "empty domain" },
	{ "RCPT TO:<u@good.test\r\n", ERR, "missing" },
	{ "RCPT TO:<u@good.test>junk\r\n", ERR, "junk" },
	{ "RCPT TO:<u@good.test>\rRCPT TO:<v@bad.test>\r\n", ERR, "junk" },
	{ "RCPT TO:<u@[192.0.2.1>\r\n", ERR, "unterminated" },
	{ "RCPT TO:<\"u@good.test>\r\n", ERR, "malformed quoted" },
	{ "RCPT TO:<@relay.test u@good.test>\r\n", ERR, "malformed source" },
	{ "RCPT TO:<u@go(od.test>\r\n", ERR, "bad octet" },
	{ "RCPT TO:<u@go\x01od.test>\r\n", ERR, "bad octet" },
	{ "RCPT FROM:<u@good.test>\r\n", ERR, "expected" },
	{ "RCPTTO:<u@good.test>\r\n", ERR, "not a RCPT" },
	{ "MAIL FROM:<u@good.test>\r\n", ERR, "not a RCPT" },
};

START_TEST(parse_table)
{
	const struct parse_row *r = &parse_rows[_i];
	struct relay_rcpt_addr a;
	const char *why = relay_rcpt_parse(r->line, strlen(r->line), &a);

	if (r->kind == ERR) {
		ck_assert_msg(why != NULL, "accepted: %s", r->line);
		ck_assert_msg(strncmp(why, r->domain, strlen(r->domain)) == 0,
			      "%s: reason '%s', expected '%s...'", r->line, why,
			      r->domain);
		return;
	}
	ck_assert_msg(why == NULL, "%s: refused: %s", r->line, why);
	ck_assert_int_eq(a.kind, r->kind);
	ck_assert_str_eq(a.domain, r->domain);
}
END_TEST

START_TEST(parse_bounds)
{
	char line[600];
	struct relay_rcpt_addr a;
	size_t n;

	/* 253 octets of domain: fine; 254: too long. No NUL inside. */
	for (size_t len = 253; len <= 254; len++) {
		n = (size_t)snprintf(line, sizeof(line), "RCPT TO:<u@");
		memset(line + n, 'a', len);
		for (size_t i = 60; i < len; i += 61)
			line[n + i] = '.';
		n += len;
		memcpy(line + n, ">\r\n", 4);
		n += 3;
		ck_assert_int_eq(relay_rcpt_parse(line, n, &a) == NULL,
				 len == 253);
	}
	memcpy(line, "RCPT TO:<u@go\0od.test>\r\n", 24);
	ck_assert_ptr_nonnull(relay_rcpt_parse(line, 24, &a));
	/* Not NUL-terminated input: no read past len. */
	ck_assert_ptr_nonnull(relay_rcpt_parse("RCPT TO:<u@good.test>", 15, &a));
}
END_TEST

/* --- the decision table ---------------------------------------------------- */

enum { NOPOL = -1 };

static const struct decide_row {
	int mode;			/* enum mts_mode or NOPOL */
	const char *pattern;		/* the policy's one mx pattern */
	int offered, accepted;
	enum relay_tls_state tls;
	enum relay_chain chain;
	const char *mx;			/* NULL: unknown */
	enum relay_name mx_name;	/* a SAN names mx */
	enum relay_name san_policy;	/* a SAN matches the policy */
	enum relay_rcpt_verdict verdict;
	const char *reason, *detail;
	int report;
} decide_rows[] = {
#define EST RELAY_TLS_ESTABLISHED
#define NOT RELAY_TLS_NOT_TRIED
#define OK RELAY_CHAIN_OK
#define UNT RELAY_CHAIN_UNTRUSTED
#define EXP RELAY_CHAIN_EXPIRED
#define NOK RELAY_NAME_OK
#define NMM RELAY_NAME_MISMATCH
#define NUN RELAY_NAME_UNCHECKED
#define ALLOW RELAY_RCPT_ALLOW
#define DEFER RELAY_RCPT_DEFER
#define ENF MTS_MODE_ENFORCE
#define TST MTS_MODE_TESTING
	/* enforce, MX known */
	{ ENF, "mx1.good.test", 1, 1, EST, OK, "mx1.good.test", NOK, NUN, ALLOW, NULL, NULL, 1 },
	{ ENF, "*.good.test", 1, 1, EST, OK, "mx1.good.test", NOK, NUN, ALLOW, NULL, NULL, 1 },
	{ ENF, "mx.other.test", 1, 1, EST, OK, "mx1.good.test", NOK, NUN, DEFER, "validation-failure", "mx-not-listed", 1 },
	{ ENF, "mx1.good.test", 1, 1, EST, OK, "mx1.good.test", NMM, NUN, DEFER, "certificate-host-mismatch", "name-mismatch", 1 },
	{ ENF, "mx1.good.test", 1, 1, EST, UNT, "mx1.good.test", NOK, NUN, DEFER, "certificate-not-trusted", "cert-untrusted", 1 },
	{ ENF, "mx1.good.test", 1, 1, EST, EXP, "mx1.good.test", NOK, NUN, DEFER, "certificate-expired", "cert-expired", 1 },
	{ ENF, "mx1.good.test", 0, 0, NOT, OK, "mx1.good.test", NUN, NUN, DEFER, "starttls-not-supported", "starttls-not-offered", 1 },
	{ ENF, "mx1.good.test", 1, 0, NOT, OK, "mx1.good.test", NUN, NUN, DEFER, "starttls-not-supported", "starttls-refused", 1 },
	/* the MX listed but the SAN only matches another listed name: the
	 * MX name decides when it is known, so no */
	{ ENF, "*.good.test", 1, 1, EST, OK, "mx1.good.test", NMM, NOK, DEFER, "certificate-host-mismatch", "name-mismatch", 1 },
	/* enforce, MX unknown (a literal): the certificate's names decide */
	{ ENF, "mx1.good.test", 1, 1, EST, OK, NULL, NUN, NOK, ALLOW, NULL, NULL, 1 },
	{ ENF, "mx1.good.test", 1, 1, EST, OK, NULL, NUN, NMM, DEFER, "certificate-host-mismatch", "mx-unknown", 1 },
	{ ENF, "mx1.good.test", 1, 1, EST, UNT, NULL, NUN, NOK, DEFER, "certificate-not-trusted", "cert-untrusted", 1 },
	{ ENF, "mx1.good.test", 0, 0, NOT, OK, NULL, NUN, NUN, DEFER, "starttls-not-supported", "starttls-not-offered", 1 },
	/* testing: forwarded, the failure kept for TLSRPT */
	{ TST, "mx.other.test", 1, 1, EST, OK, "mx1.good.test", NOK, NUN, ALLOW, "validation-failure", "mx-not-listed", 1 },
	{ TST, "mx1.good.test", 0, 0, NOT, OK, NULL, NUN, NUN, ALLOW, "starttls-not-supported", "starttls-not-offered", 1 },
	{ TST, "mx1.good.test", 1, 1, EST, OK, "mx1.good.test", NOK, NUN, ALLOW, NULL, NULL, 1 },
	/* mode none, no policy: forwarded, nothing to report */
	{ MTS_MODE_NONE, NULL, 0, 0, NOT, OK, NULL, NUN, NUN, ALLOW, NULL, NULL, 0 },
	{ NOPOL, NULL, 0, 0, NOT, OK, NULL, NUN, NUN, ALLOW, NULL, NULL, 0 },
	{ NOPOL, NULL, 1, 1, EST, UNT, "mx1.good.test", NMM, NUN, ALLOW, NULL, NULL, 0 },
};

static int str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL &&
					    strcmp(a, b) == 0);
}

START_TEST(decide_table)
{
	const struct decide_row *r = &decide_rows[_i];
	struct mts_policy p = MTS_POLICY_INIT;
	struct relay_rcpt_conn c = { r->offered, r->accepted, r->tls, r->chain,
				     r->mx, r->mx_name };
	struct relay_rcpt_decision d;

	if (r->mode != NOPOL) {
		p.mode = (enum mts_mode)r->mode;
		p.max_age = 86400;
		if (r->pattern != NULL)
			ck_assert_int_eq(mts_strlist_add(&p.mx, r->pattern), 0);
	}
	relay_rcpt_decide(&c, r->mode == NOPOL ? NULL : &p, r->san_policy, &d);
	ck_assert_msg(d.verdict == r->verdict, "row %d: verdict %d", _i,
		      d.verdict);
	ck_assert_msg(str_eq(d.reason, r->reason), "row %d: reason %s", _i,
		      d.reason ? d.reason : "NULL");
	ck_assert_msg(str_eq(d.detail, r->detail), "row %d: detail %s", _i,
		      d.detail ? d.detail : "NULL");
	ck_assert_int_eq(d.report, r->report);
	mts_policy_free(&p);
}
END_TEST

START_TEST(reply_text)
{
	struct relay_rcpt_decision d = { RELAY_RCPT_DEFER, "enforce",
					 "validation-failure", "mx-not-listed", 1 };
	char out[512], small[20];
	char longdom[300];

	ck_assert_int_eq(relay_rcpt_reply(&d, "x.test", out, sizeof(out)),
			 (int)strlen(out));
	ck_assert_str_eq(out, "450 4.7.5 MTA-STS: policy of x.test not "
			      "satisfied: validation-failure (mx-not-listed)\r\n");
	d.reason = "starttls-not-supported";
	d.detail = "starttls-not-offered";
	relay_rcpt_reply(&d, "x.test", out, sizeof(out));
	ck_assert_str_eq(out, "450 4.7.4 MTA-STS: policy of x.test not "
			      "satisfied: starttls-not-supported "
			      "(starttls-not-offered)\r\n");
	ck_assert_int_eq(relay_rcpt_reply(&d, "x.test", small, sizeof(small)),
			 -1);
	memset(longdom, 'a', sizeof(longdom) - 1);
	longdom[sizeof(longdom) - 1] = '\0';
	ck_assert_int_gt(relay_rcpt_reply(&d, longdom, out, sizeof(out)), 0);
	ck_assert_uint_le(strlen(out), RELAY_SS_LOCAL_MAX);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("rcpt");
	TCase *t = tcase_create("rcpt");

	tcase_add_loop_test(t, parse_table, 0,
			    (int)(sizeof(parse_rows) / sizeof(parse_rows[0])));
	tcase_add_test(t, parse_bounds);
	tcase_add_loop_test(t, decide_table, 0,
			    (int)(sizeof(decide_rows) / sizeof(decide_rows[0])));
	tcase_add_test(t, reply_text);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
