/*
 * relay_drive.c - run mtasts-relay as the shim would, and talk SMTP through it
 *
 * SYNOPSIS
 *	relay_drive [options] -- RELAY-ARGS...
 *	  --relay PATH      the relay (default $BUILD/mtasts-relay)
 *	  --family 4|6      the "application's" socket family (default 4)
 *	  --nonblock        make that socket O_NONBLOCK, as some senders do
 *	  --bind ADDR       bind() the socket first (IPv4 or IPv6 literal)
 *	  --mail FROM TO    after a RELAY verdict, send one message (EHLO,
 *	                    MAIL, RCPT, DATA, QUIT) and print every reply
 *	  --subject S       its Subject (default "relay_drive")
 *	  --body-kib N      pad its body to about N KiB (default 0)
 *	  --close-early     send QUIT and close at once, reading nothing more
 *	                    (the relay must still deliver the QUIT)
 *	  --blast           after the greeting, write the whole transaction
 *	                    (EHLO ... DATA, message, QUIT) in one go and close
 *	                    at once without reading a reply: every byte must
 *	                    still reach the server
 *	  --hold-ms N       after the verdict, sit silent N ms, then close
 *	  --wait-ms N       wait at most N ms for the relay to exit
 *	                    (default 20000) and print its exit status
 *
 * DESCRIPTION
 *	A test helper for tests/integration/t_relay_*.sh, standing in for
 *	libmtasts.so: it makes the socket pair and an unconnected TCP socket,
 *	starts the relay with them as fds 4 and 3, and reads the verdict.
 *	The relay's environment gets RELAY_T0_US, the fork time in
 *	CLOCK_MONOTONIC microseconds, for timing experiments.
 *
 *	Output lines (stdout), for the tests to grep:
 *	  verdict=relay|refuse|handoff error=ERRNO-NAME local=ADDR:PORT
 *	  verdict_ms=N              fork+exec to verdict, milliseconds
 *	  verdict_us=N              the same in microseconds
 *	  <<< LINE                  every line the server side sent
 *	  >>> LINE                  every command sent (not message bodies)
 *	  relay_exit=N relay_ms=N   the relay's exit status and lifetime
 *	  result=sent|failed|...    the mail transaction's outcome
 *
 * EXIT STATUS
 *	0 when every step asked for worked; 1 otherwise; 2 usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../shim/relay_proto.h"

#define IO_TIMEOUT_MS 15000

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_ms(void)
{
	return now_us() / 1000;
}

static const char *errno_name(int e)
{
	switch (e) {
	case 0: return "0";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case ENETUNREACH: return "ENETUNREACH";
	case ECONNRESET: return "ECONNRESET";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	default: return "OTHER";
	}
}

/* Blocking-with-timeout I/O on the pair end. */
static int wait_io(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int n = poll(&p, 1, IO_TIMEOUT_MS);

	return n > 0 ? 0 : -1;
}

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n;

		if (wait_io(fd, POLLIN) < 0)
			return -1;
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n;

		if (wait_io(fd, POLLOUT) < 0)
			return -1;
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads one SMTP reply (all lines), prints them; returns the code. */
static int reply(int fd)
{
	static char buf[65536];
	static size_t have;
	int code = -1;

	for (;;) {
		char *lf = memchr(buf, '\n', have);
		ssize_t n;

		if (lf != NULL) {
			size_t len = (size_t)(lf - buf) + 1;
			int last = len < 5 || buf[3] == ' ' || buf[3] == '\r';

			printf("<<< %.*s\n", (int)(len > 1 && buf[len - 2] == '\r' ?
						   len - 2 : len - 1), buf);
			code = atoi(buf);
			memmove(buf, buf + len, have - len);
			have -= len;
			if (last)
				return code;
			continue;
		}
		if (have == sizeof(buf) || wait_io(fd, POLLIN) < 0)
			return -1;
		n = read(fd, buf + have, sizeof(buf) - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
	}
}

static int command(int fd, const char *cmd)
{
	char line[1024];

	printf(">>> %s\n", cmd);
	snprintf(line, sizeof(line), "%s\r\n", cmd);
	if (write_all(fd, line, strlen(line)) < 0)
		return -1;
	return reply(fd);
}

/* The message: headers, one line of text, body_kib KiB of 64-octet lines,
 * the final dot. Returns its length. */
static size_t make_message(char *msg, size_t cap, const char *from,
			   const char *to, const char *subject, int body_kib)
{
	size_t len = (size_t)snprintf(msg, cap, "From: <%s>\r\nTo: <%s>\r\n"
			       "Subject: %s\r\n\r\nHello through the relay.\r\n",
			       from, to, subject);

	for (int k = 0; k < body_kib; k++) {
		for (int i = 0; i < 16; i++) {
			memset(msg + len, 'a' + (k + i) % 26, 62);
			memcpy(msg + len + 62, "\r\n", 2);
			len += 64;
		}
	}
	memcpy(msg + len, ".\r\n", 3);
	return len + 3;
}

/* Everything in one write, then close: no reply is read after the
 * greeting. */
static int blast_mail(int fd, const char *from, const char *to,
		      const char *subject, int body_kib)
{
	size_t cap = 8192 + (size_t)body_kib * 1024;
	char *all = malloc(cap);
	size_t len;
	int rc;

	if (all == NULL || reply(fd) != 220) {
		free(all);
		return -1;
	}
	len = (size_t)snprintf(all, cap, "EHLO client.world.test\r\n"
			       "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n",
			       from, to);
	len += make_message(all + len, cap - len, from, to, subject, body_kib);
	memcpy(all + len, "QUIT\r\n", 6);
	len += 6;
	printf(">>> EHLO, MAIL, RCPT, DATA, message, QUIT in one write, then close\n");
	rc = write_all(fd, all, len);
	free(all);
	return rc;
}

static int send_mail(int fd, const char *from, const char *to,
		     const char *subject, int body_kib, int close_early)
{
	char cmd[600];
	size_t cap = 4096 + (size_t)body_kib * 1024;
	char *msg = malloc(cap + 1);
	size_t len;

	if (msg == NULL)
		return -1;
	if (reply(fd) != 220 || command(fd, "EHLO client.world.test") != 250)
		goto fail;
	snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>", from);
	if (command(fd, cmd) != 250)
		goto fail;
	snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>", to);
	if (command(fd, cmd) != 250)
		goto fail;
	if (command(fd, "DATA") != 354)
		goto fail;
	len = make_message(msg, cap, from, to, subject, body_kib);
	if (write_all(fd, msg, len) < 0 || reply(fd) != 250)
		goto fail;
	free(msg);
	if (close_early) {
		printf(">>> QUIT (closing at once)\n");
		if (write_all(fd, "QUIT\r\n", 6) < 0)
			return -1;
		return 0;
	}
	return command(fd, "QUIT") == 221 ? 0 : -1;
fail:
	free(msg);
	return -1;
}

static int make_socket(int family, int nonblock, const char *bind_addr)
{
	int s = socket(family == 6 ? AF_INET6 : AF_INET,
		       SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (s < 0 || bind_addr == NULL)
		return s;
	if (family == 6) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6 };

		if (inet_pton(AF_INET6, bind_addr, &a.sin6_addr) != 1 ||
		    bind(s, (struct sockaddr *)&a, sizeof(a)) < 0)
			return -1;
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET };

		if (inet_pton(AF_INET, bind_addr, &a.sin_addr) != 1 ||
		    bind(s, (struct sockaddr *)&a, sizeof(a)) < 0)
			return -1;
	}
	return s;
}

static void print_local(const struct mts_verdict *v)
{
	char text[INET6_ADDRSTRLEN] = "-";
	unsigned port = 0;

	if (v->local_len > 0 && v->local.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)&v->local;

		inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
		port = ntohs(a->sin_port);
	} else if (v->local_len > 0 && v->local.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)&v->local;

		inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
		port = ntohs(a->sin6_port);
	}
	printf("local=%s:%u\n", text, port);
}

static int usage(void)
{
	fprintf(stderr, "usage: relay_drive [--relay PATH] [--family 4|6] "
		"[--nonblock] [--bind ADDR] [--mail FROM TO] [--subject S] "
		"[--body-kib N] [--close-early] [--blast] [--hold-ms N] [--wait-ms N] "
		"-- RELAY-ARGS...\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *relay = NULL, *from = NULL, *to = NULL, *bind_addr = NULL;
	const char *subject = "relay_drive";
	int family = 4, nonblock = 0, close_early = 0, body_kib = 0, blast = 0;
	int hold_ms = 0, wait_ms = 20000, i, sv[2], tcp, st, rc = 0;
	char relay_buf[4096];
	struct mts_verdict v;
	int64_t t0, t1, t0_us;
	pid_t pid;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *a = argv[i];
		int more = i + 1 < argc;

		if (strcmp(a, "--relay") == 0 && more)
			relay = argv[++i];
		else if (strcmp(a, "--family") == 0 && more)
			family = atoi(argv[++i]);
		else if (strcmp(a, "--nonblock") == 0)
			nonblock = 1;
		else if (strcmp(a, "--bind") == 0 && more)
			bind_addr = argv[++i];
		else if (strcmp(a, "--mail") == 0 && i + 2 < argc) {
			from = argv[++i];
			to = argv[++i];
		} else if (strcmp(a, "--subject") == 0 && more)
			subject = argv[++i];
		else if (strcmp(a, "--body-kib") == 0 && more)
			body_kib = atoi(argv[++i]);
		else if (strcmp(a, "--close-early") == 0)
			close_early = 1;
		else if (strcmp(a, "--blast") == 0)
			blast = 1;
		else if (strcmp(a, "--hold-ms") == 0 && more)
			hold_ms = atoi(argv[++i]);
		else if (strcmp(a, "--wait-ms") == 0 && more)
			wait_ms = atoi(argv[++i]);
		else
			return usage();
	}
	if (i >= argc)
		return usage();
	if (relay == NULL) {
		const char *b = getenv("BUILD");

		snprintf(relay_buf, sizeof(relay_buf), "%s/mtasts-relay",
			 b ? b : "build");
		relay = relay_buf;
	}
	argv[i] = (char *)relay;	/* argv[0] of the relay */
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    (tcp = make_socket(family, nonblock, bind_addr)) < 0) {
		perror("relay_drive: sockets");
		return 1;
	}
	t0_us = now_us();
	t0 = t0_us / 1000;
	pid = fork();
	if (pid < 0) {
		perror("relay_drive: fork");
		return 1;
	}
	if (pid == 0) {
		/* Out of the way of 3 and 4 first: dup2() onto itself would
		 * keep close-on-exec. */
		int t = fcntl(tcp, F_DUPFD, 10), a = fcntl(sv[1], F_DUPFD, 10);

		char t0_text[32];

		if (t < 0 || a < 0 || dup2(t, MTS_RELAY_TCP_FD) < 0 ||
		    dup2(a, MTS_RELAY_APP_FD) < 0)
			_exit(127);
		snprintf(t0_text, sizeof(t0_text), "%lld", (long long)t0_us);
		setenv("RELAY_T0_US", t0_text, 1);
		execv(relay, argv + i);
		_exit(127);
	}
	close(sv[1]);
	close(tcp);	/* as the shim: the application's fd is replaced */

	if (read_full(sv[0], &v, sizeof(v)) < 0) {
		printf("verdict=none\n");
		rc = 1;
		goto reap;
	}
	t1 = now_us();
	if (v.magic != MTS_VERDICT_MAGIC || v.version != MTS_VERDICT_VERSION) {
		printf("verdict=malformed\n");
		rc = 1;
		goto reap;
	}
	printf("verdict=%s error=%s\n",
	       v.action == MTS_VERDICT_RELAY ? "relay" :
	       v.action == MTS_VERDICT_REFUSE ? "refuse" :
	       v.action == MTS_VERDICT_HANDOFF ? "handoff" : "unknown",
	       errno_name(v.error));
	printf("verdict_ms=%lld\n", (long long)((t1 - t0_us) / 1000));
	printf("verdict_us=%lld\n", (long long)(t1 - t0_us));
	print_local(&v);
	if (v.action == MTS_VERDICT_RELAY && from != NULL) {
		int r = blast ? blast_mail(sv[0], from, to, subject, body_kib) :
			send_mail(sv[0], from, to, subject, body_kib,
				  close_early);

		printf("result=%s\n", r == 0 ? "sent" : "failed");
		if (r != 0)
			rc = 1;
	}
	if (hold_ms > 0)
		poll(NULL, 0, hold_ms);
reap:
	close(sv[0]);
	for (int64_t end = now_ms() + wait_ms;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid) {
			printf("relay_exit=%d relay_ms=%lld\n",
			       WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
			       (long long)(now_ms() - t0));
			break;
		}
		if (now_ms() >= end) {
			printf("relay_exit=hung\n");
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			rc = 1;
			break;
		}
		poll(NULL, 0, 10);
	}
	return rc;
}
