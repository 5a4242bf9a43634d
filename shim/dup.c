/*
 * dup.c - dup(), dup2(), dup3() and fcntl(F_DUPFD*) hooks
 *
 * SYNOPSIS
 *	int dup(int fd);
 *	int dup2(int fd, int newfd);
 *	int dup3(int fd, int newfd, int flags);
 *	int fcntl(int fd, int cmd, ...);	(and fcntl64)
 *
 * DESCRIPTION
 *	A copy of a relayed fd is the same relayed connection: after the
 *	real call succeeds, the new number is mapped to the old one's entry
 *	(fdtable.c checks with fstat that both are the same socket). dup2()
 *	and dup3() also close whatever newfd was, so its mapping goes. All
 *	other fcntl() commands go straight to libc with their argument
 *	untouched. Results and errno are the real calls'.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>

/* After a successful duplication of fd as newfd. */
static int duped(int fd, int newfd)
{
	if (newfd >= 0 && newfd != fd && mts_fd_live() && !mts_in_shim) {
		int saved = errno;

		mts_fd_duped(fd, newfd);
		errno = saved;
	}
	return newfd;
}

MTS_EXPORT int dup(int fd)
{
	mts_init();
	if (mts_real.dup == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return duped(fd, mts_real.dup(fd));
}

MTS_EXPORT int dup2(int fd, int newfd)
{
	mts_init();
	if (mts_real.dup2 == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return duped(fd, mts_real.dup2(fd, newfd));
}

MTS_EXPORT int dup3(int fd, int newfd, int flags)
{
	mts_init();
	if (mts_real.dup3 == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return duped(fd, mts_real.dup3(fd, newfd, flags));
}

/* fcntl()'s third argument is an int or a pointer depending on cmd; like
 * the C library, read it as a pointer-sized value and pass it on. */
static int fcntl_hook(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC)
		return real(fd, cmd, arg);
	return duped(fd, real(fd, cmd, (int)(intptr_t)arg));
}

MTS_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	mts_init();	/* before reading mts_real.fcntl */
	return fcntl_hook(mts_real.fcntl, fd, cmd, arg);
}

MTS_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	mts_init();	/* before reading mts_real.fcntl64 */
	return fcntl_hook(mts_real.fcntl64, fd, cmd, arg);
}
