/*
 * loopback.c - the application's end of the relay: a loopback TCP socket
 *
 * SYNOPSIS
 *	int ends[2];
 *	rc = mts_app_channel(family, ends);
 *	ends[0]: replaces the application's fd; ends[1]: the relay's fd 4
 *
 * DESCRIPTION
 *	Inside a wrapped process the hooks make a relayed fd look like the
 *	TCP socket the application asked for. A process WITHOUT the shim
 *	that inherits the fd (a set-user-ID helper the host execs, where the
 *	loader drops LD_PRELOAD; any daemon that passes connections on to a
 *	program it runs with a clean environment) sees the kernel's truth.
 *	Exim's "exim -MC" crashed on an AF_UNIX socket there. So the two
 *	ends are a real TCP connection of the application's own family over
 *	loopback (127.0.0.1, or ::1 for an AF_INET6 socket):
 *
 *	  listener  socket(family), bound to the loopback address, port 0,
 *	            listen(1), non-blocking;
 *	  client    socket(family), the real libc connect() to the listener
 *	            (never our hook), started non-blocking so that strangers
 *	            filling the listen queue cannot park this thread in
 *	            connect(); made blocking again once connected. It
 *	            becomes the application's fd;
 *	  accepted  accept4(); checked to be the client (its peer address
 *	            equals the client's getsockname()): another local
 *	            process may race to connect to the listener. A stranger
 *	            is closed and the next one accepted, at most
 *	            ACCEPT_TRIES times, then we give up (fallback below);
 *	            each wait for the queue is bounded (ACCEPT_WAIT_MS).
 *	            It becomes the relay's fd 4.
 *
 *	The listener is closed at once; both ends get TCP_NODELAY (SMTP is a
 *	dialogue of short lines), are close-on-exec and blocking.
 *
 *	Fallback: when loopback TCP is not usable (no lo, ::1 disabled,
 *	EMFILE, a stranger won every race...), an AF_UNIX socketpair as
 *	before; the hooks hide the difference inside the wrapped process.
 *	One log line per process says so.
 *
 *	Cost: a dozen system calls on loopback, about 30-40 microseconds
 *	more than a socketpair, next to the relay's spawn and TLS handshake
 *	(milliseconds). docs/ARCHITECTURE.md has the numbers.
 *
 *	Returns 0 with both ends set, or -errno when not even the socketpair
 *	could be made. No fd is left behind on any error path.
 */
#include "shim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#define ACCEPT_TRIES 4		/* strangers tolerated before giving up */
#define ACCEPT_WAIT_MS 2500	/* per wait: past one SYN retry (1 s) */

static int fallback_logged;

/* The loopback address of family, port 0 (the kernel picks one). */
static int loopback_addr(int family, struct sockaddr_storage *ss,
			 socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*in);
		return 0;
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		*len = sizeof(*in6);
		return 0;
	}
	return -EAFNOSUPPORT;
}

/* Same family, address and port? (The only fields that tell two
 * loopback TCP endpoints apart.) */
static int same_endpoint(const struct sockaddr_storage *a,
			 const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr,
			      sizeof(x->sin6_addr)) == 0;
	}
	return 0;
}

/* A listening socket on the loopback address of family; its address in
 * *addr. The fd, or -errno. */
static int listen_loopback(int family, struct sockaddr_storage *addr,
			   socklen_t *len)
{
	socklen_t bind_len;
	int fd, rc;

	if ((rc = loopback_addr(family, addr, &bind_len)) < 0)
		return rc;
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	*len = sizeof(*addr);	/* getsockname() sets the port's address */
	if (bind(fd, (struct sockaddr *)addr, bind_len) < 0 ||
	    listen(fd, 1) < 0 ||
	    mts_real.getsockname(fd, (struct sockaddr *)addr, len) < 0) {
		rc = -errno;
		mts_real.close(fd);
		return rc;
	}
	return fd;
}

/* Starts the client end's connect() to the listener at (addr, len),
 * non-blocking: if strangers filled the listener's queue first, our SYN
 * waits for its retry while accept_ours() makes room, instead of this
 * thread blocking in connect() for minutes. Its own address (bound by
 * connect()) in *mine. The fd, or -errno. */
static int connect_start(int family, const struct sockaddr_storage *addr,
			 socklen_t len, struct sockaddr_storage *mine)
{
	socklen_t mlen = sizeof(*mine);
	int fd, rc = 0;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	if (mts_real.connect(fd, (const struct sockaddr *)addr, len) < 0 &&
	    errno != EINPROGRESS)
		rc = -errno;
	if (rc == 0 &&
	    mts_real.getsockname(fd, (struct sockaddr *)mine, &mlen) < 0)
		rc = -errno;
	if (rc < 0) {
		mts_real.close(fd);
		return rc;
	}
	return fd;
}

/* Waits until fd is ready for events, across EINTR. 0 or -errno. */
static int wait_for(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int r;

	while ((r = poll(&pfd, 1, ACCEPT_WAIT_MS)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

/* The client's connect() is over (its peer accepted it): its outcome,
 * and the fd made blocking again, as a fresh socket is. 0 or -errno. */
static int connect_finish(int fd)
{
	int err = 0, fl, rc;
	socklen_t l = sizeof(err);

	if ((rc = wait_for(fd, POLLOUT)) < 0)
		return rc;
	if (mts_real.getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
		return -errno;
	if (err != 0)
		return -err;
	if ((fl = mts_real.fcntl(fd, F_GETFL)) < 0 ||
	    mts_real.fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* Accepts from listener until the peer is *mine (our client), closing
 * strangers, at most ACCEPT_TRIES of them. The accepted fd (blocking,
 * CLOEXEC), or -errno. */
static int accept_ours(int listener, const struct sockaddr_storage *mine)
{
	int tries = 0, rc;

	while (tries < ACCEPT_TRIES) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd;

		memset(&peer, 0, sizeof(peer));
		fd = accept4(listener, (struct sockaddr *)&peer, &plen,
			     SOCK_CLOEXEC);
		if (fd >= 0) {
			if (plen <= sizeof(peer) && same_endpoint(&peer, mine))
				return fd;
			mts_real.close(fd);	/* a stranger raced us */
			tries++;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == ECONNABORTED) {
			tries++;	/* someone's, gone before accept */
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		/* Not queued yet: the handshake is still on its way. */
		if ((rc = wait_for(listener, POLLIN)) < 0)
			return rc;
	}
	return -EADDRINUSE;
}

static void set_nodelay(int fd)
{
	int on = 1;

	mts_real.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

/* The loopback TCP pair: ends[0] client, ends[1] accepted. 0 or -errno. */
static int tcp_channel(int family, int ends[2])
{
	struct sockaddr_storage addr, mine;
	socklen_t len;
	int listener, client = -1, accepted = -1, rc = 0;

	if ((listener = listen_loopback(family, &addr, &len)) < 0)
		return listener;
	if ((client = connect_start(family, &addr, len, &mine)) < 0) {
		rc = client;
		goto out;
	}
	if ((accepted = accept_ours(listener, &mine)) < 0 ||
	    (rc = connect_finish(client)) < 0) {
		if (accepted < 0)
			rc = accepted;
		else
			mts_real.close(accepted);
		mts_real.close(client);
		goto out;
	}
	set_nodelay(client);
	set_nodelay(accepted);
	ends[0] = client;
	ends[1] = accepted;
out:
	mts_real.close(listener);
	return rc;
}

int mts_app_channel(int family, int ends[2])
{
	int rc;

	ends[0] = ends[1] = -1;
	if ((rc = tcp_channel(family, ends)) == 0)
		return 0;
	if (!__atomic_exchange_n(&fallback_logged, 1, __ATOMIC_RELAXED))
		mts_log("loopback TCP for family %d unusable (%s): the "
			"application gets an AF_UNIX socket",
			family, strerror(-rc));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) < 0) {
		rc = -errno;
		ends[0] = ends[1] = -1;
		return rc;
	}
	return 0;
}
