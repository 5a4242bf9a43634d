/*
 * sendto.c - TCP Fast Open: sendto(), sendmsg(), sendmmsg() that connect
 *
 * SYNOPSIS
 *	ssize_t sendto(int fd, const void *buf, size_t n, int flags,
 *		       const struct sockaddr *addr, socklen_t len);
 *	ssize_t sendmsg(int fd, const struct msghdr *msg, int flags);
 *	int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen,
 *		     int flags);
 *
 * DESCRIPTION
 *	With MSG_FASTOPEN and a destination, these calls connect an
 *	unconnected TCP socket and send the data in the SYN: no connect() at
 *	all (Exim does this by default on Linux, with no data: SMTP servers
 *	speak first). Such a call to an intercepted port takes exactly the
 *	connect() path (connect.c's worker: policy, relay, verdict):
 *
 *	  relayed   the data goes through the pair end that replaced fd
 *	            (MSG_FASTOPEN and the address dropped), and the call
 *	            returns what that send returned: the bytes accepted;
 *	  refused   -1 with the connect errno (ECONNREFUSED...);
 *	  passed    (not a TCP socket, or handed back) the real call as made.
 *
 *	On a relayed fd (the loopback channel, or a unix socket on the
 *	fallback, where the kernel would refuse a destination address with
 *	EISCONN) the address is dropped, as a connected TCP socket ignores
 *	it; MSG_FASTOPEN on it gives EISCONN, as on a connected TCP socket.
 *
 *	Fast path: without MSG_FASTOPEN, a call with no address, or with one
 *	while no relayed connection exists, goes straight to libc (a flag
 *	test, a pointer test, one atomic load). UDP senders pay nothing more.
 *
 *	sendmmsg(): the kernel hands the flags, MSG_FASTOPEN included, and
 *	each message's name to TCP for every message, so the first message
 *	does open the connection exactly as sendmsg() does (measured on
 *	Linux 6.x: sendmmsg(fd, 2 messages, MSG_FASTOPEN) connects, sends the
 *	first message and returns 1: the second, MSG_FASTOPEN on a connected
 *	socket, fails with EISCONN). The hook does the same: the connect
 *	path, the first message through the pair, and 1.
 */
#include "shim.h"

#include <errno.h>
#include <string.h>

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

/* Opens the connection for a MSG_FASTOPEN call: 0 (relayed),
 * MTS_CONNECT_PASS or -errno. */
static int fastopen_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (!mts_connect_wanted(sa, len))
		return MTS_CONNECT_PASS;
	return mts_connect_worker(fd, sa, len);
}

/* Is fd one of our relayed connections? */
static int relayed(int fd)
{
	struct mts_conn c;

	return mts_fd_live() && mts_fd_get(fd, &c);
}

/* A send on a relayed fd: what a connected TCP socket would do. */
static ssize_t relayed_sendto(int fd, const void *buf, size_t n, int flags)
{
	if (flags & MSG_FASTOPEN) {
		errno = EISCONN;
		return -1;
	}
	return mts_real.sendto(fd, buf, n, flags, NULL, 0);
}

static ssize_t relayed_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct msghdr m;

	if (flags & MSG_FASTOPEN) {
		errno = EISCONN;
		return -1;
	}
	if (msg == NULL)
		return mts_real.sendmsg(fd, msg, flags);	/* EFAULT */
	m = *msg;
	m.msg_name = NULL;
	m.msg_namelen = 0;
	return mts_real.sendmsg(fd, &m, flags);
}

static ssize_t sendto_slow(int fd, const void *buf, size_t n, int flags,
			   const struct sockaddr *sa, socklen_t len)
{
	int rc;

	if (relayed(fd))
		return relayed_sendto(fd, buf, n, flags);
	if (!(flags & MSG_FASTOPEN))
		return mts_real.sendto(fd, buf, n, flags, sa, len);
	rc = fastopen_connect(fd, sa, len);
	if (rc == MTS_CONNECT_PASS)
		return mts_real.sendto(fd, buf, n, flags, sa, len);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	if (n == 0)
		return 0;
	return mts_real.sendto(fd, buf, n, flags & ~MSG_FASTOPEN, NULL, 0);
}

MTS_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			  __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	const struct sockaddr *sa = addr.__sockaddr__;

	mts_init();
	if (mts_real.sendto == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (mts_in_shim ||
	    (!(flags & MSG_FASTOPEN) && (sa == NULL || !mts_fd_live())))
		return mts_real.sendto(fd, buf, n, flags, sa, len);
	return sendto_slow(fd, buf, n, flags, sa, len);
}

/* The destination of a message header, read defensively: the caller's
 * pointer may be bad (the kernel would say EFAULT; so will the real
 * call we then make). */
static const struct sockaddr *msg_dest(const struct msghdr *msg,
				       socklen_t *len)
{
	if (msg == NULL || msg->msg_name == NULL)
		return NULL;
	*len = msg->msg_namelen;
	return msg->msg_name;
}

static ssize_t sendmsg_slow(int fd, const struct msghdr *msg, int flags)
{
	const struct sockaddr *sa;
	socklen_t len = 0;
	int rc;

	if (relayed(fd))
		return relayed_sendmsg(fd, msg, flags);
	if (!(flags & MSG_FASTOPEN) || (sa = msg_dest(msg, &len)) == NULL)
		return mts_real.sendmsg(fd, msg, flags);
	rc = fastopen_connect(fd, sa, len);
	if (rc == MTS_CONNECT_PASS)
		return mts_real.sendmsg(fd, msg, flags);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return relayed_sendmsg(fd, msg, flags & ~MSG_FASTOPEN);
}

MTS_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	mts_init();
	if (mts_real.sendmsg == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (mts_in_shim ||
	    (!(flags & MSG_FASTOPEN) &&
	     (!mts_fd_live() || msg == NULL || msg->msg_name == NULL)))
		return mts_real.sendmsg(fd, msg, flags);
	return sendmsg_slow(fd, msg, flags);
}

/* Sends each message through the pair; the count sent, or -1 with errno
 * when the first fails (later failures end the count, as the kernel). */
static int relayed_sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen,
			    int flags)
{
	unsigned int i;

	if (vec == NULL && vlen > 0) {
		errno = EFAULT;
		return -1;
	}
	for (i = 0; i < vlen; i++) {
		ssize_t n = relayed_sendmsg(fd, &vec[i].msg_hdr, flags);

		if (n < 0)
			return i == 0 ? -1 : (int)i;
		vec[i].msg_len = (unsigned int)n;
	}
	return (int)i;
}

static int sendmmsg_slow(int fd, struct mmsghdr *vec, unsigned int vlen,
			 int flags)
{
	const struct sockaddr *sa;
	socklen_t len = 0;
	int rc;

	if (relayed(fd))
		return relayed_sendmmsg(fd, vec, vlen, flags);
	if (!(flags & MSG_FASTOPEN) || vec == NULL || vlen == 0 ||
	    (sa = msg_dest(&vec[0].msg_hdr, &len)) == NULL)
		return mts_real.sendmmsg(fd, vec, vlen, flags);
	rc = fastopen_connect(fd, sa, len);
	if (rc == MTS_CONNECT_PASS)
		return mts_real.sendmmsg(fd, vec, vlen, flags);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	/* Only the first: the kernel fails the next ones with EISCONN. */
	return relayed_sendmmsg(fd, vec, 1, flags & ~MSG_FASTOPEN);
}

MTS_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen,
			int flags)
{
	mts_init();
	if (mts_real.sendmmsg == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (mts_in_shim ||
	    (!(flags & MSG_FASTOPEN) && !mts_fd_live()))
		return mts_real.sendmmsg(fd, vec, vlen, flags);
	return sendmmsg_slow(fd, vec, vlen, flags);
}
