/*
 * shim_fake_relay.c - a stand-in for mtasts-relay in the shim's tests
 *
 * SYNOPSIS
 *	MTASTS_RELAY=.../shim_fake_relay  (started by libmtasts.so)
 *	  mtasts-relay --dest ADDR --port N [--mx HOST] [--domain DOMAIN]
 *
 * DESCRIPTION
 *	Speaks the shim's side of relay_proto.h without TLS, so the shim's
 *	mechanics can be tested on their own. FAKE_RELAY_MODE picks the
 *	verdict:
 *
 *	  relay        (default) connect fd 3 to ADDR:N, send RELAY with its
 *	               local address, then copy bytes both ways (the
 *	               server's greeting first) until both sides are done;
 *	  refuse[:E]   REFUSE with errno E (a name such as ETIMEDOUT or a
 *	               number; ECONNREFUSED by default);
 *	  handoff      HANDOFF, socket untouched;
 *	  garbage      a verdict-sized block with a wrong magic;
 *	  badversion   a verdict with version 99;
 *	  short        half a verdict, then exit;
 *	  eof          exit without a verdict;
 *	  sleep[:S]    say nothing for S seconds (default 30), then exit.
 *
 *	A relay started while FAKE_RELAY_DEPTH is set (the shim intercepted
 *	a relay's own connect) logs "mode=recursion" and exits at once.
 *
 *	FAKE_RELAY_DELAY_MS delays the verdict. When FAKE_RELAY_LOG names a
 *	file, one line per run is appended: the mode, argv, and what the
 *	relay found about its environment as the contract requires it:
 *	"fds=ok" (0-2 /dev/null, 3 a TCP socket, 4 the application's
 *	channel: a loopback TCP connection or the AF_UNIX fallback, nothing
 *	else open), "app=tcp4|tcp6|unix" (which channel), "sid=ok" (own
 *	session), "sigmask=ok" (nothing blocked), "preload=none|clean|shim" (LD_PRELOAD absent,
 *	without libmtasts.so, or still naming it: the shim must take itself
 *	out; ld_preload= its value). Tests grep these lines; the file existing at all says the
 *	relay ran.
 */
#include "../../shim/relay_proto.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define TCP MTS_RELAY_TCP_FD
#define APP MTS_RELAY_APP_FD

static const struct {
	const char *name;
	int value;
} errnames[] = {
	{ "ECONNREFUSED", ECONNREFUSED }, { "ETIMEDOUT", ETIMEDOUT },
	{ "ENETUNREACH", ENETUNREACH },	  { "EHOSTUNREACH", EHOSTUNREACH },
	{ "ECONNRESET", ECONNRESET },	  { "EACCES", EACCES },
	{ "EPERM", EPERM },		  { "EINPROGRESS", EINPROGRESS },
};

static int errno_of(const char *s)
{
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (strcmp(s, errnames[i].name) == 0)
			return errnames[i].value;
	return atoi(s);
}

static int is_devnull(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) &&
	       major(st.st_rdev) == 1 && minor(st.st_rdev) == 3;
}

static int sock_int(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);

	if (getsockopt(fd, level, name, &v, &l) < 0)
		return -1;
	return v;
}

/* What the shim gave us as fd 4: "unix" (the socketpair fallback),
 * "tcp4" or "tcp6" (a TCP connection over loopback), or "other". */
static const char *app_kind(void)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	int family = sock_int(APP, SOL_SOCKET, SO_DOMAIN);

	if (family == AF_UNIX)
		return "unix";
	if ((family != AF_INET && family != AF_INET6) ||
	    sock_int(APP, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_TCP ||
	    getpeername(APP, (struct sockaddr *)&peer, &len) < 0)
		return "other";
	if (family == AF_INET &&
	    ((struct sockaddr_in *)&peer)->sin_addr.s_addr ==
		    htonl(INADDR_LOOPBACK))
		return "tcp4";
	if (family == AF_INET6 &&
	    IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&peer)->sin6_addr))
		return "tcp6";
	return "other";
}

/* "ok", or what is wrong with fds 0-4 and the rest. */
static void check_fds(char *out, size_t size)
{
	DIR *d;
	struct dirent *e;
	size_t n = 0;

	out[0] = '\0';
	for (int fd = 0; fd <= 2; fd++)
		if (!is_devnull(fd))
			n += (size_t)snprintf(out + n, size - n, "%d-not-null,", fd);
	if (sock_int(TCP, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_TCP)
		n += (size_t)snprintf(out + n, size - n, "3-not-tcp,");
	if (sock_int(APP, SOL_SOCKET, SO_TYPE) != SOCK_STREAM ||
	    strcmp(app_kind(), "other") == 0)
		n += (size_t)snprintf(out + n, size - n, "4-not-channel,");
	if ((d = opendir("/proc/self/fd")) != NULL) {
		int self = dirfd(d);

		while ((e = readdir(d)) != NULL && n < size - 16) {
			int fd = atoi(e->d_name);

			if (e->d_name[0] == '.' || fd <= APP || fd == self)
				continue;
			n += (size_t)snprintf(out + n, size - n, "%d-open,", fd);
		}
		closedir(d);
	}
	if (n == 0)
		snprintf(out, size, "ok");
}

static void log_run(int argc, char **argv, const char *mode)
{
	const char *path = getenv("FAKE_RELAY_LOG"), *preload;
	char fds[512], line[2048];
	sigset_t mask;
	int n, fd, blocked = 0;

	if (path == NULL)
		return;
	check_fds(fds, sizeof(fds));
	sigprocmask(SIG_SETMASK, NULL, &mask);
	for (int s = 1; s < NSIG; s++)
		if (sigismember(&mask, s) == 1)
			blocked++;
	preload = getenv("LD_PRELOAD");
	n = snprintf(line, sizeof(line), "mode=%s fds=%s sid=%s sigmask=%s "
		     "preload=%s ld_preload=%s pid=%ld app=%s argv=", mode, fds,
		     getsid(0) == getpid() ? "ok" : "bad", blocked ? "bad" : "ok",
		     preload == NULL ? "none" :
		     strstr(preload, "libmtasts") != NULL ? "shim" : "clean",
		     preload == NULL ? "-" : preload, (long)getpid(),
		     app_kind());
	for (int i = 0; i < argc && n > 0 && (size_t)n < sizeof(line); i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%s%s",
			      i ? " " : "", argv[i]);
	if (n < 0 || (size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		(void)!write(fd, line, (size_t)n);
		close(fd);
	}
}

static void send_verdict(const struct mts_verdict *v, size_t len)
{
	const char *delay = getenv("FAKE_RELAY_DELAY_MS");

	if (delay != NULL) {
		long ms = atol(delay);
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

		nanosleep(&ts, NULL);
	}
	(void)!write(APP, v, len);
}

static void verdict(int action, int error, const struct sockaddr_storage *local,
		    socklen_t local_len)
{
	struct mts_verdict v;

	memset(&v, 0, sizeof(v));
	v.magic = MTS_VERDICT_MAGIC;
	v.version = MTS_VERDICT_VERSION;
	v.action = action;
	v.error = error;
	if (local != NULL) {
		v.local = *local;
		v.local_len = local_len;
	}
	send_verdict(&v, sizeof(v));
}

static int wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, 30000) == 1 ? 0 : -1;
}

/* Connects fd 3 (blocking or not, as the application made it). */
static int connect_leg(const char *dest, const char *port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	int family = sock_int(TCP, SOL_SOCKET, SO_DOMAIN), err;
	socklen_t len;
	struct in_addr a4;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET && inet_pton(AF_INET, dest, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)atoi(port));
		len = sizeof(*in);
	} else if (family == AF_INET6) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)atoi(port));
		len = sizeof(*in6);
		if (inet_pton(AF_INET, dest, &a4) == 1) {	/* v4-mapped */
			in6->sin6_addr.s6_addr[10] = 0xff;
			in6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(in6->sin6_addr.s6_addr + 12, &a4, 4);
		} else if (inet_pton(AF_INET6, dest, &in6->sin6_addr) != 1)
			return EINVAL;
	} else
		return EAFNOSUPPORT;
	if (connect(TCP, (struct sockaddr *)&ss, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	if (wait_fd(TCP, POLLOUT) < 0)
		return ETIMEDOUT;
	err = sock_int(TCP, SOL_SOCKET, SO_ERROR);
	return err < 0 ? EIO : err;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
			if (errno == EAGAIN && wait_fd(fd, POLLOUT) < 0)
				return -1;
			continue;
		}
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copies both ways; each direction's EOF becomes a half-close. */
static void pump(void)
{
	struct pollfd p[2] = { { .fd = TCP, .events = POLLIN },
			       { .fd = APP, .events = POLLIN } };
	int open_dirs = 2;
	char buf[16384];

	while (open_dirs > 0) {
		if (poll(p, 2, 120000) <= 0)
			return;
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				shutdown(i == 0 ? APP : TCP, SHUT_WR);
				p[i].fd = -1;
				open_dirs--;
				continue;
			}
			if (write_all(i == 0 ? APP : TCP, buf, (size_t)n) < 0)
				return;
		}
	}
}

int main(int argc, char **argv)
{
	const char *mode = getenv("FAKE_RELAY_MODE"), *dest = NULL, *port = NULL;
	struct sockaddr_storage local;
	socklen_t local_len = sizeof(local);
	int err;

	if (mode == NULL || mode[0] == '\0')
		mode = "relay";
	/* Safety net: were the shim to intercept our own connect(), it
	 * would start another relay, and so on. The environment reaches the
	 * next relay unchanged, so a depth counter stops that at once. */
	if (getenv("FAKE_RELAY_DEPTH") != NULL) {
		log_run(argc, argv, "recursion");
		return 1;
	}
	setenv("FAKE_RELAY_DEPTH", "1", 1);
	log_run(argc, argv, mode);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--dest") == 0)
			dest = argv[i + 1];
		else if (strcmp(argv[i], "--port") == 0)
			port = argv[i + 1];
	}
	if (strncmp(mode, "refuse", 6) == 0) {
		verdict(MTS_VERDICT_REFUSE, mode[6] == ':' ? errno_of(mode + 7) :
			ECONNREFUSED, NULL, 0);
		return 0;
	}
	if (strcmp(mode, "handoff") == 0) {
		verdict(MTS_VERDICT_HANDOFF, 0, NULL, 0);
		return 0;
	}
	if (strcmp(mode, "garbage") == 0) {
		struct mts_verdict v;

		memset(&v, 0x5a, sizeof(v));
		send_verdict(&v, sizeof(v));
		return 0;
	}
	if (strcmp(mode, "badversion") == 0) {
		struct mts_verdict v;

		memset(&v, 0, sizeof(v));
		v.magic = MTS_VERDICT_MAGIC;
		v.version = 99;
		v.action = MTS_VERDICT_RELAY;
		send_verdict(&v, sizeof(v));
		return 0;
	}
	if (strcmp(mode, "short") == 0) {
		struct mts_verdict v;

		memset(&v, 0, sizeof(v));
		v.magic = MTS_VERDICT_MAGIC;
		v.version = MTS_VERDICT_VERSION;
		v.action = MTS_VERDICT_RELAY;
		send_verdict(&v, sizeof(v) / 2);
		return 0;
	}
	if (strcmp(mode, "eof") == 0)
		return 0;
	if (strncmp(mode, "sleep", 5) == 0) {
		sleep(mode[5] == ':' ? (unsigned)atoi(mode + 6) : 30);
		return 0;
	}
	if (dest == NULL || port == NULL) {
		verdict(MTS_VERDICT_REFUSE, EINVAL, NULL, 0);
		return 2;
	}
	if ((err = connect_leg(dest, port)) != 0) {
		verdict(MTS_VERDICT_REFUSE, err, NULL, 0);
		return 1;
	}
	if (getsockname(TCP, (struct sockaddr *)&local, &local_len) < 0)
		local_len = 0;
	verdict(MTS_VERDICT_RELAY, 0, &local, local_len);
	pump();
	return 0;
}
