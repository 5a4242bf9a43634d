/*
 * test_smtp.c - the relay's SMTP reply reader and dialogue (relay/smtp.c)
 *
 * The server side is the other end of a socket pair, written before the
 * call (or byte by byte from a thread), so every case is deterministic and
 * needs no network. relay/smtp.c and its wait helper are compiled in here
 * directly (the unit-test rule links only the policy library).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../relay/smtp.c"
#include "../../relay/wait.c"

static int sv[2];

static void setup(void)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(relay_set_nonblock(sv[0]), 0);
}

static void teardown(void)
{
	close(sv[0]);
	close(sv[1]);
}

static void server_says(const char *text)
{
	size_t len = strlen(text);

	ck_assert_int_eq(write(sv[1], text, len), (ssize_t)len);
}

/* What the client sent, as a string. */
static const char *client_sent(void)
{
	static char buf[4096];
	ssize_t n = recv(sv[1], buf, sizeof(buf) - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int read_reply(struct relay_smtp_reply *r, char *err, size_t errlen,
		      int ms)
{
	static struct relay_smtp s;

	relay_smtp_init(&s, sv[0], relay_now_ms() + ms);
	return relay_smtp_read_reply(&s, r, err, errlen);
}

/* ---- replies ----------------------------------------------------------- */

START_TEST(single_line)
{
	struct relay_smtp_reply r = { 0, 0, MTS_BUF_INIT };
	char err[160] = "";

	server_says("220 mx.example ESMTP\r\n");
	ck_assert_int_eq(read_reply(&r, err, sizeof(err), 1000), 0);
	ck_assert_int_eq(r.code, 220);
	ck_assert_uint_eq(r.lines, 1);
	ck_assert_str_eq(mts_buf_str(&r.raw), "220 mx.example ESMTP\r\n");
	relay_smtp_reply_free(&r);
}
END_TEST

START_TEST(multi_line_kept_exactly)
{
	struct relay_smtp_reply r = { 0, 0, MTS_BUF_INIT };
	char err[160] = "";
	const char *text = "220-first\r\n220-second\n220 third\r\n";

	server_says(text);
	ck_assert_int_eq(read_reply(&r, err, sizeof(err), 1000), 0);
	ck_assert_int_eq(r.code, 220);
	ck_assert_uint_eq(r.lines, 3);
	ck_assert_str_eq(mts_buf_str(&r.raw), text);
	relay_smtp_reply_free(&r);
}
END_TEST

START_TEST(code_alone)
{
	struct relay_smtp_reply r = { 0, 0, MTS_BUF_INIT };
	char err[160] = "";

	server_says("250\r\n");
	ck_assert_int_eq(read_reply(&r, err, sizeof(err), 1000), 0);
	ck_assert_int_eq(r.code, 250);
	relay_smtp_reply_free(&r);
}
END_TEST

static const struct {
	const char *text;
	const char *why;
} bad_replies[] = {
	{ "22x ready\r\n", "malformed reply line" },
	{ "2200 ready\r\n", "malformed reply line" },
	{ "22 ready\r\n", "malformed reply line" },
	{ "120 wait\r\n", "malformed reply line" },
	{ "620 no\r\n", "malformed reply line" },
	{ "260 no\r\n", "malformed reply line" },
	{ " 220 ready\r\n", "malformed reply line" },
	{ "220_ready\r\n", "malformed reply line" },
	{ "220-a\r\n250 b\r\n", "reply code changes from 220 to 250" },
	{ "220-a\r\n\r\n", "malformed reply line" },
};

START_TEST(malformed)
{
	struct relay_smtp_reply r = { 0, 0, MTS_BUF_INIT };
	char err[160] = "";

	server_says(bad_replies[_i].text);
	ck_assert_int_eq(read_reply(&r, err, sizeof(err), 1000), -EPROTO);
	ck_assert_str_eq(err, bad_replies[_i].why);
	relay_smtp_reply_free(&r);
}
END_TEST

START_TEST(line_too_long)
{
	struct relay_smtp_reply r = { 0, 0, MTS_BUF_INIT };
	char err[160] = "", line[RELAY_SMTP_LINE_MAX + 16];

	memset(line, 'x', sizeof(line));
	memcpy(line, "220 ", 4);
	line[sizeof(line) - 1] = '\0';
	server_says(line);	/* no line end at all */
	ck_assert_int_eq(read_reply(&r, err, sizeof(err), 1000), -EPROTO);
	ck_assert_str_eq(err, "reply line longer than 2048 octets");
	relay_smtp_reply_free(&r);
}
END_TEST

START_TEST(longest_line_accepted)
{
	struct relay_smtp_reply r = { 0, 0, MTS_BUF_INIT };
	char err[160] = "", line[RELAY_SMTP_LINE_MAX + 1];

	memset(line, 'x', RELAY_SMTP_LINE_MAX);
	memcpy(line, "220 ", 4);
	memcpy(line + RELAY_SMTP_LINE_MAX - 2, "\r\n", 2);
	line[RELAY_SMTP_LINE_MAX] = '\0';
	server_says(line);
	ck_assert_int_eq(read_reply(&r, err, sizeof(err), 1000), 0);
	ck_assert_uint_eq(r.raw.len, RELAY_SMTP_LINE_MAX);
	relay_smtp_reply_free(&r);
}
END_TEST

START_TEST(reply_too_long)
{
	struct relay_smtp_reply r = { 0, 0, MTS_BUF_INIT };
	char err[160] = "";
	struct mts_buf text = MTS_BUF_INIT;

	/* 200 lines of 100 octets, none the last: 20000 > 16384. */
	for (int i = 0; i < 200; i++)
		ck_assert_int_eq(mts_buf_printf(&text, "250-%094d\r\n", i), 0);
	ck_assert_int_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_gt(write(sv[1], text.data, text.len), RELAY_SMTP_REPLY_MAX);
	ck_assert_int_eq(read_reply(&r, err, sizeof(err), 1000), -EPROTO);
	ck_assert_str_eq(err, "reply longer than 16384 octets");
	mts_buf_free(&text);
	relay_smtp_reply_free(&r);
}
END_TEST

START_TEST(closed_mid_reply)
{
	struct relay_smtp_reply r = { 0, 0, MTS_BUF_INIT };
	char err[160] = "";

	server_says("220-first\r\n220 sec");
	shutdown(sv[1], SHUT_WR);
	ck_assert_int_eq(read_reply(&r, err, sizeof(err), 1000), -ECONNRESET);
	ck_assert_str_eq(err, "server closed the connection");
	relay_smtp_reply_free(&r);
}
END_TEST

START_TEST(deadline)
{
	struct relay_smtp_reply r = { 0, 0, MTS_BUF_INIT };
	char err[160] = "";
	int64_t t0 = relay_now_ms();

	server_says("220-first\r\n");	/* and then nothing */
	ck_assert_int_eq(read_reply(&r, err, sizeof(err), 200), -ETIMEDOUT);
	ck_assert_int_ge(relay_now_ms() - t0, 190);
	ck_assert_int_lt(relay_now_ms() - t0, 1000);
	ck_assert_str_eq(err, "no reply before the deadline");
	relay_smtp_reply_free(&r);
}
END_TEST

static void *drip(void *arg)
{
	const char *text = arg;

	for (size_t i = 0; text[i] != '\0'; i++) {
		struct timespec ts = { 0, 1000000 };

		if (write(sv[1], text + i, 1) != 1)
			break;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

START_TEST(byte_by_byte)
{
	static char text[] = "220-slow\r\n220-slower\r\n220 done\r\n";
	struct relay_smtp_reply r = { 0, 0, MTS_BUF_INIT };
	char err[160] = "";
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, drip, text), 0);
	ck_assert_int_eq(read_reply(&r, err, sizeof(err), 5000), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(r.code, 220);
	ck_assert_uint_eq(r.lines, 3);
	ck_assert_str_eq(mts_buf_str(&r.raw), text);
	relay_smtp_reply_free(&r);
}
END_TEST

/* ---- keywords ---------------------------------------------------------- */

static const struct {
	const char *reply;
	int has;
} ehlo_replies[] = {
	{ "250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n", 1 },
	{ "250-mx\r\n250-starttls\r\n250 8BITMIME\r\n", 1 },
	{ "250-mx\r\n250-StartTLS \r\n250 8BITMIME\r\n", 1 },
	{ "250-mx\r\n250 STARTTLS\n", 1 },
	{ "250-mx\r\n250-STARTTLSX\r\n250 8BITMIME\r\n", 0 },
	{ "250-mx\r\n250-XSTARTTLS\r\n250 8BITMIME\r\n", 0 },
	{ "250-mx\r\n250-X STARTTLS\r\n250 8BITMIME\r\n", 0 },
	{ "250 STARTTLS\r\n", 0 },	/* the greeting line is the domain */
	{ "250-STARTTLS greets you\r\n250 SIZE\r\n", 0 },
};

START_TEST(starttls_keyword)
{
	struct relay_smtp_reply r = { 0, 0, MTS_BUF_INIT };
	char err[160] = "";

	server_says(ehlo_replies[_i].reply);
	ck_assert_int_eq(read_reply(&r, err, sizeof(err), 1000), 0);
	ck_assert_int_eq(relay_smtp_reply_has_keyword(&r, "STARTTLS"),
			 ehlo_replies[_i].has);
	relay_smtp_reply_free(&r);
}
END_TEST

/* ---- the dialogue ------------------------------------------------------- */

/* A scripted server in a thread: the greeting, then for each command it
 * reads (one line), the next reply; the lines read are kept. */
struct script {
	const char *greeting;
	const char *replies[4];
	char heard[1024];
};

static void *serve(void *arg)
{
	struct script *sc = arg;
	size_t heard = 0;

	if (sc->greeting != NULL)
		server_says(sc->greeting);
	for (int i = 0; i < 4 && sc->replies[i] != NULL; i++) {
		char c = 0;

		while (heard + 1 < sizeof(sc->heard) && c != '\n') {
			if (read(sv[1], &c, 1) != 1)
				return NULL;
			sc->heard[heard++] = c;
		}
		server_says(sc->replies[i]);
	}
	return NULL;
}

static int negotiate(struct script *sc, struct relay_smtp_result *res)
{
	static struct relay_smtp s;
	pthread_t t;
	int rc;

	memset(sc->heard, 0, sizeof(sc->heard));
	ck_assert_int_eq(pthread_create(&t, NULL, serve, sc), 0);
	relay_smtp_init(&s, sv[0], relay_now_ms() + 2000);
	rc = relay_smtp_negotiate(&s, "client.example", res);
	shutdown(sv[1], SHUT_RDWR);	/* a server still waiting: done */
	pthread_join(t, NULL);
	return rc;
}

START_TEST(dialogue_starttls)
{
	struct script sc = {
		"220-mx.example hi\r\n220 there\r\n",
		{ "250-mx.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
		  "220 go ahead\r\n", NULL },
		"",
	};
	struct relay_smtp_result res;

	ck_assert_int_eq(negotiate(&sc, &res), 0);
	ck_assert_str_eq(mts_buf_str(&res.greeting),
			 "220-mx.example hi\r\n220 there\r\n");
	ck_assert_int_eq(res.greeting_code, 220);
	ck_assert_str_eq(sc.heard, "EHLO client.example\r\nSTARTTLS\r\n");
	ck_assert_int_eq(res.starttls_offered, 1);
	ck_assert_int_eq(res.starttls_accepted, 1);
	ck_assert_int_eq(res.starttls_code, 220);
	ck_assert_int_eq(res.used_helo, 0);
	relay_smtp_result_free(&res);
}
END_TEST

START_TEST(dialogue_no_starttls)
{
	struct script sc = {
		"220 mx.example\r\n", { "250-mx.example\r\n250 SIZE 100\r\n",
					 NULL }, "",
	};
	struct relay_smtp_result res;

	ck_assert_int_eq(negotiate(&sc, &res), 0);
	ck_assert_str_eq(sc.heard, "EHLO client.example\r\n");
	ck_assert_int_eq(res.starttls_offered, 0);
	ck_assert_int_eq(res.starttls_accepted, 0);
	ck_assert_int_eq(res.starttls_code, 0);
	relay_smtp_result_free(&res);
}
END_TEST

START_TEST(dialogue_starttls_refused)
{
	struct script sc = {
		"220 mx.example\r\n",
		{ "250-mx.example\r\n250 STARTTLS\r\n",
		  "454 4.7.0 not now\r\n", NULL }, "",
	};
	struct relay_smtp_result res;

	ck_assert_int_eq(negotiate(&sc, &res), 0);
	ck_assert_int_eq(res.starttls_offered, 1);
	ck_assert_int_eq(res.starttls_accepted, 0);
	ck_assert_int_eq(res.starttls_code, 454);
	relay_smtp_result_free(&res);
}
END_TEST

START_TEST(dialogue_starttls_421)
{
	struct script sc = {
		"220 mx.example\r\n",
		{ "250-mx.example\r\n250 STARTTLS\r\n",
		  "421 closing\r\n", NULL }, "",
	};
	struct relay_smtp_result res;

	ck_assert_int_eq(negotiate(&sc, &res), -ECONNREFUSED);
	ck_assert_str_eq(res.error, "STARTTLS answered with 421");
	relay_smtp_result_free(&res);
}
END_TEST

START_TEST(dialogue_injection)
{
	struct script sc = {
		"220 mx.example\r\n",
		{ "250-mx.example\r\n250 STARTTLS\r\n",
		  "220 go ahead\r\n250 injected\r\n", NULL }, "",
	};
	struct relay_smtp_result res;

	ck_assert_int_eq(negotiate(&sc, &res), -EPROTO);
	ck_assert_int_eq(res.starttls_accepted, 0);
	ck_assert_str_eq(res.error,
			 "unexpected data after the reply to STARTTLS");
	relay_smtp_result_free(&res);
}
END_TEST

START_TEST(dialogue_bad_greeting)
{
	struct script sc = { "554 go away\r\n", { NULL }, "" };
	struct relay_smtp_result res;

	ck_assert_int_eq(negotiate(&sc, &res), -ECONNREFUSED);
	ck_assert_int_eq(res.greeting_code, 554);
	ck_assert_str_eq(res.error, "greeting refuses the session (554)");
	ck_assert_str_eq(client_sent(), "");
	relay_smtp_result_free(&res);
}
END_TEST

START_TEST(dialogue_early_data)
{
	struct script sc = { "220 hi\r\n250 early\r\n", { NULL }, "" };
	struct relay_smtp_result res;

	ck_assert_int_eq(negotiate(&sc, &res), -EPROTO);
	ck_assert_str_eq(res.error, "unexpected data after the greeting");
	ck_assert_str_eq(client_sent(), "");
	relay_smtp_result_free(&res);
}
END_TEST

START_TEST(dialogue_helo_fallback)
{
	struct script sc = {
		"220 mx.example\r\n",
		{ "502 5.5.1 no EHLO here\r\n", "250 mx.example\r\n", NULL },
		"",
	};
	struct relay_smtp_result res;

	ck_assert_int_eq(negotiate(&sc, &res), 0);
	ck_assert_int_eq(res.used_helo, 1);
	ck_assert_int_eq(res.starttls_offered, 0);
	ck_assert_str_eq(sc.heard,
			 "EHLO client.example\r\nHELO client.example\r\n");
	relay_smtp_result_free(&res);
}
END_TEST

START_TEST(dialogue_ehlo_4xx)
{
	struct script sc = {
		"220 mx.example\r\n", { "451 try later\r\n", NULL }, "",
	};
	struct relay_smtp_result res;

	ck_assert_int_eq(negotiate(&sc, &res), -ECONNREFUSED);
	ck_assert_str_eq(res.error, "EHLO refused (451)");
	ck_assert_str_eq(sc.heard, "EHLO client.example\r\n");
	relay_smtp_result_free(&res);
}
END_TEST

static Suite *smtp_suite(void)
{
	Suite *s = suite_create("smtp");
	TCase *tc = tcase_create("replies");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, single_line);
	tcase_add_test(tc, multi_line_kept_exactly);
	tcase_add_test(tc, code_alone);
	tcase_add_loop_test(tc, malformed, 0,
			    (int)(sizeof(bad_replies) / sizeof(bad_replies[0])));
	tcase_add_test(tc, line_too_long);
	tcase_add_test(tc, longest_line_accepted);
	tcase_add_test(tc, reply_too_long);
	tcase_add_test(tc, closed_mid_reply);
	tcase_add_test(tc, deadline);
	tcase_add_test(tc, byte_by_byte);
	tcase_add_loop_test(tc, starttls_keyword, 0,
			    (int)(sizeof(ehlo_replies) / sizeof(ehlo_replies[0])));
	tcase_add_test(tc, dialogue_starttls);
	tcase_add_test(tc, dialogue_no_starttls);
	tcase_add_test(tc, dialogue_starttls_refused);
	tcase_add_test(tc, dialogue_starttls_421);
	tcase_add_test(tc, dialogue_injection);
	tcase_add_test(tc, dialogue_bad_greeting);
	tcase_add_test(tc, dialogue_early_data);
	tcase_add_test(tc, dialogue_helo_fallback);
	tcase_add_test(tc, dialogue_ehlo_4xx);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(smtp_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
