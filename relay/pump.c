/*
 * pump.c - relay bytes between the application and the server until both close
 *
 * DESCRIPTION
 *	See pump.h for the contract. One loop: a round tries every
 *	operation that could make progress now, and poll() runs only when
 *	a whole round moved nothing, for exactly what the blocked
 *	operations wait for.
 *
 *	"Could make progress now" is kept per fd and direction (app_ready,
 *	srv_ready: POLLIN, POLLOUT), so that a long session costs about one
 *	system call per thing that actually happens, not one per side and
 *	round. A bit is set by poll()'s revents and cleared by evidence
 *	that the socket is drained or full: EAGAIN, a read shorter than the
 *	room offered, a write shorter than the bytes offered. A command
 *	forwarded and its reply relayed back therefore cost poll, read,
 *	write, poll, read, write, and no EAGAIN. Losing nothing rests on
 *	poll() being level-triggered: a cleared bit only means "ask poll()
 *	first", and poll() reports at once what is already there. POLLHUP
 *	or POLLERR set every bit that was asked for, so that the next read
 *	or write tells what happened.
 *
 *	TLS needs care in both directions: SSL_read() may need the socket
 *	writable and SSL_write() may need it readable (SSL_ERROR_WANT_READ /
 *	WANT_WRITE), so each keeps what it last waited for (rd_want,
 *	wr_want, sd_want), is retried only when that is ready, and the poll
 *	set on the TCP leg is their union. A pending SSL_write() is retried
 *	with the same bytes, which stay at the head of the buffer
 *	(SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER lets the buffer move when
 *	compacted). Bytes can sit inside OpenSSL with nothing left on the
 *	socket (decrypted, or read ahead and not yet decrypted): poll()
 *	cannot announce them, SSL_has_pending() does, and SSL_read() is
 *	called again while it says so. Read-ahead is on for the pump, so
 *	that one read() takes a record's header and body (and whatever
 *	follows) instead of two.
 *
 *	An fd with nothing to wait for is left out of poll() (fd -1): once a
 *	side reached EOF, its POLLIN/POLLHUP would otherwise wake us up in
 *	a tight loop. The one exception is the application's end after its
 *	EOF, polled for POLLHUP alone: that is how we learn it is gone and
 *	nobody will read what the server still sends. On the AF_UNIX
 *	fallback a closed peer raises POLLHUP; on the loopback TCP channel
 *	(shim/loopback.c) a FIN cannot tell close() from shutdown(SHUT_WR),
 *	so there we learn it from the reset our next write to it draws
 *	(EPIPE, ECONNRESET: app_write) or when the server closes.
 */
#include "pump.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>

#include "filter.h"
#include "log.h"
#include "wait.h"

struct buffer {
	char data[RELAY_PUMP_BUF];
	size_t off;		/* first unsent byte */
	size_t len;		/* end of the bytes held */
};

struct pump {
	const struct relay_pump *p;
	struct relay_pump_stats *st;
	struct buffer up;	/* application -> server */
	struct buffer down;	/* server -> application */
	struct buffer raw_up;	/* with a filter: read from the application */
	struct buffer raw_down;	/* with a filter: read from the server */
	struct buffer *app_in;	/* where app_read() puts bytes */
	struct buffer *srv_in;	/* where srv_read() puts bytes */
	int app_eof;		/* the application closed its write side */
	int app_gone;		/* nobody reads the application side any more */
	int app_shut;		/* we shut our write side towards the app */
	int srv_eof;		/* EOF, close_notify or fatal error */
	int srv_dead;		/* writing to the server failed */
	int srv_shut;		/* close_notify + SHUT_WR done */
	int ssl_fatal;		/* no SSL call but SSL_free any more */
	short rd_want, wr_want, sd_want;	/* TLS retries' wishes */
	short app_ready;	/* POLLIN/POLLOUT worth trying on app_fd */
	short srv_ready;	/* the same on tcp_fd */
	int64_t last_io;
	int64_t linger_until;	/* 0: not lingering */
	int idle_ms, linger_ms;
};

static size_t held(const struct buffer *b)
{
	return b->len - b->off;
}

/* Room at the end, compacting first when that helps. */
static size_t room(struct buffer *b)
{
	if (b->off > 0 && b->len == sizeof(b->data)) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	return sizeof(b->data) - b->len;
}

static void taken(struct buffer *b, size_t n)
{
	b->off += n;
	if (b->off == b->len)
		b->off = b->len = 0;
}

static void drop(struct buffer *b)
{
	b->off = b->len = 0;
}

/* The socket said "not now" (or "that was all") for ev: wait for
 * poll() before the next try. */
static void not_ready(short *ready, short ev)
{
	*ready = (short)(*ready & ~ev);
}

static int would_block(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

static void start_linger(struct pump *s)
{
	if (s->linger_until == 0)
		s->linger_until = relay_now_ms() + s->linger_ms;
}

static void app_is_gone(struct pump *s)
{
	if (s->app_gone)
		return;
	s->app_gone = 1;
	drop(&s->down);
	drop(&s->raw_down);
	mts_log(MTS_LOG_DEBUG, "relay: application end closed");
}

/* --- the application side (loopback TCP or AF_UNIX, never TLS) ---------- */

static int app_read(struct pump *s)
{
	size_t space;
	ssize_t n;

	if (s->app_eof || !(s->app_ready & POLLIN) ||
	    (space = room(s->app_in)) == 0)
		return 0;
	n = recv(s->p->app_fd, s->app_in->data + s->app_in->len, space,
		 MSG_DONTWAIT);
	if (n > 0) {
		if ((size_t)n < space)
			not_ready(&s->app_ready, POLLIN);	/* drained */
		if (s->srv_dead)
			return 1;	/* nowhere to send it: discarded */
		s->app_in->len += (size_t)n;
		return 1;
	}
	if (n < 0 && would_block(errno)) {
		not_ready(&s->app_ready, POLLIN);
		return 0;
	}
	if (n < 0)
		app_is_gone(s);
	s->app_eof = 1;
	mts_log(MTS_LOG_DEBUG, "relay: application closed its side");
	return 1;
}

static int app_write(struct pump *s)
{
	size_t len = held(&s->down);
	ssize_t n;

	if (s->app_gone || len == 0 || !(s->app_ready & POLLOUT))
		return 0;
	n = send(s->p->app_fd, s->down.data + s->down.off, len,
		 MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n > 0) {
		if ((size_t)n < len)
			not_ready(&s->app_ready, POLLOUT);	/* full */
		taken(&s->down, (size_t)n);
		s->st->to_app += (uint64_t)n;
		return 1;
	}
	if (n < 0 && would_block(errno)) {
		not_ready(&s->app_ready, POLLOUT);
		return 0;
	}
	app_is_gone(s);		/* EPIPE, ECONNRESET */
	return 1;
}

/* --- the server side: plaintext TCP or TLS -------------------------------- */

static void server_failed(struct pump *s, const char *what, int fatal)
{
	unsigned long e = ERR_peek_error();
	char text[160] = "";

	if (e != 0)
		ERR_error_string_n(e, text, sizeof(text));
	mts_log(MTS_LOG_DEBUG, "relay: server %s failed: %s", what,
		e != 0 ? text : strerror(errno));
	ERR_clear_error();
	if (fatal)
		s->ssl_fatal = 1;
	s->srv_dead = 1;
	s->srv_eof = 1;
	drop(&s->up);
	drop(&s->raw_up);
}

/* What SSL_get_error() wants as poll events; 0 for anything else.
 * A want comes from the socket's EAGAIN: that direction is not ready. */
static short ssl_wants(struct pump *s, int e)
{
	short want = 0;

	if (e == SSL_ERROR_WANT_READ)
		want = POLLIN;
	else if (e == SSL_ERROR_WANT_WRITE)
		want = POLLOUT;
	not_ready(&s->srv_ready, want);
	return want;
}

/* Whether an SSL call that last waited for want (0: nothing, and it
 * needs the socket in direction dflt) is worth trying now. */
static int ssl_may(const struct pump *s, short want, short dflt)
{
	return (s->srv_ready & (want != 0 ? want : dflt)) != 0;
}

static int srv_write(struct pump *s)
{
	size_t len = held(&s->up);
	int r, e;

	if (s->srv_dead || len == 0)
		return 0;
	if (s->p->ssl == NULL) {
		ssize_t n;

		if (!(s->srv_ready & POLLOUT))
			return 0;
		n = send(s->p->tcp_fd, s->up.data + s->up.off, len,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			if ((size_t)n < len)
				not_ready(&s->srv_ready, POLLOUT);
			taken(&s->up, (size_t)n);
			s->st->to_server += (uint64_t)n;
			return 1;
		}
		if (n < 0 && would_block(errno)) {
			not_ready(&s->srv_ready, POLLOUT);
			return 0;
		}
		server_failed(s, "write", 0);
		return 1;
	}
	if (s->ssl_fatal) {
		server_failed(s, "write", 1);
		return 1;
	}
	if (!ssl_may(s, s->wr_want, POLLOUT))
		return 0;
	ERR_clear_error();
	/* A short SSL_write() is no sign of a full socket: with
	 * SSL_MODE_ENABLE_PARTIAL_WRITE it returns after each record. */
	r = SSL_write(s->p->ssl, s->up.data + s->up.off,
		      len > INT32_MAX ? INT32_MAX : (int)len);
	if (r > 0) {
		s->wr_want = 0;
		taken(&s->up, (size_t)r);
		s->st->to_server += (uint64_t)r;
		/* Should it have read records on the way (a TLS 1.2
		 * handshake message), they are SSL_read()'s now. */
		if (s->rd_want == POLLIN && SSL_has_pending(s->p->ssl))
			s->rd_want = 0;
		return 1;
	}
	e = SSL_get_error(s->p->ssl, r);
	if ((s->wr_want = ssl_wants(s, e)) != 0)
		return 0;
	server_failed(s, "TLS write", e == SSL_ERROR_SSL ||
					 e == SSL_ERROR_SYSCALL);
	return 1;
}

static int srv_read_plain(struct pump *s, size_t space)
{
	ssize_t n;

	if (!(s->srv_ready & POLLIN))
		return 0;
	n = recv(s->p->tcp_fd, s->srv_in->data + s->srv_in->len, space,
		 MSG_DONTWAIT);
	if (n > 0) {
		if ((size_t)n < space)
			not_ready(&s->srv_ready, POLLIN);	/* drained */
		if (!s->app_gone)
			s->srv_in->len += (size_t)n;
		return 1;
	}
	if (n < 0 && would_block(errno)) {
		not_ready(&s->srv_ready, POLLIN);
		return 0;
	}
	if (n < 0) {
		server_failed(s, "read", 0);
		return 1;
	}
	s->srv_eof = 1;
	mts_log(MTS_LOG_DEBUG, "relay: server closed its side");
	return 1;
}

/* Bytes inside OpenSSL that SSL_read() can return without the socket
 * (read ahead or decrypted and not yet taken). Not after WANT_READ:
 * what is left then is an incomplete record, which needs the socket. */
static int tls_pending(const struct pump *s)
{
	return s->rd_want == 0 && SSL_has_pending(s->p->ssl);
}

static int srv_read_tls(struct pump *s)
{
	int progress = 0;
	size_t space;

	/* Drain what OpenSSL holds, not just one record; the socket
	 * again only when poll() says so. */
	while (!s->srv_eof && (space = room(s->srv_in)) > 0 &&
	       (ssl_may(s, s->rd_want, POLLIN) || tls_pending(s))) {
		int r, e;

		ERR_clear_error();
		r = SSL_read(s->p->ssl, s->srv_in->data + s->srv_in->len,
			     space > INT32_MAX ? INT32_MAX : (int)space);
		if (r > 0) {
			s->rd_want = 0;
			if (!s->app_gone)
				s->srv_in->len += (size_t)r;
			progress = 1;
			/* With read-ahead, OpenSSL's read() took all the
			 * socket had, up to its buffer: what is left is
			 * either pending inside OpenSSL or for poll(). */
			if (!SSL_has_pending(s->p->ssl))
				not_ready(&s->srv_ready, POLLIN);
			continue;
		}
		e = SSL_get_error(s->p->ssl, r);
		if ((s->rd_want = ssl_wants(s, e)) != 0)
			break;
		if (e == SSL_ERROR_ZERO_RETURN) {
			mts_log(MTS_LOG_DEBUG, "relay: server sent close_notify");
			s->srv_eof = 1;
		} else {
			/* An EOF without close_notify, or a TLS error. SMTP
			 * has its own end of session (QUIT, 221), so a
			 * truncation cannot pass for a complete message. */
			server_failed(s, "TLS read", 1);
		}
		return 1;
	}
	return progress;
}

static int srv_read(struct pump *s)
{
	size_t space;

	if (s->srv_eof || room(s->srv_in) == 0)
		return 0;
	if (s->p->ssl == NULL) {
		space = room(s->srv_in);
		return srv_read_plain(s, space);
	}
	if (s->ssl_fatal) {
		s->srv_eof = 1;
		return 1;
	}
	return srv_read_tls(s);
}

/* --- the filter (filter.h) --------------------------------------------------- */

/* Room at the end, compacting whenever something was consumed: the
 * filter moves whole command lines and needs them to fit. */
static size_t room_compact(struct buffer *b)
{
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	return sizeof(b->data) - b->len;
}

static int filter_up(struct pump *s)
{
	size_t out = 0, used, space;

	if (s->p->filter == NULL || held(&s->raw_up) == 0)
		return 0;
	space = room_compact(&s->up);	/* before taking up.len */
	used = relay_filter_up(s->p->filter, s->raw_up.data + s->raw_up.off,
			       held(&s->raw_up), s->up.data + s->up.len,
			       space, &out);
	s->up.len += out;
	taken(&s->raw_up, used);
	return used > 0 || out > 0;
}

static int filter_down(struct pump *s)
{
	size_t out = 0, used, space;

	if (s->p->filter == NULL)
		return 0;
	if (s->app_gone) {
		drop(&s->raw_down);
		return 0;
	}
	space = room_compact(&s->down);	/* before taking down.len */
	used = relay_filter_down(s->p->filter,
				 s->raw_down.data + s->raw_down.off,
				 held(&s->raw_down), s->down.data + s->down.len,
				 space, &out);
	s->down.len += out;
	taken(&s->raw_down, used);
	return used > 0 || out > 0;
}

/* Application bytes that have not reached the up buffer yet and still
 * could: the final QUIT must not be left behind when it closes. */
static int up_pending(const struct pump *s)
{
	return held(&s->up) > 0 || (held(&s->raw_up) > 0 && !s->srv_eof);
}

/* --- closing ---------------------------------------------------------------- */

/* The application closed its side and everything it wrote went out:
 * close_notify, then FIN. */
static int srv_close(struct pump *s)
{
	if (s->srv_shut || !s->app_eof || (up_pending(s) && !s->srv_dead))
		return 0;
	if (s->p->ssl != NULL && !s->ssl_fatal && !s->srv_dead) {
		int r, e;

		if (s->sd_want != 0 && !(s->srv_ready & s->sd_want))
			return 0;
		ERR_clear_error();
		r = SSL_shutdown(s->p->ssl);
		if (r < 0) {
			e = SSL_get_error(s->p->ssl, r);
			if ((s->sd_want = ssl_wants(s, e)) != 0)
				return 0;
			ERR_clear_error();
		}
		s->sd_want = 0;
	}
	shutdown(s->p->tcp_fd, SHUT_WR);
	s->srv_shut = 1;
	mts_log(MTS_LOG_DEBUG, "relay: session closed towards the server");
	return 1;
}

/* The server closed and everything it sent reached the application
 * (or nobody is there to read it). */
static int app_close(struct pump *s)
{
	if (s->app_shut || !s->srv_eof ||
	    ((held(&s->down) > 0 || held(&s->raw_down) > 0) && !s->app_gone))
		return 0;
	shutdown(s->p->app_fd, SHUT_WR);
	s->app_shut = 1;
	if (s->st->closed_by == NULL)
		s->st->closed_by = "server";
	start_linger(s);
	return 1;
}

static int round_of_io(struct pump *s)
{
	int progress = 0;

	progress |= app_read(s);
	progress |= filter_up(s);
	progress |= srv_write(s);
	progress |= srv_read(s);
	progress |= filter_down(s);
	progress |= app_write(s);
	progress |= srv_close(s);
	progress |= app_close(s);
	if (s->srv_shut && s->app_eof && s->st->closed_by == NULL)
		s->st->closed_by = "app";
	if (s->srv_shut && s->app_gone)
		start_linger(s);
	return progress;
}

/* --- waiting ------------------------------------------------------------- */

static short app_events(struct pump *s)
{
	short ev = 0;

	if (!s->app_eof && room(s->app_in) > 0)
		ev |= POLLIN;
	if (!s->app_gone && held(&s->down) > 0)
		ev |= POLLOUT;
	return ev;
}

static short srv_events(struct pump *s)
{
	short ev = 0;
	int want_read = !s->srv_eof && room(s->srv_in) > 0;
	int want_write = !s->srv_dead && held(&s->up) > 0;

	if (s->p->ssl == NULL) {
		if (want_read)
			ev |= POLLIN;
		if (want_write)
			ev |= POLLOUT;
		return ev;
	}
	if (s->ssl_fatal)
		return 0;
	if (want_read)
		ev |= s->rd_want ? s->rd_want : POLLIN;
	if (want_write)
		ev |= s->wr_want ? s->wr_want : POLLOUT;
	if (!s->srv_shut && s->sd_want)
		ev |= s->sd_want;
	return ev;
}

/* Milliseconds poll() may sleep: until idleness or the linger ends. */
static int sleep_ms(const struct pump *s, int64_t now)
{
	int64_t until = s->last_io + s->idle_ms;

	if (s->linger_until != 0 && s->linger_until < until)
		until = s->linger_until;
	return until <= now ? 0 : (int)(until - now);
}

/* What poll() found worth trying. A hang-up or an error makes every
 * asked-for direction worth trying: the read or write says what it is. */
static short ready_from(const struct pollfd *pfd)
{
	short ev = (short)(pfd->revents & (POLLIN | POLLOUT));

	if (pfd->revents & (POLLHUP | POLLERR | POLLNVAL))
		ev = (short)(ev | pfd->events);
	return ev;
}

/* Sleeps until something happens. Returns 0, or 1 when the session must
 * end (idle, linger over). */
static int wait_round(struct pump *s)
{
	struct pollfd pfd[2];
	int64_t now = relay_now_ms();
	short aev = app_events(s), sev = srv_events(s);
	int watch_app_hup = s->app_eof && !s->app_gone && !s->app_shut;
	int n;

	if (s->linger_until != 0 && now >= s->linger_until) {
		if (s->st->closed_by == NULL)
			s->st->closed_by = "linger";
		return 1;
	}
	if (now - s->last_io >= s->idle_ms) {
		s->st->closed_by = "idle";
		return 1;
	}
	pfd[0].fd = aev != 0 || watch_app_hup ? s->p->app_fd : -1;
	pfd[0].events = aev;
	pfd[1].fd = sev != 0 ? s->p->tcp_fd : -1;
	pfd[1].events = sev;
	pfd[0].revents = pfd[1].revents = 0;
	n = poll(pfd, 2, sleep_ms(s, now));
	if (n < 0 && errno != EINTR)
		return 1;
	if (n <= 0)
		return 0;
	s->app_ready |= ready_from(&pfd[0]);
	s->srv_ready |= ready_from(&pfd[1]);
	if (watch_app_hup && (pfd[0].revents & (POLLHUP | POLLERR)))
		app_is_gone(s);
	return 0;
}

int relay_pump_run(const struct relay_pump *p, struct relay_pump_stats *st)
{
	struct pump *s;		/* 64 KiB of buffers: on the heap */

	memset(st, 0, sizeof(*st));
	if (p->prefix_len > RELAY_PUMP_BUF)
		return -EINVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	s->p = p;
	s->st = st;
	s->app_in = p->filter != NULL ? &s->raw_up : &s->up;
	s->srv_in = p->filter != NULL ? &s->raw_down : &s->down;
	s->idle_ms = p->idle_ms > 0 ? p->idle_ms : RELAY_PUMP_IDLE_MS;
	s->linger_ms = p->linger_ms > 0 ? p->linger_ms : RELAY_PUMP_LINGER_MS;
	if (p->prefix_len > 0)
		memcpy(s->down.data, p->prefix, p->prefix_len);
	s->down.len = p->prefix_len;
	relay_set_nonblock(p->app_fd);
	relay_set_nonblock(p->tcp_fd);
	/* Writable until a write says otherwise; readable when poll() says
	 * so (or, for TLS, when OpenSSL already holds bytes). */
	s->app_ready = POLLOUT;
	s->srv_ready = POLLOUT;
	if (p->ssl != NULL)
		SSL_set_read_ahead(p->ssl, 1);
	s->last_io = relay_now_ms();
	for (;;) {
		if (round_of_io(s)) {
			s->last_io = relay_now_ms();
			if (s->srv_shut && s->app_shut)
				break;
			continue;
		}
		if (s->srv_shut && s->app_shut)
			break;
		if (wait_round(s))
			break;
	}
	if (st->closed_by == NULL)
		st->closed_by = "app";
	free(s);
	return 0;
}
