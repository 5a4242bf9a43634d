/*
 * tcp.c - the relay's TCP leg: the application's own socket, connected
 *
 * DESCRIPTION
 *	The shim hands over a dup of the application's unconnected socket,
 *	so a bind() or socket options the application chose still apply to
 *	the real connection. The relay connects it without blocking and
 *	waits with poll() until the connection's deadline, then reads the
 *	outcome with SO_ERROR, so the application gets the errno a plain
 *	connect() would have given it.
 *
 *	connect() is made as a raw system call: the relay inherits the
 *	application's environment, LD_PRELOAD=libmtasts.so included, and
 *	the shim's connect() hook must never see the relay's own connection
 *	to port 25 (it would start a relay for the relay, and so on).
 */
#include "tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wait.h"

static int socket_family(int fd)
{
	int family = -1, type = -1;
	socklen_t len = sizeof(family);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) < 0)
		return -errno;
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return -errno;
	if (type != SOCK_STREAM)
		return -ENOTSOCK;
	return family;
}

/* Fills out with an IPv4 address (AF_INET socket). */
static void set_v4(struct relay_dest *out, const struct in_addr *a)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(out->port);
	sin.sin_addr = *a;
	memcpy(&out->addr, &sin, sizeof(sin));
	out->addr_len = sizeof(sin);
}

/* Fills out with an IPv6 address (AF_INET6 socket). */
static void set_v6(struct relay_dest *out, const struct in6_addr *a)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(out->port);
	sin6.sin6_addr = *a;
	memcpy(&out->addr, &sin6, sizeof(sin6));
	out->addr_len = sizeof(sin6);
}

int relay_dest_parse(int fd, const char *text, unsigned short port,
		     struct relay_dest *out)
{
	struct in_addr v4;
	struct in6_addr v6;
	int family = socket_family(fd);

	memset(out, 0, sizeof(*out));
	out->port = port;
	if (family < 0)
		return family;
	if (text == NULL || port == 0)
		return -EINVAL;
	if (inet_pton(AF_INET, text, &v4) == 1) {
		if (family == AF_INET) {
			set_v4(out, &v4);
			return 0;
		}
		/* ::ffff:a.b.c.d on a dual-stack socket */
		memset(&v6, 0, sizeof(v6));
		v6.s6_addr[10] = 0xff;
		v6.s6_addr[11] = 0xff;
		memcpy(&v6.s6_addr[12], &v4, 4);
	} else if (inet_pton(AF_INET6, text, &v6) != 1) {
		return -EINVAL;
	}
	if (family != AF_INET6)
		return -EAFNOSUPPORT;
	set_v6(out, &v6);
	return 0;
}

int relay_tcp_connect_start(int fd, const struct relay_dest *d)
{
	int rc = relay_set_nonblock(fd);

	if (rc < 0)
		return rc;
	while (syscall(SYS_connect, fd, (const struct sockaddr *)&d->addr,
		       d->addr_len) < 0) {
		if (errno == EINTR)
			continue;	/* Linux: the attempt goes on */
		if (errno == EINPROGRESS || errno == EALREADY)
			return 0;
		if (errno == EISCONN)
			return 0;
		return -errno;
	}
	return 0;
}

int relay_tcp_connect_finish(int fd, int64_t deadline)
{
	int err = 0, ev;
	socklen_t len = sizeof(err);

	ev = relay_wait_fd(fd, POLLOUT, deadline);
	if (ev < 0)
		return ev;
	if (ev == 0)
		return -ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	if (err != 0)
		return -err;
	return 0;
}

/* Binds fresh to local's address with port 0; a wildcard stays unbound. */
static int bind_local_ip(int fd, const struct sockaddr_storage *local,
			 socklen_t local_len)
{
	struct sockaddr_storage a;
	int one = 1;

	if (local_len == 0 || local_len > sizeof(a))
		return 0;
	memcpy(&a, local, local_len);
	if (a.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a;

		if (sin->sin_addr.s_addr == htonl(INADDR_ANY))
			return 0;
		sin->sin_port = 0;
	} else if (a.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a;

		if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
			return 0;
		sin6->sin6_port = 0;
	} else {
		return -EAFNOSUPPORT;
	}
	/* The port is chosen at connect(), per destination: no exhaustion
	 * of the ephemeral range by bound-but-unconnected sockets. */
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			 sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a, local_len) < 0)
		return -errno;
	return 0;
}

int relay_tcp_reopen(int fd, const struct sockaddr_storage *local,
		     socklen_t local_len, const struct relay_dest *d)
{
	int family = socket_family(fd), fresh, rc, fdflags;

	if (family < 0)
		return family;
	if ((fdflags = fcntl(fd, F_GETFD)) < 0)
		return -errno;
	fresh = socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fresh < 0)
		return -errno;
	if ((rc = bind_local_ip(fresh, local, local_len)) < 0)
		goto fail;
	/* Same fd number: everything that holds tcp_fd stays right. */
	if (dup3(fresh, fd, (fdflags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
		rc = -errno;
		goto fail;
	}
	close(fresh);
	return relay_tcp_connect_start(fd, d);
fail:
	close(fresh);
	return rc;
}
