/*
 * syscall.c - syscall(): the connection-opening numbers go to our hooks
 *
 * SYNOPSIS
 *	long syscall(long number, ...);
 *
 * DESCRIPTION
 *	A program can open a connection with libc's generic syscall()
 *	instead of connect(): syscall(SYS_connect, fd, addr, len), or a TCP
 *	Fast Open syscall(SYS_sendto, ..., MSG_FASTOPEN, addr, len). Those
 *	numbers are routed to the shim's own hooks (connect.c, sendto.c),
 *	which return what libc's wrapper would (-1 and errno on failure),
 *	exactly as syscall() does. SYS_io_uring_setup is refused where the
 *	shim enforces (uring.c). Every other number goes to libc's syscall()
 *	with all six argument registers unchanged, and its errno as it is.
 *
 *	Variadic forwarding: syscall() takes up to six long arguments and
 *	the kernel reads six registers whatever the number, so six longs
 *	are read here (the ones the caller did not pass hold whatever the
 *	registers held, exactly what the kernel would have seen) and passed
 *	on. Pointers and ints travel as longs, as in the C library.
 *
 * BUGS
 *	A raw `syscall` instruction (static binaries, Go, liburing, inline
 *	assembly) never reaches any hook: mtasts(7), LIMITS AND BYPASSES.
 */
#include "shim.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>

MTS_EXPORT long syscall(long number, ...)
{
	long (*real)(long, ...);
	long a[6];
	va_list ap;

	va_start(ap, number);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);

	switch (number) {
	case SYS_connect:
		return connect((int)a[0], (const struct sockaddr *)a[1],
			       (socklen_t)a[2]);
	case SYS_sendto:
		return sendto((int)a[0], (const void *)a[1], (size_t)a[2],
			      (int)a[3], (const struct sockaddr *)a[4],
			      (socklen_t)a[5]);
	case SYS_sendmsg:
		return sendmsg((int)a[0], (const struct msghdr *)a[1],
			       (int)a[2]);
	case SYS_sendmmsg:
		return sendmmsg((int)a[0], (struct mmsghdr *)a[1],
				(unsigned int)a[2], (int)a[3]);
#ifdef SYS_io_uring_setup
	case SYS_io_uring_setup:
		mts_init();
		if (!mts_in_shim &&
		    mts_uring_refused("syscall(SYS_io_uring_setup)")) {
			errno = ENOSYS;
			return -1;
		}
		break;
#endif
	default:
		break;
	}
	/* Pass-through without pthread_once once bound: allocators and
	 * lock libraries call syscall(SYS_futex) on hot paths, possibly
	 * from inside our own initialisation (dlsym allocating). */
	real = __atomic_load_n(&mts_real.syscall, __ATOMIC_ACQUIRE);
	if (real == NULL) {
		mts_init();
		real = __atomic_load_n(&mts_real.syscall, __ATOMIC_ACQUIRE);
		if (real == NULL) {
			errno = ENOSYS;
			return -1;
		}
	}
	return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
