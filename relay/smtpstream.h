/*
 * smtpstream.h - follow an SMTP session's two byte streams, command by reply
 *
 * SYNOPSIS
 *	struct relay_ss *ss = calloc(1, sizeof(*ss));
 *	relay_ss_init(ss);
 *
 *	application -> server:
 *	  ev = relay_ss_client(ss, in, len, &used);
 *	  RELAY_SS_PASS     forward in[0..used) as it is (message content)
 *	  RELAY_SS_DROP     discard in[0..used)
 *	  RELAY_SS_NONE     in[0..used) was taken into a command line
 *	  RELAY_SS_COMMAND  a whole command line: ss->cmd; answer it with
 *	                    relay_ss_forward() (then send cmd.line) or
 *	                    relay_ss_answer() before feeding more
 *	  RELAY_SS_BLOCKED  nothing taken: wait for the server's replies
 *
 *	server -> application:
 *	  while (relay_ss_local(ss, &text, &n)) { send text; relay_ss_local_done(ss); }
 *	  used = relay_ss_server(ss, in, len);   forward in[0..used)
 *
 * DESCRIPTION
 *	A pure tracker: no I/O, no clock, no allocation (one struct, sized at
 *	compile time), fed any split of either stream, one byte at a time
 *	included. It knows:
 *
 *	- Command lines (RFC 5321 4.1.1), ended by LF (CRLF or a bare LF, as
 *	  servers accept), at most RELAY_SS_LINE_MAX octets with the line end
 *	  (RFC 4954's 12288 for AUTH; RFC 5321's 512 is what a server must
 *	  accept, not what it may). A longer line is never forwarded: it is
 *	  swallowed up to its LF and answered "500 5.5.2" here, so no part of
 *	  an unchecked RCPT can reach the server.
 *	- Message content: after DATA was answered 354, everything up to and
 *	  including the line "." passes through unparsed (dot-stuffed lines
 *	  are content). A bare LF ends a line there as well as CRLF: many
 *	  receivers accept LF "." LF as the end, and a receiver that ends
 *	  the message where we do not would take the rest of the body for
 *	  commands we never checked (SMTP smuggling). After "BDAT n
 *	  [LAST]" exactly n octets pass unparsed (RFC 3030), without waiting
 *	  for a reply: CHUNKING pipelines.
 *	- Replies (RFC 5321 4.2): lines "ddd-" ... "ddd " or "ddd" alone,
 *	  any length (they are not buffered), paired with the commands in
 *	  the order sent (RFC 2920 PIPELINING: batches of commands, replies
 *	  in order). Server bytes with no command waiting (a 421 before
 *	  closing) pass through.
 *	- Local replies: a command answered here (relay_ss_answer) gets its
 *	  place in the same queue, and relay_ss_local() offers its text when
 *	  every reply before it has been passed on, so the application sees
 *	  the replies in command order.
 *	- Points where the client must wait for a reply before its next byte
 *	  means anything (DATA: content or command depends on 354; AUTH and
 *	  its continuation lines: 334 makes the next line a SASL response,
 *	  never a command): client bytes are not taken (BLOCKED) until that
 *	  reply was seen. Compliant clients wait there anyway.
 *	- Transactions: MAIL, RSET, EHLO, HELO, and the end of a message
 *	  start a new one. When every RCPT of a transaction was answered
 *	  here (and none forwarded), DATA and BDAT are answered here too,
 *	  "554 5.5.1" (what RFC 2920 and Postfix answer for "no valid
 *	  recipients"), and a BDAT chunk is swallowed: the server, which saw
 *	  MAIL and no RCPT, would have refused them as well, and this way no
 *	  server can answer 354 to a client that thinks it has no recipient.
 *	- STARTTLS from the application is answered here "454 4.7.0": the
 *	  relay does TLS itself, and a session encrypted by the application
 *	  would hide every later RCPT from the per-recipient check.
 *	- At most RELAY_SS_QUEUE commands wait for replies; beyond that the
 *	  client is BLOCKED until replies arrive.
 *
 *	Hidden commands: the relay may send a command of its own
 *	(relay_ss_forward_hidden: the MAIL it held, filter.h) just before
 *	the current one; relay_ss_hidden_due() then says the next reply is
 *	that command's, and the caller consumes it instead of passing it on.
 *	A MAIL, RSET or EHLO answered here starts a transaction like one
 *	forwarded.
 *
 *	The command verb of a SASL continuation line is RELAY_SS_CONT: its
 *	text is a secret and must not be logged or parsed.
 */
#ifndef RELAY_SMTPSTREAM_H
#define RELAY_SMTPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#define RELAY_SS_LINE_MAX 12288		/* a command line with its CRLF */
#define RELAY_SS_QUEUE 256		/* commands waiting for replies */
#define RELAY_SS_LOCAL_MAX 512		/* a local reply with its CRLF */

enum relay_ss_verb {
	RELAY_SS_OTHER = 0,
	RELAY_SS_EHLO,		/* EHLO, HELO, LHLO */
	RELAY_SS_MAIL,
	RELAY_SS_RCPT,
	RELAY_SS_DATA,
	RELAY_SS_BDAT,
	RELAY_SS_RSET,
	RELAY_SS_QUIT,
	RELAY_SS_STARTTLS,
	RELAY_SS_AUTH,
	RELAY_SS_CONT,		/* a SASL response line after a 334 */
	RELAY_SS_EOD,		/* the end of DATA content (its reply) */
	RELAY_SS_LONG,		/* an overlong line (its local reply) */
};

enum relay_ss_event {
	RELAY_SS_NONE = 0,
	RELAY_SS_PASS,
	RELAY_SS_DROP,
	RELAY_SS_COMMAND,
	RELAY_SS_BLOCKED,
};

enum relay_ss_mode {
	RELAY_SS_M_COMMAND = 0,
	RELAY_SS_M_CONTENT,		/* DATA content */
	RELAY_SS_M_CHUNK,		/* a BDAT chunk, forwarded */
	RELAY_SS_M_CHUNK_DROP,		/* a BDAT chunk answered here */
	RELAY_SS_M_LONG_DROP,		/* the rest of an overlong line */
};

struct relay_ss_command {
	enum relay_ss_verb verb;
	const char *line;		/* the whole line, CRLF included */
	size_t len;
	int bdat_ok;			/* BDAT: size parsed */
	uint64_t bdat_size;
	int bdat_last;
};

struct relay_ss_entry {
	uint8_t verb;			/* enum relay_ss_verb */
	uint8_t local;			/* answered here: text */
	uint8_t sync;			/* the client waits for this reply */
	uint8_t hidden;			/* sent by the relay: the reply is
					 * the relay's, never the app's */
	uint16_t text_len;
	char text[RELAY_SS_LOCAL_MAX];
};

struct relay_ss {
	/* application side */
	enum relay_ss_mode mode;
	char line[RELAY_SS_LINE_MAX];
	size_t line_len;
	int have_cmd;			/* cmd waits for forward/answer */
	struct relay_ss_command cmd;
	int expect_cont;		/* a 334 came: next line is SASL */
	unsigned content_state;		/* CRLF.CRLF scanner */
	uint64_t chunk_left;
	int chunk_last;
	unsigned sync_waiting;		/* sync entries in the queue */
	unsigned txn_rcpt_forwarded;
	unsigned txn_rcpt_local;
	/* server side */
	int in_reply;			/* within a reply */
	int reply_unsolicited;		/* ...that no command asked for */
	unsigned line_pos;		/* octets of the current reply line */
	char code[3];
	int code_ok;
	char sep;
	int last_code;			/* of the last reply, 0 if malformed */
	/* commands waiting for replies, oldest first */
	struct relay_ss_entry queue[RELAY_SS_QUEUE];
	size_t q_head, q_count;
	/* counters, for logs and tests */
	uint64_t commands, replies, local_replies, unsolicited;
	size_t max_in_flight;		/* most commands waiting at once */
};

void relay_ss_init(struct relay_ss *ss);

enum relay_ss_event relay_ss_client(struct relay_ss *ss, const char *in,
				    size_t len, size_t *used);
/* The command of the last RELAY_SS_COMMAND is sent on: 0, -1 if none. */
int relay_ss_forward(struct relay_ss *ss);
/* ...or answered here with reply (one or more CRLF-ended lines, at most
 * RELAY_SS_LOCAL_MAX octets). 0, -1 if none or too long. */
int relay_ss_answer(struct relay_ss *ss, const char *reply);

/* Server bytes: returns how many of in[] belong to the session so far
 * (forward them); stops after the end of each reply so that a local reply
 * due next can be sent in between. 0 while a local reply is due. */
size_t relay_ss_server(struct relay_ss *ss, const char *in, size_t len);
/* 1 and the text when the next reply due is a local one. */
int relay_ss_local(const struct relay_ss *ss, const char **text, size_t *len);
void relay_ss_local_done(struct relay_ss *ss);

const char *relay_ss_verb_name(enum relay_ss_verb v);

/* A command the relay sends on its own (a held MAIL, filter.c), before
 * the current command is forwarded: its reply is consumed by the relay.
 * 0, -1 when the queue has no room for it and the command after it. */
int relay_ss_forward_hidden(struct relay_ss *ss, enum relay_ss_verb verb);
/* 1 when the next server reply answers such a hidden command. */
int relay_ss_hidden_due(const struct relay_ss *ss);

#endif
