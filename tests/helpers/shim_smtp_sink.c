/*
 * shim_smtp_sink.c - a plain SMTP (or HTTP) receiver for the shim's tests
 *
 * SYNOPSIS
 *	shim_smtp_sink [--http] [--ready FILE] [--lifetime SECS]
 *	               ADDR PORT SPOOLDIR
 *
 * DESCRIPTION
 *	Listens on ADDR:PORT (IPv4 or IPv6) and serves each connection in a
 *	child process. SMTP: a greeting, EHLO/HELO, MAIL, RCPT, DATA (the
 *	message, dot-unstuffed, is written to SPOOLDIR/msg.PID.N with the
 *	envelope on its first lines), RSET, NOOP, QUIT. --http answers any
 *	request with "HTTP/1.0 200 OK" and "ok" instead.
 *
 *	--ready FILE is created once the socket listens, so a test script
 *	can wait for it. The sink exits by itself after --lifetime seconds
 *	(default 120), so a failed test never leaves it behind.
 *
 *	No TLS: the shim's mechanics are tested with the fake relay, which
 *	relays plaintext.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LINE_MAX_LEN 1024

struct reader {
	int fd;
	char buf[4096];
	size_t len, off;
};

static int read_line(struct reader *r, char *line, size_t size)
{
	size_t n = 0;

	for (;;) {
		if (r->off == r->len) {
			ssize_t got = read(r->fd, r->buf, sizeof(r->buf));

			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				return -1;
			r->len = (size_t)got;
			r->off = 0;
		}
		char c = r->buf[r->off++];

		if (n + 1 < size)
			line[n++] = c;
		if (c == '\n')
			break;
	}
	line[n] = '\0';
	return (int)n;
}

static int say(int fd, const char *s)
{
	size_t len = strlen(s), done = 0;

	while (done < len) {
		ssize_t n = write(fd, s + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static int starts(const char *line, const char *verb)
{
	return strncasecmp(line, verb, strlen(verb)) == 0;
}

static void serve_http(int fd)
{
	struct reader r = { .fd = fd };
	char line[LINE_MAX_LEN];

	while (read_line(&r, line, sizeof(line)) > 0)
		if (strcmp(line, "\r\n") == 0 || strcmp(line, "\n") == 0)
			break;
	say(fd, "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
}

static int save_message(const char *spool, int seq, const char *from,
			const char *rcpt, struct reader *r)
{
	char path[4096], line[LINE_MAX_LEN];
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "%s/msg.%ld.%d", spool, (long)getpid(),
		 seq);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "X-Envelope-From: %sX-Envelope-To: %s", from, rcpt);
	while ((n = read_line(r, line, sizeof(line))) > 0) {
		if (strcmp(line, ".\r\n") == 0 || strcmp(line, ".\n") == 0) {
			fclose(f);
			return 0;
		}
		fputs(line[0] == '.' ? line + 1 : line, f);
	}
	fclose(f);
	unlink(path);
	return -1;
}

static void serve_smtp(int fd, const char *spool)
{
	struct reader r = { .fd = fd };
	char line[LINE_MAX_LEN], from[LINE_MAX_LEN] = "", rcpt[LINE_MAX_LEN] = "";
	char reply[128];
	int seq = 0;

	if (say(fd, "220 sink.test ESMTP shim-sink\r\n") < 0)
		return;
	while (read_line(&r, line, sizeof(line)) > 0) {
		if (starts(line, "EHLO"))
			say(fd, "250-sink.test\r\n250 8BITMIME\r\n");
		else if (starts(line, "HELO"))
			say(fd, "250 sink.test\r\n");
		else if (starts(line, "MAIL FROM:")) {
			snprintf(from, sizeof(from), "%s", line + 10);
			say(fd, "250 2.1.0 ok\r\n");
		} else if (starts(line, "RCPT TO:")) {
			snprintf(rcpt, sizeof(rcpt), "%s", line + 8);
			say(fd, "250 2.1.5 ok\r\n");
		} else if (starts(line, "DATA")) {
			say(fd, "354 go ahead\r\n");
			if (save_message(spool, ++seq, from, rcpt, &r) < 0)
				return;
			snprintf(reply, sizeof(reply),
				 "250 2.0.0 ok queued as %ld.%d\r\n",
				 (long)getpid(), seq);
			say(fd, reply);
		} else if (starts(line, "RSET") || starts(line, "NOOP"))
			say(fd, "250 2.0.0 ok\r\n");
		else if (starts(line, "QUIT")) {
			say(fd, "221 2.0.0 bye\r\n");
			return;
		} else
			say(fd, "500 5.5.2 what?\r\n");
	}
}

static int listen_on(const char *addr, int port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		len = sizeof(*in);
	} else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		len = sizeof(*in6);
	} else {
		fprintf(stderr, "shim_smtp_sink: bad address %s\n", addr);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0) {
		perror("shim_smtp_sink: bind/listen");
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	const char *ready = NULL;
	int http = 0, lifetime = 120, lfd, i = 1;

	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--http") == 0)
			http = 1;
		else if (strcmp(argv[i], "--ready") == 0 && i + 1 < argc)
			ready = argv[++i];
		else if (strcmp(argv[i], "--lifetime") == 0 && i + 1 < argc)
			lifetime = atoi(argv[++i]);
		else
			break;
	}
	if (argc - i != 3) {
		fprintf(stderr, "usage: shim_smtp_sink [--http] [--ready FILE] "
			"[--lifetime SECS] ADDR PORT SPOOLDIR\n");
		return 2;
	}
	signal(SIGCHLD, SIG_IGN);	/* children reaped automatically */
	signal(SIGPIPE, SIG_IGN);
	if ((lfd = listen_on(argv[i], atoi(argv[i + 1]))) < 0)
		return 1;
	if (ready != NULL) {
		int fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			      0644);

		if (fd >= 0)
			close(fd);
	}
	alarm((unsigned)lifetime);
	for (;;) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		pid_t pid;

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("shim_smtp_sink: accept");
			return 1;
		}
		pid = fork();
		if (pid == 0) {
			close(lfd);
			alarm(30);
			if (http)
				serve_http(c);
			else
				serve_smtp(c, argv[i + 2]);
			_exit(0);
		}
		close(c);
	}
}
