/*
 * shim_client.c - an SMTP client that exercises libmtasts.so's promises
 *
 * SYNOPSIS
 *	shim_client [options] MODE ADDR PORT
 *
 * DESCRIPTION
 *	Each mode performs a full SMTP transaction (EHLO, MAIL, RCPT, DATA,
 *	the message, QUIT) to ADDR:PORT, in its own way, and exits 0 only
 *	on a 250 after the data and every check of the mode passing. Run it
 *	under LD_PRELOAD=libmtasts.so with MTASTS_RELAY pointing at a relay.
 *
 *	blocking     plain blocking socket
 *	nonblock     O_NONBLOCK socket: connect, poll for writability,
 *	             SO_ERROR; O_NONBLOCK must still be set afterwards
 *	flags        four connections: {blocking, O_NONBLOCK} x {FD_CLOEXEC
 *	             or not}; both flags must be exactly as created
 *	sockopt      getpeername (the destination), getsockname (same
 *	             family, a port), SO_TYPE, SO_DOMAIN, SO_PROTOCOL,
 *	             SO_ERROR, TCP_NODELAY set and read back, SO_RCVTIMEO,
 *	             SO_KEEPALIVE, IP_TOS, TCP_INFO
 *	stdio        the session through fdopen()ed FILEs
 *	fork         connect and EHLO, fork; the parent exits at once, the
 *	             child finishes (needs -s: the child writes "ok" there)
 *	exec         connect and EHLO, exec this program with the fd number
 *	             on argv ("continue FD"), which finishes the session
 *	exec-race    while one thread's connect() waits for the (delayed)
 *	             verdict, another forks and execs this program, which
 *	             checks it inherited no fd beyond those open at start
 *	quit-noread  send QUIT and exit without reading its reply
 *	threads      -n threads (16) deliver at once
 *	dup          dup, dup2, dup3, F_DUPFD_CLOEXEC copies all look like
 *	             the TCP socket; closing one keeps the others; a number
 *	             recycled behind the shim's back (raw close syscall) is
 *	             not mistaken for a relayed fd; session on a copy
 *	repeat       -n sequential sessions (default 5)
 *	lookup       look the names up first (-d DOMAIN's MX with the -r
 *	             resolver call, -m HOST's address with the -a call), then
 *	             connect to the address found (ADDR is ignored)
 *	http         a GET to a non-SMTP port; expects "HTTP/1.0 200"
 *	udp          a UDP socket connect()ed to the port: must stay UDP
 *	expect-errno connect() must fail with errno -e NAME; the fd must
 *	             stay valid
 *	bench        -n connect() calls to a closed port; prints ns per call
 *
 *	Every mode (but fork, exec and bench) also checks at the end that no
 *	fd leaked (/proc/self/fd counted before and after), that no SIGCHLD
 *	arrived, that a waitpid(-1) loop reaps nothing and that the process
 *	has no child left (/proc scanned for its pid as parent).
 *
 * OPTIONS
 *	-i ID      message id put in the Subject (default "shim")
 *	-n N       threads, repeats or bench iterations
 *	-s FILE    where the fork mode's child writes its result
 *	-e NAME    expected errno (ECONNREFUSED, ETIMEDOUT, ...)
 *	-d DOMAIN  -m HOST  -r query|search|nquery|nsearch|send|nsend|none
 *	-a gai|ghbn|ghbn2|ghbn_r|ghbn2_r    (lookup mode)
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <resolv.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc_count.h"

#define IO_TIMEOUT_MS 30000
#define MAX_THREADS 64

static const char *opt_id = "shim", *opt_status, *opt_errno;
static const char *opt_domain, *opt_mxhost, *opt_res = "query";
static const char *opt_addr_api = "gai";
static long opt_n = -1;
static const char *mode_name = "?";
static volatile sig_atomic_t sigchld_seen, reaped;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	fprintf(stderr, "shim_client %s: ", mode_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	errno = saved;
	return -1;
}

static void on_sigchld(int sig)
{
	int saved = errno;

	(void)sig;
	sigchld_seen++;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		reaped++;
	errno = saved;
}

/* ---- addresses and checks -------------------------------------------- */

static int make_addr(const char *addr, int port, struct sockaddr_storage *ss,
		     socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	return fail("bad address %s", addr);
}

static int final_checks(int fds_before)
{
	int rc = 0, n;

	if ((n = proc_count_fds()) != fds_before)
		rc = fail("fd leak: %d open before, %d after", fds_before, n);
	if (sigchld_seen || reaped)
		rc = fail("saw %d SIGCHLD, reaped %d children",
			  (int)sigchld_seen, (int)reaped);
	if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
		rc = fail("waitpid(-1) found a child");
	if (proc_children_of_me("shim_client") != 0)
		rc = fail("a child process is left");
	return rc;
}

static int same_addr(const struct sockaddr_storage *a,
		     const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

static int check_peer(int fd, const struct sockaddr_storage *dest)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return fail("getpeername(%d): %s", fd, strerror(errno));
	if (!same_addr(&ss, dest))
		return fail("getpeername(%d): family %d, not the destination",
			    fd, ss.ss_family);
	return 0;
}

/* ---- SMTP over an fd ---------------------------------------------------- */

struct conn {
	int fd;
	char buf[4096];
	size_t len, off;
};

static int io_wait(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	while ((r = poll(&p, 1, IO_TIMEOUT_MS)) < 0 && errno == EINTR)
		;
	return r == 1 ? 0 : fail("timeout waiting on fd %d", fd);
}

static int send_str(struct conn *c, const char *s)
{
	size_t len = strlen(s);

	while (len > 0) {
		ssize_t n = write(c->fd, s, len);

		if (n < 0 && errno == EAGAIN) {
			if (io_wait(c->fd, POLLOUT) < 0)
				return -1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail("write: %s", strerror(errno));
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

static int get_line(struct conn *c, char *line, size_t size)
{
	size_t n = 0;

	for (;;) {
		if (c->off == c->len) {
			ssize_t got = read(c->fd, c->buf, sizeof(c->buf));

			if (got < 0 && errno == EAGAIN) {
				if (io_wait(c->fd, POLLIN) < 0)
					return -1;
				continue;
			}
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				return fail("read: %s", got == 0 ? "EOF" :
					    strerror(errno));
			c->len = (size_t)got;
			c->off = 0;
		}
		char ch = c->buf[c->off++];

		if (n + 1 < size)
			line[n++] = ch;
		if (ch == '\n')
			break;
	}
	line[n] = '\0';
	return 0;
}

/* Reads a (multi-line) reply; returns its code or -1. */
static int reply(struct conn *c)
{
	char line[1024];

	do {
		if (get_line(c, line, sizeof(line)) < 0)
			return -1;
	} while (strlen(line) >= 4 && line[3] == '-');
	return atoi(line);
}

static int expect(struct conn *c, const char *cmd, int code)
{
	int got;

	if (cmd != NULL && send_str(c, cmd) < 0)
		return -1;
	if ((got = reply(c)) != code)
		return fail("after %s: got %d, wanted %d", cmd ? cmd : "connect",
			    got, code);
	return 0;
}

static int smtp_start(struct conn *c)
{
	if (expect(c, NULL, 220) < 0 || expect(c, "EHLO client.test\r\n", 250) < 0)
		return -1;
	return 0;
}

static int smtp_mail(struct conn *c, const char *id)
{
	char msg[512];

	if (expect(c, "MAIL FROM:<sender@client.test>\r\n", 250) < 0 ||
	    expect(c, "RCPT TO:<rcpt@example.test>\r\n", 250) < 0 ||
	    expect(c, "DATA\r\n", 354) < 0)
		return -1;
	snprintf(msg, sizeof(msg),
		 "Subject: shim test %s\r\nMessage-ID: <%s@client.test>\r\n"
		 "\r\nhello %s\r\n..leading dot\r\n.\r\n", id, id, id);
	return expect(c, msg, 250);
}

static int smtp_session(int fd, const char *id)
{
	struct conn c = { .fd = fd };

	if (smtp_start(&c) < 0 || smtp_mail(&c, id) < 0 ||
	    expect(&c, "QUIT\r\n", 221) < 0)
		return -1;
	return 0;
}

/* ---- connecting ------------------------------------------------------ */

static const char *g_addr;
static int g_port;

/* A socket of the right family with SOCK_* flags, connected (a
 * non-blocking one waited for). -1 on failure, errno kept. */
static int connect_to(const char *addr, int port, int flags,
		      struct sockaddr_storage *dest)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, err;

	if (make_addr(addr, port, &ss, &len) < 0)
		return -1;
	if (dest)
		*dest = ss;
	if ((fd = socket(ss.ss_family, SOCK_STREAM | flags, 0)) < 0)
		return fail("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&ss, len) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		err = errno;
		fail("connect %s:%d: %s", addr, port, strerror(err));
		close(fd);
		errno = err;
		return -1;
	}
	socklen_t l = sizeof(err);

	err = ETIMEDOUT;
	if (io_wait(fd, POLLOUT) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err != 0) {
		fail("non-blocking connect: %s", strerror(err));
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- modes ------------------------------------------------------------- */

static int mode_blocking(void)
{
	int fd = connect_to(g_addr, g_port, 0, NULL), rc;

	if (fd < 0)
		return -1;
	rc = smtp_session(fd, opt_id);
	close(fd);
	return rc;
}

static int mode_repeat(void)
{
	long n = opt_n > 0 ? opt_n : 5;

	for (long i = 0; i < n; i++)
		if (mode_blocking() < 0)
			return -1;
	return 0;
}

static int check_flags(int fd, int nonblock, int cloexec)
{
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);

	if (fl < 0 || fdfl < 0)
		return fail("fcntl: %s", strerror(errno));
	if (!!(fl & O_NONBLOCK) != nonblock)
		return fail("O_NONBLOCK is %d, was %d", !!(fl & O_NONBLOCK),
			    nonblock);
	if (!!(fdfl & FD_CLOEXEC) != cloexec)
		return fail("FD_CLOEXEC is %d, was %d", !!(fdfl & FD_CLOEXEC),
			    cloexec);
	return 0;
}

static int mode_nonblock(void)
{
	int fd = connect_to(g_addr, g_port, SOCK_NONBLOCK, NULL), rc;

	if (fd < 0)
		return -1;
	rc = check_flags(fd, 1, 0);
	if (rc == 0)
		rc = smtp_session(fd, opt_id);
	close(fd);
	return rc;
}

static int mode_flags(void)
{
	for (int nb = 0; nb <= 1; nb++) {
		for (int ce = 0; ce <= 1; ce++) {
			int flags = (nb ? SOCK_NONBLOCK : 0) |
				    (ce ? SOCK_CLOEXEC : 0);
			int fd = connect_to(g_addr, g_port, flags, NULL), rc;

			if (fd < 0)
				return -1;
			rc = check_flags(fd, nb, ce);
			if (rc == 0)
				rc = smtp_session(fd, opt_id);
			close(fd);
			if (rc < 0)
				return fail("with nonblock=%d cloexec=%d", nb, ce);
		}
	}
	return 0;
}

static int getint(int fd, int level, int name, int *v)
{
	socklen_t l = sizeof(*v);

	if (getsockopt(fd, level, name, v, &l) < 0)
		return fail("getsockopt(%d, %d): %s", level, name,
			    strerror(errno));
	if (l != sizeof(*v))
		return fail("getsockopt(%d, %d): length %u", level, name,
			    (unsigned)l);
	return 0;
}

static int setint(int fd, int level, int name, int v)
{
	if (setsockopt(fd, level, name, &v, sizeof(v)) < 0)
		return fail("setsockopt(%d, %d): %s", level, name,
			    strerror(errno));
	return 0;
}

static int sockopt_checks(int fd, const struct sockaddr_storage *dest)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	struct timeval tv = { 10, 0 }, tv2;
	struct tcp_info info;
	int v;

	if (check_peer(fd, dest) < 0)
		return -1;
	/* A truncated getpeername reports the full length. */
	len = 2;
	if (getpeername(fd, (struct sockaddr *)&local, &len) < 0 ||
	    len != (dest->ss_family == AF_INET ? sizeof(struct sockaddr_in) :
						  sizeof(struct sockaddr_in6)))
		return fail("truncated getpeername: length %u", (unsigned)len);
	len = sizeof(local);
	if (getsockname(fd, (struct sockaddr *)&local, &len) < 0)
		return fail("getsockname: %s", strerror(errno));
	if (local.ss_family != dest->ss_family ||
	    ((struct sockaddr_in *)&local)->sin_port == 0)
		return fail("getsockname: family %d, no port", local.ss_family);
	if (getint(fd, SOL_SOCKET, SO_TYPE, &v) < 0 || v != SOCK_STREAM)
		return fail("SO_TYPE %d", v);
	if (getint(fd, SOL_SOCKET, SO_DOMAIN, &v) < 0 || v != dest->ss_family)
		return fail("SO_DOMAIN %d", v);
	if (getint(fd, SOL_SOCKET, SO_PROTOCOL, &v) < 0 || v != IPPROTO_TCP)
		return fail("SO_PROTOCOL %d", v);
	if (getint(fd, SOL_SOCKET, SO_ERROR, &v) < 0 || v != 0)
		return fail("SO_ERROR %d", v);
	if (getint(fd, IPPROTO_TCP, TCP_NODELAY, &v) < 0 || v != 0)
		return fail("TCP_NODELAY initially %d", v);
	if (setint(fd, IPPROTO_TCP, TCP_NODELAY, 1) < 0 ||
	    getint(fd, IPPROTO_TCP, TCP_NODELAY, &v) < 0 || v != 1)
		return fail("TCP_NODELAY after setting: %d", v);
	if (setint(fd, SOL_SOCKET, SO_KEEPALIVE, 1) < 0 ||
	    getint(fd, SOL_SOCKET, SO_KEEPALIVE, &v) < 0 || v != 1)
		return fail("SO_KEEPALIVE after setting: %d", v);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return fail("SO_RCVTIMEO: %s", strerror(errno));
	len = sizeof(tv2);
	if (getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv2, &len) < 0 ||
	    tv2.tv_sec != 10)
		return fail("SO_RCVTIMEO read back %ld", (long)tv2.tv_sec);
	if (dest->ss_family == AF_INET &&
	    (setint(fd, IPPROTO_IP, IP_TOS, 0x10) < 0 ||
	     getint(fd, IPPROTO_IP, IP_TOS, &v) < 0 || v != 0x10))
		return fail("IP_TOS read back %d", v);
	len = sizeof(info);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) < 0 ||
	    info.tcpi_state != TCP_ESTABLISHED)
		return fail("TCP_INFO state %d", info.tcpi_state);
	/* An option TCP does not know stays unknown. */
	if (getsockopt(fd, IPPROTO_TCP, 9999, &v, &len) == 0 ||
	    errno != ENOPROTOOPT)
		return fail("unknown TCP option did not fail ENOPROTOOPT");
	return 0;
}

static int mode_sockopt(void)
{
	struct sockaddr_storage dest;
	int fd = connect_to(g_addr, g_port, 0, &dest), rc;

	if (fd < 0)
		return -1;
	rc = sockopt_checks(fd, &dest);
	if (rc == 0)
		rc = smtp_session(fd, opt_id);
	close(fd);
	return rc;
}

static int stdio_expect(FILE *in, FILE *out, const char *cmd, int code)
{
	char line[1024];

	if (cmd != NULL && (fputs(cmd, out) == EOF || fflush(out) == EOF))
		return fail("fputs: %s", strerror(errno));
	do {
		if (fgets(line, sizeof(line), in) == NULL)
			return fail("fgets: EOF after %s", cmd ? cmd : "connect");
	} while (strlen(line) >= 4 && line[3] == '-');
	if (atoi(line) != code)
		return fail("after %s: %s", cmd ? cmd : "connect", line);
	return 0;
}

static int mode_stdio(void)
{
	int fd = connect_to(g_addr, g_port, 0, NULL), wfd, rc = -1;
	char msg[512];
	FILE *in = NULL, *out = NULL;

	if (fd < 0)
		return -1;
	if ((wfd = dup(fd)) < 0 || (in = fdopen(fd, "r")) == NULL ||
	    (out = fdopen(wfd, "w")) == NULL) {
		fail("fdopen: %s", strerror(errno));
		goto out;
	}
	snprintf(msg, sizeof(msg), "Subject: shim test %s\r\n\r\nhello\r\n.\r\n",
		 opt_id);
	if (stdio_expect(in, out, NULL, 220) == 0 &&
	    stdio_expect(in, out, "EHLO client.test\r\n", 250) == 0 &&
	    stdio_expect(in, out, "MAIL FROM:<s@client.test>\r\n", 250) == 0 &&
	    stdio_expect(in, out, "RCPT TO:<r@example.test>\r\n", 250) == 0 &&
	    stdio_expect(in, out, "DATA\r\n", 354) == 0 &&
	    stdio_expect(in, out, msg, 250) == 0 &&
	    stdio_expect(in, out, "QUIT\r\n", 221) == 0)
		rc = 0;
out:
	if (in)
		fclose(in);
	else
		close(fd);
	if (out)
		fclose(out);
	else if (wfd >= 0)
		close(wfd);
	return rc;
}

static void write_status(const char *s)
{
	FILE *f;

	if (opt_status == NULL || (f = fopen(opt_status, "w")) == NULL)
		return;
	fprintf(f, "%s\n", s);
	fclose(f);
}

static int mode_fork(void)
{
	struct sockaddr_storage dest;
	struct conn c;
	pid_t pid;
	int fd;

	if (opt_status == NULL)
		return fail("needs -s FILE");
	if ((fd = connect_to(g_addr, g_port, 0, &dest)) < 0)
		return -1;
	memset(&c, 0, sizeof(c));
	c.fd = fd;
	if (smtp_start(&c) < 0)
		return -1;
	signal(SIGCHLD, SIG_DFL);
	if ((pid = fork()) < 0)
		return fail("fork: %s", strerror(errno));
	if (pid > 0) {
		close(fd);
		_exit(0);	/* the parent goes away at once */
	}
	/* The child inherits the shim's table: the fd still looks TCP. */
	if (check_peer(fd, &dest) < 0 || smtp_mail(&c, opt_id) < 0 ||
	    expect(&c, "QUIT\r\n", 221) < 0) {
		write_status("fail");
		_exit(1);
	}
	close(fd);
	write_status("ok");
	_exit(0);
}

static int mode_exec(const char *self)
{
	struct conn c;
	char fdstr[16];
	int fd = connect_to(g_addr, g_port, SOCK_CLOEXEC, NULL);

	if (fd < 0)
		return -1;
	memset(&c, 0, sizeof(c));
	c.fd = fd;
	if (smtp_start(&c) < 0)
		return -1;
	if (fcntl(fd, F_SETFD, 0) < 0)
		return fail("F_SETFD: %s", strerror(errno));
	snprintf(fdstr, sizeof(fdstr), "%d", fd);
	execl(self, "shim_client", "-i", opt_id, "continue", fdstr, "0", NULL);
	return fail("exec %s: %s", self, strerror(errno));
}

static int mode_continue(int fd)
{
	struct conn c = { .fd = fd };

	if (smtp_mail(&c, opt_id) < 0 || expect(&c, "QUIT\r\n", 221) < 0)
		return -1;
	close(fd);
	return 0;
}

/* "0,1,2,": the fds open now. */
static void list_fds(char *out, size_t size)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t n = 0;

	out[0] = '\0';
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL && n + 16 < size) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		n += (size_t)snprintf(out + n, size - n, "%s,", e->d_name);
	}
	closedir(d);
}

static void *exec_race_session(void *arg)
{
	int fd = connect_to(g_addr, g_port, SOCK_CLOEXEC, NULL), rc;

	(void)arg;
	if (fd < 0)
		return (void *)1;
	rc = smtp_session(fd, opt_id);
	close(fd);
	return rc == 0 ? NULL : (void *)1;
}

static int mode_exec_race(void)
{
	char before[1024];
	pthread_t t;
	pid_t pid;
	void *r;
	int st;

	list_fds(before, sizeof(before));
	signal(SIGCHLD, SIG_DFL);	/* this child is ours */
	if (pthread_create(&t, NULL, exec_race_session, NULL) != 0)
		return fail("pthread_create");
	usleep(300 * 1000);	/* the relay delays its verdict longer */
	if ((pid = fork()) == 0) {
		execl("/proc/self/exe", "shim_client", "fdsubset", before, "0",
		      NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return fail("fork/waitpid: %s", strerror(errno));
	pthread_join(t, &r);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return fail("the exec'd child inherited an fd (status %d)", st);
	if (r != NULL)
		return fail("the session failed");
	return 0;
}

/* fdsubset LIST: every open fd is in LIST ("0,1,2,"). */
static int mode_fdsubset(const char *allowed)
{
	char now[1024], *p, *save = NULL;
	int rc = 0;

	list_fds(now, sizeof(now));
	for (p = strtok_r(now, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		char item[32];

		snprintf(item, sizeof(item), ",%s,", p);
		if (strstr(allowed, item + 1) != allowed &&
		    strstr(allowed, item) == NULL)
			rc = fail("fd %s inherited (allowed: %s)", p, allowed);
	}
	return rc;
}

static int mode_quit_noread(void)
{
	struct conn c;
	int fd = connect_to(g_addr, g_port, 0, NULL);

	if (fd < 0)
		return -1;
	memset(&c, 0, sizeof(c));
	c.fd = fd;
	if (smtp_start(&c) < 0 || smtp_mail(&c, opt_id) < 0 ||
	    send_str(&c, "QUIT\r\n") < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void *thread_main(void *arg)
{
	long k = (long)arg;
	char id[128];
	int fd;

	snprintf(id, sizeof(id), "%s-t%ld", opt_id, k);
	if ((fd = connect_to(g_addr, g_port, 0, NULL)) < 0)
		return (void *)1;
	if (smtp_session(fd, id) < 0) {
		close(fd);
		return (void *)1;
	}
	close(fd);
	return NULL;
}

static int mode_threads(void)
{
	long n = opt_n > 0 ? opt_n : 16, bad = 0;
	pthread_t t[MAX_THREADS];

	if (n > MAX_THREADS)
		n = MAX_THREADS;
	for (long k = 0; k < n; k++)
		if (pthread_create(&t[k], NULL, thread_main, (void *)k) != 0)
			return fail("pthread_create");
	for (long k = 0; k < n; k++) {
		void *r;

		pthread_join(t[k], &r);
		bad += r != NULL;
	}
	return bad ? fail("%ld of %ld threads failed", bad, n) : 0;
}

static int is_unix(int fd)
{
	int v;
	socklen_t l = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &l) == 0 &&
	       v == AF_UNIX;
}

static int mode_dup(void)
{
	struct sockaddr_storage dest;
	int fd = connect_to(g_addr, g_port, 0, &dest), d1, d2, d3, d4, rc = -1;
	int sv[2];

	if (fd < 0)
		return -1;
	d1 = dup(fd);
	d2 = dup2(fd, 100);
	d3 = fcntl(fd, F_DUPFD_CLOEXEC, 200);
	d4 = dup3(fd, 150, O_CLOEXEC);
	if (d1 < 0 || d2 != 100 || d3 < 200 || d4 != 150) {
		fail("dup: %s", strerror(errno));
		goto out;
	}
	if (check_peer(d1, &dest) < 0 || check_peer(d2, &dest) < 0 ||
	    check_peer(d3, &dest) < 0 || check_peer(d4, &dest) < 0)
		goto out;
	close(fd);
	fd = -1;
	if (check_peer(d2, &dest) < 0)
		goto out;
	/* d3 closed where no hook sees it, its number taken by a socketpair
	 * end: it must not pass for the relayed connection. */
	syscall(SYS_close, d3);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		goto out;
	if (syscall(SYS_dup3, sv[0], d3, O_CLOEXEC) < 0) {
		fail("raw dup3: %s", strerror(errno));
		goto out;
	}
	if (!is_unix(d3) || !is_unix(sv[1])) {
		fail("a recycled fd passes for the relayed connection");
		goto out;
	}
	close(sv[0]);
	close(sv[1]);
	/* dup2 over a relayed copy: that number is no longer relayed. */
	if (dup2(d3, d4) != d4 || !is_unix(d4)) {
		fail("dup2 over a relayed fd still looks relayed");
		goto out;
	}
	rc = smtp_session(d2, opt_id);
out:
	if (fd >= 0)
		close(fd);
	close(d1);
	close(d2);
	close(d3);
	close(d4);
	return rc;
}

static int mode_http(void)
{
	struct sockaddr_storage dest;
	struct conn c;
	char line[256];
	int fd = connect_to(g_addr, g_port, 0, &dest), rc = -1;

	if (fd < 0)
		return -1;
	memset(&c, 0, sizeof(c));
	c.fd = fd;
	if (check_peer(fd, &dest) < 0 || is_unix(fd))
		goto out;
	if (send_str(&c, "GET / HTTP/1.0\r\n\r\n") < 0 ||
	    get_line(&c, line, sizeof(line)) < 0)
		goto out;
	if (strncmp(line, "HTTP/1.0 200", 12) != 0) {
		fail("HTTP answer: %s", line);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

static int mode_udp(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, rc = 0;

	if (make_addr(g_addr, g_port, &ss, &len) < 0)
		return -1;
	if ((fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return fail("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&ss, len) < 0)
		rc = fail("UDP connect: %s", strerror(errno));
	else if (check_peer(fd, &ss) < 0 || is_unix(fd))
		rc = -1;
	close(fd);
	return rc;
}

static int errno_by_name(const char *s)
{
	static const struct {
		const char *name;
		int value;
	} t[] = { { "ECONNREFUSED", ECONNREFUSED }, { "ETIMEDOUT", ETIMEDOUT },
		  { "ENETUNREACH", ENETUNREACH }, { "EHOSTUNREACH", EHOSTUNREACH },
		  { "ECONNRESET", ECONNRESET }, { "EACCES", EACCES },
		  { "EPERM", EPERM } };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].name) == 0)
			return t[i].value;
	return atoi(s);
}

static int mode_expect_errno(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int want, fd, rc = 0;

	if (opt_errno == NULL)
		return fail("needs -e ERRNO");
	want = errno_by_name(opt_errno);
	if (make_addr(g_addr, g_port, &ss, &len) < 0)
		return -1;
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return fail("socket: %s", strerror(errno));
	errno = 0;
	if (connect(fd, (struct sockaddr *)&ss, len) == 0)
		rc = fail("connect succeeded, wanted %s", opt_errno);
	else if (errno != want)
		rc = fail("connect: errno %d (%s), wanted %d (%s)", errno,
			  strerror(errno), want, opt_errno);
	if (fcntl(fd, F_GETFD) != FD_CLOEXEC)
		rc = fail("the fd is no longer valid or lost FD_CLOEXEC");
	if (is_unix(fd))
		rc = fail("a failed connect left an AF_UNIX socket");
	close(fd);
	return rc;
}

/* lookup: the names a mail sender would look up, then connect. */
static int resolve_mx(void)
{
	unsigned char ans[4096], q[512];
	struct __res_state st;
	int n = -1, ql;

	if (opt_domain == NULL || strcmp(opt_res, "none") == 0)
		return 0;
	memset(&st, 0, sizeof(st));
	if (strcmp(opt_res, "query") == 0)
		n = res_query(opt_domain, C_IN, T_MX, ans, sizeof(ans));
	else if (strcmp(opt_res, "search") == 0)
		n = res_search(opt_domain, C_IN, T_MX, ans, sizeof(ans));
	else if (strcmp(opt_res, "send") == 0 || strcmp(opt_res, "nsend") == 0) {
		if (res_ninit(&st) < 0)
			return fail("res_ninit");
		ql = res_nmkquery(&st, QUERY, opt_domain, C_IN, T_MX, NULL, 0,
				  NULL, q, sizeof(q));
		if (ql > 0)
			n = strcmp(opt_res, "send") == 0 ?
				    res_send(q, ql, ans, sizeof(ans)) :
				    res_nsend(&st, q, ql, ans, sizeof(ans));
		res_nclose(&st);
	} else {
		if (res_ninit(&st) < 0)
			return fail("res_ninit");
		n = strcmp(opt_res, "nquery") == 0 ?
			    res_nquery(&st, opt_domain, C_IN, T_MX, ans, sizeof(ans)) :
			    res_nsearch(&st, opt_domain, C_IN, T_MX, ans, sizeof(ans));
		res_nclose(&st);
	}
	return n > 0 ? 0 : fail("MX look-up of %s failed", opt_domain);
}

static int resolve_host(char *out, size_t size)
{
	struct hostent he, *h = NULL;
	char buf[4096];
	int herr;

	if (opt_mxhost == NULL)
		return fail("needs -m HOST");
	if (strcmp(opt_addr_api, "gai") == 0) {
		struct addrinfo hints, *res;

		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(opt_mxhost, NULL, &hints, &res) != 0)
			return fail("getaddrinfo %s failed", opt_mxhost);
		if (res->ai_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr,
				  out, (socklen_t)size);
		else
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr,
				  out, (socklen_t)size);
		freeaddrinfo(res);
		return 0;
	}
	if (strcmp(opt_addr_api, "ghbn") == 0)
		h = gethostbyname(opt_mxhost);
	else if (strcmp(opt_addr_api, "ghbn2") == 0)
		h = gethostbyname2(opt_mxhost, AF_INET);
	else if (strcmp(opt_addr_api, "ghbn_r") == 0)
		gethostbyname_r(opt_mxhost, &he, buf, sizeof(buf), &h, &herr);
	else if (strcmp(opt_addr_api, "ghbn2_r") == 0)
		gethostbyname2_r(opt_mxhost, AF_INET, &he, buf, sizeof(buf), &h,
				 &herr);
	if (h == NULL || h->h_addr_list[0] == NULL)
		return fail("%s %s failed", opt_addr_api, opt_mxhost);
	inet_ntop(h->h_addrtype, h->h_addr_list[0], out, (socklen_t)size);
	return 0;
}

static int mode_lookup(void)
{
	char addr[INET6_ADDRSTRLEN];
	int fd, rc;

	if (resolve_mx() < 0 || resolve_host(addr, sizeof(addr)) < 0)
		return -1;
	if ((fd = connect_to(addr, g_port, 0, NULL)) < 0)
		return -1;
	rc = smtp_session(fd, opt_id);
	close(fd);
	return rc;
}

static double ns_per_call(const struct timespec *t0, const struct timespec *t1,
			  long n)
{
	return ((double)(t1->tv_sec - t0->tv_sec) * 1e9 +
		(double)(t1->tv_nsec - t0->tv_nsec)) / (double)n;
}

/* connect() to a closed port (the kernel's full path, refused), then on
 * a bad fd (nearly nothing but the call itself: the hook's own cost). */
static int mode_bench(void)
{
	struct sockaddr_storage ss;
	struct timespec t0, t1, t2;
	socklen_t len;
	long n = opt_n > 0 ? opt_n : 100000, refused = 0, badf = 0;
	int fd;

	if (make_addr(g_addr, g_port, &ss, &len) < 0)
		return -1;
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return fail("socket: %s", strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++)
		if (connect(fd, (struct sockaddr *)&ss, len) < 0 &&
		    errno == ECONNREFUSED)
			refused++;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (long i = 0; i < n; i++)
		if (connect(-1, (struct sockaddr *)&ss, len) < 0 &&
		    errno == EBADF)
			badf++;
	clock_gettime(CLOCK_MONOTONIC, &t2);
	close(fd);
	printf("bench: %ld connect() to %s:%d, %ld refused, %.0f ns/call; "
	       "on a bad fd %.0f ns/call\n", n, g_addr, g_port, refused,
	       ns_per_call(&t0, &t1, n), ns_per_call(&t1, &t2, n));
	return refused == n && badf == n ? 0 :
	       fail("not every connect was refused");
}

static void usage(void)
{
	fprintf(stderr, "usage: shim_client [-i ID] [-n N] [-s FILE] [-e ERRNO] "
		"[-d DOMAIN] [-m HOST] [-r API] [-a API] MODE ADDR PORT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	int c, rc, fds_before;

	while ((c = getopt(argc, argv, "+i:n:s:e:d:m:r:a:")) != -1) {
		switch (c) {
		case 'i': opt_id = optarg; break;
		case 'n': opt_n = atol(optarg); break;
		case 's': opt_status = optarg; break;
		case 'e': opt_errno = optarg; break;
		case 'd': opt_domain = optarg; break;
		case 'm': opt_mxhost = optarg; break;
		case 'r': opt_res = optarg; break;
		case 'a': opt_addr_api = optarg; break;
		default: usage();
		}
	}
	if (argc - optind != 3)
		usage();
	mode_name = argv[optind];
	g_addr = argv[optind + 1];
	g_port = atoi(argv[optind + 2]);
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(mode_name, "continue") == 0)
		return mode_continue(atoi(g_addr)) == 0 ? 0 : 1;
	if (strcmp(mode_name, "fdsubset") == 0)
		return mode_fdsubset(g_addr) == 0 ? 0 : 1;
	if (strcmp(mode_name, "bench") == 0)
		return mode_bench() == 0 ? 0 : 1;

	/* A mail sender's SIGCHLD handler and waitpid(-1) loop: any child
	 * of the shim would be reaped here and counted. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	fds_before = proc_count_fds();

	if (strcmp(mode_name, "blocking") == 0)
		rc = mode_blocking();
	else if (strcmp(mode_name, "repeat") == 0)
		rc = mode_repeat();
	else if (strcmp(mode_name, "nonblock") == 0)
		rc = mode_nonblock();
	else if (strcmp(mode_name, "flags") == 0)
		rc = mode_flags();
	else if (strcmp(mode_name, "sockopt") == 0)
		rc = mode_sockopt();
	else if (strcmp(mode_name, "stdio") == 0)
		rc = mode_stdio();
	else if (strcmp(mode_name, "fork") == 0)
		return mode_fork() == 0 ? 0 : 1;
	else if (strcmp(mode_name, "exec") == 0)
		return mode_exec("/proc/self/exe") == 0 ? 0 : 1;
	else if (strcmp(mode_name, "exec-race") == 0)
		rc = mode_exec_race();
	else if (strcmp(mode_name, "quit-noread") == 0)
		rc = mode_quit_noread();
	else if (strcmp(mode_name, "threads") == 0)
		rc = mode_threads();
	else if (strcmp(mode_name, "dup") == 0)
		rc = mode_dup();
	else if (strcmp(mode_name, "lookup") == 0)
		rc = mode_lookup();
	else if (strcmp(mode_name, "http") == 0)
		rc = mode_http();
	else if (strcmp(mode_name, "udp") == 0)
		rc = mode_udp();
	else if (strcmp(mode_name, "expect-errno") == 0)
		rc = mode_expect_errno();
	else
		usage();
	if (final_checks(fds_before) < 0)
		rc = -1;
	return rc == 0 ? 0 : 1;
}
