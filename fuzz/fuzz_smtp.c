/*
 * fuzz_smtp.c - libFuzzer target for the relay's SMTP reply parser
 *
 * DESCRIPTION
 *	Two passes over every input:
 *
 *	1. The input is what a server sent, already received: it is put in
 *	   the reader's buffer (the peer has closed) and replies are read
 *	   until an error. Invariants: each reply has a code 200..559, its
 *	   raw text starts with that code and ends in LF, and the buffer
 *	   shrinks by exactly the raw text; a reply listing STARTTLS really
 *	   contains the word.
 *
 *	2. The input, split at form feeds ('\f'), is the server's side of
 *	   a whole relay_smtp_negotiate() dialogue: a thread plays the
 *	   server, sending piece i after the relay's i-th command line.
 *	   Invariants: the return value is one of the documented ones, an
 *	   error has a text, success means a 220 greeting, STARTTLS is only
 *	   accepted when offered and answered 220, HELO only when EHLO got
 *	   5yz.
 *
 *	A piece that cannot end a reply (no final LF, or a last line
 *	"ddd-") is sent as the last one, followed by end of stream, so the
 *	relay never waits for its deadline.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "smtp.h"
#include "wait.h"

#define MAX_PIECES 8

struct server {
	int fd;
	const uint8_t *data;
	size_t size;
};

static int closed_fd = -1;	/* our end of a pair whose peer is closed */

static int contains_nocase(const char *hay, size_t len, const char *word)
{
	size_t wl = strlen(word);

	for (size_t i = 0; i + wl <= len; i++)
		if (strncasecmp(hay + i, word, wl) == 0)
			return 1;
	return 0;
}

static void pass_buffered(const uint8_t *data, size_t size)
{
	static struct relay_smtp s;
	struct relay_smtp_reply r = { 0, 0, MTS_BUF_INIT };
	char err[160];

	if (size > sizeof(s.in))
		size = sizeof(s.in);
	relay_smtp_init(&s, closed_fd, relay_now_ms() + 1000);
	memcpy(s.in, data, size);
	s.in_len = size;
	for (;;) {
		size_t before = s.in_len;
		int rc = relay_smtp_read_reply(&s, &r, err, sizeof(err));

		if (rc < 0) {
			FUZZ_ASSERT(rc == -EPROTO || rc == -ECONNRESET);
			FUZZ_ASSERT(err[0] != '\0');
			break;
		}
		FUZZ_ASSERT(r.code >= 200 && r.code <= 559 && r.lines >= 1);
		FUZZ_ASSERT(r.raw.len >= 4 && r.raw.data[r.raw.len - 1] == '\n');
		FUZZ_ASSERT(r.raw.data[0] - '0' == r.code / 100);
		FUZZ_ASSERT(before - s.in_len == r.raw.len);
		if (relay_smtp_reply_has_keyword(&r, "STARTTLS"))
			FUZZ_ASSERT(contains_nocase(r.raw.data, r.raw.len,
						    "starttls"));
	}
	relay_smtp_reply_free(&r);
}

/* Can the relay, having read this piece, stop waiting for more? */
static int piece_can_end(const uint8_t *p, size_t len)
{
	size_t start;

	if (len == 0 || p[len - 1] != '\n')
		return 0;
	start = len - 1;
	while (start > 0 && p[start - 1] != '\n')
		start--;
	return !(len - start >= 5 && p[start + 3] == '-');
}

static void send_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

/* Reads one command line of the relay; 0 at end of stream. */
static int read_command(int fd)
{
	char c;

	for (;;) {
		ssize_t n = read(fd, &c, 1);

		if (n <= 0)
			return 0;
		if (c == '\n')
			return 1;
	}
}

static void *server_main(void *arg)
{
	struct server *srv = arg;
	size_t start = 0, pieces = 0;

	for (size_t i = 0; i <= srv->size; i++) {
		const uint8_t *p = srv->data + start;
		size_t len = i - start;

		if (i < srv->size && srv->data[i] != '\f')
			continue;
		start = i + 1;
		send_all(srv->fd, p, len);
		if (i == srv->size || ++pieces == MAX_PIECES ||
		    !piece_can_end(p, len) || !read_command(srv->fd))
			break;
	}
	shutdown(srv->fd, SHUT_WR);
	while (read_command(srv->fd))
		;
	return NULL;
}

static void pass_dialogue(const uint8_t *data, size_t size)
{
	struct relay_smtp *s = calloc(1, sizeof(*s));
	struct relay_smtp_result res;
	struct server srv = { -1, data, size };
	pthread_t thread;
	int sv[2], rc;

	if (s == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 ||
	    relay_set_nonblock(sv[0]) < 0)
		abort();
	srv.fd = sv[1];
	if (pthread_create(&thread, NULL, server_main, &srv) != 0)
		abort();
	relay_smtp_init(s, sv[0], relay_now_ms() + 5000);
	rc = relay_smtp_negotiate(s, "fuzz.example", &res);
	close(sv[0]);
	pthread_join(thread, NULL);
	close(sv[1]);

	FUZZ_ASSERT(rc == 0 || rc == -ETIMEDOUT || rc == -ECONNRESET ||
		    rc == -EPROTO || rc == -ECONNREFUSED);
	FUZZ_ASSERT(rc != -ETIMEDOUT);	/* the harness never stalls */
	if (rc < 0)
		FUZZ_ASSERT(res.error[0] != '\0');
	if (rc == 0) {
		FUZZ_ASSERT(res.greeting_code == 220);
		FUZZ_ASSERT(res.greeting.len >= 4 &&
			    memcmp(res.greeting.data, "220", 3) == 0);
	}
	if (res.starttls_accepted)
		FUZZ_ASSERT(res.starttls_offered && res.starttls_code == 220);
	if (res.used_helo)
		FUZZ_ASSERT(!res.starttls_offered);
	relay_smtp_result_free(&res);
	free(s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int sv[2];

	fuzz_quiet_logs();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 ||
	    relay_set_nonblock(sv[0]) < 0)
		abort();
	close(sv[1]);
	closed_fd = sv[0];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > RELAY_SMTP_REPLY_MAX)
		return 0;
	pass_buffered(data, size);
	pass_dialogue(data, size);
	return 0;
}
