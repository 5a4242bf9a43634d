/*
 * fuzz_smtpstream.c - libFuzzer target for the relay's SMTP stream tracker
 *
 * DESCRIPTION
 *	The input is a script of steps, each "op len bytes[len]": op bit 0
 *	says whose bytes they are (0 the application, 1 the server), bit 1
 *	whether commands of this step are forwarded (0) or answered here
 *	(1), bit 2 whether the bytes are fed one at a time. The target
 *	plays the relay around relay_ss_client() / relay_ss_server():
 *	forward or answer each command, hand out local replies when due.
 *	Invariants:
 *	  - progress: BLOCKED takes nothing, every other event with bytes
 *	    offered takes some; the server side takes bytes unless a local
 *	    reply is due;
 *	  - a command is one whole line, LF-ended, at most
 *	    RELAY_SS_LINE_MAX octets, and never STARTTLS (answered here);
 *	  - a command can be forwarded or answered exactly once;
 *	  - local replies are CRLF-ended, at most RELAY_SS_LOCAL_MAX;
 *	  - the reply queue never exceeds RELAY_SS_QUEUE.
 */
#include <stdint.h>

#include "fuzz.h"
#include "smtpstream.h"

#define MAX_STEPS 4096

static const char local_refusal[] = "550 5.7.1 fuzz: refused\r\n";

static struct relay_ss *ss;

static void check_state(void)
{
	FUZZ_ASSERT(ss->q_count <= RELAY_SS_QUEUE);
	FUZZ_ASSERT(ss->line_len <= RELAY_SS_LINE_MAX);
}

static void drain_local(void)
{
	const char *text;
	size_t len;
	unsigned guard = 0;

	while (relay_ss_local(ss, &text, &len)) {
		FUZZ_ASSERT(len >= 2 && len <= RELAY_SS_LOCAL_MAX);
		FUZZ_ASSERT(text[len - 2] == '\r' && text[len - 1] == '\n');
		relay_ss_local_done(ss);
		FUZZ_ASSERT(++guard <= RELAY_SS_QUEUE + 1);
	}
}

static void settle_command(int answer_here)
{
	const struct relay_ss_command *c = &ss->cmd;

	FUZZ_ASSERT(c->len >= 1 && c->len <= RELAY_SS_LINE_MAX);
	FUZZ_ASSERT(c->line[c->len - 1] == '\n');
	FUZZ_ASSERT(memchr(c->line, '\n', c->len - 1) == NULL);
	FUZZ_ASSERT(c->verb != RELAY_SS_STARTTLS);
	/* The line was taken only with room in the queue for its reply. */
	if (answer_here && c->verb != RELAY_SS_CONT)
		FUZZ_ASSERT(relay_ss_answer(ss, local_refusal) == 0);
	else
		FUZZ_ASSERT(relay_ss_forward(ss) == 0);
	FUZZ_ASSERT(relay_ss_forward(ss) == -1);
	FUZZ_ASSERT(relay_ss_answer(ss, local_refusal) == -1);
}

static void feed_client(const char *in, size_t len, int answer_here,
			size_t piece)
{
	size_t off = 0;

	while (off < len) {
		size_t n = len - off < piece ? len - off : piece, used = 99999;
		enum relay_ss_event ev = relay_ss_client(ss, in + off, n, &used);

		FUZZ_ASSERT(used <= n);
		if (ev == RELAY_SS_BLOCKED) {
			FUZZ_ASSERT(used == 0);
			return;
		}
		FUZZ_ASSERT(used > 0);
		off += used;
		if (ev == RELAY_SS_COMMAND)
			settle_command(answer_here);
		FUZZ_ASSERT(!ss->have_cmd);
		check_state();
	}
}

static void feed_server(const char *in, size_t len, size_t piece)
{
	size_t off = 0;

	while (off < len) {
		size_t n = len - off < piece ? len - off : piece;
		size_t used = relay_ss_server(ss, in + off, n);
		const char *text;
		size_t tl;

		FUZZ_ASSERT(used <= n);
		if (used == 0) {
			FUZZ_ASSERT(relay_ss_local(ss, &text, &tl));
			drain_local();
			continue;
		}
		off += used;
		drain_local();
		check_state();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	ss = malloc(sizeof(*ss));
	if (ss == NULL)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 0, steps = 0;

	if (size > 65536)
		return 0;
	relay_ss_init(ss);
	while (pos + 2 <= size && steps++ < MAX_STEPS) {
		unsigned op = data[pos];
		size_t len = data[pos + 1];
		char *bytes;

		pos += 2;
		if (len > size - pos)
			len = size - pos;
		bytes = fuzz_dup(data + pos, len, 0);
		pos += len;
		if (op & 1)
			feed_server(bytes, len, op & 4 ? 1 : len);
		else
			feed_client(bytes, len, (op & 2) != 0, op & 4 ? 1 : len);
		drain_local();
		free(bytes);
	}
	return 0;
}
