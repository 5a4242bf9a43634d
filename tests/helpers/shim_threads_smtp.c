/*
 * shim_threads_smtp.c - N threads of one process deliver at once, each
 * routing by MX like a mail transfer agent
 *
 * SYNOPSIS
 *	shim_threads_smtp [-n THREADS] [-i ID] [-f FROM] DOMAIN RCPT
 *
 * DESCRIPTION
 *	Starts THREADS threads (default 16, at most 64) that wait on one
 *	barrier and then, all at once, each:
 *	  1. look up DOMAIN's MX records with res_nsearch() on a resolver
 *	     state of their own (as Postfix does), and sort them by
 *	     preference;
 *	  2. for each MX host in turn: getaddrinfo() of the host, socket(),
 *	     connect() to port 25; a refused connect (ECONNREFUSED, what
 *	     libmtasts.so returns for a host the policy forbids) or a
 *	     timeout moves on to the next MX host, as an MTA does;
 *	  3. speak plaintext SMTP on the first connection that succeeds:
 *	     greeting, EHLO, MAIL, RCPT, DATA with "Subject: ID-tK" (K the
 *	     thread's number), the message, QUIT; every reply code checked.
 *	Run it under LD_PRELOAD=libmtasts.so with MTASTS_RELAY set: the shim
 *	learns domain -> MX -> address from the threads' own look-ups, all
 *	made concurrently.
 *
 *	The main thread checks what a host process must never see: it
 *	counts /proc/self/fd before the threads start and after they are
 *	joined, installs a SIGCHLD handler that reaps with waitpid(-1), and
 *	at the end calls waitpid(-1, WNOHANG) and scans /proc for a process
 *	whose parent it is. It prints one summary line:
 *	  threads=16 delivered=16 refused=0 fds_before=3 fds_after=3
 *	  sigchld=0 reaped=0 children=0
 *	("refused": connects that failed with ECONNREFUSED, over all threads)
 *	and one line per thread failure on stderr.
 *
 * EXIT STATUS
 *	0 when every thread delivered and no check failed, 1 otherwise,
 *	2 for a usage error.
 */
#include <arpa/nameser.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <resolv.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc_count.h"

#define MAX_THREADS 64
#define MAX_MX 8
#define IO_TIMEOUT_MS 30000
#define LINE_MAX_LEN 1024

struct mx {
	unsigned pref;
	char host[NS_MAXDNAME];
};

struct reader {		/* one connection's buffered reply reader */
	int fd;
	char buf[4096];
	size_t len;
};

static const char *opt_id = "threads", *opt_from = "s@sender.test";
static const char *g_domain, *g_rcpt;
static long g_threads = 16;
static pthread_barrier_t g_start;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static long g_refused;
static volatile sig_atomic_t g_sigchld, g_reaped;

static int fail(long k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(long k, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "shim_threads_smtp: thread %ld: ", k);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static void on_sigchld(int sig)
{
	int saved = errno;

	(void)sig;
	g_sigchld++;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		g_reaped++;
	errno = saved;
}

/* ---- MX look-up ------------------------------------------------------- */

static int by_pref(const void *a, const void *b)
{
	const struct mx *x = a, *y = b;

	return (x->pref > y->pref) - (x->pref < y->pref);
}

/* Reads a 16-bit value at p, which the caller has bounds-checked. */
static unsigned get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/*
 * parse_mx: the MX records of an answer, sorted by preference. Returns
 * their number (0..MAX_MX) or -1 when the message is malformed. Every
 * length is checked against the end of the message.
 */
static int parse_mx(const unsigned char *msg, int len, struct mx *out)
{
	const unsigned char *end = msg + len, *p;
	unsigned qd, an, type, rdlen;
	int n = 0, skip;

	if (len < HFIXEDSZ)
		return -1;
	qd = get16(msg + 4);
	an = get16(msg + 6);
	p = msg + HFIXEDSZ;
	for (unsigned i = 0; i < qd; i++) {
		if ((skip = dn_skipname(p, end)) < 0 || end - p < skip + QFIXEDSZ)
			return -1;
		p += skip + QFIXEDSZ;
	}
	for (unsigned i = 0; i < an; i++) {
		if ((skip = dn_skipname(p, end)) < 0 || end - p < skip + RRFIXEDSZ)
			return -1;
		p += skip;
		type = get16(p);
		rdlen = get16(p + 8);
		p += RRFIXEDSZ;
		if ((size_t)(end - p) < rdlen)
			return -1;
		if (type == T_MX && rdlen >= 3 && n < MAX_MX) {
			out[n].pref = get16(p);
			if (dn_expand(msg, end, p + 2, out[n].host,
				      sizeof(out[n].host)) < 0)
				return -1;
			n++;
		}
		p += rdlen;
	}
	qsort(out, (size_t)n, sizeof(*out), by_pref);
	return n;
}

/* lookup_mx: res_nsearch on a resolver state of this thread's own. */
static int lookup_mx(long k, struct mx *out)
{
	struct __res_state st;
	unsigned char ans[4096];
	int len, n;

	memset(&st, 0, sizeof(st));
	if (res_ninit(&st) < 0)
		return fail(k, "res_ninit failed");
	len = res_nsearch(&st, g_domain, C_IN, T_MX, ans, sizeof(ans));
	res_nclose(&st);
	if (len < 0)
		return fail(k, "MX look-up of %s failed", g_domain);
	if ((n = parse_mx(ans, len, out)) <= 0)
		return fail(k, "no MX record for %s in the answer", g_domain);
	return n;
}

/* ---- connecting --------------------------------------------------------- */

/*
 * connect_host: a connected socket to HOST:25 (each of its addresses in
 * turn), or -1 with errno of the last attempt. Refusals are counted.
 */
static int connect_host(const char *host)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, err = EHOSTUNREACH;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, "25", &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		if (err == ECONNREFUSED) {
			pthread_mutex_lock(&g_lock);
			g_refused++;
			pthread_mutex_unlock(&g_lock);
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		errno = err;
	return fd;
}

/* ---- SMTP ----------------------------------------------------------------- */

static int send_all(int fd, const char *s)
{
	size_t left = strlen(s);
	ssize_t w;

	while (left > 0) {
		w = send(fd, s, left, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		left -= (size_t)w;
	}
	return 0;
}

/* read_line: the next CRLF-terminated line (without CRLF) into line. */
static int read_line(struct reader *r, char *line, size_t size)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	char *eol;
	ssize_t got;
	size_t n;

	while ((eol = memchr(r->buf, '\n', r->len)) == NULL) {
		if (r->len == sizeof(r->buf))
			return -1;	/* a line longer than the buffer */
		if (poll(&pfd, 1, IO_TIMEOUT_MS) <= 0)
			return -1;
		got = recv(r->fd, r->buf + r->len, sizeof(r->buf) - r->len, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		r->len += (size_t)got;
	}
	n = (size_t)(eol - r->buf);
	if (n > 0 && r->buf[n - 1] == '\r')
		n--;
	if (n >= size)
		return -1;
	memcpy(line, r->buf, n);
	line[n] = '\0';
	r->len -= (size_t)(eol + 1 - r->buf);
	memmove(r->buf, eol + 1, r->len);
	return 0;
}

/* reply: reads one (multi-line) reply; 0 when its code is want. */
static int reply(long k, struct reader *r, int want, const char *after)
{
	char line[LINE_MAX_LEN];

	do {
		if (read_line(r, line, sizeof(line)) < 0)
			return fail(k, "no reply after %s", after);
		if (strlen(line) < 3 || atoi(line) != want)
			return fail(k, "after %s: '%s', wanted %d", after, line, want);
	} while (line[3] == '-');
	return 0;
}

static int command(long k, struct reader *r, const char *cmd, int want)
{
	if (send_all(r->fd, cmd) < 0)
		return fail(k, "cannot send %s", cmd);
	return reply(k, r, want, cmd);
}

static int smtp_deliver(long k, int fd)
{
	struct reader r = { .fd = fd };
	char buf[512];

	if (reply(k, &r, 220, "connect") < 0 ||
	    command(k, &r, "EHLO client.world.test\r\n", 250) < 0)
		return -1;
	snprintf(buf, sizeof(buf), "MAIL FROM:<%s>\r\n", opt_from);
	if (command(k, &r, buf, 250) < 0)
		return -1;
	snprintf(buf, sizeof(buf), "RCPT TO:<%s>\r\n", g_rcpt);
	if (command(k, &r, buf, 250) < 0 ||
	    command(k, &r, "DATA\r\n", 354) < 0)
		return -1;
	snprintf(buf, sizeof(buf),
		 "From: <%s>\r\nTo: <%s>\r\nSubject: %s-t%ld\r\n\r\n"
		 "thread %ld of %ld\r\n.\r\n",
		 opt_from, g_rcpt, opt_id, k, k, g_threads);
	if (command(k, &r, buf, 250) < 0 ||
	    command(k, &r, "QUIT\r\n", 221) < 0)
		return -1;
	return 0;
}

/* ---- the threads ---------------------------------------------------------- */

static void *thread_main(void *arg)
{
	long k = (long)arg;
	struct mx mx[MAX_MX];
	int n, fd = -1, rc;

	pthread_barrier_wait(&g_start);
	if ((n = lookup_mx(k, mx)) < 0)
		return (void *)1;
	for (int i = 0; i < n && fd < 0; i++)
		fd = connect_host(mx[i].host);
	if (fd < 0) {
		fail(k, "no MX host of %s accepted a connection", g_domain);
		return (void *)1;
	}
	rc = smtp_deliver(k, fd);
	close(fd);
	return rc == 0 ? NULL : (void *)1;
}

static void usage(void)
{
	fprintf(stderr, "usage: shim_threads_smtp [-n THREADS] [-i ID] [-f FROM] "
		"DOMAIN RCPT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	pthread_t t[MAX_THREADS];
	struct sigaction sa;
	long delivered = 0;
	int c, fds_before, fds_after, children, bad = 0;

	while ((c = getopt(argc, argv, "n:i:f:")) != -1) {
		switch (c) {
		case 'n': g_threads = atol(optarg); break;
		case 'i': opt_id = optarg; break;
		case 'f': opt_from = optarg; break;
		default: usage();
		}
	}
	if (argc - optind != 2 || g_threads < 1 || g_threads > MAX_THREADS)
		usage();
	g_domain = argv[optind];
	g_rcpt = argv[optind + 1];
	signal(SIGPIPE, SIG_IGN);

	/* A mail sender's SIGCHLD handler: a child of the shim would be
	 * reaped (and counted) here. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	fds_before = proc_count_fds();

	if (pthread_barrier_init(&g_start, NULL, (unsigned)g_threads) != 0)
		return 1;
	for (long k = 0; k < g_threads; k++)
		if (pthread_create(&t[k], NULL, thread_main, (void *)k) != 0) {
			fprintf(stderr, "shim_threads_smtp: pthread_create failed\n");
			return 1;	/* the others wait on the barrier forever */
		}
	for (long k = 0; k < g_threads; k++) {
		void *r;

		pthread_join(t[k], &r);
		delivered += r == NULL;
	}
	pthread_barrier_destroy(&g_start);

	fds_after = proc_count_fds();
	children = proc_children_of_me("shim_threads_smtp");
	if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
		children++;
	printf("threads=%ld delivered=%ld refused=%ld fds_before=%d fds_after=%d "
	       "sigchld=%d reaped=%d children=%d\n", g_threads, delivered,
	       g_refused, fds_before, fds_after, (int)g_sigchld, (int)g_reaped,
	       children);
	bad = delivered != g_threads || fds_before != fds_after ||
	      g_sigchld != 0 || g_reaped != 0 || children != 0;
	return bad ? 1 : 0;
}
