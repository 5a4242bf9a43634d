/*
 * pump.h - relay bytes between the application and the server until both close
 *
 * SYNOPSIS
 *	struct relay_pump p = { .app_fd = 4, .tcp_fd = 3, .ssl = ssl,
 *				.prefix = greeting, .prefix_len = n };
 *	relay_pump_run(&p, &stats);
 *
 * DESCRIPTION
 *	After an allowing verdict: the prefix (the server's saved greeting)
 *	goes to the application first, then bytes flow both ways, app_fd <->
 *	ssl (TLS on tcp_fd) or app_fd <-> tcp_fd (plaintext when ssl is
 *	NULL), through one RELAY_PUMP_BUF buffer per direction, with
 *	non-blocking I/O and poll(). Both fds are made non-blocking, and
 *	read-ahead is turned on for ssl (SSL_set_read_ahead): one read()
 *	per burst of records instead of two per record. A session costs
 *	about one system call per thing that happens (poll, read, write),
 *	never a read that finds nothing only to check (see pump.c).
 *
 *	No byte the application wrote is lost: when it closes its write
 *	side (EOF), everything it wrote is flushed to the server first (the
 *	final QUIT included), then TLS close_notify and shutdown(SHUT_WR) on
 *	the TCP leg; server data goes on reaching the application as long as
 *	it can read. Once the application is gone altogether (its end of the
 *	pair closed: POLLHUP, or EPIPE on write), the server is drained at
 *	most linger_ms more (so that closing the socket with unread data
 *	never turns into a reset that could destroy what we sent), then the
 *	pump returns.
 *
 *	When the server closes first (EOF, close_notify, or a fatal error),
 *	what it sent is delivered, then shutdown(SHUT_WR) on the application
 *	side; the pump returns when the application closes too, or linger_ms
 *	later.
 *
 *	With a filter (filter.h), the bytes of each direction are read into
 *	a raw buffer first and pass through the filter on their way to the
 *	other side: it may hold a command back, answer it itself, or insert
 *	a reply. What the filter still holds when the application closes is
 *	an unfinished command line: it is dropped (a server would never act
 *	on a line without its end either).
 *
 *	Nothing waits forever: idle_ms without any byte moving in either
 *	direction ends the session (SMTP's own timeouts are minutes).
 *
 * RETURN VALUE
 *	0; stats tell how much went where and how the session ended.
 *	-EINVAL when the prefix does not fit the buffer, -ENOMEM.
 */
#ifndef RELAY_PUMP_H
#define RELAY_PUMP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#define RELAY_PUMP_BUF 16384
#define RELAY_PUMP_IDLE_MS (10 * 60 * 1000)
#define RELAY_PUMP_LINGER_MS 5000

struct relay_filter;

struct relay_pump {
	int app_fd;
	int tcp_fd;
	SSL *ssl;		/* NULL: plaintext */
	struct relay_filter *filter;	/* NULL: bytes pass unexamined */
	const char *prefix;	/* sent to the application first */
	size_t prefix_len;
	int idle_ms;		/* 0: RELAY_PUMP_IDLE_MS */
	int linger_ms;		/* 0: RELAY_PUMP_LINGER_MS */
};

struct relay_pump_stats {
	uint64_t to_server;	/* application bytes delivered to the server */
	uint64_t to_app;	/* server bytes delivered, prefix included */
	const char *closed_by;	/* "app", "server", "idle", "linger" */
};

int relay_pump_run(const struct relay_pump *p, struct relay_pump_stats *st);

#endif
