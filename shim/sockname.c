/*
 * sockname.c - getpeername() and getsockname() of a relayed fd
 *
 * SYNOPSIS
 *	int getpeername(int fd, struct sockaddr *addr, socklen_t *len);
 *	int getsockname(int fd, struct sockaddr *addr, socklen_t *len);
 *
 * DESCRIPTION
 *	A relayed fd is the application's end of its loopback TCP channel to
 *	the relay (or of the AF_UNIX fallback): its kernel addresses are
 *	127.0.0.1 or ::1. The application asked for a TCP connection to its
 *	destination, so getpeername() returns the destination it passed to
 *	connect(),
 *	getsockname() the local address of the relay's real TCP leg (from
 *	the verdict). Truncation follows the kernel: at most *len bytes are
 *	copied and *len is set to the full size. Any other fd goes to libc.
 */
#include "shim.h"

#include <errno.h>
#include <string.h>

static int copy_addr(const struct sockaddr_storage *ss, socklen_t sslen,
		     struct sockaddr *addr, socklen_t *len)
{
	if (addr == NULL || len == NULL) {
		errno = EFAULT;
		return -1;
	}
	if ((int)*len < 0) {
		errno = EINVAL;
		return -1;
	}
	memcpy(addr, ss, *len < sslen ? *len : sslen);
	*len = sslen;
	return 0;
}

MTS_EXPORT int getpeername(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len)
{
	struct mts_conn c;
	int saved = errno;

	mts_init();
	if (mts_real.getpeername == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (!mts_fd_live() || mts_in_shim || !mts_fd_get(fd, &c)) {
		errno = saved;
		return mts_real.getpeername(fd, addr.__sockaddr__, len);
	}
	errno = saved;
	return copy_addr(&c.peer, c.peer_len, addr.__sockaddr__, len);
}

MTS_EXPORT int getsockname(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len)
{
	struct mts_conn c;
	int saved = errno;

	mts_init();
	if (mts_real.getsockname == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (!mts_fd_live() || mts_in_shim || !mts_fd_get(fd, &c)) {
		errno = saved;
		return mts_real.getsockname(fd, addr.__sockaddr__, len);
	}
	errno = saved;
	return copy_addr(&c.local, c.local_len, addr.__sockaddr__, len);
}
