/*
 * pingpong.c - the round trip between two processes over a socket pair
 *
 * SYNOPSIS
 *	pingpong COUNT
 *
 * DESCRIPTION
 *	A child echoes one byte back for every byte the parent writes; the
 *	parent times COUNT round trips, each a write() and a blocking read()
 *	on both sides. That is the cost the relay adds to every SMTP command
 *	and reply that crosses it: one more process to wake up and a pair of
 *	socket calls, in each direction. Used by bench/bench.py to explain
 *	the per-message ratio on long SMTP sessions.
 *
 *	Prints "rtt_ns=N" (the median of COUNT round trips).
 *
 * EXIT STATUS
 *	0, or 1 with a message.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

/* The child: echo until EOF. */
static void echo_loop(int fd)
{
	char c;

	while (read(fd, &c, 1) == 1)
		if (write(fd, &c, 1) != 1)
			break;
	_exit(0);
}

int main(int argc, char **argv)
{
	long count;
	long long *rtt;
	int sv[2], status;
	pid_t pid;
	char c = 'x';

	if (argc != 2 || (count = strtol(argv[1], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: pingpong COUNT\n");
		return 2;
	}
	rtt = calloc((size_t)count, sizeof(*rtt));
	if (rtt == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		perror("pingpong");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("pingpong: fork");
		return 1;
	}
	if (pid == 0) {
		close(sv[0]);
		echo_loop(sv[1]);
	}
	close(sv[1]);
	for (long i = 0; i < count; i++) {
		long long t0 = now_ns();

		if (write(sv[0], &c, 1) != 1 || read(sv[0], &c, 1) != 1) {
			perror("pingpong: round trip");
			kill(pid, SIGKILL);
			return 1;
		}
		rtt[i] = now_ns() - t0;
	}
	close(sv[0]);
	waitpid(pid, &status, 0);
	qsort(rtt, (size_t)count, sizeof(*rtt), cmp_ll);
	printf("rtt_ns=%lld\n", rtt[count / 2]);
	free(rtt);
	return 0;
}
