/*
 * exec.c - warn before exec of a set-user-ID or set-group-ID program
 *
 * SYNOPSIS
 *	execve execv execvp execvpe execl execlp execle fexecve
 *	posix_spawn posix_spawnp
 *
 * DESCRIPTION
 *	The dynamic linker ignores LD_PRELOAD (paths with a slash, and any
 *	library outside the trusted directories) in a secure-execution
 *	process: a set-user-ID or set-group-ID program run from a wrapped
 *	process is not covered, whatever it connects to. The shim cannot
 *	change that; it says so, with one log line naming the program,
 *	before the exec. Then the real call runs, unchanged: a warning, not
 *	a refusal (sendmail-compatible programs such as Postfix's postdrop
 *	are set-group-ID and make no SMTP connection themselves).
 *
 *	Cheap: one stat() of the program about to run (for the *p variants,
 *	of each PATH entry until an executable is found, as the exec will),
 *	only while the shim is active (not in the relay). No allocation: the
 *	execl* argument vectors live on the stack, or in an anonymous
 *	mapping when they are long (exec from a vfork child or a signal
 *	handler must stay async-signal-safe).
 *
 * BUGS
 *	system() and popen() exec /bin/sh from inside the C library, where
 *	no hook sees it; the shell's own exec of the program is seen (the
 *	shell is a wrapped process too).
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXECL_STACK_ARGS 256
#define DEFAULT_PATH "/bin:/usr/bin"

/* Logs the warning when st is a set-ID executable file. */
static void warn_stat(const char *what, const struct stat *st)
{
	if (!S_ISREG(st->st_mode) || !(st->st_mode & (S_ISUID | S_ISGID)))
		return;
	mts_log("exec %s: set-%s-ID program: the dynamic linker ignores "
		"LD_PRELOAD there, its connections are not covered by "
		"MTA-STS enforcement", what,
		(st->st_mode & S_ISUID) ? "user" : "group");
}

static void warn_path(const char *path)
{
	struct stat st;

	if (!mts_cfg.active || mts_in_shim || path == NULL)
		return;
	if (stat(path, &st) == 0)
		warn_stat(path, &st);
}

/* The program a PATH search would run: the first executable regular
 * file, as execvp() finds it. Names with a slash are used as they are. */
static void warn_search(const char *file)
{
	char full[PATH_MAX];
	const char *p, *end;
	struct stat st;

	if (!mts_cfg.active || mts_in_shim || file == NULL || file[0] == '\0')
		return;
	if (strchr(file, '/') != NULL) {
		warn_path(file);
		return;
	}
	if ((p = getenv("PATH")) == NULL)
		p = DEFAULT_PATH;
	for (; ; p = end + 1) {
		size_t dlen, flen = strlen(file);

		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		dlen = (size_t)(end - p);
		if (dlen == 0) {
			full[0] = '\0';	/* empty entry: the current directory */
		} else if (dlen + 1 + flen < sizeof(full)) {
			memcpy(full, p, dlen);
			full[dlen] = '/';
			full[dlen + 1] = '\0';
		} else {
			goto next;
		}
		if (strlen(full) + flen >= sizeof(full))
			goto next;
		memcpy(full + strlen(full), file, flen + 1);
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode) &&
		    (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH))) {
			warn_stat(full, &st);
			return;
		}
next:
		if (*end == '\0')
			return;
	}
}

static int no_real(void)
{
	errno = ENOSYS;
	return -1;
}

MTS_EXPORT int execve(const char *path, char *const argv[],
		      char *const envp[])
{
	mts_init();
	if (mts_real.execve == NULL)
		return no_real();
	warn_path(path);
	return mts_real.execve(path, argv, envp);
}

MTS_EXPORT int execv(const char *path, char *const argv[])
{
	mts_init();
	if (mts_real.execv == NULL)
		return no_real();
	warn_path(path);
	return mts_real.execv(path, argv);
}

MTS_EXPORT int execvp(const char *file, char *const argv[])
{
	mts_init();
	if (mts_real.execvp == NULL)
		return no_real();
	warn_search(file);
	return mts_real.execvp(file, argv);
}

MTS_EXPORT int execvpe(const char *file, char *const argv[],
		       char *const envp[])
{
	mts_init();
	if (mts_real.execvpe == NULL)
		return no_real();
	warn_search(file);
	return mts_real.execvpe(file, argv, envp);
}

MTS_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	struct stat st;

	mts_init();
	if (mts_real.fexecve == NULL)
		return no_real();
	if (mts_cfg.active && !mts_in_shim && fstat(fd, &st) == 0)
		warn_stat("(fexecve)", &st);
	return mts_real.fexecve(fd, argv, envp);
}

MTS_EXPORT int posix_spawn(pid_t *pid, const char *path,
			   const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *attr, char *const argv[],
			   char *const envp[])
{
	mts_init();
	if (mts_real.posix_spawn == NULL)
		return ENOSYS;
	warn_path(path);
	return mts_real.posix_spawn(pid, path, fa, attr, argv, envp);
}

MTS_EXPORT int posix_spawnp(pid_t *pid, const char *file,
			    const posix_spawn_file_actions_t *fa,
			    const posix_spawnattr_t *attr, char *const argv[],
			    char *const envp[])
{
	mts_init();
	if (mts_real.posix_spawnp == NULL)
		return ENOSYS;
	warn_search(file);
	return mts_real.posix_spawnp(pid, file, fa, attr, argv, envp);
}

/* ---- execl, execlp, execle: the list made a vector ------------------- */

enum execl_kind { EXECL, EXECLP, EXECLE };

/* The argument vector of an execl* call, and the program run with it.
 * Returns only on failure, like exec. */
static int execl_common(enum execl_kind kind, const char *path,
			const char *arg0, va_list ap)
{
	char *stack_args[EXECL_STACK_ARGS];
	char **argv = stack_args, *const *envp = NULL;
	size_t count = 1, mapped = 0, i;
	va_list count_ap;
	int rc, saved;

	va_copy(count_ap, ap);
	if (arg0 != NULL)
		while (va_arg(count_ap, char *) != NULL)
			count++;
	va_end(count_ap);
	if (count + 1 > EXECL_STACK_ARGS) {
		if (count > (size_t)INT_MAX / sizeof(char *)) {
			errno = E2BIG;
			return -1;
		}
		mapped = (count + 1) * sizeof(char *);
		argv = mmap(NULL, mapped, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (argv == MAP_FAILED)
			return -1;	/* errno ENOMEM, as exec */
	}
	argv[0] = (char *)arg0;
	for (i = 1; arg0 != NULL && i < count; i++)
		argv[i] = va_arg(ap, char *);
	argv[arg0 != NULL ? count : 0] = NULL;
	if (arg0 != NULL)
		(void)va_arg(ap, char *);	/* the terminating NULL */
	if (kind == EXECLE)
		envp = va_arg(ap, char *const *);

	switch (kind) {
	case EXECLP:
		rc = execvp(path, argv);
		break;
	case EXECLE:
		rc = execve(path, argv, envp);
		break;
	default:
		rc = execv(path, argv);
		break;
	}
	saved = errno;
	if (mapped)
		munmap(argv, mapped);
	errno = saved;
	return rc;
}

MTS_EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	int rc;

	va_start(ap, arg);
	rc = execl_common(EXECL, path, arg, ap);
	va_end(ap);
	return rc;
}

MTS_EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	int rc;

	va_start(ap, arg);
	rc = execl_common(EXECLP, file, arg, ap);
	va_end(ap);
	return rc;
}

MTS_EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	int rc;

	va_start(ap, arg);
	rc = execl_common(EXECLE, path, arg, ap);
	va_end(ap);
	return rc;
}
