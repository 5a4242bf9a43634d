/*
 * test_certname.c - certificate names against MX hosts and policies
 * (policy/certname.c)
 *
 * Certificates are built in memory for each test: an EC P-256 key, a
 * self-signed X509 v3 with the subject CN and subjectAltName under test.
 * Chain validation is not the business of this module, so self-signed
 * is enough; only the names matter.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "certname.h"
#include "policy.h"

static EVP_PKEY *test_key(void)
{
	static EVP_PKEY *key;

	if (key == NULL)
		key = EVP_EC_gen("P-256");
	ck_assert_ptr_nonnull(key);
	return key;
}

static X509 *new_cert(const char *cn)
{
	X509 *x = X509_new();
	X509_NAME *name;

	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_version(x, X509_VERSION_3), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	name = X509_get_subject_name(x);
	if (cn != NULL)
		ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN",
				 MBSTRING_ASC, (const unsigned char *)cn, -1,
				 -1, 0), 1);
	ck_assert_int_eq(X509_set_issuer_name(x, name), 1);
	ck_assert_int_eq(X509_set_pubkey(x, test_key()), 1);
	return x;
}

static X509 *sign(X509 *x)
{
	ck_assert_int_gt(X509_sign(x, test_key(), EVP_sha256()), 0);
	return x;
}

/* cn may be NULL; san is an openssl.cnf value ("DNS:a,IP:1.2.3.4") or NULL. */
static X509 *make_cert(const char *cn, const char *san)
{
	X509 *x = new_cert(cn);
	X509_EXTENSION *ext;

	if (san != NULL) {
		ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
		ck_assert_ptr_nonnull(ext);
		ck_assert_int_eq(X509_add_ext(x, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	return sign(x);
}

/* A certificate whose one DNS SAN is the raw bytes given (NULs and all). */
static X509 *make_cert_raw_san(const char *cn, const char *bytes, int len)
{
	X509 *x = new_cert(cn);
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();

	ck_assert_ptr_nonnull(names);
	ck_assert_ptr_nonnull(gn);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(ASN1_STRING_set(s, bytes, len), 1);
	GENERAL_NAME_set0_value(gn, GEN_DNS, s);
	ck_assert_int_gt(sk_GENERAL_NAME_push(names, gn), 0);
	ck_assert_int_eq(X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0,
					   X509V3_ADD_DEFAULT), 1);
	GENERAL_NAMES_free(names);
	return sign(x);
}

/* ---- mts_cert_name_match ---------------------------------------------- */

static const struct {
	const char *cn;
	const char *san;
	const char *host;
	int match;
} name_cases[] = {
	/* plain DNS SAN */
	{ NULL, "DNS:mx.example.com", "mx.example.com", 1 },
	{ NULL, "DNS:mx.example.com", "MX.EXAMPLE.COM", 1 },
	{ NULL, "DNS:mx.example.com", "mx.example.com.", 1 },
	{ NULL, "DNS:MX.Example.COM", "mx.example.com", 1 },
	/* OpenSSL never matches a SAN with a trailing dot; nor do we */
	{ NULL, "DNS:mx.example.com.", "mx.example.com", 0 },
	{ NULL, "DNS:mx.example.com.", "mx.example.com.", 0 },
	{ NULL, "DNS:mx.example.com", "other.example.com", 0 },
	{ NULL, "DNS:mx.example.com", "example.com", 0 },
	{ NULL, "DNS:mx.example.com", "a.mx.example.com", 0 },
	{ NULL, "DNS:mx.example.com", "mx.example.co", 0 },
	/* a leading dot would mean "any subdomain" to OpenSSL: refused */
	{ NULL, "DNS:mx.example.com", ".example.com", 0 },
	{ NULL, "DNS:mx.example.com", ".mx.example.com", 0 },
	{ NULL, "DNS:mx.example.com", "", 0 },
	/* the CN is never used */
	{ "mx.example.com", NULL, "mx.example.com", 0 },
	{ "mx.example.com", "DNS:other.example.com", "mx.example.com", 0 },
	{ "mx.example.com", "DNS:other.example.com", "other.example.com", 1 },
	{ "mx.example.com", "IP:192.0.2.1", "mx.example.com", 0 },
	{ "mx.example.com", "email:postmaster@mx.example.com", "mx.example.com", 0 },
	{ "mx.example.com", "URI:https://mx.example.com/", "mx.example.com", 0 },
	/* IP SANs never match, and IP literals are not host names */
	{ NULL, "IP:192.0.2.1", "192.0.2.1", 0 },
	{ NULL, "DNS:192.0.2.1", "192.0.2.1", 0 },
	/* several SANs */
	{ NULL, "DNS:a.example.com,IP:192.0.2.1,DNS:mx.example.net",
	  "mx.example.net", 1 },
	{ NULL, "DNS:a.example.com,IP:192.0.2.1,DNS:mx.example.net",
	  "a.example.com", 1 },
	{ NULL, "DNS:a.example.com,IP:192.0.2.1,DNS:mx.example.net",
	  "b.example.com", 0 },
	/* wildcards: whole left-most label, one label only */
	{ NULL, "DNS:*.example.com", "mx.example.com", 1 },
	{ NULL, "DNS:*.example.com", "MX.example.com.", 1 },
	{ NULL, "DNS:*.example.com", "a.b.example.com", 0 },
	{ NULL, "DNS:*.example.com", "example.com", 0 },
	{ NULL, "DNS:*.example.com", "mx.example.net", 0 },
	{ "mx.example.com", "DNS:*.example.net", "mx.example.com", 0 },
	/* partial wildcards never */
	{ NULL, "DNS:m*.example.com", "mx.example.com", 0 },
	{ NULL, "DNS:m*.example.com", "m.example.com", 0 },
	{ NULL, "DNS:*x.example.com", "mx.example.com", 0 },
	/* no wildcard in other labels or directly under a TLD */
	{ NULL, "DNS:mx.*.example.com", "mx.a.example.com", 0 },
	{ NULL, "DNS:*.*.example.com", "a.b.example.com", 0 },
	{ NULL, "DNS:*.com", "example.com", 0 },
};

START_TEST(name_match_table)
{
	X509 *x = make_cert(name_cases[_i].cn, name_cases[_i].san);

	ck_assert_int_eq(mts_cert_name_match(x, name_cases[_i].host),
			 name_cases[_i].match);
	X509_free(x);
}
END_TEST

START_TEST(name_match_null)
{
	X509 *x = make_cert(NULL, "DNS:mx.example.com");

	ck_assert_int_eq(mts_cert_name_match(x, NULL), 0);
	ck_assert_int_eq(mts_cert_name_match(NULL, "mx.example.com"), 0);
	X509_free(x);
}
END_TEST

START_TEST(name_match_embedded_nul)
{
	static const char san[] = "mx.example.com\0.evil.example.org";
	X509 *x = make_cert_raw_san(NULL, san, (int)sizeof(san) - 1);

	ck_assert_int_eq(mts_cert_name_match(x, "mx.example.com"), 0);
	ck_assert_int_eq(mts_cert_name_match(x, "evil.example.org"), 0);
	X509_free(x);
}
END_TEST

START_TEST(name_match_two_san_extensions)
{
	/* Ambiguous: OpenSSL sees no SAN at all, so nothing matches. */
	X509 *x = new_cert("mx.example.com");
	X509_EXTENSION *a, *b;

	a = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
				"DNS:mx.example.com");
	b = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
				"DNS:other.example.com");
	ck_assert_int_eq(X509_add_ext(x, a, -1), 1);
	ck_assert_int_eq(X509_add_ext(x, b, -1), 1);
	X509_EXTENSION_free(a);
	X509_EXTENSION_free(b);
	sign(x);
	ck_assert_int_eq(mts_cert_name_match(x, "mx.example.com"), 0);
	ck_assert_int_eq(mts_cert_name_match(x, "other.example.com"), 0);
	X509_free(x);
}
END_TEST

/* ---- mts_cert_dns_names ----------------------------------------------- */

START_TEST(dns_names)
{
	X509 *x = make_cert("cn.example.com", "DNS:a.example.com,IP:192.0.2.1,"
			    "email:a@example.com,DNS:*.Example.NET");
	struct mts_strlist names = MTS_STRLIST_INIT;

	ck_assert_int_eq(mts_cert_dns_names(x, &names), 0);
	ck_assert_uint_eq(names.count, 2);
	ck_assert_str_eq(names.item[0], "a.example.com");
	ck_assert_str_eq(names.item[1], "*.Example.NET");	/* as is */
	/* appends */
	ck_assert_int_eq(mts_cert_dns_names(x, &names), 0);
	ck_assert_uint_eq(names.count, 4);
	mts_strlist_free(&names);
	X509_free(x);
}
END_TEST

START_TEST(dns_names_none)
{
	X509 *cn_only = make_cert("mx.example.com", NULL);
	X509 *ip_only = make_cert("mx.example.com", "IP:192.0.2.1");
	struct mts_strlist names = MTS_STRLIST_INIT;

	ck_assert_int_eq(mts_cert_dns_names(cn_only, &names), 0);
	ck_assert_int_eq(mts_cert_dns_names(ip_only, &names), 0);
	ck_assert_uint_eq(names.count, 0);
	ck_assert_int_eq(mts_cert_dns_names(NULL, &names), -1);
	ck_assert_int_eq(mts_cert_dns_names(cn_only, NULL), -1);
	X509_free(cn_only);
	X509_free(ip_only);
}
END_TEST

START_TEST(dns_names_sanitised)
{
	static const char san[] = "mx.example.com\0\x1b[31m \xc3\xa9";
	X509 *x = make_cert_raw_san(NULL, san, (int)sizeof(san) - 1);
	struct mts_strlist names = MTS_STRLIST_INIT;

	ck_assert_int_eq(mts_cert_dns_names(x, &names), 0);
	ck_assert_uint_eq(names.count, 1);
	ck_assert_str_eq(names.item[0], "mx.example.com??[31m???");
	mts_strlist_free(&names);
	X509_free(x);
}
END_TEST

/* ---- mts_cert_matches_policy ------------------------------------------ */

/* RFC 8461 3.2 example: mail.example.com, *.example.net, backupmx.example.com */
static void rfc_policy(struct mts_policy *p)
{
	static const char text[] = "version: STSv1\nmode: enforce\n"
		"mx: mail.example.com\nmx: *.example.net\n"
		"mx: backupmx.example.com\nmax_age: 604800\n";

	ck_assert_int_eq(mts_policy_parse(text, sizeof(text) - 1, p, NULL), 0);
	ck_assert_uint_eq(p->mx.count, 3);
}

static const struct {
	const char *cn;
	const char *san;
	int match;
} policy_cases[] = {
	{ NULL, "DNS:mail.example.com", 1 },
	{ NULL, "DNS:MAIL.EXAMPLE.COM", 1 },
	{ NULL, "DNS:mail.example.com.", 0 },	/* as mts_cert_name_match */
	{ NULL, "DNS:backupmx.example.com", 1 },
	{ NULL, "DNS:mx1.example.net", 1 },
	{ NULL, "DNS:other.example.org,DNS:mail.example.com", 1 },
	{ NULL, "IP:192.0.2.1,DNS:mx1.example.net", 1 },
	{ NULL, "DNS:a.b.example.net", 0 },
	{ NULL, "DNS:example.net", 0 },
	{ NULL, "DNS:example.com", 0 },
	{ NULL, "DNS:mail.example.com.evil.org", 0 },
	{ NULL, "DNS:other.example.com", 0 },
	/* a wildcard SAN counts only for the identical wildcard pattern */
	{ NULL, "DNS:*.example.net", 1 },
	{ NULL, "DNS:*.EXAMPLE.NET", 1 },
	{ NULL, "DNS:*.example.net.", 0 },
	{ NULL, "DNS:*.example.com", 0 },	/* covers more than mail. */
	{ NULL, "DNS:*.a.example.net", 0 },
	{ NULL, "DNS:*.net", 0 },
	/* never-valid SANs */
	{ NULL, "DNS:m*.example.net", 0 },
	{ NULL, "DNS:*x.example.net", 0 },
	{ NULL, "DNS:*.*.example.net", 0 },
	{ NULL, "DNS:.example.net", 0 },
	{ NULL, "DNS:*", 0 },
	/* the CN and non-DNS SANs are never used */
	{ "mail.example.com", NULL, 0 },
	{ "mail.example.com", "IP:192.0.2.1", 0 },
	{ "mail.example.com", "DNS:other.example.org", 0 },
	{ "mail.example.com", "email:postmaster@mail.example.com", 0 },
};

START_TEST(policy_match_table)
{
	struct mts_policy p = MTS_POLICY_INIT;
	X509 *x = make_cert(policy_cases[_i].cn, policy_cases[_i].san);

	rfc_policy(&p);
	ck_assert_int_eq(mts_cert_matches_policy(x, &p), policy_cases[_i].match);
	mts_policy_free(&p);
	X509_free(x);
}
END_TEST

START_TEST(policy_match_exact_pattern_vs_wildcard_san)
{
	/* only an exact pattern listed: a wildcard certificate is not proof */
	static const char text[] = "version: STSv1\nmode: enforce\n"
		"mx: mx.example.com\nmax_age: 1\n";
	struct mts_policy p = MTS_POLICY_INIT;
	X509 *wild = make_cert(NULL, "DNS:*.example.com");
	X509 *exact = make_cert(NULL, "DNS:mx.example.com");

	ck_assert_int_eq(mts_policy_parse(text, sizeof(text) - 1, &p, NULL), 0);
	ck_assert_int_eq(mts_cert_matches_policy(wild, &p), 0);
	ck_assert_int_eq(mts_cert_matches_policy(exact, &p), 1);
	/* yet for a known MX name the wildcard certificate is fine */
	ck_assert_int_eq(mts_cert_name_match(wild, "mx.example.com"), 1);
	mts_policy_free(&p);
	X509_free(wild);
	X509_free(exact);
}
END_TEST

START_TEST(policy_match_edges)
{
	struct mts_policy p = MTS_POLICY_INIT;
	struct mts_policy empty = MTS_POLICY_INIT;
	static const char nul_san[] = "mail.example.com\0.evil.example.org";
	X509 *x = make_cert(NULL, "DNS:mail.example.com");
	X509 *nul = make_cert_raw_san(NULL, nul_san, (int)sizeof(nul_san) - 1);

	rfc_policy(&p);
	ck_assert_int_eq(mts_cert_matches_policy(x, &empty), 0);
	ck_assert_int_eq(mts_cert_matches_policy(NULL, &p), 0);
	ck_assert_int_eq(mts_cert_matches_policy(x, NULL), 0);
	ck_assert_int_eq(mts_cert_matches_policy(nul, &p), 0);
	ck_assert_int_eq(mts_cert_matches_policy(x, &p), 1);
	mts_policy_free(&p);
	X509_free(x);
	X509_free(nul);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *certname_suite(void)
{
	Suite *s = suite_create("certname");
	TCase *tc;

	tc = tcase_create("name_match");
	tcase_add_loop_test(tc, name_match_table, 0, N(name_cases));
	tcase_add_test(tc, name_match_null);
	tcase_add_test(tc, name_match_embedded_nul);
	tcase_add_test(tc, name_match_two_san_extensions);
	suite_add_tcase(s, tc);

	tc = tcase_create("dns_names");
	tcase_add_test(tc, dns_names);
	tcase_add_test(tc, dns_names_none);
	tcase_add_test(tc, dns_names_sanitised);
	suite_add_tcase(s, tc);

	tc = tcase_create("policy");
	tcase_add_loop_test(tc, policy_match_table, 0, N(policy_cases));
	tcase_add_test(tc, policy_match_exact_pattern_vs_wildcard_san);
	tcase_add_test(tc, policy_match_edges);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(certname_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
