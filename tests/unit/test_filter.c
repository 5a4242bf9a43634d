/*
 * test_filter.c - the held MAIL of relay/filter.c (docs/RCPT.md)
 *
 * When the connection's domain is unknown, MAIL is answered "250" by the
 * relay and reaches the server only just before the first recipient the
 * relay allows. These tests drive the filter as the pump does, with no
 * network and no policy look-up: recipients are domain-literals (allowed:
 * no domain, no policy) or unreadable (answered "501" here), which is all
 * the hold needs to be seen.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../relay/smtpstream.c"
#include "../../relay/rcpt.c"
#include "../../relay/decide.c"
#include "../../relay/lookup.c"
#include "../../relay/report.c"
#include "../../relay/filter.c"

#define HELD "250 2.1.0 Sender OK (held by MTA-STS relay)\r\n"
#define OUT_MAX 65536

struct fx {
	struct mts_config cfg;
	struct relay_filter *f;
	struct mts_buf to_server, to_app;
};

static struct fx *fx_new(const char *domain)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct relay_filter_conf c;

	ck_assert_ptr_nonnull(x);
	/* Zeroed: no recipient here needs a look-up. */
	memset(&c, 0, sizeof(c));
	c.cfg = &x->cfg;
	c.domain = domain;
	c.ip = "192.0.2.25";
	c.tcp_fd = -1;
	x->f = relay_filter_new(&c);
	ck_assert_ptr_nonnull(x->f);
	return x;
}

static void fx_free(struct fx *x)
{
	relay_filter_free(x->f);
	mts_buf_free(&x->to_server);
	mts_buf_free(&x->to_app);
	free(x);
}

static void app(struct fx *x, const char *s)
{
	static char out[OUT_MAX];
	size_t len = strlen(s), taken = 0;

	for (int guard = 0; guard < 1000; guard++) {
		size_t n = 0, used;

		used = relay_filter_up(x->f, s + taken, len - taken, out,
				       sizeof(out), &n);
		mts_buf_append(&x->to_server, out, n);
		taken += used;
		if (used == 0 && n == 0)
			break;
	}
	ck_assert_uint_eq(taken, len);
}

static void server(struct fx *x, const char *s)
{
	static char out[OUT_MAX];
	size_t len = strlen(s), taken = 0;

	for (int guard = 0; guard < 1000; guard++) {
		size_t n = 0, used;

		used = relay_filter_down(x->f, s + taken, len - taken, out,
					 sizeof(out), &n);
		mts_buf_append(&x->to_app, out, n);
		taken += used;
		if (used == 0 && n == 0)
			break;
	}
	ck_assert_uint_eq(taken, len);
}

static const char *sent(struct fx *x)
{
	return x->to_server.len ? mts_buf_str(&x->to_server) : "";
}

static const char *seen(struct fx *x)
{
	return x->to_app.len ? mts_buf_str(&x->to_app) : "";
}

START_TEST(not_pipelined_first_allowed)
{
	struct fx *x = fx_new(NULL);

	app(x, "EHLO me\r\n");
	server(x, "250 hi\r\n");
	app(x, "MAIL FROM:<s@sender.test>\r\n");
	server(x, "");
	ck_assert_str_eq(sent(x), "EHLO me\r\n");
	ck_assert_str_eq(seen(x), "250 hi\r\n" HELD);
	app(x, "RCPT TO:<u@[192.0.2.1]>\r\n");
	ck_assert_str_eq(sent(x), "EHLO me\r\nMAIL FROM:<s@sender.test>\r\n"
			 "RCPT TO:<u@[192.0.2.1]>\r\n");
	server(x, "250 2.1.0 mail ok\r\n250 2.1.5 rcpt ok\r\n");
	ck_assert_str_eq(seen(x), "250 hi\r\n" HELD "250 2.1.5 rcpt ok\r\n");
	/* A second recipient: MAIL is not sent again. */
	app(x, "RCPT TO:<v@[192.0.2.2]>\r\n");
	ck_assert_str_eq(sent(x), "EHLO me\r\nMAIL FROM:<s@sender.test>\r\n"
			 "RCPT TO:<u@[192.0.2.1]>\r\nRCPT TO:<v@[192.0.2.2]>\r\n");
	fx_free(x);
}
END_TEST

START_TEST(pipelined_all_deferred)
{
	struct fx *x = fx_new(NULL);

	app(x, "MAIL FROM:<s@sender.test>\r\nRCPT TO:<bad\r\n"
	       "RCPT TO:<bad2\r\nDATA\r\n");
	server(x, "");
	ck_assert_str_eq(sent(x), "");
	ck_assert(strncmp(seen(x), HELD "501 5.1.3 ", strlen(HELD) + 10) == 0);
	ck_assert_ptr_nonnull(strstr(seen(x), "\r\n554 5.5.1 "));
	app(x, "QUIT\r\n");
	ck_assert_str_eq(sent(x), "QUIT\r\n");
	fx_free(x);
}
END_TEST

START_TEST(pipelined_deferred_then_allowed)
{
	struct fx *x = fx_new(NULL);

	app(x, "MAIL FROM:<s@sender.test>\r\nRCPT TO:<bad\r\n"
	       "RCPT TO:<u@[192.0.2.1]>\r\n");
	ck_assert_str_eq(sent(x), "MAIL FROM:<s@sender.test>\r\n"
			 "RCPT TO:<u@[192.0.2.1]>\r\n");
	server(x, "250 mail\r\n250 rcpt\r\n");
	ck_assert(strncmp(seen(x), HELD "501 5.1.3 ", strlen(HELD) + 10) == 0);
	ck_assert_ptr_nonnull(strstr(seen(x), "\r\n250 rcpt\r\n"));
	ck_assert_ptr_null(strstr(seen(x), "250 mail"));
	fx_free(x);
}
END_TEST

START_TEST(mail_refused_by_server)
{
	struct fx *x = fx_new(NULL);

	app(x, "MAIL FROM:<s@sender.test>\r\nRCPT TO:<u@[192.0.2.1]>\r\n"
	       "RCPT TO:<v@[192.0.2.2]>\r\n");
	server(x, "550-5.7.1 sender\r\n550 5.7.1 rejected\r\n"
		  "503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n");
	ck_assert_str_eq(seen(x), HELD "550-5.7.1 sender\r\n550 5.7.1 "
			 "rejected\r\n503 5.5.1 need MAIL\r\n");
	fx_free(x);
}
END_TEST

START_TEST(mail_refused_split_bytes)
{
	struct fx *x = fx_new(NULL);
	const char *r = "451 4.3.0 try later\r\n503 5.5.1 need MAIL\r\n";

	app(x, "MAIL FROM:<s@sender.test>\r\nRCPT TO:<u@[192.0.2.1]>\r\n");
	for (const char *p = r; *p != '\0'; p++) {
		char one[2] = { *p, '\0' };

		server(x, one);
	}
	ck_assert_str_eq(seen(x), HELD "451 4.3.0 try later\r\n");
	fx_free(x);
}
END_TEST

START_TEST(mail_421_goes_at_once)
{
	struct fx *x = fx_new(NULL);

	app(x, "MAIL FROM:<s@sender.test>\r\nRCPT TO:<u@[192.0.2.1]>\r\n");
	server(x, "421 4.3.2 closing\r\n");
	ck_assert_str_eq(seen(x), HELD "421 4.3.2 closing\r\n");
	server(x, "503 5.5.1 late\r\n");	/* dropped: replaced already */
	ck_assert_str_eq(seen(x), HELD "421 4.3.2 closing\r\n");
	fx_free(x);
}
END_TEST

START_TEST(mail_refused_malformed)
{
	struct fx *x = fx_new(NULL);

	app(x, "MAIL FROM:<s@sender.test>\r\nRCPT TO:<u@[192.0.2.1]>\r\n");
	server(x, "xyz what\r\n503 5.5.1 need MAIL\r\n");
	ck_assert_str_eq(seen(x), HELD "451 MTA-STS relay: the server refused "
			 "MAIL FROM\r\n");
	fx_free(x);
}
END_TEST

START_TEST(rset_drops_held_mail)
{
	struct fx *x = fx_new(NULL);

	app(x, "MAIL FROM:<one@sender.test>\r\nRCPT TO:<bad\r\nRSET\r\n");
	ck_assert_str_eq(sent(x), "RSET\r\n");
	server(x, "250 reset\r\n");
	app(x, "MAIL FROM:<two@sender.test>\r\nRCPT TO:<u@[192.0.2.1]>\r\n");
	ck_assert_str_eq(sent(x), "RSET\r\nMAIL FROM:<two@sender.test>\r\n"
			 "RCPT TO:<u@[192.0.2.1]>\r\n");
	server(x, "250 mail\r\n250 rcpt\r\n");
	ck_assert_ptr_nonnull(strstr(seen(x), "250 reset\r\n" HELD
				     "250 rcpt\r\n"));
	fx_free(x);
}
END_TEST

START_TEST(two_transactions)
{
	struct fx *x = fx_new(NULL);

	app(x, "MAIL FROM:<one@sender.test>\r\nRCPT TO:<u@[192.0.2.1]>\r\n"
	       "DATA\r\n");
	server(x, "250 mail\r\n250 rcpt\r\n354 go\r\n");
	app(x, "Subject: x\r\n\r\nbody\r\n.\r\n");
	server(x, "250 queued\r\n");
	app(x, "MAIL FROM:<two@sender.test>\r\n");
	ck_assert_str_eq(sent(x), "MAIL FROM:<one@sender.test>\r\n"
			 "RCPT TO:<u@[192.0.2.1]>\r\nDATA\r\n"
			 "Subject: x\r\n\r\nbody\r\n.\r\n");
	app(x, "RCPT TO:<v@[192.0.2.2]>\r\n");
	server(x, "250 mail2\r\n250 rcpt2\r\n");
	ck_assert_str_eq(seen(x), HELD "250 rcpt\r\n354 go\r\n250 queued\r\n"
			 HELD "250 rcpt2\r\n");
	fx_free(x);
}
END_TEST

START_TEST(known_domain_not_held)
{
	struct fx *x = fx_new("good.test");

	app(x, "MAIL FROM:<s@sender.test>\r\n");
	ck_assert_str_eq(sent(x), "MAIL FROM:<s@sender.test>\r\n");
	server(x, "250 mail\r\n");
	ck_assert_str_eq(seen(x), "250 mail\r\n");
	fx_free(x);
}
END_TEST

static Suite *filter_suite(void)
{
	Suite *s = suite_create("filter");
	TCase *t = tcase_create("held-mail");

	tcase_add_test(t, not_pipelined_first_allowed);
	tcase_add_test(t, pipelined_all_deferred);
	tcase_add_test(t, pipelined_deferred_then_allowed);
	tcase_add_test(t, mail_refused_by_server);
	tcase_add_test(t, mail_refused_split_bytes);
	tcase_add_test(t, mail_421_goes_at_once);
	tcase_add_test(t, mail_refused_malformed);
	tcase_add_test(t, rset_drops_held_mail);
	tcase_add_test(t, two_transactions);
	tcase_add_test(t, known_domain_not_held);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(filter_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
