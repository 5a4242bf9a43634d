/*
 * spawn_loop.c - the cost of starting a program with and without the shim
 *
 * SYNOPSIS
 *	spawn_loop COUNT PRELOAD PROGRAM [ARG...]
 *
 * DESCRIPTION
 *	COUNT times, starts PROGRAM twice with posix_spawn() and waits for
 *	it: once with the caller's environment minus LD_PRELOAD, once with
 *	LD_PRELOAD=PRELOAD added; which of the two goes first alternates, so
 *	that drift of a noisy machine hits both alike. Each start is timed
 *	from posix_spawn() to waitpid() (wall clock, CLOCK_MONOTONIC).
 *
 *	Prints "plain_us=M wrapped_us=N" (medians, microseconds, 1 decimal).
 *
 * EXIT STATUS
 *	0; 1 when a start failed or PROGRAM did not exit 0.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

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

static double median_us(long long *v, long n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_ll);
	return (n % 2 ? (double)v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0) / 1000.0;
}

/* The environment without LD_PRELOAD, with one spare slot (NULL-ended). */
static char **env_without_preload(size_t *used)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n] != NULL)
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (env == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
			env[k++] = environ[i];
	*used = k;
	return env;
}

/* One start of argv with envp; its time in ns, or -1. */
static long long timed_start(char **argv, char **envp)
{
	long long t0 = now_ns();
	pid_t pid;
	int status;

	if (posix_spawn(&pid, argv[0], NULL, NULL, argv, envp) != 0)
		return -1;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return -1;
	return now_ns() - t0;
}

int main(int argc, char **argv)
{
	long count;
	size_t used;
	char **plain, **wrapped, *preload;
	long long *tp, *tw;

	if (argc < 4 || (count = strtol(argv[1], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: spawn_loop COUNT PRELOAD PROGRAM [ARG...]\n");
		return 2;
	}
	plain = env_without_preload(&used);
	wrapped = env_without_preload(&used);
	tp = calloc((size_t)count, sizeof(*tp));
	tw = calloc((size_t)count, sizeof(*tw));
	if (plain == NULL || wrapped == NULL || tp == NULL || tw == NULL ||
	    asprintf(&preload, "LD_PRELOAD=%s", argv[2]) < 0) {
		fprintf(stderr, "spawn_loop: out of memory\n");
		return 1;
	}
	wrapped[used] = preload;
	for (long i = 0; i < count; i++) {
		int wrapped_first = i % 2;

		if (wrapped_first)
			tw[i] = timed_start(argv + 3, wrapped);
		tp[i] = timed_start(argv + 3, plain);
		if (!wrapped_first)
			tw[i] = timed_start(argv + 3, wrapped);
		if (tp[i] < 0 || tw[i] < 0) {
			fprintf(stderr, "spawn_loop: %s failed to start or exit 0\n",
				argv[3]);
			return 1;
		}
	}
	printf("plain_us=%.1f wrapped_us=%.1f\n", median_us(tp, count),
	       median_us(tw, count));
	free(tp);
	free(tw);
	free(plain);
	free(wrapped);
	free(preload);
	return 0;
}
