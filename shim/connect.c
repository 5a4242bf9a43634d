/*
 * connect.c - the connect() hook: hand SMTP connections to the relay
 *
 * SYNOPSIS
 *	int connect(int fd, const struct sockaddr *addr, socklen_t len);
 *
 *	if (mts_connect_wanted(addr, len))
 *		rc = mts_connect_worker(fd, addr, len);
 *
 * DESCRIPTION
 *	The worker is shared by every way of opening a TCP connection that
 *	the shim sees: connect(), sendto()/sendmsg()/sendmmsg() with
 *	MSG_FASTOPEN (sendto.c) and syscall(SYS_connect, ...) (syscall.c).
 *
 *	Fast path: anything but an AF_INET/AF_INET6 address whose port is
 *	in MTASTS_PORTS goes straight to libc (a family and a port compare,
 *	no lock, no system call of ours). So do sockets that are not TCP
 *	stream sockets, and calls made while the thread is inside the shim.
 *
 *	Otherwise (see relay_proto.h): the application's channel to the
 *	relay (loopback.c: a loopback TCP connection of the socket's own
 *	family, an AF_UNIX socketpair when that is unusable), a CLOEXEC dup
 *	of the application's still unconnected socket as the relay's TCP
 *	leg, the relay started (spawn.c) with --dest/--port and, when the
 *	process's look-ups taught us (names.c), --mx and --domain. Then the
 *	shim waits, at most MTASTS_TIMEOUT + 5 seconds and across EINTR, for
 *	one struct mts_verdict:
 *
 *	  RELAY    the channel's end replaces the application's fd (dup3), with
 *	           exactly the application's O_NONBLOCK and FD_CLOEXEC; the
 *	           fd is recorded (fdtable.c) so it keeps looking like the
 *	           TCP socket; connect() returns 0, also for a non-blocking
 *	           socket (completing at once is legal);
 *	  REFUSE   -1 with errno = the verdict's error;
 *	  HANDOFF  the real connect() on the application's fd, its result
 *	           and errno as they are.
 *
 *	Fail closed: EOF, a malformed verdict or a failed spawn give -1
 *	ECONNREFUSED, no verdict in time -1 ETIMEDOUT. After a refusal or a
 *	failure the application's fd is swapped for a fresh unconnected
 *	socket of the same kind (same flags), because the relay may have
 *	connected, or still be using, the socket it was handed; POSIX leaves
 *	a socket's state unspecified after a failed connect() anyway.
 *
 *	TCP_FASTOPEN_CONNECT: the relay's leg is a dup of the application's
 *	socket and shares its options. With that option set, the kernel
 *	would let the relay's connect() return at once and send no SYN until
 *	the first write, while the relay first waits for the server's
 *	greeting. So the option is cleared on the socket before the relay
 *	gets it, remembered for getsockopt() on the relayed fd, and set
 *	again on the socket the application keeps after a hand-off or a
 *	refusal.
 *
 * BUGS
 *	The calling thread blocks until the verdict, also for a non-blocking
 *	socket.
 */
#include "shim.h"
#include "relay_proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define VERDICT_MARGIN_S 5
#define RELAY_ARGV_MAX 12
#define HANDOFF MTS_CONNECT_PASS	/* worker result: do the real call */
#define SIN6_LEN_RFC2133 24		/* sockaddr_in6 without scope id */

/* The destination as the application gave it, and as the relay gets it. */
struct dest {
	int family;				/* of the socket and address */
	uint16_t port;				/* host order */
	struct sockaddr_storage peer;		/* what getpeername() returns */
	socklen_t peer_len;
	char text[INET6_ADDRSTRLEN];		/* v4-mapped: plain IPv4 */
	int addr_family;			/* of text */
	unsigned char addr[16];
};

/* The fast-path test: family, length, port. The address may be
 * unaligned: read its fields with memcpy. sin_port and sin6_port share
 * their offset. Linux accepts an IPv6 address without sin6_scope_id
 * (RFC 2133's 24 bytes), so must we: anything the kernel would connect
 * must not slip past. */
int mts_connect_wanted(const struct sockaddr *sa, socklen_t len)
{
	sa_family_t family;
	uint16_t port;

	if (sa == NULL || len < sizeof(struct sockaddr_in))
		return 0;
	memcpy(&family, sa, sizeof(family));
	if (family == AF_INET6 && len < SIN6_LEN_RFC2133)
		return 0;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	memcpy(&port, (const char *)sa + offsetof(struct sockaddr_in, sin_port),
	       sizeof(port));
	return mts_port_wanted(ntohs(port));
}

_Static_assert(offsetof(struct sockaddr_in, sin_port) ==
	       offsetof(struct sockaddr_in6, sin6_port),
	       "sin_port and sin6_port at the same offset");

static void dest_from(const struct sockaddr *sa, socklen_t len, struct dest *d)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
						  0, 0xff, 0xff };

	sa_family_t family;

	memcpy(&family, sa, sizeof(family));
	memset(d, 0, sizeof(*d));
	d->family = family;
	if (family == AF_INET) {
		struct sockaddr_in in;

		memcpy(&in, sa, sizeof(in));
		memset(in.sin_zero, 0, sizeof(in.sin_zero));
		memcpy(&d->peer, &in, sizeof(in));
		d->peer_len = sizeof(in);
		d->port = ntohs(in.sin_port);
		d->addr_family = AF_INET;
		memcpy(d->addr, &in.sin_addr, 4);
	} else {
		struct sockaddr_in6 in6;

		memset(&in6, 0, sizeof(in6));
		memcpy(&in6, sa, len < sizeof(in6) ? len : sizeof(in6));
		in6.sin6_flowinfo = 0;
		memcpy(&d->peer, &in6, sizeof(in6));
		d->peer_len = sizeof(in6);
		d->port = ntohs(in6.sin6_port);
		if (memcmp(&in6.sin6_addr, mapped, sizeof(mapped)) == 0) {
			d->addr_family = AF_INET;
			memcpy(d->addr, in6.sin6_addr.s6_addr + 12, 4);
		} else {
			d->addr_family = AF_INET6;
			memcpy(d->addr, &in6.sin6_addr, 16);
		}
	}
	if (inet_ntop(d->addr_family, d->addr, d->text, sizeof(d->text)) ==
	    NULL)
		d->text[0] = '\0';
}

/* An int-valued SOL_SOCKET option, or -1. */
static int sockopt_int(int fd, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);

	if (mts_real.getsockopt(fd, SOL_SOCKET, name, &v, &l) < 0)
		return -1;
	return v;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t0->tv_sec) * 1000 +
	       (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Reads exactly one verdict, never a byte of the SMTP stream behind it:
 * a TCP channel has no message boundaries, the verdict may come in
 * pieces with the greeting right behind it, so each recv() asks for the
 * bytes still missing and no more. 0, -ETIMEDOUT or -ECONNREFUSED (EOF,
 * error, malformed). */
static int read_verdict(int fd, struct mts_verdict *v)
{
	long limit = ((long)mts_cfg.timeout + VERDICT_MARGIN_S) * 1000;
	unsigned char *p = (unsigned char *)v;
	struct timespec t0;
	size_t got = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < sizeof(*v)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long left = limit - ms_since(&t0);
		ssize_t n;
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno != EINTR)
			return -ECONNREFUSED;
		if (r <= 0)
			continue;
		n = recv(fd, p + got, sizeof(*v) - got, MSG_DONTWAIT);
		if (n == 0)
			return -ECONNREFUSED;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -ECONNREFUSED;
		}
		got += (size_t)n;
	}
	if (v->magic != MTS_VERDICT_MAGIC ||
	    v->version != MTS_VERDICT_VERSION ||
	    v->local_len > sizeof(v->local) ||
	    (v->action != MTS_VERDICT_RELAY &&
	     v->action != MTS_VERDICT_REFUSE &&
	     v->action != MTS_VERDICT_HANDOFF))
		return -ECONNREFUSED;
	return 0;
}

/* The errno a refusal reports; odd values (0, "in progress" ones that
 * would make the application wait for nothing) become ECONNREFUSED. */
static int refusal_errno(int32_t e)
{
	if (e <= 0 || e >= 4096 || e == EINPROGRESS || e == EALREADY ||
	    e == EAGAIN || e == EINTR)
		return ECONNREFUSED;
	return e;
}

/* Puts a fresh, unconnected socket of the same kind under the
 * application's fd, keeping its O_NONBLOCK and FD_CLOEXEC. Best effort. */
static void detach(int fd, int family, int fl, int fdfl, int tfo)
{
	int type = SOCK_STREAM | SOCK_CLOEXEC;
	int s;

	if (fl & O_NONBLOCK)
		type |= SOCK_NONBLOCK;
	s = socket(family, type, IPPROTO_TCP);
	if (s < 0)
		return;
	if (tfo)
		mts_real.setsockopt(s, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &tfo,
				    sizeof(tfo));
	mts_real.dup3(s, fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0);
	mts_real.close(s);
}

/* Builds what fdtable.c remembers about the relayed fd. */
static void conn_from(struct mts_conn *c, const struct dest *d,
		      const struct mts_verdict *v, const struct stat *st)
{
	size_t need = d->family == AF_INET ? sizeof(struct sockaddr_in) :
					     sizeof(struct sockaddr_in6);

	memset(c, 0, sizeof(*c));
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	c->family = d->family;
	c->protocol = IPPROTO_TCP;
	c->peer = d->peer;
	c->peer_len = d->peer_len;
	if (v->local_len >= need && v->local_len <= sizeof(v->local) &&
	    v->local.ss_family == d->family) {
		memcpy(&c->local, &v->local, v->local_len);
		c->local_len = v->local_len;
	} else {
		/* No usable local address: the wildcard, as for a socket
		 * the kernel has not bound yet. */
		c->local.ss_family = (sa_family_t)d->family;
		c->local_len = (socklen_t)need;
	}
}

/* RELAY: the channel's end takes the application's fd. 0 or -errno. */
static int install(int fd, int pair, int fl, int fdfl, int tfo,
		   const struct dest *d, const struct mts_verdict *v)
{
	struct mts_conn c;
	struct stat st;
	int rc;

	if (mts_real.dup3(pair, fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0)
		return -ECONNREFUSED;
	if (fl & O_NONBLOCK) {
		int now = mts_real.fcntl(fd, F_GETFL);

		if (now < 0 ||
		    mts_real.fcntl(fd, F_SETFL, now | O_NONBLOCK) < 0)
			return -ECONNREFUSED;
	}
	if (fstat(fd, &st) < 0)
		return -ECONNREFUSED;
	conn_from(&c, d, v, &st);
	if (tfo) {
		c.opt[0].level = IPPROTO_TCP;
		c.opt[0].name = TCP_FASTOPEN_CONNECT;
		c.opt[0].value = 1;
		c.nopt = 1;
	}
	if ((rc = mts_fd_insert(fd, &c)) < 0)
		mts_log("fd %d: cannot record relayed connection: %s", fd,
			strerror(-rc));
	return 0;
}

/* The relay's argument vector; strings live in the caller's buffers. */
static void relay_argv(char **argv, const struct dest *d, const char *port,
		       const char *mx, const char *domain)
{
	int n = 0;

	argv[n++] = (char *)"mtasts-relay";
	argv[n++] = (char *)"--dest";
	argv[n++] = (char *)d->text;
	argv[n++] = (char *)"--port";
	argv[n++] = (char *)port;
	if (mx[0] != '\0') {
		argv[n++] = (char *)"--mx";
		argv[n++] = (char *)mx;
	}
	if (domain[0] != '\0') {
		argv[n++] = (char *)"--domain";
		argv[n++] = (char *)domain;
	}
	argv[n] = NULL;
}

/* Clears TCP_FASTOPEN_CONNECT on the socket (see DESCRIPTION); returns
 * whether it was set. */
static int take_tfo_connect(int fd)
{
	int v = 0, off = 0;
	socklen_t l = sizeof(v);

	if (mts_real.getsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &v,
				&l) < 0 || v == 0)
		return 0;
	mts_real.setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &off,
			    sizeof(off));
	return 1;
}

/* The intercepted connect(). 0 (relayed), HANDOFF, or -errno. */
static int relay_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	char mx[MTS_HOST_MAX] = "", domain[MTS_HOST_MAX] = "", port[8];
	char *argv[RELAY_ARGV_MAX];
	struct mts_verdict v;
	struct dest d;
	int sv[2] = { -1, -1 }, tcp = -1, fl, fdfl, rc, tfo = 0;

	dest_from(sa, len, &d);
	if (d.text[0] == '\0')
		return HANDOFF;
	mts_names_lookup(d.addr_family, d.addr, mx, sizeof(mx), domain,
			 sizeof(domain));
	if (mts_cfg.domain[0] != '\0')
		mts_scopy(domain, mts_cfg.domain, sizeof(domain));
	snprintf(port, sizeof(port), "%u", (unsigned)d.port);
	relay_argv(argv, &d, port, mx, domain);

	if ((fl = mts_real.fcntl(fd, F_GETFL)) < 0 ||
	    (fdfl = mts_real.fcntl(fd, F_GETFD)) < 0)
		return -errno;
	if ((rc = mts_app_channel(d.family, sv)) < 0 ||
	    (tcp = mts_real.fcntl(fd, F_DUPFD_CLOEXEC,
				  MTS_RELAY_APP_FD + 1)) < 0) {
		mts_log("connect %s:%s: no relay: %s", d.text, port,
			strerror(rc < 0 ? -rc : errno));
		rc = -ECONNREFUSED;
		goto out;
	}
	tfo = take_tfo_connect(fd);
	rc = mts_spawn_relay(mts_cfg.relay, argv, tcp, sv[1]);
	mts_real.close(tcp);
	mts_real.close(sv[1]);
	tcp = sv[1] = -1;
	if (rc < 0) {
		/* The relay never ran: the socket is untouched. */
		mts_log("connect %s:%s: cannot run %s: %s", d.text, port,
			mts_cfg.relay, strerror(-rc));
		rc = -ECONNREFUSED;
		goto out_restore;
	}
	if ((rc = read_verdict(sv[0], &v)) < 0) {
		mts_log("connect %s:%s: %s from relay, failing closed",
			d.text, port, rc == -ETIMEDOUT ? "no verdict in time" :
			"no valid verdict");
		detach(fd, d.family, fl, fdfl, tfo);
		goto out;
	}
	switch (v.action) {
	case MTS_VERDICT_RELAY:
		if ((rc = install(fd, sv[0], fl, fdfl, tfo, &d, &v)) < 0)
			detach(fd, d.family, fl, fdfl, tfo);
		mts_log("connect %s:%s mx=%s domain=%s: %s", d.text, port,
			mx[0] ? mx : "-", domain[0] ? domain : "-",
			rc == 0 ? "relayed" : "relay failed");
		break;
	case MTS_VERDICT_REFUSE:
		rc = -refusal_errno(v.error);
		detach(fd, d.family, fl, fdfl, tfo);
		mts_log("connect %s:%s mx=%s domain=%s: refused: %s", d.text,
			port, mx[0] ? mx : "-", domain[0] ? domain : "-",
			strerror(-rc));
		break;
	default:
		/* The relay shares the socket's open file description: make
		 * sure the real connect() sees the application's own flags. */
		if (mts_real.fcntl(fd, F_GETFL) != fl)
			mts_real.fcntl(fd, F_SETFL, fl);
		rc = HANDOFF;
		mts_log("connect %s:%s: handed back", d.text, port);
		goto out_restore;
	}
	goto out;
out_restore:
	/* The application's own socket stays: with its own options. */
	if (tfo)
		mts_real.setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &tfo,
				    sizeof(tfo));
out:
	if (tcp >= 0)
		mts_real.close(tcp);
	if (sv[1] >= 0)
		mts_real.close(sv[1]);
	if (sv[0] >= 0)
		mts_real.close(sv[0]);
	return rc;
}

static int d_family(const struct sockaddr *sa)
{
	sa_family_t family;

	memcpy(&family, sa, sizeof(family));
	return family;
}

/* A socket that is connected or connecting (a handed-back non-blocking
 * connect() asked again) is the kernel's business: the real call says
 * EISCONN, EALREADY or how it ended, and the relay must never get a
 * socket it cannot connect. */
static int connected(int fd)
{
	struct tcp_info info;
	socklen_t l = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (mts_real.getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &l) < 0)
		return 0;
	return info.tcpi_state != TCP_CLOSE;
}

/* The port is ours; is the socket a TCP stream socket of the address's
 * family that we may hand over? 0 (relayed), MTS_CONNECT_PASS or -errno;
 * errno is kept. */
int mts_connect_worker(int fd, const struct sockaddr *sa, socklen_t len)
{
	int saved = errno, rc;
	struct mts_conn c;

	if (mts_fd_live() && mts_fd_get(fd, &c))
		return -EISCONN;	/* already relayed */
	if (sockopt_int(fd, SO_TYPE) != SOCK_STREAM ||
	    sockopt_int(fd, SO_PROTOCOL) != IPPROTO_TCP ||
	    sockopt_int(fd, SO_DOMAIN) != d_family(sa) || connected(fd))
		rc = MTS_CONNECT_PASS;
	else
		rc = relay_connect(fd, sa, len);
	errno = saved;
	return rc;
}

MTS_EXPORT int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	const struct sockaddr *sa = addr.__sockaddr__;
	int rc;

	mts_init();
	if (mts_real.connect == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (mts_in_shim || !mts_connect_wanted(sa, len))
		return mts_real.connect(fd, sa, len);
	rc = mts_connect_worker(fd, sa, len);
	if (rc == MTS_CONNECT_PASS)
		return mts_real.connect(fd, sa, len);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}
