/*
 * close.c - the close() hook: forget a relayed fd
 *
 * SYNOPSIS
 *	int close(int fd);
 *
 * DESCRIPTION
 *	While no connection is relayed this is one atomic load before libc.
 *	Otherwise the fd's mapping in the fd table is dropped first (a
 *	number the kernel may hand out again must not keep pointing at our
 *	connection), then the real close() runs; its result and errno are
 *	the application's.
 */
#include "shim.h"

#include <errno.h>

MTS_EXPORT int close(int fd)
{
	mts_init();
	if (mts_real.close == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (mts_fd_live() && !mts_in_shim)
		mts_fd_closed(fd);
	return mts_real.close(fd);
}
