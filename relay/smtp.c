/*
 * smtp.c - the relay's SMTP client, up to STARTTLS (RFC 5321, RFC 3207)
 *
 * DESCRIPTION
 *	See smtp.h for the contract. One receive buffer the size of the
 *	longest reply accepted: a reply is parsed in place, line by line as
 *	its bytes arrive, and consumed whole once its last line is in. So a
 *	reply can never grow past RELAY_SMTP_REPLY_MAX, a line is refused as
 *	soon as it passes RELAY_SMTP_LINE_MAX without an end, and a server
 *	that trickles its reply one byte at a time costs one poll() per
 *	byte, bounded by the deadline.
 *
 *	Only reply codes and the first line of each reply are logged, at
 *	debug level; commands are the relay's own EHLO, HELO, STARTTLS and
 *	QUIT, never anything of the application's session.
 */
#include "smtp.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "log.h"
#include "wait.h"

#define LOG_TEXT_MAX 200

void relay_smtp_init(struct relay_smtp *s, int fd, int64_t deadline)
{
	s->fd = fd;
	s->deadline = deadline;
	s->in_len = 0;
}

void relay_smtp_reply_free(struct relay_smtp_reply *r)
{
	mts_buf_free(&r->raw);
	r->code = 0;
	r->lines = 0;
}

void relay_smtp_result_free(struct relay_smtp_result *r)
{
	mts_buf_free(&r->greeting);
}

/* Receives what is available into the free part of s->in, waiting for
 * something until the deadline. 0, -ETIMEDOUT, -ECONNRESET. */
static int receive_more(struct relay_smtp *s, char *err, size_t errlen)
{
	for (;;) {
		ssize_t n = recv(s->fd, s->in + s->in_len,
				 sizeof(s->in) - s->in_len, MSG_DONTWAIT);
		int ev;

		if (n > 0) {
			s->in_len += (size_t)n;
			return 0;
		}
		if (n == 0) {
			mts_errorf(err, errlen, "server closed the connection");
			return -ECONNRESET;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			mts_errorf(err, errlen, "receive: %s", strerror(errno));
			return -ECONNRESET;
		}
		ev = relay_wait_fd(s->fd, POLLIN, s->deadline);
		if (ev == 0) {
			mts_errorf(err, errlen, "no reply before the deadline");
			return -ETIMEDOUT;
		}
		if (ev < 0) {
			mts_errorf(err, errlen, "poll: %s", strerror(-ev));
			return -ECONNRESET;
		}
	}
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Checks one line (without its line end) and returns its code, or -1. */
static int line_code(const char *line, size_t len)
{
	if (len < 3 || !is_digit(line[0]) || !is_digit(line[1]) ||
	    !is_digit(line[2]))
		return -1;
	if (line[0] < '2' || line[0] > '5' || line[1] > '5')
		return -1;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

/* The length of a line without its LF or CRLF. */
static size_t text_len(const char *line, size_t len_with_lf)
{
	size_t len = len_with_lf - 1;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	return len;
}

/* Drops the first n bytes of s->in. */
static void consume(struct relay_smtp *s, size_t n)
{
	memmove(s->in, s->in + n, s->in_len - n);
	s->in_len -= n;
}

int relay_smtp_read_reply(struct relay_smtp *s, struct relay_smtp_reply *r,
			  char *err, size_t errlen)
{
	size_t pos = 0;		/* start of the line being parsed */
	int rc;

	r->code = 0;
	r->lines = 0;
	mts_buf_reset(&r->raw);
	for (;;) {
		const char *line = s->in + pos;
		const char *lf = memchr(line, '\n', s->in_len - pos);
		size_t len, tlen;
		int code;

		if (lf == NULL) {
			if (s->in_len - pos > RELAY_SMTP_LINE_MAX) {
				mts_errorf(err, errlen,
					   "reply line longer than %d octets",
					   RELAY_SMTP_LINE_MAX);
				return -EPROTO;
			}
			if (s->in_len == sizeof(s->in)) {
				mts_errorf(err, errlen,
					   "reply longer than %d octets",
					   RELAY_SMTP_REPLY_MAX);
				return -EPROTO;
			}
			if ((rc = receive_more(s, err, errlen)) < 0)
				return rc;
			continue;
		}
		len = (size_t)(lf - line) + 1;
		if (len > RELAY_SMTP_LINE_MAX) {
			mts_errorf(err, errlen, "reply line longer than %d octets",
				   RELAY_SMTP_LINE_MAX);
			return -EPROTO;
		}
		tlen = text_len(line, len);
		code = line_code(line, tlen);
		if (code < 0) {
			mts_errorf(err, errlen, "malformed reply line");
			return -EPROTO;
		}
		if (r->lines > 0 && code != r->code) {
			mts_errorf(err, errlen,
				   "reply code changes from %d to %d", r->code,
				   code);
			return -EPROTO;
		}
		if (mts_buf_append(&r->raw, line, len) < 0) {
			mts_errorf(err, errlen, "out of memory");
			return -EPROTO;
		}
		r->code = code;
		r->lines++;
		pos += len;
		if (tlen == 3 || line[3] == ' ') {
			consume(s, pos);
			return 0;
		}
	}
}

int relay_smtp_send(struct relay_smtp *s, const char *line)
{
	struct mts_buf out = MTS_BUF_INIT;
	size_t off = 0;
	int rc = 0;

	if (mts_buf_append_str(&out, line) < 0 ||
	    mts_buf_append(&out, "\r\n", 2) < 0) {
		mts_buf_free(&out);
		return -ENOMEM;
	}
	while (off < out.len) {
		ssize_t n = send(s->fd, out.data + off, out.len - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		int ev;

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			rc = -errno;
			break;
		}
		ev = relay_wait_fd(s->fd, POLLOUT, s->deadline);
		if (ev <= 0) {
			rc = ev == 0 ? -ETIMEDOUT : ev;
			break;
		}
	}
	mts_buf_free(&out);
	return rc;
}

/* The n-th line (0-based) of a reply, without code, separator and line
 * end, into out. Returns 0, or -1 when there is no such line. */
static int reply_line_text(const struct relay_smtp_reply *r, size_t n,
			   char *out, size_t outlen)
{
	const char *p = r->raw.data, *end = r->raw.data + r->raw.len;

	for (size_t i = 0; p != NULL && p < end; i++) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t len = lf ? (size_t)(lf - p) + 1 : (size_t)(end - p);
		size_t tlen = lf ? text_len(p, len) : len;

		if (i == n) {
			size_t from = tlen > 4 ? 4 : tlen, copy = tlen - from;

			if (copy >= outlen)
				copy = outlen - 1;
			memcpy(out, p + from, copy);
			out[copy] = '\0';
			return 0;
		}
		p += len;
	}
	return -1;
}

int relay_smtp_reply_has_keyword(const struct relay_smtp_reply *r,
				 const char *keyword)
{
	size_t klen = strlen(keyword);
	char text[RELAY_SMTP_LINE_MAX];

	/* Line 0 is "250-domain greeting"; keywords start on line 1. */
	for (size_t i = 1; i < r->lines; i++) {
		if (reply_line_text(r, i, text, sizeof(text)) < 0)
			break;
		if (strncasecmp(text, keyword, klen) == 0 &&
		    (text[klen] == '\0' || text[klen] == ' '))
			return 1;
	}
	return 0;
}

static void log_reply(const char *what, const struct relay_smtp_reply *r)
{
	char text[LOG_TEXT_MAX];

	if (!mts_log_enabled(MTS_LOG_DEBUG))
		return;
	if (reply_line_text(r, 0, text, sizeof(text)) < 0)
		text[0] = '\0';
	mts_log(MTS_LOG_DEBUG, "smtp <- %s: %d %s%s", what, r->code, text,
		r->lines > 1 ? " (...)" : "");
}

/* Sends a command and reads its reply; a reply followed by more data is
 * a protocol error. */
static int command(struct relay_smtp *s, const char *cmd,
		   struct relay_smtp_reply *r, struct relay_smtp_result *res)
{
	char why[160] = "";
	int rc;
	/* The verb alone names the command in messages. */
	int verb = (int)strcspn(cmd, " ");

	mts_log(MTS_LOG_DEBUG, "smtp -> %s", cmd);
	if ((rc = relay_smtp_send(s, cmd)) < 0) {
		mts_errorf(res->error, sizeof(res->error), "sending %.*s: %s",
			   verb, cmd, strerror(-rc));
		return rc == -ETIMEDOUT ? rc : -ECONNRESET;
	}
	if ((rc = relay_smtp_read_reply(s, r, why, sizeof(why))) < 0) {
		mts_errorf(res->error, sizeof(res->error), "reply to %.*s: %s",
			   verb, cmd, why);
		return rc;
	}
	log_reply(cmd, r);
	if (s->in_len != 0) {
		mts_errorf(res->error, sizeof(res->error),
			   "unexpected data after the reply to %.*s", verb, cmd);
		return -EPROTO;
	}
	return 0;
}

static int read_greeting(struct relay_smtp *s, struct relay_smtp_result *res)
{
	struct relay_smtp_reply r = { 0, 0, MTS_BUF_INIT };
	char why[160] = "";
	int rc;

	rc = relay_smtp_read_reply(s, &r, why, sizeof(why));
	if (rc < 0) {
		mts_errorf(res->error, sizeof(res->error), "greeting: %s", why);
		goto out;
	}
	log_reply("greeting", &r);
	res->greeting_code = r.code;
	if (r.code != 220) {
		mts_errorf(res->error, sizeof(res->error),
			   "greeting refuses the session (%d)", r.code);
		rc = -ECONNREFUSED;
		goto out;
	}
	if (s->in_len != 0) {
		mts_errorf(res->error, sizeof(res->error),
			   "unexpected data after the greeting");
		rc = -EPROTO;
		goto out;
	}
	/* Hand the reply's buffer over: it is the greeting to replay. */
	res->greeting = r.raw;
	r.raw = (struct mts_buf)MTS_BUF_INIT;
out:
	relay_smtp_reply_free(&r);
	return rc;
}

/* EHLO, or HELO when EHLO is refused with 5yz. */
static int hello(struct relay_smtp *s, const char *name,
		 struct relay_smtp_result *res)
{
	struct relay_smtp_reply r = { 0, 0, MTS_BUF_INIT };
	struct mts_buf cmd = MTS_BUF_INIT;
	int rc;

	if (mts_buf_printf(&cmd, "EHLO %s", name) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = command(s, mts_buf_str(&cmd), &r, res)) < 0)
		goto out;
	if (r.code == 250) {
		res->starttls_offered =
			relay_smtp_reply_has_keyword(&r, "STARTTLS");
		goto out;
	}
	if (r.code / 100 != 5) {
		mts_errorf(res->error, sizeof(res->error),
			   "EHLO refused (%d)", r.code);
		rc = -ECONNREFUSED;
		goto out;
	}
	mts_buf_reset(&cmd);
	if (mts_buf_printf(&cmd, "HELO %s", name) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = command(s, mts_buf_str(&cmd), &r, res)) < 0)
		goto out;
	if (r.code != 250) {
		mts_errorf(res->error, sizeof(res->error),
			   "EHLO and HELO refused (%d)", r.code);
		rc = -ECONNREFUSED;
		goto out;
	}
	res->used_helo = 1;
out:
	mts_buf_free(&cmd);
	relay_smtp_reply_free(&r);
	return rc;
}

static int starttls(struct relay_smtp *s, struct relay_smtp_result *res)
{
	struct relay_smtp_reply r = { 0, 0, MTS_BUF_INIT };
	int rc;

	if ((rc = command(s, "STARTTLS", &r, res)) < 0)
		goto out;
	res->starttls_code = r.code;
	if (r.code == 220) {
		res->starttls_accepted = 1;
	} else if (r.code == 421) {
		/* The server closes the session: nothing to go on with. */
		mts_errorf(res->error, sizeof(res->error),
			   "STARTTLS answered with 421");
		rc = -ECONNREFUSED;
	}
out:
	relay_smtp_reply_free(&r);
	return rc;
}

int relay_smtp_negotiate(struct relay_smtp *s, const char *ehlo_name,
			 struct relay_smtp_result *res)
{
	int rc;

	memset(res, 0, sizeof(*res));
	if ((rc = read_greeting(s, res)) < 0)
		return rc;
	if ((rc = hello(s, ehlo_name, res)) < 0)
		return rc;
	if (!res->starttls_offered)
		return 0;
	return starttls(s, res);
}
