/*
 * sockopt.c - getsockopt() and setsockopt() of a relayed fd
 *
 * SYNOPSIS
 *	int getsockopt(int fd, int level, int name, void *val, socklen_t *len);
 *	int setsockopt(int fd, int level, int name, const void *val,
 *		       socklen_t len);
 *
 * DESCRIPTION
 *	A relayed fd must keep answering like the TCP socket it replaced:
 *
 *	  SOL_SOCKET    SO_DOMAIN (the original family), SO_TYPE
 *	                (SOCK_STREAM), SO_PROTOCOL (IPPROTO_TCP), SO_ERROR
 *	                (0; the channel's pending error is cleared) and
 *	                SO_PEERCRED (none, as for TCP) are answered here;
 *	                everything else (SO_RCVTIMEO, SO_SNDTIMEO, SO_LINGER,
 *	                SO_KEEPALIVE, SO_RCVBUF, SO_SNDBUF...) really applies
 *	                to the socket the application reads and writes (the
 *	                loopback TCP channel, or the unix socket of the
 *	                fallback).
 *	  IPPROTO_TCP,  set: int values are remembered (TCP_NODELAY and the
 *	  IPPROTO_IP,   other flags as 0/1), others accepted and ignored.
 *	  IPPROTO_IPV6  get: the remembered value, else a plausible default
 *	                (TCP_NODELAY 0, IP_TTL 64, ...), TCP_INFO as an
 *	                established connection, TCP_CONGESTION "cubic";
 *	                unknown options ENOPROTOOPT, as the kernel says.
 *
 *	Lengths follow the kernel: an int option copies at most *len bytes
 *	and sets *len to what it copied; a negative length is EINVAL.
 */
#include "shim.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

struct opt_default {
	int level, name, value;
};

static const struct opt_default defaults[] = {
	{ IPPROTO_TCP, TCP_NODELAY, 0 },
	{ IPPROTO_TCP, TCP_MAXSEG, 1448 },
	{ IPPROTO_TCP, TCP_CORK, 0 },
	{ IPPROTO_TCP, TCP_KEEPIDLE, 7200 },
	{ IPPROTO_TCP, TCP_KEEPINTVL, 75 },
	{ IPPROTO_TCP, TCP_KEEPCNT, 9 },
	{ IPPROTO_TCP, TCP_SYNCNT, 6 },
	{ IPPROTO_TCP, TCP_LINGER2, 60 },
	{ IPPROTO_TCP, TCP_DEFER_ACCEPT, 0 },
	{ IPPROTO_TCP, TCP_WINDOW_CLAMP, 0 },
	{ IPPROTO_TCP, TCP_QUICKACK, 1 },
	{ IPPROTO_TCP, TCP_USER_TIMEOUT, 0 },
	{ IPPROTO_TCP, TCP_FASTOPEN, 0 },
	{ IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 0 },
	{ IPPROTO_IP, IP_TOS, 0 },
	{ IPPROTO_IP, IP_TTL, 64 },
	{ IPPROTO_IP, IP_MTU, 1500 },
	{ IPPROTO_IPV6, IPV6_V6ONLY, 0 },
	{ IPPROTO_IPV6, IPV6_UNICAST_HOPS, 64 },
	{ IPPROTO_IPV6, IPV6_TCLASS, 0 },
	{ IPPROTO_IPV6, IPV6_MTU, 1500 },
};

static int fail(int e)
{
	errno = e;
	return -1;
}

/* Copies up to *len bytes of an object, as the kernel does. */
static int put_bytes(void *val, socklen_t *len, const void *obj, size_t size)
{
	size_t n;

	if (len == NULL)
		return fail(EFAULT);
	if ((int)*len < 0)
		return fail(EINVAL);
	n = *len < size ? *len : size;
	if (n > 0 && val == NULL)
		return fail(EFAULT);
	if (n > 0)
		memcpy(val, obj, n);
	*len = (socklen_t)n;
	return 0;
}

static int put_int(void *val, socklen_t *len, int v)
{
	return put_bytes(val, len, &v, sizeof(v));
}

/* Flags the kernel reports as 0 or 1 whatever was set. */
static int is_flag(int level, int name)
{
	return level == IPPROTO_TCP &&
	       (name == TCP_NODELAY || name == TCP_CORK || name == TCP_QUICKACK);
}

static int ip_level(const struct mts_conn *c, int level)
{
	return level == IPPROTO_TCP || level == IPPROTO_IP ||
	       (level == IPPROTO_IPV6 && c->family == AF_INET6);
}

static int get_socket_level(int fd, const struct mts_conn *c, int name,
			    void *val, socklen_t *len)
{
	struct ucred none = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	int pending;
	socklen_t plen = sizeof(pending);

	switch (name) {
	case SO_DOMAIN:
		return put_int(val, len, c->family);
	case SO_TYPE:
		return put_int(val, len, SOCK_STREAM);
	case SO_PROTOCOL:
		return put_int(val, len, c->protocol);
	case SO_ERROR:
		/* Reading clears it, as on the TCP socket; the relay speaks
		 * for the TCP leg, and that connected. */
		mts_real.getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &plen);
		return put_int(val, len, 0);
	case SO_PEERCRED:
		return put_bytes(val, len, &none, sizeof(none));
	default:
		return mts_real.getsockopt(fd, SOL_SOCKET, name, val, len);
	}
}

static int get_ip_level(const struct mts_conn *c, int level, int name,
			void *val, socklen_t *len)
{
	size_t i;

	if (!ip_level(c, level))
		return fail(ENOPROTOOPT);
	for (i = 0; i < c->nopt; i++)
		if (c->opt[i].level == level && c->opt[i].name == name)
			return put_int(val, len, c->opt[i].value);
	if (level == IPPROTO_TCP && name == TCP_INFO) {
		struct tcp_info info;

		memset(&info, 0, sizeof(info));
		info.tcpi_state = TCP_ESTABLISHED;
		return put_bytes(val, len, &info, sizeof(info));
	}
	if (level == IPPROTO_TCP && name == TCP_CONGESTION) {
		char ca[16] = "cubic";

		return put_bytes(val, len, ca, sizeof(ca));
	}
	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (defaults[i].level == level && defaults[i].name == name)
			return put_int(val, len, defaults[i].value);
	return fail(ENOPROTOOPT);
}

MTS_EXPORT int getsockopt(int fd, int level, int name, void *restrict val,
			  socklen_t *restrict len)
{
	struct mts_conn c;
	int saved = errno;

	mts_init();
	if (mts_real.getsockopt == NULL)
		return fail(ENOSYS);
	if (!mts_fd_live() || mts_in_shim || !mts_fd_get(fd, &c)) {
		errno = saved;
		return mts_real.getsockopt(fd, level, name, val, len);
	}
	errno = saved;
	if (level == SOL_SOCKET)
		return get_socket_level(fd, &c, name, val, len);
	return get_ip_level(&c, level, name, val, len);
}

static int set_ip_level(int fd, const struct mts_conn *c, int level,
			int name, const void *val, socklen_t len)
{
	int v;

	if (!ip_level(c, level))
		return fail(ENOPROTOOPT);
	if ((int)len <= 0)
		return fail(EINVAL);
	if (val == NULL)
		return fail(EFAULT);
	if (len >= sizeof(int)) {
		memcpy(&v, val, sizeof(v));
	} else if (level == IPPROTO_TCP) {
		return fail(EINVAL);	/* every TCP option needs an int */
	} else {
		v = *(const unsigned char *)val;	/* IP_TOS & co */
	}
	if (name == TCP_INFO && level == IPPROTO_TCP)
		return fail(ENOPROTOOPT);	/* read-only */
	if (is_flag(level, name))
		v = v != 0;
	mts_fd_set_opt(fd, level, name, v);
	return 0;
}

MTS_EXPORT int setsockopt(int fd, int level, int name, const void *val,
			  socklen_t len)
{
	struct mts_conn c;
	int saved = errno, rc;

	mts_init();
	if (mts_real.setsockopt == NULL)
		return fail(ENOSYS);
	if (!mts_fd_live() || mts_in_shim || !mts_fd_get(fd, &c)) {
		errno = saved;
		return mts_real.setsockopt(fd, level, name, val, len);
	}
	errno = saved;
	if (level != SOL_SOCKET)
		return set_ip_level(fd, &c, level, name, val, len);
	rc = mts_real.setsockopt(fd, SOL_SOCKET, name, val, len);
	/* Options a TCP socket has and the unix socket of the fallback
	 * lacks are accepted (and have no effect: the relay owns the TCP
	 * leg). */
	if (rc < 0 && (errno == ENOPROTOOPT || errno == EOPNOTSUPP)) {
		errno = saved;
		return 0;
	}
	return rc;
}
