/*
 * clone_passthrough.c - let a TSan host program hand clone() to libc
 *
 * DESCRIPTION
 *	Linked only into the ThreadSanitizer build of the shim's test client
 *	(make tsan, build/tsan). The shim starts the relay with
 *	clone(CLONE_VM | CLONE_VFORK) from whatever thread called connect()
 *	(shim/spawn.c). TSan's clone() interceptor takes every clone for a
 *	fork and sets up a new runtime thread for the child; with CLONE_VM
 *	and 16 threads at once that corrupts its thread registry ("CHECK
 *	failed: !thr->slot") before any race could be reported.
 *
 *	The sanitizer's interceptors are weak symbols, so this strong
 *	clone() in the executable wins, and it calls the C library's clone()
 *	(found with dlsym(RTLD_NEXT)). The parent thread stays suspended
 *	until the child has exec'd (CLONE_VFORK), so, as with vfork(), the
 *	child runs on the caller's TSan state while it is not used.
 *
 * BUGS
 *	The relay side resets every signal with sigaction(), which TSan
 *	intercepts: the runtime's table of the host's handlers is shared
 *	memory (CLONE_VM), so after a spawn TSan believes the host has only
 *	default handlers. The shim's tests install none they rely on then.
 *	The middle process's _exit() runs TSan's finalisation on the host's
 *	state, which would report the host's running threads as leaked:
 *	t_tsan_shim.sh sets report_thread_leaks=0.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/types.h>

typedef int (*clone_fn)(int (*)(void *), void *, int, void *, ...);

static clone_fn real;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;

static void find_real(void)
{
	real = (clone_fn)dlsym(RTLD_NEXT, "clone");
}

int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	pid_t *ptid = NULL, *ctid = NULL;
	void *tls = NULL;
	va_list ap;

	pthread_once(&real_once, find_real);
	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	/* The optional arguments exist only when the flags use them. */
	if (flags & (CLONE_PARENT_SETTID | CLONE_SETTLS | CLONE_CHILD_SETTID |
		     CLONE_CHILD_CLEARTID | CLONE_PIDFD)) {
		va_start(ap, arg);
		ptid = va_arg(ap, pid_t *);
		tls = va_arg(ap, void *);
		ctid = va_arg(ap, pid_t *);
		va_end(ap);
	}
	return real(fn, stack, flags, arg, ptid, tls, ctid);
}
