/*
 * init.c - binding the real libc symbols, reading MTASTS_*, fork handlers
 *
 * SYNOPSIS
 *	mts_init();		(first thing in every hook)
 *	mts_real.connect(fd, addr, len);
 *
 * DESCRIPTION
 *	The hooks may run before this library's constructor (another
 *	library's constructor can call connect() or getaddrinfo() first), so
 *	nothing depends on the constructor: every hook calls mts_init(), which
 *	does the work exactly once under pthread_once. The work is cheap and
 *	does no I/O: dlsym(RTLD_NEXT) for each hooked call, getenv() for the
 *	configuration. The constructor only registers pthread_atfork()
 *	handlers for the table locks. Loading the library therefore reads no
 *	file, starts no thread and loads no other library.
 *
 *	In the relay itself (a process exec'd with the relay path) nothing is
 *	intercepted. spawn.c takes libmtasts.so out of the relay's LD_PRELOAD;
 *	this check stays as a second guard (the relay may be run by hand, or
 *	the library be preloaded some other way, e.g. /etc/ld.so.preload).
 *
 *	In a secure-execution process (getauxval(AT_SECURE): set-user-ID,
 *	file capabilities...) the environment is ignored: port 25, the
 *	compile-time relay path, the default timeout, no log.
 *
 *	MTASTS_PORTS    ports to intercept, comma or blank separated (25)
 *	MTASTS_RELAY    relay program (MTS_RELAY_PATH)
 *	MTASTS_TIMEOUT  seconds the relay may take to decide (60); the shim
 *	                waits five seconds more for the verdict
 *	MTASTS_DOMAIN   recipient domain passed to the relay, overriding the
 *	                one learnt from MX look-ups
 *	MTASTS_LOG      "stderr", "syslog" or an absolute file name
 *	MTASTS_ALLOW_IO_URING  "1": let io_uring_setup() through (uring.c)
 */
#include "shim.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

struct mts_real mts_real;
struct mts_config mts_cfg;
__thread int mts_in_shim __attribute__((tls_model("initial-exec")));

#define MTS_TIMEOUT_DEFAULT 60
#define MTS_TIMEOUT_MAX 3600

static pthread_once_t mts_once = PTHREAD_ONCE_INIT;

/* dlsym() returns void *; converting it to a function pointer is what
 * POSIX requires to work. */
#define BIND(field, name) \
	(*(void **)&mts_real.field = dlsym(RTLD_NEXT, name))

void *mts_real_resolver(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	/* glibc 2.34+ keeps __res_query & co only as compat symbols, which
	 * dlsym() without a version does not return; older C libraries
	 * export only the __res_ names from libresolv. */
	if (p == NULL && strncmp(name, "__", 2) == 0)
		p = dlsym(RTLD_NEXT, name + 2);
	if (p == NULL && strncmp(name, "__", 2) != 0) {
		char alias[64] = "__";

		if (mts_scopy(alias + 2, name, sizeof(alias) - 2) >=
		    sizeof(alias) - 2)
			return NULL;
		p = dlsym(RTLD_NEXT, alias);
		if (p == NULL)
			p = dlvsym(RTLD_NEXT, alias, "GLIBC_2.2.5");
	}
	return p;
}

static void bind_symbols(void)
{
	long (*real_syscall)(long, ...);

	/* First, and published atomically: syscall.c passes other numbers
	 * through without waiting for the rest of the initialisation. */
	*(void **)&real_syscall = dlsym(RTLD_NEXT, "syscall");
	__atomic_store_n(&mts_real.syscall, real_syscall, __ATOMIC_RELEASE);
	BIND(connect, "connect");
	BIND(close, "close");
	BIND(dup, "dup");
	BIND(dup2, "dup2");
	BIND(dup3, "dup3");
	BIND(fcntl, "fcntl");
	BIND(fcntl64, "fcntl64");
	if (mts_real.fcntl64 == NULL)
		mts_real.fcntl64 = mts_real.fcntl;
	BIND(getpeername, "getpeername");
	BIND(getsockname, "getsockname");
	BIND(getsockopt, "getsockopt");
	BIND(setsockopt, "setsockopt");
	BIND(getaddrinfo, "getaddrinfo");
	BIND(gethostbyname, "gethostbyname");
	BIND(gethostbyname2, "gethostbyname2");
	BIND(gethostbyname_r, "gethostbyname_r");
	BIND(gethostbyname2_r, "gethostbyname2_r");
	*(void **)&mts_real.res_query = mts_real_resolver("res_query");
	*(void **)&mts_real.res_search = mts_real_resolver("res_search");
	*(void **)&mts_real.res_nquery = mts_real_resolver("res_nquery");
	*(void **)&mts_real.res_nsearch = mts_real_resolver("res_nsearch");
	*(void **)&mts_real.res_send = mts_real_resolver("res_send");
	*(void **)&mts_real.res_nsend = mts_real_resolver("res_nsend");
	BIND(sendto, "sendto");
	BIND(sendmsg, "sendmsg");
	BIND(sendmmsg, "sendmmsg");
	BIND(execve, "execve");
	BIND(execv, "execv");
	BIND(execvp, "execvp");
	BIND(execvpe, "execvpe");
	BIND(fexecve, "fexecve");
	BIND(posix_spawn, "posix_spawn");
	BIND(posix_spawnp, "posix_spawnp");
}

static void set_port(uint16_t port)
{
	mts_cfg.port[port >> 3] |= (uint8_t)(1u << (port & 7));
}

/* "25, 587 2525": ports separated by commas or blanks; junk is skipped.
 * Returns how many ports were set. */
static int parse_ports(const char *s)
{
	int n = 0;

	while (*s != '\0') {
		unsigned long v = 0;
		int digits = 0;

		while (*s == ',' || *s == ' ' || *s == '\t')
			s++;
		while (*s >= '0' && *s <= '9') {
			if (v <= 65535)
				v = v * 10 + (unsigned long)(*s - '0');
			digits++;
			s++;
		}
		if (digits > 0 && (*s == '\0' || *s == ',' || *s == ' ' ||
				   *s == '\t') && v >= 1 && v <= 65535) {
			set_port((uint16_t)v);
			n++;
		}
		while (*s != '\0' && *s != ',' && *s != ' ' && *s != '\t')
			s++;
	}
	return n;
}

static int parse_timeout(const char *s)
{
	long v = 0;

	if (*s == '\0')
		return MTS_TIMEOUT_DEFAULT;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return MTS_TIMEOUT_DEFAULT;
		v = v * 10 + (*s - '0');
		if (v > MTS_TIMEOUT_MAX)
			return MTS_TIMEOUT_MAX;
	}
	return v < 1 ? 1 : (int)v;
}

/* A domain name as text, nothing the relay's argument parser or a log
 * line could misread. */
static int plausible_domain(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return 0;
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s >= 0x7f)
			return 0;
	return 1;
}

/* The relay inherits the host's environment, LD_PRELOAD included: in the
 * relay itself (exec'd by us with exactly this path) the shim must stay
 * out of the way, or its connect() would start another relay. */
static int is_the_relay(void)
{
	const char *exe = (const char *)getauxval(AT_EXECFN);

	return exe != NULL && strcmp(exe, mts_cfg.relay) == 0;
}

static void read_config(void)
{
	const char *v;

	/* mts_cfg is zero at load and this runs once: no memset, which
	 * would fault in its pages (the port bitmap alone is 8 KiB) in every
	 * process, even one that never connects anywhere. */
	mts_cfg.timeout = MTS_TIMEOUT_DEFAULT;
	mts_cfg.log = MTS_LOG_NONE;
	mts_cfg.secure = getauxval(AT_SECURE) != 0;
	mts_scopy(mts_cfg.relay, MTS_RELAY_PATH, sizeof(mts_cfg.relay));
	if (!mts_cfg.secure && (v = getenv("MTASTS_RELAY")) != NULL &&
	    v[0] != '\0' && strlen(v) < sizeof(mts_cfg.relay))
		mts_scopy(mts_cfg.relay, v, sizeof(mts_cfg.relay));
	if (is_the_relay())
		return;		/* no port intercepted */
	mts_cfg.active = 1;
	if (mts_cfg.secure) {
		set_port(25);
		return;
	}
	if ((v = getenv("MTASTS_ALLOW_IO_URING")) != NULL &&
	    strcmp(v, "1") == 0)
		mts_cfg.allow_io_uring = 1;
	if ((v = getenv("MTASTS_PORTS")) == NULL || parse_ports(v) == 0)
		set_port(25);
	if ((v = getenv("MTASTS_TIMEOUT")) != NULL)
		mts_cfg.timeout = parse_timeout(v);
	if ((v = getenv("MTASTS_DOMAIN")) != NULL && plausible_domain(v))
		mts_scopy(mts_cfg.domain, v, sizeof(mts_cfg.domain));
	if ((v = getenv("MTASTS_LOG")) != NULL) {
		if (strcmp(v, "stderr") == 0)
			mts_cfg.log = MTS_LOG_STDERR;
		else if (strcmp(v, "syslog") == 0)
			mts_cfg.log = MTS_LOG_SYSLOG;
		else if (v[0] == '/' && strlen(v) < sizeof(mts_cfg.log_path)) {
			mts_scopy(mts_cfg.log_path, v,
				  sizeof(mts_cfg.log_path));
			mts_cfg.log = MTS_LOG_FILE;
		}
	}
}

/* Fork: hold both table locks across fork() so the child never inherits
 * a table in the middle of an update; the guard keeps later prepare
 * handlers on this thread (which may close fds) away from those locks. */
static void atfork_prepare(void)
{
	mts_in_shim++;
	mts_names_atfork_prepare();
	mts_fd_atfork_prepare();
}

static void atfork_parent(void)
{
	mts_fd_atfork_parent();
	mts_names_atfork_parent();
	mts_in_shim--;
}

static void atfork_child(void)
{
	mts_fd_atfork_child();
	mts_names_atfork_child();
	mts_in_shim--;
}

static void init_once(void)
{
	bind_symbols();
	read_config();
}

void mts_init(void)
{
	pthread_once(&mts_once, init_once);
}

/* The constructor only registers the fork handlers, early, so that they
 * come before the host's (prepare handlers run in reverse order: ours
 * then run last); the handlers need nothing but the tables' static
 * locks. Binding and configuration wait for the first hook: a process
 * that never calls one (most short-lived programs: libc's own calls do
 * not go through our symbols) pays for the library's mapping only
 * (docs/PERFORMANCE.md). */
__attribute__((constructor)) static void mts_constructor(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}
