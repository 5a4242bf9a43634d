/*
 * spawn.c - start the relay without the host ever seeing a child
 *
 * SYNOPSIS
 *	rc = mts_spawn_relay(path, argv, tcp_fd, app_fd);
 *
 * DESCRIPTION
 *	The relay must outlive the host's exec() and exit(), and the host
 *	must never reap or even notice a child of ours: mail senders keep a
 *	SIGCHLD handler and a waitpid(-1) loop for their own children. So:
 *
 *	  shim thread ──clone(CLONE_VM|CLONE_VFORK, exit signal 0)──> middle
 *	  middle ──clone(CLONE_VM|CLONE_VFORK, SIGCHLD)──> relay: setsid(),
 *	         fds 0-2 /dev/null, 3 tcp_fd, 4 app_fd, every other fd closed,
 *	         signals to default and unblocked, execve(path)
 *	  middle exits as soon as the relay has exec'd; the relay, orphaned,
 *	  is adopted by init.
 *
 *	The relay gets the host's environment with this library taken out
 *	of LD_PRELOAD (other entries, e.g. a sanitizer runtime, stay; an
 *	LD_PRELOAD left empty is dropped): the relay must never run with
 *	the shim loaded, whose connect() would start another relay. The
 *	vector is built before the clone, in an anonymous mapping (no
 *	malloc: the host may be anywhere in its allocator).
 *
 *	A child whose exit signal is 0 is a "clone child": waitpid() without
 *	__WCLONE or __WALL does not see it and its exit raises no SIGCHLD,
 *	so the host's handler and loops never notice the middle process. The
 *	shim reaps it itself with waitpid(pid, __WCLONE).
 *
 *	CLONE_VM|CLONE_VFORK (as posix_spawn does) copies no page tables and
 *	lets the relay side report an exec failure (ENOENT...) through the
 *	shared struct. Because memory is shared, the child side runs only
 *	async-signal-safe calls, on stacks mapped beforehand, with every
 *	signal blocked until the handlers are reset to their defaults (a
 *	host handler must never run on our shared memory). Everything the
 *	shim creates is O_CLOEXEC, and the relay gets nothing of the host
 *	beyond fds 0-4 and the environment.
 *
 * BUGS
 *	A host that made itself a child subreaper (PR_SET_CHILD_SUBREAPER)
 *	adopts the orphaned relay and will see it exit.
 */
#include "shim.h"
#include "relay_proto.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SPAWN_STACK (128 * 1024)
#define FIRST_FREE_FD (MTS_RELAY_APP_FD + 1)
#define CLOSE_LOOP_MAX (1 << 20)

struct spawn_ctx {
	const char *path;
	char *const *argv;
	char *const *envp;
	int devnull, tcp, app;		/* all >= FIRST_FREE_FD */
	char *relay_stack;		/* top of the relay's stack */
	volatile int err;		/* set by the child side on failure */
};

/* Closes every fd from FIRST_FREE_FD up, without allocating. */
__attribute__((no_sanitize_address))
static void close_the_rest(void)
{
	struct rlimit rl;
	long max;

	if (mts_real.syscall(SYS_close_range, FIRST_FREE_FD, ~0U, 0) == 0)
		return;
	max = getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	      rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < CLOSE_LOOP_MAX ?
		      (long)rl.rlim_cur : CLOSE_LOOP_MAX;
	for (long fd = FIRST_FREE_FD; fd < max; fd++)
		mts_real.syscall(SYS_close, fd);
}

/* The relay side: shares our memory until execve(). */
__attribute__((no_sanitize_address))
static int relay_side(void *arg)
{
	struct spawn_ctx *c = arg;
	struct sigaction dfl;
	sigset_t none;

	/* No host handler may run here; ignored signals must not stay
	 * ignored in the relay either. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	setsid();
	if (mts_real.dup3(c->devnull, STDIN_FILENO, 0) < 0 ||
	    mts_real.dup3(c->devnull, STDOUT_FILENO, 0) < 0 ||
	    mts_real.dup3(c->devnull, STDERR_FILENO, 0) < 0 ||
	    mts_real.dup3(c->tcp, MTS_RELAY_TCP_FD, 0) < 0 ||
	    mts_real.dup3(c->app, MTS_RELAY_APP_FD, 0) < 0) {
		c->err = errno ? errno : EBADF;
		_exit(127);
	}
	close_the_rest();
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(c->path, c->argv, c->envp);
	c->err = errno ? errno : ENOEXEC;
	_exit(127);
}

/* The middle process: starts the relay, waits (CLONE_VFORK) until it
 * has exec'd or failed, and leaves it orphaned. */
__attribute__((no_sanitize_address))
static int middle_side(void *arg)
{
	struct spawn_ctx *c = arg;

	if (clone(relay_side, c->relay_stack, CLONE_VM | CLONE_VFORK | SIGCHLD,
		  c) < 0)
		c->err = errno ? errno : EAGAIN;
	_exit(0);
}

/* A CLOEXEC copy of fd numbered FIRST_FREE_FD or above (so the dup3()
 * calls of the relay side never overwrite a source); *owned tells
 * whether the caller must close it. */
static int above_low_fds(int fd, int *owned)
{
	int hi;

	*owned = 0;
	if (fd >= FIRST_FREE_FD)
		return fd;
	hi = mts_real.fcntl(fd, F_DUPFD_CLOEXEC, FIRST_FREE_FD);
	if (hi >= 0)
		*owned = 1;
	return hi;
}

/* ---- the relay's environment ---------------------------------------- */

#define PRELOAD_VAR "LD_PRELOAD="
#define PRELOAD_VAR_LEN (sizeof(PRELOAD_VAR) - 1)

struct relay_env {
	char **envp;		/* in the mapping, or environ itself */
	void *map;
	size_t map_len;
};

static int preload_sep(char c)
{
	return c == ' ' || c == ':' || c == '\t';
}

/* The file name part of this library's path, as the loader found it. */
static const char *self_name(size_t *len)
{
	static char dummy;
	Dl_info info;
	const char *slash;

	if (dladdr((void *)&dummy, &info) == 0 || info.dli_fname == NULL ||
	    info.dli_fname[0] == '\0')
		return NULL;
	slash = strrchr(info.dli_fname, '/');
	slash = slash != NULL ? slash + 1 : info.dli_fname;
	*len = strlen(slash);
	return *len > 0 ? slash : NULL;
}

/* Is the LD_PRELOAD entry [e, e+n) this library (same file name)? */
static int is_self(const char *e, size_t n, const char *self, size_t slen)
{
	const char *base = e;

	for (size_t i = 0; i < n; i++)
		if (e[i] == '/')
			base = e + i + 1;
	return (size_t)(e + n - base) == slen && memcmp(base, self, slen) == 0;
}

/* Appends value's entries but ours to out ("LD_PRELOAD=" already there);
 * returns the length written after the name. */
static size_t filter_preload(char *out, const char *value, const char *self,
			     size_t slen)
{
	size_t w = 0;
	const char *p = value;

	while (*p != '\0') {
		size_t n = 0;

		while (preload_sep(*p))
			p++;
		while (p[n] != '\0' && !preload_sep(p[n]))
			n++;
		if (n > 0 && !is_self(p, n, self, slen)) {
			if (w > 0)
				out[w++] = ':';
			memcpy(out + w, p, n);
			w += n;
		}
		p += n;
	}
	out[w] = '\0';
	return w;
}

/* Builds env->envp: environ without this library in LD_PRELOAD. Falls
 * back to environ unchanged only when there is nothing to take out.
 * 0 or -errno. */
static int relay_env_build(struct relay_env *env)
{
	size_t n = 0, preload_len = 0, slen = 0, need, w = 0;
	const char *self = self_name(&slen), *preload = NULL;
	char **out, *text;

	memset(env, 0, sizeof(*env));
	env->envp = environ;
	if (environ == NULL)
		return 0;
	for (n = 0; environ[n] != NULL; n++)
		if (strncmp(environ[n], PRELOAD_VAR, PRELOAD_VAR_LEN) == 0) {
			preload = environ[n] + PRELOAD_VAR_LEN;
			preload_len = strlen(environ[n]);
		}
	if (preload == NULL || self == NULL)
		return 0;
	if (n > SIZE_MAX / sizeof(char *) - 1 ||
	    preload_len > SIZE_MAX - (n + 1) * sizeof(char *) - 1)
		return -E2BIG;
	need = (n + 1) * sizeof(char *) + preload_len + 1;
	env->map = mmap(NULL, need, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (env->map == MAP_FAILED) {
		env->map = NULL;
		return -errno;
	}
	env->map_len = need;
	out = env->map;
	text = (char *)(out + n + 1);
	memcpy(text, PRELOAD_VAR, PRELOAD_VAR_LEN);
	for (size_t i = 0; i < n; i++) {
		if (strncmp(environ[i], PRELOAD_VAR, PRELOAD_VAR_LEN) != 0)
			out[w++] = environ[i];
		else if (environ[i] + PRELOAD_VAR_LEN == preload &&
			 filter_preload(text + PRELOAD_VAR_LEN, preload, self,
					slen) > 0)
			out[w++] = text;
	}
	out[w] = NULL;
	env->envp = out;
	return 0;
}

static void relay_env_free(struct relay_env *env)
{
	if (env->map != NULL)
		munmap(env->map, env->map_len);
	env->map = NULL;
}

int mts_spawn_relay(const char *path, char *const argv[], int tcp_fd,
		    int app_fd)
{
	struct relay_env env;
	struct spawn_ctx ctx;
	int devnull = -1, own_tcp = 0, own_app = 0, own_null = 0;
	sigset_t all, old;
	char *stacks = MAP_FAILED;
	pid_t pid;
	int rc, st;

	memset(&ctx, 0, sizeof(ctx));
	ctx.path = path;
	ctx.argv = argv;
	ctx.tcp = ctx.app = ctx.devnull = -1;
	if ((rc = relay_env_build(&env)) < 0)
		return rc;
	ctx.envp = env.envp;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (devnull < 0 ||
	    (ctx.devnull = above_low_fds(devnull, &own_null)) < 0 ||
	    (ctx.tcp = above_low_fds(tcp_fd, &own_tcp)) < 0 ||
	    (ctx.app = above_low_fds(app_fd, &own_app)) < 0) {
		rc = -errno;
		goto out;
	}
	stacks = mmap(NULL, 2 * SPAWN_STACK, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stacks == MAP_FAILED) {
		rc = -errno;
		goto out;
	}
	ctx.relay_stack = stacks + 2 * SPAWN_STACK;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* Exit signal 0: a clone child the host's waitpid(-1) never sees. */
	pid = clone(middle_side, stacks + SPAWN_STACK, CLONE_VM | CLONE_VFORK,
		    &ctx);
	rc = pid < 0 ? -errno : 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		goto out;
	while (waitpid(pid, &st, __WCLONE) < 0 && errno == EINTR)
		;
	if (ctx.err != 0)
		rc = -ctx.err;
out:
	relay_env_free(&env);
	if (stacks != MAP_FAILED)
		munmap(stacks, 2 * SPAWN_STACK);
	if (own_null)
		mts_real.close(ctx.devnull);
	if (own_tcp)
		mts_real.close(ctx.tcp);
	if (own_app)
		mts_real.close(ctx.app);
	if (devnull >= 0)
		mts_real.close(devnull);
	return rc;
}
