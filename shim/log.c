/*
 * log.c - the shim's opt-in logger: one line per event
 *
 * SYNOPSIS
 *	mts_log("connect %s:%u: relay failed: %s", addr, port, strerror(e));
 *
 * DESCRIPTION
 *	The host's stderr and syslog identity are not ours, so the shim is
 *	silent unless MTASTS_LOG names a sink:
 *
 *	  stderr   one write(2) to fd 2;
 *	  syslog   syslog(LOG_MAIL | LOG_ERR) without openlog(), so the
 *	           host's own openlog() settings stay as they were;
 *	  /path    opened O_APPEND | O_CLOEXEC for each line, one write,
 *	           closed again (no fd of ours lingers in the host).
 *
 *	Each line is formatted into a bounded stack buffer (long lines are
 *	truncated) and starts with "mtasts-shim[pid]: ". errno is kept.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define MTS_LOG_LINE 512

void mts_log(const char *fmt, ...)
{
	char line[MTS_LOG_LINE];
	int saved = errno, head, n, fd;
	va_list ap;
	size_t len;

	if (mts_cfg.log == MTS_LOG_NONE)
		return;
	head = snprintf(line, sizeof(line), "mtasts-shim[%ld]: ",
			(long)getpid());
	if (head < 0 || (size_t)head >= sizeof(line))
		goto out;
	va_start(ap, fmt);
	n = vsnprintf(line + head, sizeof(line) - (size_t)head, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto out;
	len = strnlen(line, sizeof(line) - 2);
	line[len++] = '\n';

	switch (mts_cfg.log) {
	case MTS_LOG_STDERR:
		(void)!write(STDERR_FILENO, line, len);
		break;
	case MTS_LOG_SYSLOG:
		line[len - 1] = '\0';
		syslog(LOG_MAIL | LOG_ERR, "%s", line + head);
		break;
	case MTS_LOG_FILE:
		fd = open(mts_cfg.log_path,
			  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
			  0600);
		if (fd >= 0) {
			(void)!write(fd, line, len);
			mts_real.close(fd);
		}
		break;
	case MTS_LOG_NONE:
		break;
	}
out:
	errno = saved;
}
