/*
 * smtpstream.c - follow an SMTP session's two byte streams, command by reply
 *
 * DESCRIPTION
 *	See smtpstream.h for the contract. The state machine of the
 *	application's side:
 *
 *	  COMMAND --DATA forwarded, wait--> (354) CONTENT --CRLF.CRLF--> COMMAND
 *	  COMMAND --BDAT n forwarded------> CHUNK (n octets) ----------> COMMAND
 *	  COMMAND --BDAT n answered here--> CHUNK_DROP (n octets) -----> COMMAND
 *	  COMMAND --line too long---------> LONG_DROP (up to LF) ------> COMMAND
 *
 *	and a queue of the commands whose replies are due, each either
 *	"the server answers" or "answered here, with this text". The server
 *	side needs no buffer: a reply line is known by its first four
 *	octets (code and separator) and its LF.
 *
 *	The scanner of DATA content keeps one small state (line start, "."
 *	at line start, "." CR, CR, within a line), so the terminator is
 *	found whatever the split of the input.
 */
#include "smtpstream.h"

#include <string.h>

/* DATA content scanner states */
enum {
	CS_BOL = 0,	/* at the start of a line */
	CS_MID,		/* within a line */
	CS_CR,		/* CR seen within a line */
	CS_DOT,		/* "." at the start of a line */
	CS_DOTCR,	/* "." CR at the start of a line */
};

static const char reply_long[] =
	"500 5.5.2 MTA-STS relay: line too long\r\n";
static const char reply_starttls[] =
	"454 4.7.0 MTA-STS relay: TLS is done by the relay, not the client\r\n";
static const char reply_no_rcpt[] =
	"554 5.5.1 MTA-STS relay: no valid recipients\r\n";

void relay_ss_init(struct relay_ss *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->mode = RELAY_SS_M_COMMAND;
}

const char *relay_ss_verb_name(enum relay_ss_verb v)
{
	switch (v) {
	case RELAY_SS_EHLO: return "EHLO";
	case RELAY_SS_MAIL: return "MAIL";
	case RELAY_SS_RCPT: return "RCPT";
	case RELAY_SS_DATA: return "DATA";
	case RELAY_SS_BDAT: return "BDAT";
	case RELAY_SS_RSET: return "RSET";
	case RELAY_SS_QUIT: return "QUIT";
	case RELAY_SS_STARTTLS: return "STARTTLS";
	case RELAY_SS_AUTH: return "AUTH";
	case RELAY_SS_CONT: return "SASL";
	case RELAY_SS_EOD: return "end-of-data";
	case RELAY_SS_LONG: return "overlong";
	case RELAY_SS_OTHER:
	default: return "other";
	}
}

/* --- the queue of replies due ---------------------------------------- */

static struct relay_ss_entry *q_at(struct relay_ss *ss, size_t i)
{
	return &ss->queue[(ss->q_head + i) % RELAY_SS_QUEUE];
}

static int q_full(const struct relay_ss *ss)
{
	return ss->q_count >= RELAY_SS_QUEUE;
}

/* Appends an entry; the caller checked q_full(). text NULL: the server
 * answers. */
static void q_push(struct relay_ss *ss, enum relay_ss_verb verb, int sync,
		   const char *text, size_t text_len)
{
	struct relay_ss_entry *e = q_at(ss, ss->q_count);

	e->verb = (uint8_t)verb;
	e->sync = (uint8_t)(sync != 0);
	e->local = text != NULL;
	e->hidden = 0;
	e->text_len = 0;
	if (text != NULL) {
		memcpy(e->text, text, text_len);
		e->text_len = (uint16_t)text_len;
		ss->local_replies++;
	}
	if (sync)
		ss->sync_waiting++;
	ss->q_count++;
	if (ss->q_count > ss->max_in_flight)
		ss->max_in_flight = ss->q_count;
}

static void q_pop(struct relay_ss *ss)
{
	struct relay_ss_entry *e = q_at(ss, 0);

	if (e->sync && ss->sync_waiting > 0)
		ss->sync_waiting--;
	ss->q_head = (ss->q_head + 1) % RELAY_SS_QUEUE;
	ss->q_count--;
}

static void txn_reset(struct relay_ss *ss)
{
	ss->txn_rcpt_forwarded = 0;
	ss->txn_rcpt_local = 0;
}

/* --- command lines ------------------------------------------------------- */

static int ss_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* 1 when line[0..len) starts with the word (case-insensitive) followed
 * by a space, CR, LF or the end. */
static int is_verb(const char *line, size_t len, const char *word)
{
	size_t n = strlen(word);

	if (len < n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (ss_lower((unsigned char)line[i]) != word[i])
			return 0;
	return len == n || line[n] == ' ' || line[n] == '\r' ||
	       line[n] == '\n';
}

/* "BDAT" SP 1*DIGIT [SP "LAST"] *SP CRLF; the verb was checked. */
static void parse_bdat(struct relay_ss_command *c)
{
	const char *p = c->line + 4, *end = c->line + c->len;
	uint64_t n = 0;
	int digits = 0;

	c->bdat_ok = 0;
	c->bdat_size = 0;
	c->bdat_last = 0;
	if (p >= end || *p != ' ')
		return;
	p++;
	while (p < end && *p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');

		if (n > (UINT64_MAX - d) / 10)
			return;		/* no such chunk size */
		n = n * 10 + d;
		digits++;
		p++;
	}
	if (digits == 0)
		return;
	if (end - p >= 5 && p[0] == ' ' && is_verb(p + 1, (size_t)(end - p - 1),
						     "last")) {
		c->bdat_last = 1;
		p += 5;
	}
	while (p < end && *p == ' ')
		p++;
	if (p < end && *p == '\r')
		p++;
	if (p != end - 1 || *p != '\n')
		return;
	c->bdat_ok = 1;
	c->bdat_size = n;
}

static enum relay_ss_verb classify(const char *line, size_t len)
{
	static const struct {
		const char *word;
		enum relay_ss_verb verb;
	} verbs[] = {
		{ "ehlo", RELAY_SS_EHLO }, { "helo", RELAY_SS_EHLO },
		{ "lhlo", RELAY_SS_EHLO }, { "mail", RELAY_SS_MAIL },
		{ "rcpt", RELAY_SS_RCPT }, { "data", RELAY_SS_DATA },
		{ "bdat", RELAY_SS_BDAT }, { "rset", RELAY_SS_RSET },
		{ "quit", RELAY_SS_QUIT }, { "starttls", RELAY_SS_STARTTLS },
		{ "auth", RELAY_SS_AUTH },
	};

	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (is_verb(line, len, verbs[i].word))
			return verbs[i].verb;
	return RELAY_SS_OTHER;
}

/* A command line is complete: what is it, and is it ours to answer? */
static enum relay_ss_event line_done(struct relay_ss *ss)
{
	struct relay_ss_command *c = &ss->cmd;

	memset(c, 0, sizeof(*c));
	c->line = ss->line;
	c->len = ss->line_len;
	ss->commands++;
	if (ss->expect_cont) {
		ss->expect_cont = 0;
		c->verb = RELAY_SS_CONT;
		ss->have_cmd = 1;
		return RELAY_SS_COMMAND;
	}
	c->verb = classify(c->line, c->len);
	if (c->verb == RELAY_SS_BDAT)
		parse_bdat(c);
	ss->have_cmd = 1;
	if (c->verb == RELAY_SS_STARTTLS) {
		relay_ss_answer(ss, reply_starttls);
		return RELAY_SS_NONE;
	}
	if ((c->verb == RELAY_SS_DATA || c->verb == RELAY_SS_BDAT) &&
	    ss->txn_rcpt_forwarded == 0 && ss->txn_rcpt_local > 0) {
		relay_ss_answer(ss, reply_no_rcpt);
		return RELAY_SS_NONE;
	}
	return RELAY_SS_COMMAND;
}

static enum relay_ss_event command_bytes(struct relay_ss *ss, const char *in,
					 size_t len, size_t *used)
{
	const char *lf;
	size_t take;

	if (ss->sync_waiting > 0 || q_full(ss))
		return RELAY_SS_BLOCKED;
	if (len == 0)
		return RELAY_SS_NONE;
	lf = memchr(in, '\n', len);
	take = lf != NULL ? (size_t)(lf - in) + 1 : len;
	if (take > RELAY_SS_LINE_MAX - ss->line_len) {
		/* Too long: never forwarded, answered when it ends. */
		ss->line_len = 0;
		q_push(ss, RELAY_SS_LONG, 0, reply_long, sizeof(reply_long) - 1);
		ss->commands++;
		if (lf == NULL)
			ss->mode = RELAY_SS_M_LONG_DROP;
		*used = take;
		return RELAY_SS_DROP;
	}
	memcpy(ss->line + ss->line_len, in, take);
	ss->line_len += take;
	*used = take;
	if (lf == NULL)
		return RELAY_SS_NONE;
	return line_done(ss);
}

/* --- content ---------------------------------------------------------------- */

/* DATA content up to and including the "." line. Any LF ends a line
 * here, not just CRLF: a receiver that takes LF "." LF for the end (many
 * do) must never see commands that we took for content, or a message
 * body could smuggle RCPTs past the check. The other way round, a strict
 * receiver and a client sending bare LFs, costs a confused session, not
 * an unchecked recipient. */
static enum relay_ss_event content_bytes(struct relay_ss *ss, const char *in,
					 size_t len, size_t *used)
{
	unsigned st = ss->content_state;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == '\n' && (st == CS_DOT || st == CS_DOTCR)) {
			*used = i + 1;
			ss->mode = RELAY_SS_M_COMMAND;
			ss->content_state = CS_BOL;
			txn_reset(ss);
			/* The queue is empty here: DATA waited. */
			q_push(ss, RELAY_SS_EOD, 0, NULL, 0);
			return RELAY_SS_PASS;
		}
		switch (st) {
		case CS_BOL:
			st = c == '.' ? CS_DOT : c == '\r' ? CS_CR :
			     c == '\n' ? CS_BOL : CS_MID;
			break;
		case CS_DOT:
		case CS_DOTCR:
			st = c == '\r' ? (st == CS_DOT ? CS_DOTCR : CS_CR) :
			     CS_MID;
			break;
		case CS_CR:
		case CS_MID:
		default:
			st = c == '\n' ? CS_BOL : c == '\r' ? CS_CR : CS_MID;
			break;
		}
	}
	ss->content_state = st;
	*used = len;
	return RELAY_SS_PASS;
}

static enum relay_ss_event chunk_bytes(struct relay_ss *ss, const char *in,
				       size_t len, size_t *used)
{
	int drop = ss->mode == RELAY_SS_M_CHUNK_DROP;
	size_t take = len;

	(void)in;
	if ((uint64_t)take > ss->chunk_left)
		take = (size_t)ss->chunk_left;
	ss->chunk_left -= take;
	*used = take;
	if (ss->chunk_left == 0) {
		ss->mode = RELAY_SS_M_COMMAND;
		if (ss->chunk_last)
			txn_reset(ss);
	}
	return drop ? RELAY_SS_DROP : RELAY_SS_PASS;
}

static enum relay_ss_event long_bytes(struct relay_ss *ss, const char *in,
				      size_t len, size_t *used)
{
	const char *lf = memchr(in, '\n', len);

	*used = lf != NULL ? (size_t)(lf - in) + 1 : len;
	if (lf != NULL)
		ss->mode = RELAY_SS_M_COMMAND;
	return RELAY_SS_DROP;
}

enum relay_ss_event relay_ss_client(struct relay_ss *ss, const char *in,
				    size_t len, size_t *used)
{
	*used = 0;
	if (ss->have_cmd)
		return RELAY_SS_BLOCKED;
	if (len == 0)
		return RELAY_SS_NONE;
	switch (ss->mode) {
	case RELAY_SS_M_CONTENT:
		return content_bytes(ss, in, len, used);
	case RELAY_SS_M_CHUNK:
	case RELAY_SS_M_CHUNK_DROP:
		return chunk_bytes(ss, in, len, used);
	case RELAY_SS_M_LONG_DROP:
		return long_bytes(ss, in, len, used);
	case RELAY_SS_M_COMMAND:
	default:
		return command_bytes(ss, in, len, used);
	}
}

/* After the command: what its being sent or answered starts. */
static void command_settled(struct relay_ss *ss, int forwarded)
{
	const struct relay_ss_command *c = &ss->cmd;

	switch (c->verb) {
	case RELAY_SS_MAIL:
	case RELAY_SS_RSET:
	case RELAY_SS_EHLO:
		txn_reset(ss);	/* answered here too: a held MAIL */
		break;
	case RELAY_SS_RCPT:
		if (forwarded)
			ss->txn_rcpt_forwarded++;
		else
			ss->txn_rcpt_local++;
		break;
	case RELAY_SS_BDAT:
		/* Answered or not, the chunk follows the command. */
		if (!c->bdat_ok)
			break;
		ss->chunk_left = c->bdat_size;
		ss->chunk_last = c->bdat_last;
		if (c->bdat_size > 0)
			ss->mode = forwarded ? RELAY_SS_M_CHUNK :
					       RELAY_SS_M_CHUNK_DROP;
		else if (c->bdat_last)
			txn_reset(ss);
		break;
	default:
		break;
	}
	ss->have_cmd = 0;
	ss->line_len = 0;
}

/* The client may not send anything meaningful before these replies. */
static int is_sync(enum relay_ss_verb v)
{
	return v == RELAY_SS_DATA || v == RELAY_SS_AUTH || v == RELAY_SS_CONT;
}

int relay_ss_forward(struct relay_ss *ss)
{
	if (!ss->have_cmd || q_full(ss))
		return -1;
	q_push(ss, ss->cmd.verb, is_sync(ss->cmd.verb), NULL, 0);
	command_settled(ss, 1);
	return 0;
}

int relay_ss_answer(struct relay_ss *ss, const char *reply)
{
	size_t n = strlen(reply);

	if (!ss->have_cmd || q_full(ss) || n == 0 || n > RELAY_SS_LOCAL_MAX)
		return -1;
	q_push(ss, ss->cmd.verb, ss->cmd.verb == RELAY_SS_DATA, reply, n);
	command_settled(ss, 0);
	return 0;
}

/* --- the server's side --------------------------------------------------- */

static void reply_done(struct relay_ss *ss)
{
	struct relay_ss_entry *e;
	int code = 0;

	if (ss->code_ok)
		code = (ss->code[0] - '0') * 100 + (ss->code[1] - '0') * 10 +
		       (ss->code[2] - '0');
	ss->last_code = code;
	ss->replies++;
	ss->in_reply = 0;
	if (ss->reply_unsolicited || ss->q_count == 0) {
		ss->unsolicited++;
		return;
	}
	e = q_at(ss, 0);
	if (e->verb == RELAY_SS_DATA && code == 354) {
		ss->mode = RELAY_SS_M_CONTENT;
		ss->content_state = CS_BOL;
	}
	if ((e->verb == RELAY_SS_AUTH || e->verb == RELAY_SS_CONT) &&
	    code == 334)
		ss->expect_cont = 1;
	q_pop(ss);
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

size_t relay_ss_server(struct relay_ss *ss, const char *in, size_t len)
{
	if (!ss->in_reply && ss->q_count > 0 && q_at(ss, 0)->local)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (!ss->in_reply) {
			/* Nothing asked for it (a 421 before closing): it
			 * answers no command, even one sent meanwhile. */
			ss->in_reply = 1;
			ss->reply_unsolicited = ss->q_count == 0;
		}
		if (c == '\n') {
			int more = ss->line_pos >= 4 && ss->sep == '-';

			ss->code_ok = ss->line_pos >= 3 && is_digit(ss->code[0]) &&
				      is_digit(ss->code[1]) &&
				      is_digit(ss->code[2]);
			ss->line_pos = 0;
			ss->sep = 0;
			if (!more) {
				reply_done(ss);
				return i + 1;
			}
			continue;
		}
		if (ss->line_pos < 3)
			ss->code[ss->line_pos] = c;
		else if (ss->line_pos == 3)
			ss->sep = c;
		if (ss->line_pos < 4)
			ss->line_pos++;
	}
	return len;
}

int relay_ss_local(const struct relay_ss *ss, const char **text, size_t *len)
{
	const struct relay_ss_entry *e;

	if (ss->q_count == 0 || ss->in_reply)
		return 0;
	e = &ss->queue[ss->q_head];
	if (!e->local)
		return 0;
	*text = e->text;
	*len = e->text_len;
	return 1;
}

void relay_ss_local_done(struct relay_ss *ss)
{
	if (ss->q_count > 0 && q_at(ss, 0)->local)
		q_pop(ss);
}

int relay_ss_forward_hidden(struct relay_ss *ss, enum relay_ss_verb verb)
{
	/* Room for the command it goes ahead of, as well. */
	if (ss->q_count + 2 > RELAY_SS_QUEUE)
		return -1;
	q_push(ss, verb, 0, NULL, 0);
	q_at(ss, ss->q_count - 1)->hidden = 1;
	return 0;
}

int relay_ss_hidden_due(const struct relay_ss *ss)
{
	if (ss->q_count == 0 || (ss->in_reply && ss->reply_unsolicited))
		return 0;
	return ss->queue[ss->q_head].hidden;
}
