/*
 * log.c - one logging sink per process: syslog (mail), stderr or a file
 *
 * SYNOPSIS
 *	mts_log_init("mtasts-relay", cfg.log_target, cfg.log_level, err, len);
 *	mts_log(MTS_LOG_INFO, "policy domain=%s mode=%s", d, m);
 *
 * DESCRIPTION
 *	The sink is chosen once per process (see log.h). Every message is
 *	formatted into a bounded stack buffer (MTS_LOG_MSG_MAX bytes; longer
 *	messages end in "..."), and every control character in it (bytes
 *	below 0x20 and 0x7f) becomes '?', so text that came from the network
 *	can never start a forged log line.
 *
 *	syslog: openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL). LOG_NDELAY
 *	opens the log socket at init rather than at the first message; that
 *	is right for the processes that link this library (the CLI and the
 *	relay), never for an application we are preloaded into.
 *
 *	stderr: "ident: level: message\n".
 *
 *	file: "2024-05-01T12:00:00.123Z ident[pid]: level: message\n",
 *	opened O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC, mode 0600. Each line goes
 *	out in one write(2): with O_APPEND the kernel places it atomically at
 *	the end, so the lines of concurrent relays never interleave. Lines
 *	are shorter than PIPE_BUF, so the same holds for stderr on a pipe.
 *
 *	A mutex serialises the sink state and the writes; the level is an
 *	atomic so mts_log_enabled() is cheap. pthread_atfork handlers keep
 *	the mutex usable in a child forked while another thread logged.
 *	errno is preserved across mts_log(), so callers may log between a
 *	failing call and their use of errno.
 *
 * BUGS
 *	A write error on the file sink is ignored: there is nowhere left to
 *	report it.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

/* Longest formatted message, NUL included; longer ones are cut to "...". */
#define MTS_LOG_MSG_MAX 2048
/* Longest ident kept (program names are short). */
#define MTS_LOG_IDENT_MAX 64
/* Prefix room: timestamp, ident, pid, level, separators. */
#define MTS_LOG_PREFIX_MAX (MTS_LOG_IDENT_MAX + 96)

enum log_sink {
	SINK_DEFAULT = 0,	/* not initialised (or init failed): stderr */
	SINK_SYSLOG,
	SINK_STDERR,
	SINK_FILE,
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t log_atfork_once = PTHREAD_ONCE_INIT;
static enum log_sink log_sink = SINK_DEFAULT;
static int log_fd = -1;
/* openlog() keeps the pointer, so the ident lives in static storage. */
static char log_ident[MTS_LOG_IDENT_MAX + 1];
static atomic_int log_level = MTS_LOG_WARN;

static const char *const level_names[] = {
	[MTS_LOG_ERROR] = "error",
	[MTS_LOG_WARN] = "warn",
	[MTS_LOG_INFO] = "info",
	[MTS_LOG_DEBUG] = "debug",
};

static void atfork_prepare(void)
{
	pthread_mutex_lock(&log_lock);
}

static void atfork_release(void)
{
	pthread_mutex_unlock(&log_lock);
}

static void register_atfork(void)
{
	pthread_atfork(atfork_prepare, atfork_release, atfork_release);
}

static const char *level_name(enum mts_log_level level)
{
	if ((unsigned)level > MTS_LOG_DEBUG)
		return "debug";
	return level_names[level];
}

static int syslog_priority(enum mts_log_level level)
{
	switch (level) {
	case MTS_LOG_ERROR:
		return LOG_ERR;
	case MTS_LOG_WARN:
		return LOG_WARNING;
	case MTS_LOG_INFO:
		return LOG_INFO;
	default:
		return LOG_DEBUG;
	}
}

/* The ident used before mts_log_init(): the program's own short name. */
static const char *current_ident(void)
{
	if (log_ident[0] != '\0')
		return log_ident;
	if (program_invocation_short_name && *program_invocation_short_name)
		return program_invocation_short_name;
	return "mtasts";
}

/* Closes whatever sink is open; called with log_lock held. */
static void close_sink(void)
{
	if (log_sink == SINK_SYSLOG)
		closelog();
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	log_sink = SINK_DEFAULT;
}

int mts_log_init(const char *ident, const char *target,
		 enum mts_log_level level, char *err, size_t errlen)
{
	int rc = 0;

	pthread_once(&log_atfork_once, register_atfork);
	pthread_mutex_lock(&log_lock);
	close_sink();
	mts_strlcpy(log_ident, ident && *ident ? ident : "mtasts",
		    sizeof(log_ident));

	if (target == NULL || *target == '\0' ||
	    strcmp(target, "syslog") == 0) {
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
		log_sink = SINK_SYSLOG;
	} else if (strcmp(target, "stderr") == 0) {
		log_sink = SINK_STDERR;
	} else if (target[0] == '/') {
		int fd = open(target, O_WRONLY | O_APPEND | O_CREAT |
			      O_CLOEXEC | O_NOCTTY, 0600);

		if (fd < 0) {
			mts_errorf(err, errlen, "log file %s: %s", target,
				   strerror(errno));
			rc = -1;
		} else {
			log_fd = fd;
			log_sink = SINK_FILE;
		}
	} else {
		mts_errorf(err, errlen, "log target \"%s\" is not syslog, "
			   "stderr or an absolute file path", target);
		rc = -1;
	}
	atomic_store(&log_level, rc == 0 ? (int)level : (int)MTS_LOG_WARN);
	pthread_mutex_unlock(&log_lock);
	return rc;
}

int mts_log_enabled(enum mts_log_level level)
{
	return (int)level <= atomic_load(&log_level);
}

int mts_log_level_parse(const char *s, enum mts_log_level *out)
{
	if (s == NULL)
		return -1;
	for (size_t i = 0; i <= MTS_LOG_DEBUG; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum mts_log_level)i;
			return 0;
		}
	}
	return -1;
}

/* Formats into msg[MTS_LOG_MSG_MAX]: cut to "..." when too long, control
 * characters replaced by '?'. Returns the length. */
static size_t format_message(char *msg, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static size_t format_message(char *msg, const char *fmt, va_list ap)
{
	int n = vsnprintf(msg, MTS_LOG_MSG_MAX, fmt, ap);
	size_t len;

	if (n < 0) {
		mts_strlcpy(msg, "(unformattable message)", MTS_LOG_MSG_MAX);
		return strlen(msg);
	}
	len = (size_t)n;
	if (len >= MTS_LOG_MSG_MAX) {
		len = MTS_LOG_MSG_MAX - 1;
		memcpy(msg + len - 3, "...", 3);
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)msg[i];

		if (c < 0x20 || c == 0x7f)
			msg[i] = '?';
	}
	return len;
}

/* One write(2), retried only when interrupted before writing anything. */
static void write_line(int fd, const char *line, size_t len)
{
	ssize_t n;

	do
		n = write(fd, line, len);
	while (n < 0 && errno == EINTR);
}

static size_t file_prefix(char *out, size_t outlen, const char *ident,
			  enum mts_log_level level)
{
	struct timespec now;
	struct tm tm;
	char stamp[32];
	int n;

	clock_gettime(CLOCK_REALTIME, &now);
	if (gmtime_r(&now.tv_sec, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		mts_strlcpy(stamp, "0000-00-00T00:00:00", sizeof(stamp));
	n = snprintf(out, outlen, "%s.%03ldZ %s[%ld]: %s: ", stamp,
		     (long)(now.tv_nsec / 1000000), ident, (long)getpid(),
		     level_name(level));
	if (n < 0)
		return 0;
	return (size_t)n < outlen ? (size_t)n : outlen - 1;
}

static size_t stderr_prefix(char *out, size_t outlen, const char *ident,
			    enum mts_log_level level)
{
	int n = snprintf(out, outlen, "%s: %s: ", ident, level_name(level));

	if (n < 0)
		return 0;
	return (size_t)n < outlen ? (size_t)n : outlen - 1;
}

void mts_log(enum mts_log_level level, const char *fmt, ...)
{
	char msg[MTS_LOG_MSG_MAX];
	char line[MTS_LOG_PREFIX_MAX + MTS_LOG_MSG_MAX + 1];
	size_t msglen, plen;
	int saved_errno = errno;
	va_list ap;

	if (!mts_log_enabled(level))
		return;
	va_start(ap, fmt);
	msglen = format_message(msg, fmt, ap);
	va_end(ap);

	pthread_once(&log_atfork_once, register_atfork);
	pthread_mutex_lock(&log_lock);
	switch (log_sink) {
	case SINK_SYSLOG:
		syslog(syslog_priority(level), "%s", msg);
		break;
	case SINK_FILE:
		plen = file_prefix(line, MTS_LOG_PREFIX_MAX, current_ident(),
				   level);
		memcpy(line + plen, msg, msglen);
		line[plen + msglen] = '\n';
		write_line(log_fd, line, plen + msglen + 1);
		break;
	case SINK_STDERR:
	case SINK_DEFAULT:
	default:
		plen = stderr_prefix(line, MTS_LOG_PREFIX_MAX, current_ident(),
				     level);
		memcpy(line + plen, msg, msglen);
		line[plen + msglen] = '\n';
		write_line(STDERR_FILENO, line, plen + msglen + 1);
		break;
	}
	pthread_mutex_unlock(&log_lock);
	errno = saved_errno;
}

/* Does s need quoting as a key=value value? */
static int kv_needs_quotes(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c >= 0x7f || c == '"')
			return 1;
	}
	return 0;
}

/* How c is written inside quotes: into piece[3], returns its length. */
static size_t kv_quoted_piece(unsigned char c, char piece[3])
{
	if (c == '"' || c == '\\') {
		piece[0] = '\\';
		piece[1] = (char)c;
		return 2;
	}
	piece[0] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	return 1;
}

/* Length of the complete rendition of s (without NUL). */
static size_t kv_full_length(const char *s, int quoted)
{
	size_t n = quoted ? 2 : 0;
	char piece[3];

	for (; *s; s++)
		n += quoted ? kv_quoted_piece((unsigned char)*s, piece) : 1;
	return n;
}

const char *mts_log_kv_value(const char *s, char *out, size_t outlen)
{
	const char *ellipsis = "...";
	size_t pos = 0, limit, tail;
	int quoted, truncated;
	char piece[3];

	if (out == NULL || outlen == 0)
		return out;
	if (s == NULL || *s == '\0') {
		mts_strlcpy(out, "-", outlen);
		return out;
	}
	quoted = kv_needs_quotes(s);
	truncated = kv_full_length(s, quoted) >= outlen;
	/* Bytes reserved after the content: "..." when cut, the closing
	 * quote, the NUL. Too small a buffer gets a plain cut copy. */
	tail = (truncated ? 3 : 0) + (quoted ? 1 : 0) + 1;
	if (outlen < tail + (quoted ? 2 : 1)) {
		mts_strlcpy(out, s, outlen);
		return out;
	}
	limit = outlen - tail;
	if (quoted)
		out[pos++] = '"';
	for (; *s; s++) {
		size_t n = 1;

		if (quoted)
			n = kv_quoted_piece((unsigned char)*s, piece);
		else
			piece[0] = *s;

		if (pos + n > limit)
			break;
		memcpy(out + pos, piece, n);
		pos += n;
	}
	if (truncated) {
		memcpy(out + pos, ellipsis, 3);
		pos += 3;
	}
	if (quoted)
		out[pos++] = '"';
	out[pos] = '\0';
	return out;
}
