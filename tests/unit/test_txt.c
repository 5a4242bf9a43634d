/*
 * test_txt.c - the _mta-sts TXT record (policy/txt.c)
 *
 * Table-driven: every row is its own Check test, reasons compared exactly.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "txt.h"

#define ID32 "abcdefghijklmnopqrstuvwxyzABCDE0"
#define NAME32 "a2345678901234567890123456789_-."

/* ---- valid records ---------------------------------------------------- */

static const struct {
	const char *rec;
	const char *id;
} valid[] = {
	/* RFC 8461 3.1 example */
	{ "v=STSv1; id=20160831085700Z;", "20160831085700Z" },
	{ "v=STSv1; id=20160831085700Z", "20160831085700Z" },
	{ "v=STSv1;id=abc", "abc" },
	{ "v=STSv1;id=abc;", "abc" },
	/* erratum 6285: WSP before ';' is allowed by the ABNF */
	{ "v=STSv1 ; id=abc", "abc" },
	{ "v=STSv1 ;id=abc ;", "abc" },
	{ "v=STSv1\t;\tid=abc\t;\t", "abc" },
	{ "v=STSv1;   id=abc   ;   ", "abc" },
	{ "v=STSv1; id=abc; ", "abc" },
	{ "v=STSv1; id=" ID32, ID32 },
	{ "v=STSv1; id=ABCxyz019", "ABCxyz019" },
	{ "v=STSv1; id=0", "0" },
	{ "v=STSv1; ext=value; id=abc", "abc" },
	{ "v=STSv1; id=abc; ext=value", "abc" },
	{ "v=STSv1; id=abc; a.b_c-d="
	  "!\"#$%&'()*+,-./0123456789:<>?@AZ[\\]^_`az{|}~", "abc" },
	{ "v=STSv1; id=abc; " NAME32 "=x", "abc" },
	{ "v=STSv1; id=abc; 9=x", "abc" },
	/* a later v= or ID= is an extension, not a second version or id */
	{ "v=STSv1; id=abc; v=STSv2", "abc" },
	{ "v=STSv1; id=abc; ID=def", "abc" },
	{ "v=STSv1; id=abc; Id=def; iD=ghi", "abc" },
};

START_TEST(parse_valid)
{
	struct mts_txt t;
	const char *why;

	memset(&t, 'x', sizeof(t));
	why = mts_txt_parse(valid[_i].rec, strlen(valid[_i].rec), &t);
	ck_assert_msg(why == NULL, "\"%s\": %s", valid[_i].rec, why);
	ck_assert_str_eq(t.id, valid[_i].id);
}
END_TEST

/* ---- invalid records -------------------------------------------------- */

static const struct {
	const char *rec;
	size_t len;		/* 0 = strlen */
	const char *why;
} invalid[] = {
	{ "v=STSv2; id=abc", 0, "record does not begin with v=STSv1" },
	{ "V=STSv1; id=abc", 0, "record does not begin with v=STSv1" },
	{ "v=stsv1; id=abc", 0, "record does not begin with v=STSv1" },
	{ " v=STSv1; id=abc", 0, "record does not begin with v=STSv1" },
	{ "v=STS", 0, "record does not begin with v=STSv1" },
	{ "v=spf1 -all", 0, "record does not begin with v=STSv1" },
	{ "v=STSv1", 0, "missing id field" },
	{ "v=STSv1;", 0, "missing id field" },
	{ "v=STSv1; ", 0, "missing id field" },
	{ "v=STSv1; ext=x", 0, "missing id field" },
	{ "v=STSv1; ID=abc", 0, "missing id field" },
	{ "v=STSv10; id=abc", 0, "v=STSv1 not followed by ';'" },
	{ "v=STSv1x; id=abc", 0, "v=STSv1 not followed by ';'" },
	{ "v=STSv1 id=abc", 0, "expected ';' between fields" },
	{ "v=STSv1; id=abc ext=x", 0, "expected ';' between fields" },
	{ "v=STSv1; id=abc;;", 0, "empty field (two ';' in a row)" },
	{ "v=STSv1; id=abc; ;", 0, "empty field (two ';' in a row)" },
	{ "v=STSv1;; id=abc", 0, "empty field (two ';' in a row)" },
	{ "v=STSv1; id=abc ", 0, "white space at the end without ';'" },
	{ "v=STSv1; id=abc\t", 0, "white space at the end without ';'" },
	{ "v=STSv1 ", 0, "white space at the end without ';'" },
	{ "v=STSv1; id=" ID32 "F", 0, "id longer than 32 characters" },
	{ "v=STSv1; id=", 0, "empty id" },
	{ "v=STSv1; id=;", 0, "empty id" },
	{ "v=STSv1; id= abc", 0, "empty id" },
	{ "v=STSv1; id=abc-def", 0,
	  "id contains a character other than a letter or digit" },
	{ "v=STSv1; id=abc_def", 0,
	  "id contains a character other than a letter or digit" },
	{ "v=STSv1; id=abc.def", 0,
	  "id contains a character other than a letter or digit" },
	{ "v=STSv1; id=ab\xff" "c", 0,
	  "id contains a character other than a letter or digit" },
	{ "v=STSv1; id=abc; id=def", 0, "more than one id field" },
	{ "v=STSv1; id=abc; id=abc", 0, "more than one id field" },
	{ "v=STSv1; id =abc", 0,
	  "field without '=' or invalid character in field name" },
	{ "v=STSv1; id=abc; ext=a=b", 0, "invalid character in extension value" },
	{ "v=STSv1; id=abc; ext=caf\xc3\xa9", 0,
	  "invalid character in extension value" },
	{ "v=STSv1; id=abc; ext=x\x7f", 0, "invalid character in extension value" },
	{ "v=STSv1; id=abc; ext=a;b", 0,
	  "field without '=' or invalid character in field name" },
	{ "v=STSv1; id=abc; ext=a b", 0, "expected ';' between fields" },
	{ "v=STSv1; id=abc; ext=", 0, "empty extension value" },
	{ "v=STSv1; id=abc; ext=;", 0, "empty extension value" },
	{ "v=STSv1; id=abc; ext", 0,
	  "field without '=' or invalid character in field name" },
	{ "v=STSv1; id=abc; e@t=x", 0,
	  "field without '=' or invalid character in field name" },
	{ "v=STSv1; id=abc; " NAME32 "x=x", 0,
	  "field name longer than 32 characters" },
	{ "v=STSv1; id=abc; _ext=x", 0,
	  "field name does not start with a letter or digit" },
	{ "v=STSv1; id=abc; -ext=x", 0,
	  "field name does not start with a letter or digit" },
	{ "v=STSv1; id=abc; .ext=x", 0,
	  "field name does not start with a letter or digit" },
	{ "v=STSv1; id=abc; =x", 0,
	  "field name does not start with a letter or digit" },
	/* only SP and HTAB are WSP */
	{ "v=STSv1;\nid=abc", 0, "field name does not start with a letter or digit" },
	{ "v=STSv1;\rid=abc", 0, "field name does not start with a letter or digit" },
	{ "v=STSv1; id=abc;\x0b", 0,
	  "field name does not start with a letter or digit" },
	{ "v=STSv1\n; id=abc", 0, "v=STSv1 not followed by ';'" },
	/* NUL bytes anywhere */
	{ "v=STSv1; id=abc\0", 16, "NUL byte in record" },
	{ "v=STSv1\0; id=abc", 16, "NUL byte in record" },
	{ "\0v=STSv1; id=abc", 16, "NUL byte in record" },
	{ "v=STSv1; id=abc; e=\0x", 21, "NUL byte in record" },
};

START_TEST(parse_invalid)
{
	struct mts_txt t;
	size_t len = invalid[_i].len ? invalid[_i].len : strlen(invalid[_i].rec);
	const char *why;

	memset(&t, 'x', sizeof(t));
	why = mts_txt_parse(invalid[_i].rec, len, &t);
	ck_assert_msg(why != NULL, "\"%s\" accepted", invalid[_i].rec);
	ck_assert_str_eq(why, invalid[_i].why);
	ck_assert_str_eq(t.id, "");	/* nothing half-filled */
}
END_TEST

START_TEST(parse_edges)
{
	struct mts_txt t;

	ck_assert_str_eq(mts_txt_parse("", 0, &t), "empty record");
	ck_assert_str_eq(mts_txt_parse(NULL, 5, &t), "empty record");
	/* out may be NULL: a validity check only */
	ck_assert_ptr_null(mts_txt_parse("v=STSv1; id=a", 13, NULL));
	/* the length counts, not the NUL */
	ck_assert_ptr_null(mts_txt_parse("v=STSv1; id=abcdef", 15, &t));
	ck_assert_str_eq(t.id, "abc");
	ck_assert_ptr_null(mts_txt_parse("v=STSv1; id=abc", 15, &t));
	ck_assert_str_eq(t.id, "abc");
	ck_assert_str_eq(mts_txt_parse("v=STSv1; id=abc", 6, &t),
			 "record does not begin with v=STSv1");
}
END_TEST

/* ---- mts_txt_is_sts --------------------------------------------------- */

static const struct {
	const char *rec;
	size_t len;		/* 0 = strlen */
	int sts;
} is_sts[] = {
	{ "v=STSv1; id=abc", 0, 1 },
	{ "v=STSv1;", 0, 1 },
	{ "v=STSv1 ;", 0, 1 },
	{ "v=STSv1\t;", 0, 1 },
	{ "v=STSv1", 0, 1 },
	{ "v=STSv1 id=abc", 0, 1 },	/* counts, then fails to parse */
	{ "v=STSv10; id=abc", 0, 0 },
	{ "v=STSv2; id=abc", 0, 0 },
	{ "v=STSv1x", 0, 0 },
	{ "v=STSv", 0, 0 },
	{ "", 0, 0 },
	{ "V=STSv1;", 0, 0 },
	{ "v=stsv1;", 0, 0 },
	{ " v=STSv1;", 0, 0 },
	{ "v=spf1 -all", 0, 0 },
	{ "v=TLSRPTv1; rua=mailto:a@example.com", 0, 0 },
	{ "v=STSv1\0; id=abc", 16, 0 },
	{ "v=STSv1; id=abc\0", 16, 1 },
	{ "v=STSv1;", 7, 1 },		/* length wins over content */
	{ "v=STSv1;", 6, 0 },
};

START_TEST(is_sts_table)
{
	size_t len = is_sts[_i].len ? is_sts[_i].len : strlen(is_sts[_i].rec);

	ck_assert_int_eq(mts_txt_is_sts(is_sts[_i].rec, len), is_sts[_i].sts);
}
END_TEST

START_TEST(is_sts_null)
{
	ck_assert_int_eq(mts_txt_is_sts(NULL, 8), 0);
}
END_TEST

/* ---- mts_txt_select --------------------------------------------------- */

static const char *select_strs(const char *const *recs, size_t n,
			       struct mts_txt *t)
{
	size_t lens[16];

	ck_assert_uint_le(n, 16);
	for (size_t i = 0; i < n; i++)
		lens[i] = strlen(recs[i]);
	return mts_txt_select((char *const *)recs, lens, n, t);
}

START_TEST(select_one_among_others)
{
	const char *recs[] = {
		"v=spf1 -all", "v=STSv1; id=good", "V=STSv1; id=upper",
		" v=STSv1; id=space", "v=STSv10; id=ten", "hello",
	};
	struct mts_txt t;

	ck_assert_ptr_null(select_strs(recs, 6, &t));
	ck_assert_str_eq(t.id, "good");
}
END_TEST

START_TEST(select_none)
{
	const char *recs[] = { "v=spf1 -all", "V=STSv1; id=upper" };
	struct mts_txt t;

	memset(&t, 'x', sizeof(t));
	ck_assert_str_eq(select_strs(recs, 2, &t), "no v=STSv1 record");
	ck_assert_str_eq(t.id, "");
	ck_assert_str_eq(select_strs(recs, 0, &t), "no v=STSv1 record");
	ck_assert_str_eq(mts_txt_select(NULL, NULL, 0, &t), "no v=STSv1 record");
}
END_TEST

START_TEST(select_two)
{
	const char *recs[] = { "v=STSv1; id=a", "v=spf1", "v=STSv1; id=b" };
	struct mts_txt t;

	memset(&t, 'x', sizeof(t));
	ck_assert_str_eq(select_strs(recs, 3, &t), "2 v=STSv1 records");
	ck_assert_str_eq(t.id, "");
}
END_TEST

START_TEST(select_counts_before_parsing)
{
	/* An invalid STS record still spoils a valid one ... */
	const char *recs[] = { "v=STSv1; id=good", "v=STSv1" };
	/* ... and the erratum form counts as an STS record. */
	const char *recs2[] = { "v=STSv1 ; id=a", "v=STSv1; id=b" };
	struct mts_txt t;

	ck_assert_str_eq(select_strs(recs, 2, &t), "2 v=STSv1 records");
	ck_assert_str_eq(select_strs(recs2, 2, &t), "2 v=STSv1 records");
}
END_TEST

START_TEST(select_many)
{
	const char *recs[12];
	struct mts_txt t;

	for (size_t i = 0; i < 12; i++)
		recs[i] = "v=STSv1; id=x";
	ck_assert_str_eq(select_strs(recs, 3, &t), "3 v=STSv1 records");
	ck_assert_str_eq(select_strs(recs, 9, &t), "9 v=STSv1 records");
	ck_assert_str_eq(select_strs(recs, 10, &t),
			 "more than 9 v=STSv1 records");
	ck_assert_str_eq(select_strs(recs, 12, &t),
			 "more than 9 v=STSv1 records");
}
END_TEST

START_TEST(select_single_invalid)
{
	const char *recs[] = { "v=spf1 -all", "v=STSv1; id=abc-def" };
	struct mts_txt t;

	ck_assert_str_eq(select_strs(recs, 2, &t),
			 "id contains a character other than a letter or digit");
	ck_assert_str_eq(t.id, "");
}
END_TEST

START_TEST(select_nul_bytes)
{
	/* A NUL after the version: counted, then invalid. */
	char rec1[] = "v=STSv1; id=abc\0def";
	/* A NUL right after "v=STSv1": not an STS record at all. */
	char rec2[] = "v=STSv1\0; id=abc";
	char ok[] = "v=STSv1; id=ok";
	char *recs[] = { rec1, ok };
	size_t lens[] = { sizeof(rec1) - 1, sizeof(ok) - 1 };
	char *recs2[] = { rec2, ok };
	size_t lens2[] = { sizeof(rec2) - 1, sizeof(ok) - 1 };
	struct mts_txt t;

	ck_assert_str_eq(mts_txt_select(recs, lens, 1, &t), "NUL byte in record");
	ck_assert_str_eq(mts_txt_select(recs, lens, 2, &t), "2 v=STSv1 records");
	ck_assert_ptr_null(mts_txt_select(recs2, lens2, 2, &t));
	ck_assert_str_eq(t.id, "ok");
}
END_TEST

START_TEST(select_lens_null)
{
	char a[] = "v=spf1", b[] = "v=STSv1; id=strlen";
	char *recs[] = { a, NULL, b };
	struct mts_txt t;

	ck_assert_ptr_null(mts_txt_select(recs, NULL, 3, &t));
	ck_assert_str_eq(t.id, "strlen");
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *txt_suite(void)
{
	Suite *s = suite_create("txt");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, parse_valid, 0, N(valid));
	tcase_add_loop_test(tc, parse_invalid, 0, N(invalid));
	tcase_add_test(tc, parse_edges);
	suite_add_tcase(s, tc);

	tc = tcase_create("is_sts");
	tcase_add_loop_test(tc, is_sts_table, 0, N(is_sts));
	tcase_add_test(tc, is_sts_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("select");
	tcase_add_test(tc, select_one_among_others);
	tcase_add_test(tc, select_none);
	tcase_add_test(tc, select_two);
	tcase_add_test(tc, select_counts_before_parsing);
	tcase_add_test(tc, select_many);
	tcase_add_test(tc, select_single_invalid);
	tcase_add_test(tc, select_nul_bytes);
	tcase_add_test(tc, select_lens_null);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(txt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
