/*
 * smtp.h - the relay's SMTP client, up to STARTTLS (RFC 5321, RFC 3207)
 *
 * SYNOPSIS
 *	struct relay_smtp s;
 *	relay_smtp_init(&s, tcp_fd, deadline);
 *	rc = relay_smtp_negotiate(&s, cfg.ehlo_name, &res);
 *	... res.greeting holds the server's 220 reply, byte for byte ...
 *	relay_smtp_result_free(&res);
 *
 * DESCRIPTION
 *	relay_smtp_negotiate() runs the dialogue the relay needs before it
 *	can decide: read the greeting (it must be a 2yz, normally 220),
 *	send EHLO (HELO when EHLO is refused with 5yz: then STARTTLS counts
 *	as not offered), look for the STARTTLS keyword in the EHLO reply
 *	(case-insensitive, alone on its line or followed by a space), and
 *	when offered send STARTTLS and expect 220. The socket must be
 *	connected and non-blocking; every read and write waits at most until
 *	the deadline.
 *
 *	Replies are read as hostile input: each line at most
 *	RELAY_SMTP_LINE_MAX octets (RFC 5321 4.5.3.1 allows 512 for reply
 *	lines, 1000 for text lines; the rest is slack), the whole reply at
 *	most RELAY_SMTP_REPLY_MAX, the code three digits [2-5][0-5][0-9]
 *	and the same on every line, the fourth octet '-' (more lines), ' '
 *	or the end of the line. A bare LF ends a line too. The server may
 *	send its reply in any number of pieces, byte by byte included.
 *
 *	A server speaks only when spoken to: bytes received after the end
 *	of a reply, before the relay sent its next command, are a protocol
 *	error. After the 220 to STARTTLS that rule is what stops a
 *	man-in-the-middle from injecting plaintext that would later be
 *	taken for part of the TLS session (the STARTTLS response injection
 *	of CVE-2011-0411's family).
 *
 *	The greeting is kept whole (all lines, CRLFs and all) so the relay
 *	can replay it to the application, which then sees the real server's
 *	banner. The EHLO reply is never replayed: the application sends its
 *	own EHLO, and on a TLS session the server's post-TLS reply is the
 *	one it must see.
 *
 * RETURN VALUE
 *	relay_smtp_negotiate(): 0 when the dialogue reached a decision point
 *	(res says whether STARTTLS was offered and accepted); -ETIMEDOUT when
 *	the deadline passed; -ECONNRESET when the server closed or reset the
 *	connection; -EPROTO on a malformed reply or unexpected data;
 *	-ECONNREFUSED when the server refused the session (a non-2yz
 *	greeting, EHLO and HELO refused, or a 421). res->error says which, in
 *	words, for the log.
 */
#ifndef RELAY_SMTP_H
#define RELAY_SMTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define RELAY_SMTP_LINE_MAX 2048
#define RELAY_SMTP_REPLY_MAX 16384

struct relay_smtp {
	int fd;
	int64_t deadline;
	char in[RELAY_SMTP_REPLY_MAX];	/* received, not yet consumed */
	size_t in_len;
};

struct relay_smtp_reply {
	int code;			/* 200..559 */
	size_t lines;
	struct mts_buf raw;		/* every line, as received */
};

struct relay_smtp_result {
	struct mts_buf greeting;	/* the whole greeting reply, as received */
	int greeting_code;
	int used_helo;			/* EHLO refused, HELO accepted */
	int starttls_offered;		/* the EHLO reply lists STARTTLS */
	int starttls_accepted;		/* STARTTLS got 220: TLS may start */
	int starttls_code;		/* the reply to STARTTLS, 0 if not sent */
	char error[256];		/* why negotiate failed, for logs */
};

void relay_smtp_init(struct relay_smtp *s, int fd, int64_t deadline);
void relay_smtp_result_free(struct relay_smtp_result *r);
int relay_smtp_negotiate(struct relay_smtp *s, const char *ehlo_name,
			 struct relay_smtp_result *res);

/* The building blocks, also used for the polite QUIT after a refusal. */
void relay_smtp_reply_free(struct relay_smtp_reply *r);
/* 0, -ETIMEDOUT, -ECONNRESET, -EPROTO (why in err). */
int relay_smtp_read_reply(struct relay_smtp *s, struct relay_smtp_reply *r,
			  char *err, size_t errlen);
/* Sends line + CRLF. 0, -ETIMEDOUT or -errno. */
int relay_smtp_send(struct relay_smtp *s, const char *line);
/* 1 when the reply (to EHLO) lists the keyword, e.g. "STARTTLS". */
int relay_smtp_reply_has_keyword(const struct relay_smtp_reply *r,
				 const char *keyword);

#endif
