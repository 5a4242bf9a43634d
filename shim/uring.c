/*
 * uring.c - io_uring refused where the shim enforces
 *
 * SYNOPSIS
 *	if (mts_uring_refused("io_uring_setup")) ... fail with ENOSYS ...
 *	int io_uring_setup(unsigned entries, struct io_uring_params *p);
 *	int io_uring_queue_init(unsigned entries, struct io_uring *ring,
 *				unsigned flags);
 *	int io_uring_queue_init_params(unsigned entries, struct io_uring *ring,
 *				       struct io_uring_params *p);
 *	int io_uring_queue_init_mem(unsigned entries, struct io_uring *ring,
 *				    struct io_uring_params *p, void *buf,
 *				    size_t size);
 *
 * DESCRIPTION
 *	An io_uring IORING_OP_CONNECT (or a SENDMSG with MSG_FASTOPEN) is
 *	performed by the kernel from a ring the application filled in
 *	memory: no libc call that a preload library could see. So where the
 *	shim enforces (any port intercepted: every process but the relay),
 *	creating a ring is refused with ENOSYS, which programs already take
 *	as "no io_uring here, use epoll", with one log line naming the call.
 *	MTASTS_ALLOW_IO_URING=1 lets rings through (the operator's choice:
 *	the program's connections are then not covered).
 *
 *	The ways a ring is made that the shim sees: syscall(SYS_io_uring_setup)
 *	(syscall.c) and liburing's entry points above, which the program
 *	calls through its PLT (liburing itself then issues the system call
 *	with a raw instruction: liburing 2.2 and later need no libc, so
 *	hooking syscall() alone would not see them). liburing returns
 *	-errno, so its hooks return -ENOSYS. A program with liburing linked
 *	in statically, or with its own raw system call, is not seen:
 *	`mtasts doctor` reports a DT_NEEDED liburing, mtasts(7) the rest.
 */
#include "shim.h"

#include <dlfcn.h>
#include <errno.h>

int mts_uring_refused(const char *call)
{
	if (!mts_cfg.active || mts_cfg.allow_io_uring)
		return 0;
	mts_log("%s refused (ENOSYS): io_uring connections bypass "
		"MTA-STS enforcement; MTASTS_ALLOW_IO_URING=1 allows it",
		call);
	return 1;
}

/* liburing's own symbol, bound on first use (liburing may be loaded
 * after us, or not at all). */
static void *next_symbol(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

/* liburing's prototypes (its header is not needed to build the shim). */
struct io_uring;
struct io_uring_params;
int io_uring_setup(unsigned entries, struct io_uring_params *p);
int io_uring_queue_init(unsigned entries, struct io_uring *ring,
			unsigned flags);
int io_uring_queue_init_params(unsigned entries, struct io_uring *ring,
			       struct io_uring_params *p);
int io_uring_queue_init_mem(unsigned entries, struct io_uring *ring,
			    struct io_uring_params *p, void *buf, size_t size);

MTS_EXPORT int io_uring_setup(unsigned entries, struct io_uring_params *p)
{
	int (*real)(unsigned, struct io_uring_params *);

	mts_init();
	if (mts_uring_refused("io_uring_setup"))
		return -ENOSYS;
	*(void **)&real = next_symbol("io_uring_setup");
	return real != NULL ? real(entries, p) : -ENOSYS;
}

MTS_EXPORT int io_uring_queue_init(unsigned entries, struct io_uring *ring,
				   unsigned flags)
{
	int (*real)(unsigned, struct io_uring *, unsigned);

	mts_init();
	if (mts_uring_refused("io_uring_queue_init"))
		return -ENOSYS;
	*(void **)&real = next_symbol("io_uring_queue_init");
	return real != NULL ? real(entries, ring, flags) : -ENOSYS;
}

MTS_EXPORT int io_uring_queue_init_params(unsigned entries,
					  struct io_uring *ring,
					  struct io_uring_params *p)
{
	int (*real)(unsigned, struct io_uring *, struct io_uring_params *);

	mts_init();
	if (mts_uring_refused("io_uring_queue_init_params"))
		return -ENOSYS;
	*(void **)&real = next_symbol("io_uring_queue_init_params");
	return real != NULL ? real(entries, ring, p) : -ENOSYS;
}

MTS_EXPORT int io_uring_queue_init_mem(unsigned entries, struct io_uring *ring,
				       struct io_uring_params *p, void *buf,
				       size_t size)
{
	int (*real)(unsigned, struct io_uring *, struct io_uring_params *,
		    void *, size_t);

	mts_init();
	if (mts_uring_refused("io_uring_queue_init_mem"))
		return -ENOSYS;
	*(void **)&real = next_symbol("io_uring_queue_init_mem");
	return real != NULL ? real(entries, ring, p, buf, size) : -ENOSYS;
}
