/*
 * test_policy.c - the MTA-STS policy file parser (policy/policy.c)
 *
 * Every test asserts the exact outcome: the return value, the parsed
 * fields, and the exact list of diagnostics (line, error or note, text).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "policy.h"

/* RFC 8461 section 3.2, the example policy */
#define RFC_EXAMPLE \
	"version: STSv1\n" \
	"mode: enforce\n" \
	"mx: mail.example.com\n" \
	"mx: *.example.net\n" \
	"mx: backupmx.example.com\n" \
	"max_age: 604800\n"

static struct mts_policy pol = MTS_POLICY_INIT;
static struct mts_diag dg;

static void teardown(void)
{
	mts_policy_free(&pol);
}

static int parse_mem(const char *text, size_t len)
{
	mts_policy_free(&pol);
	return mts_policy_parse(text, len, &pol, &dg);
}

static int parse(const char *text)
{
	return parse_mem(text, strlen(text));
}

#define assert_item(i, ln, err, txt) do { \
	ck_assert_uint_gt(dg.count, (i)); \
	ck_assert_uint_eq(dg.item[(i)].line, (ln)); \
	ck_assert_int_eq(dg.item[(i)].is_error, (err)); \
	ck_assert_str_eq(dg.item[(i)].text, (txt)); \
} while (0)

#define assert_counts(n_items, n_errors) do { \
	ck_assert_uint_eq(dg.count, (n_items)); \
	ck_assert_uint_eq(dg.errors, (n_errors)); \
	ck_assert_uint_eq(dg.dropped, 0); \
} while (0)

static void assert_rfc_example(void)
{
	ck_assert_int_eq(pol.mode, MTS_MODE_ENFORCE);
	ck_assert_uint_eq(pol.max_age, 604800);
	ck_assert_uint_eq(pol.mx.count, 3);
	ck_assert_str_eq(pol.mx.item[0], "mail.example.com");
	ck_assert_str_eq(pol.mx.item[1], "*.example.net");
	ck_assert_str_eq(pol.mx.item[2], "backupmx.example.com");
}

static void assert_freed(void)
{
	ck_assert_uint_eq(pol.mx.count, 0);
	ck_assert_ptr_null(pol.mx.item);
	ck_assert_uint_eq(pol.max_age, 0);
	ck_assert_int_eq(pol.mode, MTS_MODE_NONE);
}

/* ---- the RFC example and line ends ----------------------------------- */

START_TEST(rfc_example_lf)
{
	ck_assert_int_eq(parse(RFC_EXAMPLE), 0);
	assert_counts(0, 0);
	assert_rfc_example();
}
END_TEST

START_TEST(rfc_example_crlf)
{
	ck_assert_int_eq(parse("version: STSv1\r\nmode: enforce\r\n"
			       "mx: mail.example.com\r\nmx: *.example.net\r\n"
			       "mx: backupmx.example.com\r\nmax_age: 604800\r\n"),
			 0);
	assert_counts(0, 0);
	assert_rfc_example();
}
END_TEST

START_TEST(rfc_example_mixed_line_ends)
{
	ck_assert_int_eq(parse("version: STSv1\r\nmode: enforce\n"
			       "mx: mail.example.com\r\nmx: *.example.net\n"
			       "mx: backupmx.example.com\nmax_age: 604800\r\n"),
			 0);
	assert_counts(0, 0);
	assert_rfc_example();
}
END_TEST

START_TEST(no_final_newline)
{
	ck_assert_int_eq(parse("version: STSv1\nmode: enforce\n"
			       "mx: mail.example.com\nmx: *.example.net\n"
			       "mx: backupmx.example.com\nmax_age: 604800"), 0);
	assert_counts(0, 0);
	assert_rfc_example();
	ck_assert_int_eq(parse("version: STSv1\r\nmode: enforce\r\n"
			       "mx: mail.example.com\r\nmx: *.example.net\r\n"
			       "mx: backupmx.example.com\r\nmax_age: 604800"), 0);
	assert_counts(0, 0);
	assert_rfc_example();
}
END_TEST

START_TEST(fields_in_any_order)
{
	ck_assert_int_eq(parse("max_age: 604800\nmx: mail.example.com\n"
			       "mx: *.example.net\nmode: enforce\n"
			       "mx: backupmx.example.com\nversion: STSv1\n"), 0);
	assert_counts(0, 0);
	assert_rfc_example();
}
END_TEST

START_TEST(lone_cr)
{
	/* A CR that does not end a CRLF is not a line end: error. */
	ck_assert_int_eq(parse("version: STSv1\rmode: enforce\n"
			       "mx: mail.example.com\nmax_age: 1\n"), -1);
	assert_counts(3, 3);
	assert_item(0, 1, 1, "carriage return not followed by line feed");
	assert_item(1, 0, 1, "missing version");
	assert_item(2, 0, 1, "missing mode");
	assert_freed();
}
END_TEST

START_TEST(lone_cr_at_end)
{
	ck_assert_int_eq(parse("version: STSv1\nmode: none\nmax_age: 1\r"), -1);
	assert_counts(2, 2);
	assert_item(0, 3, 1, "carriage return not followed by line feed");
	assert_item(1, 0, 1, "missing max_age");
}
END_TEST

START_TEST(cr_cr_lf)
{
	ck_assert_int_eq(parse("version: STSv1\nmode: none\r\r\nmax_age: 1\n"),
			 -1);
	assert_counts(2, 2);
	assert_item(0, 2, 1, "carriage return not followed by line feed");
	assert_item(1, 0, 1, "missing mode");
}
END_TEST

START_TEST(byte_order_mark)
{
	ck_assert_int_eq(parse("\xef\xbb\xbf" RFC_EXAMPLE), -1);
	/* only the BOM is wrong: the rest is still read */
	assert_counts(1, 1);
	assert_item(0, 1, 1, "byte order mark at the start of the file");
	assert_freed();
}
END_TEST

START_TEST(nul_byte_mid_file)
{
	static const char text[] = "version: STSv1\nmode: enf\0orce\n"
				   "mx: mail.example.com\nmax_age: 1\n";

	ck_assert_int_eq(parse_mem(text, sizeof(text) - 1), -1);
	assert_counts(2, 2);
	assert_item(0, 2, 1, "NUL byte");
	assert_item(1, 0, 1, "missing mode");
	assert_freed();
}
END_TEST

START_TEST(nul_byte_in_value_of_unknown_field)
{
	static const char text[] = "version: STSv1\nmode: none\n"
				   "max_age: 1\nfoo: a\0b\n";

	ck_assert_int_eq(parse_mem(text, sizeof(text) - 1), -1);
	assert_counts(1, 1);
	assert_item(0, 4, 1, "NUL byte");
}
END_TEST

START_TEST(control_characters)
{
	ck_assert_int_eq(parse("version: STSv1\nmode: none\x01\nmax_age: 1\n"),
			 -1);
	assert_item(0, 2, 1, "control character");
	ck_assert_int_eq(parse("version: STSv1\nmode: none\x7f\nmax_age: 1\n"),
			 -1);
	assert_item(0, 2, 1, "control character");
	ck_assert_int_eq(parse("version: STSv1\nmode: none\nmax_age: 1\f\n"),
			 -1);
	assert_item(0, 3, 1, "control character");
}
END_TEST

START_TEST(empty_input)
{
	ck_assert_int_eq(parse(""), -1);
	assert_counts(1, 1);
	assert_item(0, 0, 1, "empty policy");
	ck_assert_int_eq(mts_policy_parse(NULL, 0, &pol, &dg), -1);
	assert_counts(1, 1);
	assert_item(0, 0, 1, "empty policy");
}
END_TEST

START_TEST(only_newlines)
{
	ck_assert_int_eq(parse("\n\r\n"), -1);
	assert_counts(5, 3);
	assert_item(0, 1, 0, "empty line ignored");
	assert_item(1, 2, 0, "empty line ignored");
	assert_item(2, 0, 1, "missing version");
	assert_item(3, 0, 1, "missing mode");
	assert_item(4, 0, 1, "missing max_age");
}
END_TEST

START_TEST(empty_and_blank_lines)
{
	/* tolerated with a note; the final line end is not an empty line */
	ck_assert_int_eq(parse("\nversion: STSv1\n \t \nmode: none\n"
			       "max_age: 1\n\n"), 0);
	assert_counts(3, 0);
	assert_item(0, 1, 0, "empty line ignored");
	assert_item(1, 3, 0, "blank line ignored");
	assert_item(2, 6, 0, "empty line ignored");
	ck_assert_int_eq(pol.mode, MTS_MODE_NONE);
	ck_assert_uint_eq(pol.max_age, 1);
}
END_TEST

/* ---- sizes ------------------------------------------------------------ */

static char *filled_policy(size_t total)
{
	static const char head[] = "version: STSv1\nmode: none\nmax_age: 1\nx: ";
	char *text = malloc(total + 1);

	ck_assert_ptr_nonnull(text);
	ck_assert_uint_gt(total, sizeof(head));
	memcpy(text, head, sizeof(head) - 1);
	memset(text + sizeof(head) - 1, 'v', total - (sizeof(head) - 1));
	text[total] = '\0';
	return text;
}

START_TEST(size_limit)
{
	char *text = filled_policy(MTS_POLICY_MAX_BYTES);

	/* exactly 64 KiB, one long extension line: fine (no line limit) */
	ck_assert_int_eq(parse_mem(text, MTS_POLICY_MAX_BYTES), 0);
	assert_counts(1, 0);
	assert_item(0, 4, 0, "unknown field \"x\" ignored");
	free(text);

	text = filled_policy(MTS_POLICY_MAX_BYTES + 1);
	ck_assert_int_eq(parse_mem(text, MTS_POLICY_MAX_BYTES + 1), -1);
	assert_counts(1, 1);
	assert_item(0, 0, 1, "policy larger than 65536 bytes");
	assert_freed();
	free(text);
}
END_TEST

START_TEST(overlong_mx_line)
{
	struct mts_buf b = MTS_BUF_INIT;

	ck_assert_int_eq(mts_buf_append_str(&b, "version: STSv1\nmode: enforce\n"
					    "max_age: 1\nmx: "), 0);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(mts_buf_append_str(&b, "a."), 0);
	ck_assert_int_eq(mts_buf_append_str(&b, "com\n"), 0);
	ck_assert_int_eq(parse_mem(b.data, b.len), -1);
	assert_counts(2, 2);
	/* the value is shown cut to 48 characters */
	assert_item(0, 4, 1, "mx \"a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a."
		    "...\": longer than 253 characters");
	assert_item(1, 0, 1, "no valid mx (required unless mode is none)");
	mts_buf_free(&b);
}
END_TEST

/* As many mx lines as fit in 64 KiB, timed: the parse must be linear. */
START_TEST(many_mx_lines)
{
	static const char head[] = "version: STSv1\nmode: enforce\nmax_age: 1\n";
	struct mts_buf b = MTS_BUF_INIT;
	struct timespec t0, t1;
	double seconds;
	size_t n = 0;

	ck_assert_int_eq(mts_buf_append_str(&b, head), 0);
	/* "mx:a.b\n" is the shortest valid mx line: 7 bytes */
	while (b.len + 7 <= MTS_POLICY_MAX_BYTES) {
		ck_assert_int_eq(mts_buf_append_str(&b, "mx:a.b\n"), 0);
		n++;
	}
	ck_assert_uint_eq(n, 9356);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(parse_mem(b.data, b.len), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	seconds = (double)(t1.tv_sec - t0.tv_sec) +
		  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(seconds < 0.5, "parse took %.3f s", seconds);
	assert_counts(0, 0);
	ck_assert_uint_eq(pol.mx.count, 9356);
	ck_assert_str_eq(pol.mx.item[9355], "a.b");
	mts_buf_free(&b);
}
END_TEST

/* 10,000 invalid mx lines (within 64 KiB): every error counted. */
START_TEST(ten_thousand_bad_lines)
{
	struct mts_buf b = MTS_BUF_INIT;
	struct timespec t0, t1;
	double seconds;

	ck_assert_int_eq(mts_buf_append_str(&b, "version: STSv1\nmode: none\n"
					    "max_age: 1\n"), 0);
	for (int i = 0; i < 10000; i++)
		ck_assert_int_eq(mts_buf_append_str(&b, "mx:1\n"), 0);
	ck_assert_uint_le(b.len, MTS_POLICY_MAX_BYTES);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(parse_mem(b.data, b.len), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	seconds = (double)(t1.tv_sec - t0.tv_sec) +
		  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(seconds < 0.5, "parse took %.3f s", seconds);
	ck_assert_uint_eq(dg.count, MTS_DIAG_MAX);
	ck_assert_uint_eq(dg.errors, 10000);
	ck_assert_uint_eq(dg.dropped, 10000 - MTS_DIAG_MAX);
	assert_item(0, 4, 1, "mx \"1\": name has only one label");
	assert_item(MTS_DIAG_MAX - 1, 4 + MTS_DIAG_MAX - 1, 1,
		    "mx \"1\": name has only one label");
	mts_buf_free(&b);
}
END_TEST

/* ---- max_age ---------------------------------------------------------- */

static const struct {
	const char *value;
	int ok;
	unsigned max_age;
	const char *why;	/* the error text when !ok */
} max_ages[] = {
	{ "0", 1, 0, NULL },
	{ "1", 1, 1, NULL },
	{ "604800", 1, 604800, NULL },
	{ "31557600", 1, 31557600, NULL },
	{ "0000000000", 1, 0, NULL },
	{ "0031557600", 1, 31557600, NULL },
	{ "5 ", 1, 5, NULL },
	{ " 5", 1, 5, NULL },
	{ "\t5\t ", 1, 5, NULL },
	{ "31557601", 0, 0, "max_age 31557601 is over the limit of 31557600 seconds" },
	{ "9999999999", 0, 0, "max_age 9999999999 is over the limit of 31557600 seconds" },
	{ "4294967296", 0, 0, "max_age 4294967296 is over the limit of 31557600 seconds" },
	{ "99999999999", 0, 0, "max_age must have 1 to 10 digits" },
	{ "00000000000", 0, 0, "max_age must have 1 to 10 digits" },
	{ "00000000001", 0, 0, "max_age must have 1 to 10 digits" },
	{ "18446744073709551617", 0, 0, "max_age must have 1 to 10 digits" },
	{ "", 0, 0, "max_age must have 1 to 10 digits" },
	{ "+5", 0, 0, "max_age \"+5\" is not a plain decimal number" },
	{ "-1", 0, 0, "max_age \"-1\" is not a plain decimal number" },
	{ "0x10", 0, 0, "max_age \"0x10\" is not a plain decimal number" },
	{ "5.0", 0, 0, "max_age \"5.0\" is not a plain decimal number" },
	{ "1 000", 0, 0, "max_age \"1 000\" is not a plain decimal number" },
	{ "1e6", 0, 0, "max_age \"1e6\" is not a plain decimal number" },
	{ "\xef\xbc\x91", 0, 0, "max_age \"???\" is not a plain decimal number" },
};

START_TEST(max_age_table)
{
	char text[256];

	snprintf(text, sizeof(text), "version: STSv1\nmode: none\n"
		 "max_age:%s%s\n", max_ages[_i].value[0] ? " " : "",
		 max_ages[_i].value);
	if (max_ages[_i].ok) {
		ck_assert_int_eq(parse(text), 0);
		assert_counts(0, 0);
		ck_assert_uint_eq(pol.max_age, max_ages[_i].max_age);
	} else {
		ck_assert_int_eq(parse(text), -1);
		assert_counts(1, 1);
		assert_item(0, 3, 1, max_ages[_i].why);
	}
}
END_TEST

/* ---- mx --------------------------------------------------------------- */

#define L63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define N253 L63 "." L63 "." L63 "." \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct {
	const char *value;
	const char *stored;	/* NULL = rejected */
	const char *text;	/* the one diagnostic, or NULL */
} mxs[] = {
	{ "mail.example.com", "mail.example.com", NULL },
	{ "*.example.com", "*.example.com", NULL },
	{ "MAIL.Example.COM", "mail.example.com", NULL },
	{ "*.EXAMPLE.NET", "*.example.net", NULL },
	{ "xn--bcher-kva.example", "xn--bcher-kva.example", NULL },
	{ L63 ".example", L63 ".example", NULL },
	{ N253, N253, NULL },
	{ "mail.example.com.", "mail.example.com",
	  "mx \"mail.example.com\": trailing dot removed" },
	{ "192.0.2.1", NULL, "mx \"192.0.2.1\": IP address literal, not a host name" },
	{ "[192.0.2.1]", NULL,
	  "mx \"[192.0.2.1]\": IP address literal or port, not a host name" },
	{ "[::1]", NULL, "mx \"[::1]\": IP address literal or port, not a host name" },
	{ "a.example.com:25", NULL,
	  "mx \"a.example.com:25\": IP address literal or port, not a host name" },
	{ "*.*.example.com", NULL,
	  "mx \"*.*.example.com\": '*' is allowed only as the whole left-most label" },
	{ "mx.*.example.com", NULL,
	  "mx \"mx.*.example.com\": '*' is allowed only as the whole left-most label" },
	{ "*example.com", NULL,
	  "mx \"*example.com\": '*' is allowed only as the whole left-most label" },
	{ "m*.example.com", NULL,
	  "mx \"m*.example.com\": '*' is allowed only as the whole left-most label" },
	{ "*.com", NULL, "mx \"*.com\": name has only one label" },
	{ "localhost", NULL, "mx \"localhost\": name has only one label" },
	{ ".example.com", NULL, "mx \".example.com\": empty label" },
	{ "example..com", NULL, "mx \"example..com\": empty label" },
	{ "example.com..", NULL, "mx \"example.com..\": empty label" },
	{ L63 "a.example", NULL, "mx \"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "...\": label longer than 63 characters" },
	{ N253 "a", NULL, "mx \"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "...\": name longer than 253 characters" },
	{ "mail_1.example.com", NULL, "mx \"mail_1.example.com\": character "
	  "other than letter, digit, '-' or '.'" },
	{ "b\xc3\xbc" "cher.example", NULL, "mx \"b??cher.example\": character "
	  "other than letter, digit, '-' or '.'" },
	{ "a.example.com b.example.com", NULL, "mx \"a.example.com b.example.com\": "
	  "character other than letter, digit, '-' or '.'" },
	{ "-a.example.com", NULL, "mx \"-a.example.com\": label starts or ends with '-'" },
	{ "", NULL, "empty mx" },
};

START_TEST(mx_table)
{
	char text[512];
	unsigned errors = mxs[_i].stored == NULL;

	snprintf(text, sizeof(text), "version: STSv1\nmode: testing\n"
		 "max_age: 1\nmx: ok.example.org\nmx: %s\n", mxs[_i].value);
	ck_assert_int_eq(parse(text), errors ? -1 : 0);
	ck_assert_uint_eq(dg.errors, errors);
	ck_assert_uint_eq(dg.count, mxs[_i].text != NULL);
	if (mxs[_i].text != NULL)
		assert_item(0, 5, (int)errors, mxs[_i].text);
	if (errors == 0) {
		ck_assert_uint_eq(pol.mx.count, 2);
		ck_assert_str_eq(pol.mx.item[0], "ok.example.org");
		ck_assert_str_eq(pol.mx.item[1], mxs[_i].stored);
	}
}
END_TEST

START_TEST(mx_required_unless_none)
{
	ck_assert_int_eq(parse("version: STSv1\nmode: none\nmax_age: 1\n"), 0);
	assert_counts(0, 0);
	ck_assert_int_eq(pol.mode, MTS_MODE_NONE);
	ck_assert_uint_eq(pol.mx.count, 0);

	ck_assert_int_eq(parse("version: STSv1\nmode: enforce\nmax_age: 1\n"), -1);
	assert_counts(1, 1);
	assert_item(0, 0, 1, "no mx (required unless mode is none)");

	ck_assert_int_eq(parse("version: STSv1\nmode: testing\nmax_age: 1\n"), -1);
	assert_counts(1, 1);
	assert_item(0, 0, 1, "no mx (required unless mode is none)");

	/* mx lines that are all invalid */
	ck_assert_int_eq(parse("version: STSv1\nmode: enforce\nmax_age: 1\n"
			       "mx: 192.0.2.1\n"), -1);
	assert_counts(2, 2);
	assert_item(1, 0, 1, "no valid mx (required unless mode is none)");

	/* mode none may list mx lines; they are kept */
	ck_assert_int_eq(parse("version: STSv1\nmode: none\nmax_age: 1\n"
			       "mx: mx.example.com\n"), 0);
	ck_assert_uint_eq(pol.mx.count, 1);
}
END_TEST

START_TEST(mx_duplicates_kept)
{
	ck_assert_int_eq(parse("version: STSv1\nmode: enforce\nmax_age: 1\n"
			       "mx: a.example.com\nmx: a.example.com\n"), 0);
	assert_counts(0, 0);
	ck_assert_uint_eq(pol.mx.count, 2);
}
END_TEST

/* ---- version and mode ------------------------------------------------- */

static const struct {
	const char *line;
	int ok;
	enum mts_mode mode;
	const char *why;
} modes[] = {
	{ "mode: enforce", 1, MTS_MODE_ENFORCE, NULL },
	{ "mode: testing", 1, MTS_MODE_TESTING, NULL },
	{ "mode: none", 1, MTS_MODE_NONE, NULL },
	{ "mode:enforce", 1, MTS_MODE_ENFORCE, NULL },
	{ "mode:\t enforce \t", 1, MTS_MODE_ENFORCE, NULL },
	{ "mode: Enforce", 0, 0,
	  "mode \"Enforce\" is not enforce, testing or none (values are case-sensitive)" },
	{ "mode: ENFORCE", 0, 0,
	  "mode \"ENFORCE\" is not enforce, testing or none (values are case-sensitive)" },
	{ "mode: None", 0, 0,
	  "mode \"None\" is not enforce, testing or none (values are case-sensitive)" },
	{ "mode: enforced", 0, 0, "mode \"enforced\" is not enforce, testing or none" },
	{ "mode: report", 0, 0, "mode \"report\" is not enforce, testing or none" },
	{ "mode: enforce now", 0, 0,
	  "mode \"enforce now\" is not enforce, testing or none" },
	{ "mode: ", 0, 0, "mode \"\" is not enforce, testing or none" },
	{ "mode: enforce;", 0, 0, "mode \"enforce;\" is not enforce, testing or none" },
	{ "mode: \xc3\xa9nforce", 0, 0,
	  "mode \"??nforce\" is not enforce, testing or none" },
};

START_TEST(mode_table)
{
	char text[256];

	snprintf(text, sizeof(text), "version: STSv1\n%s\nmax_age: 1\n"
		 "mx: mx.example.com\n", modes[_i].line);
	if (modes[_i].ok) {
		ck_assert_int_eq(parse(text), 0);
		assert_counts(0, 0);
		ck_assert_int_eq(pol.mode, modes[_i].mode);
	} else {
		ck_assert_int_eq(parse(text), -1);
		assert_counts(1, 1);
		assert_item(0, 2, 1, modes[_i].why);
	}
}
END_TEST

START_TEST(version_values)
{
	ck_assert_int_eq(parse("version: STSv2\nmode: none\nmax_age: 1\n"), -1);
	assert_counts(1, 1);
	assert_item(0, 1, 1, "version \"STSv2\" is not STSv1 (case-sensitive)");
	ck_assert_int_eq(parse("version: stsv1\nmode: none\nmax_age: 1\n"), -1);
	assert_item(0, 1, 1, "version \"stsv1\" is not STSv1 (case-sensitive)");
	ck_assert_int_eq(parse("version:STSv1  \nmode: none\nmax_age: 1\n"), 0);
	assert_counts(0, 0);
}
END_TEST

START_TEST(missing_fields)
{
	ck_assert_int_eq(parse("mode: none\nmax_age: 1\n"), -1);
	assert_counts(1, 1);
	assert_item(0, 0, 1, "missing version");
	ck_assert_int_eq(parse("version: STSv1\nmax_age: 1\n"), -1);
	assert_counts(1, 1);
	assert_item(0, 0, 1, "missing mode");
	ck_assert_int_eq(parse("version: STSv1\nmode: none\n"), -1);
	assert_counts(1, 1);
	assert_item(0, 0, 1, "missing max_age");
}
END_TEST

/* ---- keys ------------------------------------------------------------- */

START_TEST(key_case_sensitive)
{
	ck_assert_int_eq(parse("version: STSv1\nMode: enforce\nmax_age: 1\n"
			       "mx: mx.example.com\n"), -1);
	assert_counts(2, 1);
	assert_item(0, 2, 0, "unknown field \"Mode\" ignored (field names are "
		    "case-sensitive)");
	assert_item(1, 0, 1, "missing mode");
	ck_assert_int_eq(parse("VERSION: STSv1\nmode: none\nMAX_AGE: 1\n"), -1);
	assert_counts(4, 2);
	assert_item(0, 1, 0, "unknown field \"VERSION\" ignored (field names are "
		    "case-sensitive)");
	assert_item(1, 3, 0, "unknown field \"MAX_AGE\" ignored (field names are "
		    "case-sensitive)");
	assert_item(2, 0, 1, "missing version");
	assert_item(3, 0, 1, "missing max_age");
}
END_TEST

START_TEST(key_without_colon)
{
	ck_assert_int_eq(parse("version: STSv1\nmode enforce\nmax_age: 1\n"
			       "mx: mx.example.com\n"), -1);
	assert_counts(2, 2);
	assert_item(0, 2, 1, "no ':' in \"mode enforce\"");
	assert_item(1, 0, 1, "missing mode");
}
END_TEST

static const struct {
	const char *line;
	int ok;
	const char *text;	/* the one diagnostic */
	int is_error;
} extensions[] = {
	{ "foo: bar", 1, "unknown field \"foo\" ignored", 0 },
	{ "foo: bar:baz", 1, "unknown field \"foo\" ignored", 0 },
	{ "foo:bar:baz:", 1, "unknown field \"foo\" ignored", 0 },
	{ "foo: a=b;c", 1, "unknown field \"foo\" ignored", 0 },
	{ "foo: a  b", 1, "unknown field \"foo\" ignored", 0 },
	{ "foo: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 1,
	  "unknown field \"foo\" ignored", 0 },
	{ "a.b_c-D9: x", 1, "unknown field \"a.b_c-D9\" ignored", 0 },
	{ "9: x", 1, "unknown field \"9\" ignored", 0 },
	{ "a2345678901234567890123456789012: x", 1,
	  "unknown field \"a2345678901234567890123456789012\" ignored", 0 },
	{ "a23456789012345678901234567890123: x", 0,
	  "invalid field name \"a23456789012345678901234567890123\"", 1 },
	{ "_foo: x", 0, "invalid field name \"_foo\"", 1 },
	{ "fo o: x", 0, "invalid field name \"fo o\"", 1 },
	{ "f\xc3\xb6o: x", 0, "invalid field name \"f??o\"", 1 },
	{ "mode : enforce", 0, "white space before ':'", 1 },
	{ " foo: x", 0, "white space at the start of the line", 1 },
	{ "\tfoo: x", 0, "white space at the start of the line", 1 },
	{ ": x", 0, "empty field name before ':'", 1 },
	{ ":", 0, "empty field name before ':'", 1 },
	{ "foo:", 0, "field \"foo\": empty value", 1 },
	{ "foo:  \t", 0, "field \"foo\": empty value", 1 },
	{ "foo: a\tb", 0, "field \"foo\": tab inside a value", 1 },
	{ "foo: \xff", 0, "field \"foo\": invalid UTF-8 in value", 1 },
	{ "foo: \xc3", 0, "field \"foo\": invalid UTF-8 in value", 1 },
	{ "foo: \xc0\x80", 0, "field \"foo\": invalid UTF-8 in value", 1 },
	{ "foo: \xed\xa0\x80", 0, "field \"foo\": invalid UTF-8 in value", 1 },
	{ "foo: \xf4\x90\x80\x80", 0, "field \"foo\": invalid UTF-8 in value", 1 },
	{ "no colon here", 0, "no ':' in \"no colon here\"", 1 },
};

START_TEST(extension_table)
{
	char text[256];

	snprintf(text, sizeof(text), "version: STSv1\nmode: none\nmax_age: 1\n"
		 "%s\n", extensions[_i].line);
	ck_assert_int_eq(parse(text), extensions[_i].ok ? 0 : -1);
	assert_counts(1, (unsigned)extensions[_i].is_error);
	assert_item(0, 4, extensions[_i].is_error, extensions[_i].text);
}
END_TEST

/* ---- duplicates ------------------------------------------------------- */

START_TEST(duplicate_mode_first_wins)
{
	ck_assert_int_eq(parse("version: STSv1\nmode: enforce\nmode: none\n"
			       "max_age: 1\nmx: mx.example.com\n"), 0);
	assert_counts(1, 0);
	assert_item(0, 3, 0, "repeated mode ignored (the first, on line 2, counts)");
	ck_assert_int_eq(pol.mode, MTS_MODE_ENFORCE);
}
END_TEST

START_TEST(duplicate_invalid_later_ignored)
{
	/* the ignored repetition is not even validated */
	ck_assert_int_eq(parse("version: STSv1\nmode: testing\nmode: bogus\n"
			       "max_age: 5\nmax_age: nonsense\nversion: STSv9\n"
			       "mx: mx.example.com\n"), 0);
	assert_counts(3, 0);
	assert_item(0, 3, 0, "repeated mode ignored (the first, on line 2, counts)");
	assert_item(1, 5, 0, "repeated max_age ignored (the first, on line 4, counts)");
	assert_item(2, 6, 0, "repeated version ignored (the first, on line 1, counts)");
	ck_assert_int_eq(pol.mode, MTS_MODE_TESTING);
	ck_assert_uint_eq(pol.max_age, 5);
}
END_TEST

START_TEST(duplicate_invalid_first_wins)
{
	ck_assert_int_eq(parse("version: STSv1\nmode: bogus\nmode: enforce\n"
			       "max_age: 1\nmx: mx.example.com\n"), -1);
	assert_counts(2, 1);
	assert_item(0, 2, 1, "mode \"bogus\" is not enforce, testing or none");
	assert_item(1, 3, 0, "repeated mode ignored (the first, on line 2, counts)");
}
END_TEST

/* ---- many problems at once --------------------------------------------- */

START_TEST(all_problems_listed)
{
	ck_assert_int_eq(parse("version: STSv2\r\n"		/* 1 */
			       "mode: Enforce\n"		/* 2 */
			       "mx: 192.0.2.1\n"		/* 3 */
			       "mx: good.example.com\n"		/* 4 */
			       "max_age: -5\n"			/* 5 */
			       "garbage\n"			/* 6 */
			       "mode: none\n"			/* 7 */
			       "\n"				/* 8 */
			       " mx: a.example.com\n"		/* 9 */
			       "max_age: 99999999999\n"		/* 10 */
			       "foo: ok\n"			/* 11 */
			       "mx: [::1]"),			/* 12 */
			 -1);
	assert_counts(11, 7);
	assert_item(0, 1, 1, "version \"STSv2\" is not STSv1 (case-sensitive)");
	assert_item(1, 2, 1, "mode \"Enforce\" is not enforce, testing or none "
		    "(values are case-sensitive)");
	assert_item(2, 3, 1, "mx \"192.0.2.1\": IP address literal, not a host name");
	assert_item(3, 5, 1, "max_age \"-5\" is not a plain decimal number");
	assert_item(4, 6, 1, "no ':' in \"garbage\"");
	assert_item(5, 7, 0, "repeated mode ignored (the first, on line 2, counts)");
	assert_item(6, 8, 0, "empty line ignored");
	assert_item(7, 9, 1, "white space at the start of the line");
	assert_item(8, 10, 0, "repeated max_age ignored (the first, on line 5, counts)");
	assert_item(9, 11, 0, "unknown field \"foo\" ignored");
	assert_item(10, 12, 1, "mx \"[::1]\": IP address literal or port, "
		    "not a host name");
	/* version, mode and max_age were present (if invalid): no "missing"
	 * errors; mode was invalid, so no "no mx" error either */
	assert_freed();
}
END_TEST

START_TEST(hostile_text_quoted)
{
	/* escape sequences cannot reach a terminal through a diagnostic */
	ck_assert_int_eq(parse("version: STSv1\nmode: none\nmax_age: 1\n"
			       "mx: \xc2\x9b" "31mred\n"), -1);
	assert_item(0, 4, 1, "mx \"??31mred\": character other than letter, "
		    "digit, '-' or '.'");
}
END_TEST

/* ---- diag storage ------------------------------------------------------ */

START_TEST(diag_overflow_keeps_first_error)
{
	struct mts_buf b = MTS_BUF_INIT;
	char first[200];

	ck_assert_int_eq(mts_buf_append_str(&b, "version: STSv1\nmode: none\n"
					    "max_age: 1\n"), 0);
	for (int i = 0; i < 40; i++)	/* 40 notes: lines 4-43 */
		ck_assert_int_eq(mts_buf_append_str(&b, "mode: none\n"), 0);
	ck_assert_int_eq(mts_buf_append_str(&b, "mx: 1.2\nmx: 1.3\n"), 0);
	ck_assert_int_eq(parse_mem(b.data, b.len), -1);
	ck_assert_uint_eq(dg.count, MTS_DIAG_MAX);
	ck_assert_uint_eq(dg.errors, 2);
	ck_assert_uint_eq(dg.dropped, 40 + 2 - MTS_DIAG_MAX);
	assert_item(0, 4, 0, "repeated mode ignored (the first, on line 2, counts)");
	assert_item(MTS_DIAG_MAX - 1, 44, 1,
		    "mx \"1.2\": IP address literal, not a host name");
	ck_assert_str_eq(mts_diag_first(&dg, first, sizeof(first)),
			 "line 44: mx \"1.2\": IP address literal, not a host name");
	mts_buf_free(&b);
}
END_TEST

START_TEST(diag_first)
{
	char out[200], tiny[8];

	ck_assert_int_eq(parse("version: STSv1\nmode: none\nmax_age: x\n"), -1);
	ck_assert_str_eq(mts_diag_first(&dg, out, sizeof(out)),
			 "line 3: max_age \"x\" is not a plain decimal number");
	ck_assert_str_eq(mts_diag_first(&dg, tiny, sizeof(tiny)), "line 3:");
	ck_assert_int_eq(parse("version: STSv1\nmode: none\n\n"), -1);
	ck_assert_str_eq(mts_diag_first(&dg, out, sizeof(out)), "missing max_age");
	ck_assert_int_eq(parse(RFC_EXAMPLE), 0);
	ck_assert_str_eq(mts_diag_first(&dg, out, sizeof(out)), "");
	ck_assert_str_eq(mts_diag_first(NULL, out, sizeof(out)), "");
	ck_assert_ptr_null(mts_diag_first(&dg, NULL, 0));
}
END_TEST

START_TEST(null_out_and_diag)
{
	ck_assert_int_eq(mts_policy_parse(RFC_EXAMPLE, strlen(RFC_EXAMPLE),
					  NULL, NULL), 0);
	ck_assert_int_eq(mts_policy_parse("mode: x", 7, NULL, NULL), -1);
	ck_assert_int_eq(mts_policy_parse(RFC_EXAMPLE, strlen(RFC_EXAMPLE),
					  &pol, NULL), 0);
	assert_rfc_example();
}
END_TEST

START_TEST(reparse_replaces)
{
	static const char text[] = "version: STSv1\nmode: testing\n"
				   "max_age: 7\nmx: x.example.org\n";

	ck_assert_int_eq(parse(RFC_EXAMPLE), 0);
	/* out holds a parsed policy: parsing again frees it first */
	ck_assert_int_eq(mts_policy_parse(text, sizeof(text) - 1, &pol, &dg), 0);
	ck_assert_uint_eq(pol.mx.count, 1);
	ck_assert_str_eq(pol.mx.item[0], "x.example.org");
	ck_assert_int_eq(pol.mode, MTS_MODE_TESTING);
	ck_assert_uint_eq(pol.max_age, 7);
}
END_TEST

/* ---- format ------------------------------------------------------------ */

START_TEST(format_lf_and_crlf)
{
	struct mts_buf b = MTS_BUF_INIT;

	ck_assert_int_eq(parse("max_age:604800\r\nmx: MAIL.example.com.\r\n"
			       "mode:enforce\nversion: STSv1\n"
			       "mx: *.example.net\nfoo: bar\n"
			       "mx: backupmx.example.com"), 0);
	ck_assert_int_eq(mts_policy_format(&pol, 0, &b), 0);
	ck_assert_str_eq(b.data, "version: STSv1\nmode: enforce\n"
			 "mx: mail.example.com\nmx: *.example.net\n"
			 "mx: backupmx.example.com\nmax_age: 604800\n");
	ck_assert_str_eq(b.data, RFC_EXAMPLE);
	mts_buf_reset(&b);
	ck_assert_int_eq(mts_policy_format(&pol, 1, &b), 0);
	ck_assert_str_eq(b.data, "version: STSv1\r\nmode: enforce\r\n"
			 "mx: mail.example.com\r\nmx: *.example.net\r\n"
			 "mx: backupmx.example.com\r\nmax_age: 604800\r\n");
	/* the output parses back to the same policy */
	ck_assert_int_eq(parse_mem(b.data, b.len), 0);
	assert_counts(0, 0);
	assert_rfc_example();
	mts_buf_free(&b);
}
END_TEST

START_TEST(format_mode_none)
{
	struct mts_buf b = MTS_BUF_INIT;

	ck_assert_int_eq(parse("version: STSv1\nmode: none\nmax_age: 0\n"), 0);
	ck_assert_int_eq(mts_policy_format(&pol, 0, &b), 0);
	ck_assert_str_eq(b.data, "version: STSv1\nmode: none\nmax_age: 0\n");
	ck_assert_int_eq(mts_policy_format(NULL, 0, &b), -1);
	ck_assert_int_eq(mts_policy_format(&pol, 0, NULL), -1);
	mts_buf_free(&b);
}
END_TEST

START_TEST(mode_names)
{
	ck_assert_str_eq(mts_mode_name(MTS_MODE_NONE), "none");
	ck_assert_str_eq(mts_mode_name(MTS_MODE_TESTING), "testing");
	ck_assert_str_eq(mts_mode_name(MTS_MODE_ENFORCE), "enforce");
	ck_assert_str_eq(mts_mode_name((enum mts_mode)42), "unknown");
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc;

	tc = tcase_create("lines");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, rfc_example_lf);
	tcase_add_test(tc, rfc_example_crlf);
	tcase_add_test(tc, rfc_example_mixed_line_ends);
	tcase_add_test(tc, no_final_newline);
	tcase_add_test(tc, fields_in_any_order);
	tcase_add_test(tc, lone_cr);
	tcase_add_test(tc, lone_cr_at_end);
	tcase_add_test(tc, cr_cr_lf);
	tcase_add_test(tc, byte_order_mark);
	tcase_add_test(tc, nul_byte_mid_file);
	tcase_add_test(tc, nul_byte_in_value_of_unknown_field);
	tcase_add_test(tc, control_characters);
	tcase_add_test(tc, empty_input);
	tcase_add_test(tc, only_newlines);
	tcase_add_test(tc, empty_and_blank_lines);
	suite_add_tcase(s, tc);

	tc = tcase_create("sizes");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, size_limit);
	tcase_add_test(tc, overlong_mx_line);
	tcase_add_test(tc, many_mx_lines);
	tcase_add_test(tc, ten_thousand_bad_lines);
	suite_add_tcase(s, tc);

	tc = tcase_create("fields");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_loop_test(tc, max_age_table, 0, N(max_ages));
	tcase_add_loop_test(tc, mx_table, 0, N(mxs));
	tcase_add_test(tc, mx_required_unless_none);
	tcase_add_test(tc, mx_duplicates_kept);
	tcase_add_loop_test(tc, mode_table, 0, N(modes));
	tcase_add_test(tc, version_values);
	tcase_add_test(tc, missing_fields);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, key_case_sensitive);
	tcase_add_test(tc, key_without_colon);
	tcase_add_loop_test(tc, extension_table, 0, N(extensions));
	tcase_add_test(tc, duplicate_mode_first_wins);
	tcase_add_test(tc, duplicate_invalid_later_ignored);
	tcase_add_test(tc, duplicate_invalid_first_wins);
	tcase_add_test(tc, all_problems_listed);
	tcase_add_test(tc, hostile_text_quoted);
	suite_add_tcase(s, tc);

	tc = tcase_create("api");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, diag_overflow_keeps_first_error);
	tcase_add_test(tc, diag_first);
	tcase_add_test(tc, null_out_and_diag);
	tcase_add_test(tc, reparse_replaces);
	tcase_add_test(tc, format_lf_and_crlf);
	tcase_add_test(tc, format_mode_none);
	tcase_add_test(tc, mode_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(policy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
