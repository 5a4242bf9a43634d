/*
 * test_smtpstream.c - the SMTP stream tracker (relay/smtpstream.c)
 *
 * A small simulator plays both ends: it feeds the application's bytes
 * and the server's bytes, in pieces of a given size (1 octet upwards),
 * forwards every command except RCPTs to a domain containing "bad"
 * (answered "450 ..." locally, as the relay does), and records what
 * reaches each side. Every scenario runs for several piece sizes
 * (tcase_add_loop_test), and asserts the exact bytes on both sides.
 * The module is pure, so it is compiled in here directly.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../relay/smtpstream.c"
#include "buf.h"

static const size_t steps[] = { 1, 2, 3, 5, 7, 64, 100000 };
#define NSTEPS ((int)(sizeof(steps) / sizeof(steps[0])))

#define DEFER "450 4.7.5 no\r\n"

struct sim {
	struct relay_ss ss;
	struct mts_buf cin, sin;	/* pending input of each side */
	size_t cin_off, sin_off;
	struct mts_buf to_server, to_app;
	size_t step;			/* 0: random, from seed */
	unsigned seed;
	unsigned judged;		/* RCPTs seen by the policy hook */
	int unsolicited;		/* the server may speak unasked */
};

static struct sim *sim_new(size_t step)
{
	struct sim *m = calloc(1, sizeof(*m));

	ck_assert_ptr_nonnull(m);
	relay_ss_init(&m->ss);
	m->step = step;
	return m;
}

static void sim_free(struct sim *m)
{
	mts_buf_free(&m->cin);
	mts_buf_free(&m->sin);
	mts_buf_free(&m->to_server);
	mts_buf_free(&m->to_app);
	free(m);
}

static void client_push(struct sim *m, const char *s, size_t n)
{
	ck_assert_int_eq(mts_buf_append(&m->cin, s, n), 0);
}

static void server_push(struct sim *m, const char *s)
{
	ck_assert_int_eq(mts_buf_append_str(&m->sin, s), 0);
}

#define C(m, s) client_push(m, s, sizeof(s) - 1)

static void settle(struct sim *m)
{
	const struct relay_ss_command *c = &m->ss.cmd;

	if (c->verb == RELAY_SS_RCPT && memmem(c->line, c->len, "bad", 3)) {
		m->judged++;
		ck_assert_int_eq(relay_ss_answer(&m->ss, DEFER), 0);
		return;
	}
	if (c->verb == RELAY_SS_RCPT)
		m->judged++;
	ck_assert_int_eq(mts_buf_append(&m->to_server, c->line, c->len), 0);
	ck_assert_int_eq(relay_ss_forward(&m->ss), 0);
}

/* One step of the application's side; 1 when something moved. */
static size_t piece(struct sim *m, size_t left)
{
	size_t step = m->step != 0 ? m->step : 1 + (size_t)(rand_r(&m->seed) % 40);

	return left < step ? left : step;
}

static int client_step(struct sim *m)
{
	size_t left = m->cin.len - m->cin_off, n = piece(m, left), used = 0;
	enum relay_ss_event ev;

	if (left == 0)
		return 0;
	ev = relay_ss_client(&m->ss, m->cin.data + m->cin_off, n, &used);
	ck_assert_uint_le(used, n);
	if (ev == RELAY_SS_PASS)
		mts_buf_append(&m->to_server, m->cin.data + m->cin_off, used);
	m->cin_off += used;
	if (ev == RELAY_SS_COMMAND)
		settle(m);
	return used > 0;
}

static int server_step(struct sim *m)
{
	size_t left = m->sin.len - m->sin_off, n = piece(m, left), used;
	const char *text;
	size_t tl;
	int moved = 0;

	while (relay_ss_local(&m->ss, &text, &tl)) {
		mts_buf_append(&m->to_app, text, tl);
		relay_ss_local_done(&m->ss);
		moved = 1;
	}
	/* A server speaks only when spoken to (a command is waiting). */
	if (left == 0 || (m->ss.q_count == 0 && !m->ss.in_reply &&
			  !m->unsolicited))
		return moved;
	used = relay_ss_server(&m->ss, m->sin.data + m->sin_off, n);
	mts_buf_append(&m->to_app, m->sin.data + m->sin_off, used);
	m->sin_off += used;
	return moved || used > 0;
}

static void run(struct sim *m)
{
	while (client_step(m) | server_step(m))
		;
}

static void assert_bytes(const struct mts_buf *b, const char *want,
			 size_t want_len, const char *what)
{
	const char *got = b->data != NULL ? b->data : "";

	ck_assert_msg(b->len == want_len && memcmp(got, want, want_len) == 0,
		      "%s: expected %zu octets \"%.*s\", got %zu \"%.*s\"",
		      what, want_len, (int)want_len, want, b->len, (int)b->len,
		      got);
}

#define SERVER_GOT(m, s) assert_bytes(&(m)->to_server, s, sizeof(s) - 1, "server")
#define APP_GOT(m, s) assert_bytes(&(m)->to_app, s, sizeof(s) - 1, "application")

/* --- scenarios ------------------------------------------------------------- */

START_TEST(plain_transaction)
{
	struct sim *m = sim_new(steps[_i]);
	static const char cl[] =
		"EHLO client\r\nMAIL FROM:<a@b.test>\r\n"
		"RCPT TO:<u@good.test>\r\nDATA\r\n"
		"Subject: x\r\n\r\nRCPT TO:<v@bad.test>\r\nQUIT\r\n"
		"..leading dot\r\n.\r\nQUIT\r\n";
	static const char sv[] =
		"250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n250 2.1.0 ok\r\n"
		"250 2.1.5 ok\r\n354 go\r\n250 2.0.0 queued\r\n221 bye\r\n";

	client_push(m, cl, sizeof(cl) - 1);
	server_push(m, sv);
	run(m);
	assert_bytes(&m->to_server, cl, sizeof(cl) - 1, "server");
	assert_bytes(&m->to_app, sv, sizeof(sv) - 1, "application");
	ck_assert_uint_eq(m->judged, 1);	/* content is not commands */
	ck_assert_uint_eq(m->ss.q_count, 0);
	ck_assert_uint_eq(m->ss.replies, 6);
	ck_assert_int_eq(m->ss.mode, RELAY_SS_M_COMMAND);
	sim_free(m);
}
END_TEST

START_TEST(pipelined_local_reply_in_place)
{
	struct sim *m = sim_new(steps[_i]);

	C(m, "MAIL FROM:<a@b.test>\r\nRCPT TO:<a@good.test>\r\n"
	     "RCPT TO:<b@bad.test>\r\nRCPT TO:<c@good.test>\r\n"
	     "RCPT TO:<d@bad.test>\r\nDATA\r\nhi\r\n.\r\n");
	server_push(m, "250 m\r\n250-a\r\n250 a\r\n250 c\r\n354 go\r\n250 q\r\n");
	run(m);
	SERVER_GOT(m, "MAIL FROM:<a@b.test>\r\nRCPT TO:<a@good.test>\r\n"
		      "RCPT TO:<c@good.test>\r\nDATA\r\nhi\r\n.\r\n");
	APP_GOT(m, "250 m\r\n250-a\r\n250 a\r\n" DEFER "250 c\r\n" DEFER
		   "354 go\r\n250 q\r\n");
	ck_assert_uint_eq(m->ss.local_replies, 2);
	sim_free(m);
}
END_TEST

START_TEST(data_waits_for_354)
{
	struct sim *m = sim_new(steps[_i]);

	/* The client does not wait: its content must not be read as
	 * commands before the 354 decides what it is. */
	C(m, "MAIL FROM:<a@b>\r\nRCPT TO:<a@good.test>\r\nDATA\r\n"
	     "RCPT TO:<x@bad.test>\r\n.\r\n");
	server_push(m, "250 m\r\n250 a\r\n");
	run(m);
	SERVER_GOT(m, "MAIL FROM:<a@b>\r\nRCPT TO:<a@good.test>\r\nDATA\r\n");
	ck_assert_uint_eq(m->ss.sync_waiting, 1);
	server_push(m, "354 go\r\n250 q\r\n");
	run(m);
	SERVER_GOT(m, "MAIL FROM:<a@b>\r\nRCPT TO:<a@good.test>\r\nDATA\r\n"
		      "RCPT TO:<x@bad.test>\r\n.\r\n");
	ck_assert_uint_eq(m->judged, 1);
	sim_free(m);
}
END_TEST

START_TEST(data_refused_stays_command)
{
	struct sim *m = sim_new(steps[_i]);

	C(m, "MAIL FROM:<a@b>\r\nRCPT TO:<a@good.test>\r\nDATA\r\n");
	server_push(m, "250 m\r\n250 a\r\n451 later\r\n");
	run(m);
	C(m, "RCPT TO:<x@bad.test>\r\nRSET\r\n");
	server_push(m, "250 r\r\n");
	run(m);
	APP_GOT(m, "250 m\r\n250 a\r\n451 later\r\n" DEFER "250 r\r\n");
	ck_assert_int_eq(m->ss.mode, RELAY_SS_M_COMMAND);
	sim_free(m);
}
END_TEST

START_TEST(dot_lines_and_bare_lf)
{
	struct sim *m = sim_new(steps[_i]);
	/* ".." is a stuffed dot; ".x" and ". " are content; "\n.\n" ends
	 * (a lenient receiver would end there too). */
	static const char body[] =
		"..\r\n.x\r\n. \r\nRCPT TO:<b@bad.test>\r\n\r.\r\n"
		"a\n.\n";

	C(m, "MAIL FROM:<a@b>\r\nRCPT TO:<a@good.test>\r\nDATA\r\n");
	server_push(m, "250 m\r\n250 a\r\n354 go\r\n250 q\r\n");
	client_push(m, body, sizeof(body) - 1);
	C(m, "RCPT TO:<c@bad.test>\r\n");
	run(m);
	SERVER_GOT(m, "MAIL FROM:<a@b>\r\nRCPT TO:<a@good.test>\r\nDATA\r\n"
		      "..\r\n.x\r\n. \r\nRCPT TO:<b@bad.test>\r\n\r.\r\n"
		      "a\n.\n");
	APP_GOT(m, "250 m\r\n250 a\r\n354 go\r\n250 q\r\n" DEFER);
	ck_assert_uint_eq(m->judged, 2);
	sim_free(m);
}
END_TEST

START_TEST(empty_message)
{
	struct sim *m = sim_new(steps[_i]);

	C(m, "DATA\r\n.\r\nNOOP\r\n");
	server_push(m, "354 go\r\n250 q\r\n250 n\r\n");
	run(m);
	SERVER_GOT(m, "DATA\r\n.\r\nNOOP\r\n");
	APP_GOT(m, "354 go\r\n250 q\r\n250 n\r\n");
	sim_free(m);
}
END_TEST

START_TEST(bdat_binary_chunks)
{
	struct sim *m = sim_new(steps[_i]);
	/* 29 octets: a would-be end of data, a would-be RCPT, NUL, 0xff */
	static const char chunk1[] = "\r\n.\r\nRCPT TO:<x@bad.test>\r\n\0\377";
	static const char cmds[] = "MAIL FROM:<a@b>\r\nRCPT TO:<a@good.test>\r\n"
				   "BDAT 29\r\n";
	/* The last chunk's 5 octets are "DATA\r": counted, never parsed;
	 * the "\n" after it is an (empty) command line of its own. */
	static const char tail[] = "BDAT 5 LAST\r\nDATA\r\n";
	struct mts_buf want = MTS_BUF_INIT;

	ck_assert_uint_eq(sizeof(chunk1) - 1, 29);
	client_push(m, cmds, sizeof(cmds) - 1);
	client_push(m, chunk1, sizeof(chunk1) - 1);
	client_push(m, tail, sizeof(tail) - 1);
	C(m, "RCPT TO:<y@bad.test>\r\n");
	server_push(m, "250 m\r\n250 a\r\n250 29\r\n250 q\r\n500 what\r\n");
	run(m);
	mts_buf_append(&want, cmds, sizeof(cmds) - 1);
	mts_buf_append(&want, chunk1, sizeof(chunk1) - 1);
	mts_buf_append(&want, tail, sizeof(tail) - 1);
	assert_bytes(&m->to_server, want.data, want.len, "server");
	APP_GOT(m, "250 m\r\n250 a\r\n250 29\r\n250 q\r\n500 what\r\n" DEFER);
	ck_assert_uint_eq(m->judged, 2);
	ck_assert_int_eq(m->ss.mode, RELAY_SS_M_COMMAND);
	mts_buf_free(&want);
	sim_free(m);
}
END_TEST

START_TEST(all_recipients_deferred)
{
	struct sim *m = sim_new(steps[_i]);

	C(m, "MAIL FROM:<a@b>\r\nRCPT TO:<b@bad.test>\r\nDATA\r\n");
	server_push(m, "250 m\r\n");
	run(m);
	SERVER_GOT(m, "MAIL FROM:<a@b>\r\n");
	APP_GOT(m, "250 m\r\n" DEFER "554 5.5.1 MTA-STS relay: no valid recipients\r\n");
	/* BDAT: the chunk is swallowed, answered likewise. */
	C(m, "RCPT TO:<c@bad.test>\r\nBDAT 6 LAST\r\nRSET\r\nQUIT\r\n");
	server_push(m, "221 bye\r\n");
	run(m);
	SERVER_GOT(m, "MAIL FROM:<a@b>\r\nQUIT\r\n");
	APP_GOT(m, "250 m\r\n" DEFER "554 5.5.1 MTA-STS relay: no valid recipients\r\n"
		   DEFER "554 5.5.1 MTA-STS relay: no valid recipients\r\n221 bye\r\n");
	sim_free(m);
}
END_TEST

START_TEST(rset_starts_over)
{
	struct sim *m = sim_new(steps[_i]);

	C(m, "MAIL FROM:<a@b>\r\nRCPT TO:<b@bad.test>\r\nRSET\r\n"
	     "MAIL FROM:<a@b>\r\nRCPT TO:<a@good.test>\r\nDATA\r\n.\r\n");
	server_push(m, "250 m\r\n250 r\r\n250 m\r\n250 a\r\n354 go\r\n250 q\r\n");
	run(m);
	SERVER_GOT(m, "MAIL FROM:<a@b>\r\nRSET\r\nMAIL FROM:<a@b>\r\n"
		      "RCPT TO:<a@good.test>\r\nDATA\r\n.\r\n");
	APP_GOT(m, "250 m\r\n" DEFER "250 r\r\n250 m\r\n250 a\r\n354 go\r\n250 q\r\n");
	sim_free(m);
}
END_TEST

START_TEST(overlong_line)
{
	struct sim *m = sim_new(steps[_i] < 1000 ? 1000 : steps[_i]);
	size_t n = RELAY_SS_LINE_MAX + 100;
	char *big = malloc(n);

	ck_assert_ptr_nonnull(big);
	memcpy(big, "RCPT TO:<", 9);
	memset(big + 9, 'a', n - 9);
	memcpy(big + n - 14, "@good.test>\r\n", 13);
	client_push(m, big, n - 1);
	C(m, "NOOP\r\n");
	server_push(m, "250 n\r\n");
	run(m);
	SERVER_GOT(m, "NOOP\r\n");
	APP_GOT(m, "500 5.5.2 MTA-STS relay: line too long\r\n250 n\r\n");
	ck_assert_uint_eq(m->judged, 0);
	free(big);
	sim_free(m);
}
END_TEST

START_TEST(longest_line_fits)
{
	struct sim *m = sim_new(steps[_i]);
	char *line = malloc(RELAY_SS_LINE_MAX);

	ck_assert_ptr_nonnull(line);
	memcpy(line, "NOOP ", 5);
	memset(line + 5, 'x', RELAY_SS_LINE_MAX - 7);
	memcpy(line + RELAY_SS_LINE_MAX - 2, "\r\n", 2);
	client_push(m, line, RELAY_SS_LINE_MAX);
	server_push(m, "250 n\r\n");
	run(m);
	assert_bytes(&m->to_server, line, RELAY_SS_LINE_MAX, "server");
	free(line);
	sim_free(m);
}
END_TEST

START_TEST(auth_continuation_is_not_a_command)
{
	struct sim *m = sim_new(steps[_i]);

	C(m, "AUTH LOGIN\r\nRCPT TO:<x@bad.test>\r\ncGFzcw==\r\n"
	     "MAIL FROM:<a@b>\r\nRCPT TO:<y@bad.test>\r\n");
	server_push(m, "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n250 m\r\n");
	run(m);
	SERVER_GOT(m, "AUTH LOGIN\r\nRCPT TO:<x@bad.test>\r\ncGFzcw==\r\n"
		      "MAIL FROM:<a@b>\r\n");
	APP_GOT(m, "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n250 m\r\n" DEFER);
	ck_assert_uint_eq(m->judged, 1);
	sim_free(m);
}
END_TEST

START_TEST(starttls_answered_here)
{
	struct sim *m = sim_new(steps[_i]);

	C(m, "EHLO c\r\nSTARTTLS\r\nNOOP\r\n");
	server_push(m, "250 mx\r\n250 n\r\n");
	run(m);
	SERVER_GOT(m, "EHLO c\r\nNOOP\r\n");
	APP_GOT(m, "250 mx\r\n454 4.7.0 MTA-STS relay: TLS is done by the relay, "
		   "not the client\r\n250 n\r\n");
	sim_free(m);
}
END_TEST

START_TEST(unsolicited_reply_passes)
{
	struct sim *m = sim_new(steps[_i]);

	m->unsolicited = 1;
	server_push(m, "421-closing\r\n421 bye\r\n");
	run(m);
	m->unsolicited = 0;
	APP_GOT(m, "421-closing\r\n421 bye\r\n");
	ck_assert_uint_eq(m->ss.unsolicited, 1);
	/* A reply that started before a local one was due finishes first. */
	relay_ss_init(&m->ss);
	mts_buf_reset(&m->to_app);
	ck_assert_uint_eq(relay_ss_server(&m->ss, "421 by", 6), 6);
	C(m, "RCPT TO:<x@bad.test>\r\n");
	run(m);
	server_push(m, "e\r\n");
	m->sin_off = m->sin.len - 3;
	run(m);
	APP_GOT(m, "e\r\n" DEFER);
	ck_assert_uint_eq(m->ss.q_count, 0);
	sim_free(m);
}
END_TEST

START_TEST(server_waits_for_local_reply)
{
	struct sim *m = sim_new(steps[_i]);
	const char *text;
	size_t n;

	C(m, "RCPT TO:<x@bad.test>\r\nNOOP\r\n");
	while (client_step(m))
		;
	/* The local reply is due first: server bytes are not taken. */
	ck_assert_uint_eq(relay_ss_server(&m->ss, "250 n\r\n", 7), 0);
	ck_assert_int_eq(relay_ss_local(&m->ss, &text, &n), 1);
	ck_assert_uint_eq(n, sizeof(DEFER) - 1);
	relay_ss_local_done(&m->ss);
	ck_assert_int_eq(relay_ss_local(&m->ss, &text, &n), 0);
	ck_assert_uint_eq(relay_ss_server(&m->ss, "250 n\r\n", 7), 7);
	ck_assert_uint_eq(m->ss.q_count, 0);
	sim_free(m);
}
END_TEST

START_TEST(queue_full_blocks)
{
	struct sim *m = sim_new(steps[_i]);
	size_t n = RELAY_SS_QUEUE + 10;

	for (size_t i = 0; i < n; i++)
		C(m, "NOOP\r\n");
	run(m);
	ck_assert_uint_eq(m->ss.q_count, RELAY_SS_QUEUE);
	ck_assert_uint_eq(m->to_server.len, RELAY_SS_QUEUE * 6);
	for (size_t i = 0; i < n; i++)
		server_push(m, "250 n\r\n");
	run(m);
	ck_assert_uint_eq(m->to_server.len, n * 6);
	ck_assert_uint_eq(m->to_app.len, n * 7);
	ck_assert_uint_eq(m->ss.q_count, 0);
	sim_free(m);
}
END_TEST

/* A long session of everything at once, fed in random pieces on both
 * sides: the same bytes must come out as when fed whole. */
static void long_session(struct sim *m)
{
	static const char bin[] = "\0\r\n.\r\nRCPT TO:<q@bad.test>\r\n\377";

	for (int round = 0; round < 20; round++) {
		C(m, "MAIL FROM:<a@b>\r\nRCPT TO:<a@good.test>\r\n"
		     "RCPT TO:<b@bad.test>\r\nDATA\r\n"
		     "RCPT TO:<c@bad.test>\r\n..\r\nx\r\n.\r\n"
		     "MAIL FROM:<a@b>\r\nRCPT TO:<a@good.test>\r\nBDAT 29\r\n");
		client_push(m, bin, sizeof(bin) - 1);
		C(m, "BDAT 0 LAST\r\nRSET\r\nMAIL FROM:<a@b>\r\n"
		     "RCPT TO:<b@bad.test>\r\nDATA\r\nNOOP\r\n");
		server_push(m, "250 m\r\n250-a\r\n250 a\r\n354 go\r\n250 q\r\n"
			       "250 m\r\n250 a\r\n250 29\r\n250 q\r\n"
			       "250 r\r\n250 m\r\n250 n\r\n");
	}
	run(m);
}

START_TEST(random_pieces)
{
	struct sim *whole = sim_new(1000000), *m = sim_new(0);

	ck_assert_uint_eq(sizeof("\0\r\n.\r\nRCPT TO:<q@bad.test>\r\n\377") - 1, 29);
	m->seed = (unsigned)_i * 7919u + 1u;
	long_session(whole);
	long_session(m);
	ck_assert_uint_eq(whole->judged, 20 * 4);
	assert_bytes(&m->to_server, whole->to_server.data, whole->to_server.len,
		     "server");
	assert_bytes(&m->to_app, whole->to_app.data, whole->to_app.len,
		     "application");
	ck_assert_ptr_nonnull(memmem(whole->to_app.data, whole->to_app.len,
				     "250 q\r\n250 r\r\n250 m\r\n" DEFER
				     "554 5.5.1", 40));
	ck_assert_uint_eq(m->ss.q_count, 0);
	sim_free(whole);
	sim_free(m);
}
END_TEST

START_TEST(bdat_syntax)
{
	static const struct {
		const char *line;
		int ok, last;
		uint64_t size;
	} rows[] = {
		{ "BDAT 10\r\n", 1, 0, 10 },
		{ "bdat 0 last\r\n", 1, 1, 0 },
		{ "BDAT 7 LAST  \r\n", 1, 1, 7 },
		{ "BDAT 18446744073709551615\n", 1, 0, UINT64_MAX },
		{ "BDAT 18446744073709551616\r\n", 0, 0, 0 },
		{ "BDAT\r\n", 0, 0, 0 },
		{ "BDAT x\r\n", 0, 0, 0 },
		{ "BDAT 5 LASTX\r\n", 0, 0, 0 },
		{ "BDAT 5 junk\r\n", 0, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct relay_ss_command c = { RELAY_SS_BDAT, rows[i].line,
					      strlen(rows[i].line), 0, 0, 0 };

		parse_bdat(&c);
		ck_assert_msg(c.bdat_ok == rows[i].ok, "%s", rows[i].line);
		if (c.bdat_ok) {
			ck_assert_uint_eq(c.bdat_size, rows[i].size);
			ck_assert_int_eq(c.bdat_last, rows[i].last);
		}
	}
	ck_assert_int_eq(classify("rcpt to:<a@b>\r\n", 15), RELAY_SS_RCPT);
	ck_assert_int_eq(classify("RCPTX\r\n", 7), RELAY_SS_OTHER);
	ck_assert_int_eq(classify("lhlo x\r\n", 8), RELAY_SS_EHLO);
	ck_assert_int_eq(classify("DATA\n", 5), RELAY_SS_DATA);
}
END_TEST

/* A command the relay sends on its own (the held MAIL of filter.c): its
 * reply is due first and is flagged, the command after it is paired with
 * the next reply; it needs room for itself and the command after it. */
START_TEST(hidden_command)
{
	struct relay_ss *ss = calloc(1, sizeof(*ss));
	static const char rcpt[] = "RCPT TO:<a@b.test>\r\n";
	static const char replies[] = "250 mail\r\n250 rcpt\r\n";
	size_t used = 0;

	ck_assert_ptr_nonnull(ss);
	relay_ss_init(ss);
	ck_assert_int_eq(relay_ss_hidden_due(ss), 0);
	ck_assert_int_eq(relay_ss_client(ss, rcpt, sizeof(rcpt) - 1, &used),
			 RELAY_SS_COMMAND);
	ck_assert_int_eq(relay_ss_forward_hidden(ss, RELAY_SS_MAIL), 0);
	ck_assert_int_eq(relay_ss_forward(ss), 0);
	ck_assert_uint_eq(ss->q_count, 2);
	ck_assert_int_eq(relay_ss_hidden_due(ss), 1);
	used = relay_ss_server(ss, replies, sizeof(replies) - 1);
	ck_assert_uint_eq(used, 10);		/* "250 mail\r\n" only */
	ck_assert_int_eq(relay_ss_hidden_due(ss), 0);
	ck_assert_uint_eq(ss->txn_rcpt_forwarded, 1);
	used = relay_ss_server(ss, replies + 10, sizeof(replies) - 11);
	ck_assert_uint_eq(used, 10);
	ck_assert_uint_eq(ss->q_count, 0);
	/* No room for a hidden command and the one after it. */
	ss->q_count = RELAY_SS_QUEUE - 1;
	ck_assert_int_eq(relay_ss_forward_hidden(ss, RELAY_SS_MAIL), -1);
	ss->q_count = RELAY_SS_QUEUE - 2;
	ck_assert_int_eq(relay_ss_forward_hidden(ss, RELAY_SS_MAIL), 0);
	free(ss);
}
END_TEST

/* A MAIL answered here (held) starts a transaction like one forwarded:
 * the recipients deferred before it do not count for the DATA after. */
START_TEST(local_mail_starts_transaction)
{
	struct relay_ss *ss = calloc(1, sizeof(*ss));
	static const char mail[] = "MAIL FROM:<s@b.test>\r\n";
	size_t used = 0;

	ck_assert_ptr_nonnull(ss);
	relay_ss_init(ss);
	ss->txn_rcpt_local = 3;
	ss->txn_rcpt_forwarded = 1;
	ck_assert_int_eq(relay_ss_client(ss, mail, sizeof(mail) - 1, &used),
			 RELAY_SS_COMMAND);
	ck_assert_int_eq(relay_ss_answer(ss, "250 held\r\n"), 0);
	ck_assert_uint_eq(ss->txn_rcpt_local, 0);
	ck_assert_uint_eq(ss->txn_rcpt_forwarded, 0);
	free(ss);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("smtpstream");
	TCase *t = tcase_create("stream");

	tcase_add_loop_test(t, plain_transaction, 0, NSTEPS);
	tcase_add_loop_test(t, pipelined_local_reply_in_place, 0, NSTEPS);
	tcase_add_loop_test(t, data_waits_for_354, 0, NSTEPS);
	tcase_add_loop_test(t, data_refused_stays_command, 0, NSTEPS);
	tcase_add_loop_test(t, dot_lines_and_bare_lf, 0, NSTEPS);
	tcase_add_loop_test(t, empty_message, 0, NSTEPS);
	tcase_add_loop_test(t, bdat_binary_chunks, 0, NSTEPS);
	tcase_add_loop_test(t, all_recipients_deferred, 0, NSTEPS);
	tcase_add_loop_test(t, rset_starts_over, 0, NSTEPS);
	tcase_add_loop_test(t, overlong_line, 0, NSTEPS);
	tcase_add_loop_test(t, longest_line_fits, 0, NSTEPS);
	tcase_add_loop_test(t, auth_continuation_is_not_a_command, 0, NSTEPS);
	tcase_add_loop_test(t, starttls_answered_here, 0, NSTEPS);
	tcase_add_loop_test(t, unsolicited_reply_passes, 0, NSTEPS);
	tcase_add_loop_test(t, server_waits_for_local_reply, 0, NSTEPS);
	tcase_add_loop_test(t, queue_full_blocks, 0, NSTEPS);
	tcase_add_loop_test(t, random_pieces, 0, 20);
	tcase_add_test(t, bdat_syntax);
	tcase_add_test(t, hidden_command);
	tcase_add_test(t, local_mail_starts_transaction);
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
