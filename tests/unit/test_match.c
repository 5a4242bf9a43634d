/*
 * test_match.c - host names, mx patterns and matching (policy/match.c)
 *
 * Table-driven: every row is its own Check test (tcase_add_loop_test), so
 * a failure names the exact input.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"
#include "policy.h"

/* A name of exactly n characters: labels of 63 'a's, the last one shorter. */
static void make_name(char *buf, size_t n)
{
	size_t left = n, take, pos = 0;

	while (left > 0) {
		take = left < 63 ? left : 63;
		if (left - take == 1)
			take--;	/* never end on a dot */
		memset(buf + pos, 'a', take);
		pos += take;
		left -= take;
		if (left > 0) {
			buf[pos++] = '.';
			left--;
		}
	}
	buf[pos] = '\0';
}

/* ---- mts_hostname_check ---------------------------------------------- */

static const char *const valid_hosts[] = {
	"example.com", "mail.example.com", "MAIL.Example.COM",
	"mail.example.com.", "a-b.example.com", "xn--bcher-kva.example",
	"123.example.com", "a.b", "a1.b2", "mx-1.mx-2.example",
};

START_TEST(hostname_valid)
{
	ck_assert_ptr_null(mts_hostname_check(valid_hosts[_i]));
}
END_TEST

static const struct {
	const char *name;
	const char *why;
} invalid_hosts[] = {
	{ "", "empty name" },
	{ ".", "empty name" },
	{ "example.com..", "empty label" },
	{ ".example.com", "empty label" },
	{ "example..com", "empty label" },
	{ "localhost", "name has only one label" },
	{ "localhost.", "name has only one label" },
	{ "192.0.2.1", "IP address literal, not a host name" },
	{ "192.0.2.1.", "IP address literal, not a host name" },
	{ "example.123", "IP address literal, not a host name" },
	{ "[192.0.2.1]", "IP address literal or port, not a host name" },
	{ "[::1]", "IP address literal or port, not a host name" },
	{ "::1", "IP address literal or port, not a host name" },
	{ "2001:db8::1", "IP address literal or port, not a host name" },
	{ "a.example.com:25", "IP address literal or port, not a host name" },
	{ "-a.example.com", "label starts or ends with '-'" },
	{ "a-.example.com", "label starts or ends with '-'" },
	{ "example.com-", "label starts or ends with '-'" },
	{ "a_b.example.com", "character other than letter, digit, '-' or '.'" },
	{ "ex ample.com", "character other than letter, digit, '-' or '.'" },
	{ "ex\tample.com", "character other than letter, digit, '-' or '.'" },
	{ "b\xc3\xbc" "cher.example", "character other than letter, digit, '-' or '.'" },
	{ "*.example.com", "'*' is allowed only as the whole left-most label" },
	{ "m*.example.com", "'*' is allowed only as the whole left-most label" },
};

START_TEST(hostname_invalid)
{
	const char *why = mts_hostname_check(invalid_hosts[_i].name);

	ck_assert_ptr_nonnull(why);
	ck_assert_str_eq(why, invalid_hosts[_i].why);
}
END_TEST

START_TEST(hostname_null)
{
	ck_assert_str_eq(mts_hostname_check(NULL), "empty name");
}
END_TEST

START_TEST(hostname_label_63_vs_64)
{
	char name[128];

	memset(name, 'a', 63);
	strcpy(name + 63, ".example");
	ck_assert_ptr_null(mts_hostname_check(name));
	memset(name, 'a', 64);
	strcpy(name + 64, ".example");
	ck_assert_str_eq(mts_hostname_check(name),
			 "label longer than 63 characters");
	/* the last label too */
	strcpy(name, "example.");
	memset(name + 8, 'b', 64);
	name[72] = '\0';
	ck_assert_str_eq(mts_hostname_check(name),
			 "label longer than 63 characters");
	name[71] = '\0';
	ck_assert_ptr_null(mts_hostname_check(name));
}
END_TEST

START_TEST(hostname_name_253_vs_254)
{
	char name[300];

	make_name(name, 253);
	ck_assert_uint_eq(strlen(name), 253);
	ck_assert_ptr_null(mts_hostname_check(name));
	/* the trailing dot is not counted */
	strcat(name, ".");
	ck_assert_ptr_null(mts_hostname_check(name));
	make_name(name, 254);
	ck_assert_uint_eq(strlen(name), 254);
	ck_assert_str_eq(mts_hostname_check(name),
			 "name longer than 253 characters");
}
END_TEST

/* ---- mts_mx_pattern_check --------------------------------------------- */

static const char *const valid_patterns[] = {
	"*.example.com", "mail.example.com", "*.example.com.", "*.a.b",
	"*.xn--bcher-kva.example", "MAIL.EXAMPLE.COM",
};

START_TEST(pattern_valid)
{
	ck_assert_ptr_null(mts_mx_pattern_check(valid_patterns[_i]));
}
END_TEST

static const struct {
	const char *pattern;
	const char *why;
} invalid_patterns[] = {
	{ "", "empty pattern" },
	{ "*", "'*' is allowed only as the whole left-most label" },
	{ "*.", "nothing after \"*.\"" },
	{ "*.com", "name has only one label" },
	{ "*.*.example.com", "'*' is allowed only as the whole left-most label" },
	{ "mx.*.example.com", "'*' is allowed only as the whole left-most label" },
	{ "*example.com", "'*' is allowed only as the whole left-most label" },
	{ "m*.example.com", "'*' is allowed only as the whole left-most label" },
	{ "*m.example.com", "'*' is allowed only as the whole left-most label" },
	{ "**.example.com", "'*' is allowed only as the whole left-most label" },
	{ "example.*", "'*' is allowed only as the whole left-most label" },
	{ ".example.com", "empty label" },
	{ "*..example.com", "empty label" },
	{ "example..com", "empty label" },
	{ "192.0.2.1", "IP address literal, not a host name" },
	{ "*.192.0.2.1", "IP address literal, not a host name" },
	{ "[::1]", "IP address literal or port, not a host name" },
	{ "a.example.com:25", "IP address literal or port, not a host name" },
};

START_TEST(pattern_invalid)
{
	const char *why = mts_mx_pattern_check(invalid_patterns[_i].pattern);

	ck_assert_ptr_nonnull(why);
	ck_assert_str_eq(why, invalid_patterns[_i].why);
}
END_TEST

START_TEST(pattern_length_253_vs_254)
{
	char pattern[300];

	/* "*." + 251 = 253 characters in all */
	pattern[0] = '*';
	pattern[1] = '.';
	make_name(pattern + 2, 251);
	ck_assert_uint_eq(strlen(pattern), 253);
	ck_assert_ptr_null(mts_mx_pattern_check(pattern));
	make_name(pattern + 2, 252);
	ck_assert_uint_eq(strlen(pattern), 254);
	ck_assert_str_eq(mts_mx_pattern_check(pattern),
			 "name longer than 253 characters");
	ck_assert_str_eq(mts_mx_pattern_check(NULL), "empty pattern");
}
END_TEST

/* ---- mts_mx_match ----------------------------------------------------- */

static const struct {
	const char *pattern;
	const char *host;
	int match;
} matches[] = {
	/* RFC 8461 4.1 */
	{ "*.example.com", "mail.example.com", 1 },
	{ "*.example.com", "example.com", 0 },
	{ "*.example.com", "a.b.example.com", 0 },
	{ "*.example.com", "MAIL.EXAMPLE.COM.", 1 },
	{ "*.example.com", "mailexample.com", 0 },
	{ "*.example.com", "aexample.com", 0 },
	{ "*.example.com", "mail.example.com.evil.net", 0 },
	{ "*.example.com", "mail.example.comm", 0 },
	{ "*.example.com", "mail.xexample.com", 0 },
	{ "*.example.com", ".example.com", 0 },
	{ "*.example.com", "*.example.com", 0 },
	{ "*.example.com", "*", 0 },
	{ "*.example.com", "mail.example.com..", 0 },
	{ "*.EXAMPLE.com", "mail.example.COM", 1 },
	/* trailing dots, both sides */
	{ "*.example.com.", "mail.example.com", 1 },
	{ "*.example.com.", "mail.example.com.", 1 },
	{ "mail.example.com", "mail.example.com.", 1 },
	{ "mail.example.com.", "mail.example.com", 1 },
	{ "mail.example.com.", "MAIL.example.com.", 1 },
	{ "mail.example.com", "mail.example.com..", 0 },
	/* exact patterns */
	{ "mail.example.com", "mail.example.com", 1 },
	{ "mail.example.com", "MAIL.EXAMPLE.COM", 1 },
	{ "mail.example.com", "mail.example.co", 0 },
	{ "mail.example.com", "xmail.example.com", 0 },
	{ "mail.example.com", "a.mail.example.com", 0 },
	{ "mail.example.com", "example.com", 0 },
	{ "mx.example.com", "*.example.com", 0 },
	/* degenerate */
	{ "", "", 0 },
	{ ".", ".", 0 },
	{ "*.", "a.", 0 },
	{ "*.example.com", "", 0 },
	{ "", "example.com", 0 },
	/* ASCII-only folding: 0xC9 and 0xE9 are É and é in Latin-1 */
	{ "\xc9.example.com", "\xe9.example.com", 0 },
	{ "mail.example.com", "mail.exampl\xc3\xa9.com", 0 },
	{ "*.example.com", "\xc3\xa9.example.com", 0 },
	{ "*.example.com", "-a.example.com", 0 },
	{ "*.example.com", "a_b.example.com", 0 },
};

START_TEST(mx_match_table)
{
	ck_assert_int_eq(mts_mx_match(matches[_i].pattern, matches[_i].host),
			 matches[_i].match);
}
END_TEST

START_TEST(mx_match_null)
{
	ck_assert_int_eq(mts_mx_match(NULL, "mail.example.com"), 0);
	ck_assert_int_eq(mts_mx_match("mail.example.com", NULL), 0);
}
END_TEST

/* ---- mts_policy_mx_allowed -------------------------------------------- */

START_TEST(policy_mx_allowed)
{
	struct mts_policy p = MTS_POLICY_INIT;

	ck_assert_int_eq(mts_policy_mx_allowed(&p, "mail.example.com"), 0);
	ck_assert_int_eq(mts_strlist_add(&p.mx, "mail.example.com"), 0);
	ck_assert_int_eq(mts_strlist_add(&p.mx, "*.example.net"), 0);
	ck_assert_int_eq(mts_strlist_add(&p.mx, "backupmx.example.com"), 0);
	ck_assert_int_eq(mts_policy_mx_allowed(&p, "mail.example.com"), 1);
	ck_assert_int_eq(mts_policy_mx_allowed(&p, "MX1.example.net."), 1);
	ck_assert_int_eq(mts_policy_mx_allowed(&p, "backupmx.example.com"), 1);
	ck_assert_int_eq(mts_policy_mx_allowed(&p, "example.net"), 0);
	ck_assert_int_eq(mts_policy_mx_allowed(&p, "a.b.example.net"), 0);
	ck_assert_int_eq(mts_policy_mx_allowed(&p, "mx.example.com"), 0);
	ck_assert_int_eq(mts_policy_mx_allowed(&p, NULL), 0);
	ck_assert_int_eq(mts_policy_mx_allowed(NULL, "mail.example.com"), 0);
	mts_policy_free(&p);
}
END_TEST

/* ---- mts_name_normalise ----------------------------------------------- */

START_TEST(normalise)
{
	char out[32];

	ck_assert_int_eq(mts_name_normalise("MAIL.Example.COM.", out,
					    sizeof(out)), 0);
	ck_assert_str_eq(out, "mail.example.com");
	ck_assert_int_eq(mts_name_normalise("a..", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "a.");
	/* bytes >= 0x80 are left alone */
	ck_assert_int_eq(mts_name_normalise("\xc9X", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "\xc9x");
	ck_assert_int_eq(mts_name_normalise(".", out, sizeof(out)), -1);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(mts_name_normalise("", out, sizeof(out)), -1);
	ck_assert_int_eq(mts_name_normalise(NULL, out, sizeof(out)), -1);
	ck_assert_int_eq(mts_name_normalise("a.b", NULL, 10), -1);
	ck_assert_int_eq(mts_name_normalise("a.b", out, 0), -1);
}
END_TEST

START_TEST(normalise_exact_fit)
{
	char out[4];

	ck_assert_int_eq(mts_name_normalise("A.BC", out, 4), -1);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(mts_name_normalise("A.B", out, 4), 0);
	ck_assert_str_eq(out, "a.b");
	/* the dropped trailing dot needs no room */
	ck_assert_int_eq(mts_name_normalise("A.B.", out, 4), 0);
	ck_assert_str_eq(out, "a.b");
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *match_suite(void)
{
	Suite *s = suite_create("match");
	TCase *tc;

	tc = tcase_create("hostname");
	tcase_add_loop_test(tc, hostname_valid, 0, N(valid_hosts));
	tcase_add_loop_test(tc, hostname_invalid, 0, N(invalid_hosts));
	tcase_add_test(tc, hostname_null);
	tcase_add_test(tc, hostname_label_63_vs_64);
	tcase_add_test(tc, hostname_name_253_vs_254);
	suite_add_tcase(s, tc);

	tc = tcase_create("pattern");
	tcase_add_loop_test(tc, pattern_valid, 0, N(valid_patterns));
	tcase_add_loop_test(tc, pattern_invalid, 0, N(invalid_patterns));
	tcase_add_test(tc, pattern_length_253_vs_254);
	suite_add_tcase(s, tc);

	tc = tcase_create("match");
	tcase_add_loop_test(tc, mx_match_table, 0, N(matches));
	tcase_add_test(tc, mx_match_null);
	tcase_add_test(tc, policy_mx_allowed);
	suite_add_tcase(s, tc);

	tc = tcase_create("normalise");
	tcase_add_test(tc, normalise);
	tcase_add_test(tc, normalise_exact_fit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(match_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
