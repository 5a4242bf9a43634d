/*
 * test_dkim.c - unit tests of policy/dkim.c, verified by python3-dkim
 *
 * DESCRIPTION
 *	Canonicalisation against the examples of RFC 6376 3.4.5 and edge
 *	cases; signatures verified by an independent implementation
 *	(dkimpy, Debian's python3-dkim, run as /usr/bin/python3) with the
 *	public key handed to it as the TXT record its DNS look-up would
 *	find; tampering must break them; key and configuration errors.
 */
#include <check.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "deliver.h"
#include "dkim.h"
#include "gzip.h"

#define SYSTEM_PYTHON "/usr/bin/python3"	/* the one with python3-dkim */

extern char **environ;

static char tmpdir[] = "/tmp/test_dkim.XXXXXX";
static char key_path[256], pub_path[256];

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* An RSA key of bits, as PEM at path; its public key (DER, base64) as
 * a p= value at pub (when not NULL). */
static void make_key(int bits, const char *path, const char *pub)
{
	EVP_PKEY *k = EVP_RSA_gen((unsigned)bits);
	unsigned char *der = NULL;
	FILE *f;
	int n;

	ck_assert_ptr_nonnull(k);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL),
			 1);
	fclose(f);
	if (pub != NULL) {
		unsigned char b64[2048];

		n = i2d_PUBKEY(k, &der);
		ck_assert_int_gt(n, 0);
		n = EVP_EncodeBlock(b64, der, n);
		write_file(pub, b64, (size_t)n);
		OPENSSL_free(der);
	}
	EVP_PKEY_free(k);
}

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(key_path, sizeof(key_path), "%s/key.pem", tmpdir);
	snprintf(pub_path, sizeof(pub_path), "%s/key.pub", tmpdir);
	make_key(2048, key_path, pub_path);
	unsetenv("MTASTS_REPORT_DKIM_KEY");
	unsetenv("MTASTS_REPORT_DKIM_SELECTOR");
	unsetenv("MTASTS_REPORT_DKIM_DOMAIN");
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

static const char py_verify[] =
"import dkim, sys\n"
"msg = open(sys.argv[1], 'rb').read()\n"
"pub = open(sys.argv[2]).read().strip()\n"
"def dnsfunc(name, timeout=5):\n"
"    if name.rstrip(b'.') != b'sel1._domainkey.reporter.test':\n"
"        return None\n"
"    return ('v=DKIM1; k=rsa; p=' + pub).encode()\n"
"sys.exit(0 if dkim.verify(msg, dnsfunc=dnsfunc) else 1)\n";

/* 0 when python3-dkim accepts the signed message. */
static int verify(const struct mts_buf *msg)
{
	char path[300];
	char *argv[] = { SYSTEM_PYTHON, "-c", (char *)py_verify, path,
			 pub_path, NULL };
	pid_t pid;
	int st;

	if (access("/usr/lib/python3/dist-packages/dkim/__init__.py", R_OK) != 0)
		ck_abort_msg("python3-dkim is not installed (scripts/install-deps)");
	snprintf(path, sizeof(path), "%s/signed.eml", tmpdir);
	write_file(path, msg->data, msg->len);
	ck_assert_int_eq(posix_spawn(&pid, SYSTEM_PYTHON, NULL, NULL, argv,
				     environ), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* ---- canonicalisation ---- */

static void canon_header_is(const char *in, const char *want)
{
	struct mts_buf b = MTS_BUF_INIT;

	ck_assert_int_eq(mts_dkim_canon_header(in, strlen(in), &b), 0);
	ck_assert_str_eq(b.data, want);
	mts_buf_free(&b);
}

static void canon_body_is(const char *in, const char *want)
{
	struct mts_buf b = MTS_BUF_INIT;

	ck_assert_int_eq(mts_dkim_canon_body(in, strlen(in), &b), 0);
	ck_assert_str_eq(mts_buf_str(&b), want);
	mts_buf_free(&b);
}

START_TEST(relaxed_header)
{
	/* RFC 6376 3.4.5. */
	canon_header_is("A: X\r\n", "a:X\r\n");
	canon_header_is("B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n");
	canon_header_is("Subject:  Hello \r\n World  ", "subject:Hello World\r\n");
	canon_header_is("TLS-Report-Domain:good.test", "tls-report-domain:good.test\r\n");
	canon_header_is("X-Empty:   \r\n", "x-empty:\r\n");
	{
		struct mts_buf b = MTS_BUF_INIT;

		ck_assert_int_eq(mts_dkim_canon_header("no colon", 8, &b), -1);
		mts_buf_free(&b);
	}
}
END_TEST

START_TEST(relaxed_body)
{
	/* RFC 6376 3.4.5. */
	canon_body_is(" C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n");
	canon_body_is("", "");
	canon_body_is("\r\n", "");
	canon_body_is("\r\n\r\n \t \r\n", "");
	canon_body_is("a", "a\r\n");
	canon_body_is("a\r\n\r\nb", "a\r\n\r\nb\r\n");
	canon_body_is("a  b \r\n  \r\nc\r\n", "a b\r\n\r\nc\r\n");
}
END_TEST

START_TEST(empty_body_hash)
{
	/* bh= of an empty body (relaxed), RFC 6376 3.4.4 / 3.7: SHA-256 of
	 * the empty string. */
	struct mts_dkim d;
	struct mts_buf sig = MTS_BUF_INIT, msg = MTS_BUF_INIT;
	char err[256];

	ck_assert_int_eq(mts_dkim_init(&d, key_path, "reporter.test", "sel1",
				       err, sizeof(err)), 0);
	ck_assert_int_eq(mts_buf_append_str(&msg, "From: a@reporter.test\r\n"
					    "\r\n"), 0);
	ck_assert_int_eq(mts_dkim_sign(&d, msg.data, msg.len, 1700000000, &sig,
				       err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(sig.data,
		"bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;"));
	mts_buf_free(&sig);
	mts_buf_free(&msg);
	mts_dkim_free(&d);
}
END_TEST

/* ---- signatures ---- */

static const char odd_message[] =
	"From: Reporter <noreply@reporter.test>\r\n"
	"To: tls@good.test\r\n"
	"Subject: folded\r\n"
	"  subject   line \r\n"
	"Date: Wed, 01 Jan 2025 12:00:00 +0000\r\n"
	"X-Unsigned: anything\r\n"
	"\r\n"
	"body  with   runs \t \r\n"
	"\r\n"
	"last line\r\n"
	"\r\n"
	"\r\n";

START_TEST(signature_verifies_independently)
{
	struct mts_dkim d;
	struct mts_buf out = MTS_BUF_INIT;
	char err[256];

	ck_assert_int_eq(mts_dkim_init(&d, key_path, "reporter.test", "sel1",
				       err, sizeof(err)), 0);
	ck_assert_int_eq(mts_dkim_sign(&d, odd_message, strlen(odd_message),
				       1700000000, &out, err, sizeof(err)), 0);
	ck_assert_int_eq(strncmp(out.data, "DKIM-Signature: v=1; a=rsa-sha256; "
				 "c=relaxed/relaxed; d=reporter.test; s=sel1;",
				 75), 0);
	ck_assert_ptr_nonnull(strstr(out.data, "h=from:to:subject:date;"));
	ck_assert_ptr_null(strstr(out.data, " l="));
	ck_assert_ptr_null(strstr(out.data, ";l="));
	ck_assert_int_eq(mts_buf_append_str(&out, odd_message), 0);
	ck_assert_int_eq(verify(&out), 0);

	/* A changed body breaks it... */
	{
		char *p = strstr(out.data, "last line");

		ck_assert_ptr_nonnull(p);
		p[0] = 'L';
		ck_assert_int_eq(verify(&out), 1);
		p[0] = 'l';
		ck_assert_int_eq(verify(&out), 0);
	}
	/* ...so does a changed signed header; whitespace changes do not. */
	{
		char *p = strstr(out.data, "To: tls@good.test");

		p[4] = 'T';
		ck_assert_int_eq(verify(&out), 1);
		p[4] = 't';
		p = strstr(out.data, "body  with");
		p[4] = '\t';
		ck_assert_int_eq(verify(&out), 0);
	}
	mts_buf_free(&out);
	mts_dkim_free(&d);
}
END_TEST

/* Relaxed canonicalisation edge cases, checked by dkimpy: a header field
 * folded over many lines (tabs and spaces, whitespace before the fold),
 * a signed field that appears twice (the last one is signed), body lines
 * with trailing whitespace, whitespace-only lines inside the body and at
 * its end, a body line of 900 characters, and no CRLF after the last line.
 * (Not with trailing whitespace on that last line: dkimpy keeps one SP
 * there, we drop it as at the end of any line. It never matters: SMTP
 * ends every body with CRLF, and report mails always do.) */
START_TEST(relaxed_edge_cases_verify)
{
	struct mts_dkim d;
	struct mts_buf msg = MTS_BUF_INIT, out = MTS_BUF_INIT;
	char err[256];

	ck_assert_int_eq(mts_dkim_init(&d, key_path, "reporter.test", "sel1",
				       err, sizeof(err)), 0);
	ck_assert_int_eq(mts_buf_append_str(&msg,
		"From: noreply@reporter.test\r\n"
		"To: first@good.test\r\n"
		"To: tls@good.test\r\n"
		"Subject: Report Domain: good.test"), 0);
	for (int i = 0; i < 30; i++)
		ck_assert_int_eq(mts_buf_printf(&msg, " \r\n%sword%02d  ",
						i % 2 ? "\t" : "    ", i), 0);
	ck_assert_int_eq(mts_buf_append_str(&msg,
		"\r\nTLS-Report-Domain:\t good.test \t\r\n"
		"\r\n"
		"line with trailing blanks \t \r\n"
		" \t \r\n"
		"\r\n"
		"\tindented\t\ttext\r\n"), 0);
	for (int i = 0; i < 900; i++)
		ck_assert_int_eq(mts_buf_append(&msg, i % 7 ? "x" : " ", 1), 0);
	ck_assert_int_eq(mts_buf_append_str(&msg,
		"\r\n \r\n\t\r\n\r\nlast line without CRLF"), 0);
	ck_assert_int_eq(mts_dkim_sign(&d, msg.data, msg.len, 1700000000, &out,
				       err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(out.data,
		"h=from:to:subject:tls-report-domain;"));
	ck_assert_int_eq(mts_buf_append(&out, msg.data, msg.len), 0);
	ck_assert_int_eq(verify(&out), 0);
	/* The first To is not signed: changing it keeps the signature... */
	{
		char *p = strstr(out.data, "To: first@");

		ck_assert_ptr_nonnull(p);
		p[4] = 'F';
		ck_assert_int_eq(verify(&out), 0);
		/* ...a word inside the folded Subject does not. */
		p = strstr(out.data, "word17");
		ck_assert_ptr_nonnull(p);
		p[0] = 'W';
		ck_assert_int_eq(verify(&out), 1);
	}
	mts_buf_free(&msg);
	mts_buf_free(&out);
	mts_dkim_free(&d);
}
END_TEST

START_TEST(report_mail_signature_verifies)
{
	struct mts_dkim d;
	struct mts_deliver_opts o;
	struct mts_config cfg;
	struct mts_report_msg r;
	struct mts_buf gz = MTS_BUF_INIT, mail = MTS_BUF_INIT;
	char err[256], json[] = "{\"organization-name\":\"x\"}\n";

	ck_assert_int_eq(mts_dkim_init(&d, key_path, "reporter.test", "sel1",
				       err, sizeof(err)), 0);
	memset(&cfg, 0, sizeof(cfg));
	ck_assert_int_eq(mts_deliver_opts_load(&o, &cfg, "reporter.test", &d,
					       err, sizeof(err)), 0);
	ck_assert_int_eq(mts_gzip(json, strlen(json), &gz), 0);
	memset(&r, 0, sizeof(r));
	r.domain = "good.test";
	r.submitter = "reporter.test";
	r.org = "Reporter";
	r.report_id = "2025-01-01.abc@reporter.test";
	r.day = "2025-01-01";
	r.filename = "reporter.test!good.test!1735689600!1735775999!abc.json.gz";
	r.gz = gz.data;
	r.gzlen = gz.len;
	r.now = (int64_t)time(NULL);
	ck_assert_int_eq(mts_deliver_build_mail(&o, "tls@good.test", &r, &mail,
						err, sizeof(err)), 0);
	ck_assert_int_eq(strncmp(mail.data, "DKIM-Signature:", 15), 0);
	ck_assert_ptr_nonnull(strstr(mail.data, "h=from:to:subject:date:"
				     "message-id:mime-version:content-type:"
				     "tls-report-domain:tls-report-submitter:"
				     "auto-submitted:tls-required;"));
	ck_assert_int_eq(verify(&mail), 0);
	mts_buf_free(&gz);
	mts_buf_free(&mail);
	mts_dkim_free(&d);
}
END_TEST

START_TEST(sign_refuses_bad_messages)
{
	struct mts_dkim d;
	struct mts_buf out = MTS_BUF_INIT;
	char err[256];

	ck_assert_int_eq(mts_dkim_init(&d, key_path, "reporter.test", "sel1",
				       err, sizeof(err)), 0);
	ck_assert_int_eq(mts_dkim_sign(&d, "To: x@y.test\r\n\r\nb", 18, 1,
				       &out, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "DKIM: the message has no From field");
	ck_assert_int_eq(mts_dkim_sign(&d, "From: x@y.test\r\nno end", 22, 1,
				       &out, err, sizeof(err)), -1);
	ck_assert_int_eq(mts_dkim_sign(&d, "From: x@y.test\nBare: lf\n\n", 25, 1,
				       &out, err, sizeof(err)), -1);
	ck_assert_int_eq(mts_dkim_sign(&d, " From: x@y.test\r\n\r\n", 19, 1,
				       &out, err, sizeof(err)), -1);
	ck_assert_uint_eq(out.len, 0);
	mts_buf_free(&out);
	mts_dkim_free(&d);
}
END_TEST

/* ---- keys and configuration ---- */

START_TEST(key_errors)
{
	struct mts_dkim d;
	char err[256], path[300];

	ck_assert_int_eq(mts_dkim_init(&d, "/nonexistent.pem", "reporter.test",
				       "sel1", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot read"));
	ck_assert_int_eq(mts_dkim_init(&d, pub_path, "reporter.test", "sel1",
				       err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no unencrypted PEM private key"));
	snprintf(path, sizeof(path), "%s/small.pem", tmpdir);
	make_key(512, path, NULL);
	ck_assert_int_eq(mts_dkim_init(&d, path, "reporter.test", "sel1", err,
				       sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "at least 1024 bits"));
	{
		EVP_PKEY *ec = EVP_EC_gen("P-256");
		FILE *f;

		ck_assert_ptr_nonnull(ec);
		snprintf(path, sizeof(path), "%s/ec.pem", tmpdir);
		f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		PEM_write_PrivateKey(f, ec, NULL, NULL, 0, NULL, NULL);
		fclose(f);
		EVP_PKEY_free(ec);
		ck_assert_int_eq(mts_dkim_init(&d, path, "reporter.test",
					       "sel1", err, sizeof(err)), -1);
		ck_assert_ptr_nonnull(strstr(err, "not an RSA key"));
	}
	ck_assert_int_eq(mts_dkim_init(&d, key_path, "reporter", "sel1", err,
				       sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "MTASTS_REPORT_DKIM_DOMAIN"));
	ck_assert_int_eq(mts_dkim_init(&d, key_path, "reporter.test", "a;b",
				       err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "MTASTS_REPORT_DKIM_SELECTOR"));
	ck_assert_int_eq(mts_dkim_init(&d, key_path, "reporter.test",
				       "2025.tls-rpt", err, sizeof(err)), 0);
	mts_dkim_free(&d);
}
END_TEST

START_TEST(configuration_from_environment)
{
	struct mts_dkim d;
	char err[256];

	ck_assert_int_eq(mts_dkim_from_env(&d, err, sizeof(err)), 1);
	setenv("MTASTS_REPORT_DKIM_KEY", key_path, 1);
	ck_assert_int_eq(mts_dkim_from_env(&d, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "MTASTS_REPORT_DKIM_SELECTOR is not "
				     "set"));
	setenv("MTASTS_REPORT_DKIM_SELECTOR", "sel1", 1);
	ck_assert_int_eq(mts_dkim_from_env(&d, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "MTASTS_REPORT_DKIM_DOMAIN is not "
				     "set"));
	setenv("MTASTS_REPORT_DKIM_DOMAIN", "reporter.test", 1);
	ck_assert_int_eq(mts_dkim_from_env(&d, err, sizeof(err)), 0);
	ck_assert_str_eq(d.domain, "reporter.test");
	ck_assert_str_eq(d.selector, "sel1");
	ck_assert_ptr_nonnull(d.key);
	mts_dkim_free(&d);
	ck_assert_ptr_null(d.key);
}
END_TEST

static Suite *dkim_suite(void)
{
	Suite *s = suite_create("dkim");
	TCase *canon = tcase_create("canon");
	TCase *sign = tcase_create("sign");

	tcase_add_test(canon, relaxed_header);
	tcase_add_test(canon, relaxed_body);
	suite_add_tcase(s, canon);

	tcase_add_unchecked_fixture(sign, setup, teardown);
	tcase_set_timeout(sign, 60);
	tcase_add_test(sign, empty_body_hash);
	tcase_add_test(sign, signature_verifies_independently);
	tcase_add_test(sign, relaxed_edge_cases_verify);
	tcase_add_test(sign, report_mail_signature_verifies);
	tcase_add_test(sign, sign_refuses_bad_messages);
	tcase_add_test(sign, key_errors);
	tcase_add_test(sign, configuration_from_environment);
	suite_add_tcase(s, sign);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(dkim_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
