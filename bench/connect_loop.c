/*
 * connect_loop.c - the cost of connect() to a port the shim does not intercept
 *
 * SYNOPSIS
 *	connect_loop COUNT [ADDR]
 *
 * DESCRIPTION
 *	Listens on ADDR (default 127.0.8.1) at an ephemeral port, then COUNT
 *	times: socket(), connect() to that port, accept(), close() both. The
 *	client end is closed with SO_LINGER {1, 0} (a reset), so that no
 *	TIME_WAIT entries pile up and 100,000 rounds never run out of
 *	ephemeral ports. Run it with and without LD_PRELOAD=libmtasts.so:
 *	the difference is what the connect() and close() hooks cost a
 *	program for connections that are none of the shim's business.
 *
 *	Prints "ns_per_connect=N" (the whole cycle, wall clock).
 *
 * EXIT STATUS
 *	0, or 1 with a message when a call failed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int listener(const char *addr, struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	if (fd < 0 || inet_pton(AF_INET, addr, &sin->sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)sin, sizeof(*sin)) < 0 ||
	    listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)sin, &len) < 0) {
		perror("connect_loop: listener");
		return -1;
	}
	return fd;
}

/* One round: connect, accept, reset. Returns 0 or -1. */
static int one_round(int lfd, const struct sockaddr_in *sin)
{
	struct linger reset = { 1, 0 };
	int c = socket(AF_INET, SOCK_STREAM, 0), a;

	if (c < 0 || connect(c, (const struct sockaddr *)sin, sizeof(*sin)) < 0) {
		perror("connect_loop: connect");
		if (c >= 0)
			close(c);
		return -1;
	}
	a = accept(lfd, NULL, NULL);
	if (a < 0) {
		perror("connect_loop: accept");
		close(c);
		return -1;
	}
	setsockopt(c, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	close(c);
	close(a);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin;
	long count;
	long long t0, t1;
	int lfd;

	if (argc < 2 || (count = strtol(argv[1], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: connect_loop COUNT [ADDR]\n");
		return 2;
	}
	lfd = listener(argc > 2 ? argv[2] : "127.0.8.1", &sin);
	if (lfd < 0)
		return 1;
	t0 = now_ns();
	for (long i = 0; i < count; i++)
		if (one_round(lfd, &sin) < 0)
			return 1;
	t1 = now_ns();
	printf("ns_per_connect=%lld\n", (t1 - t0) / count);
	close(lfd);
	return 0;
}
