/*
 * log.h - one logging sink per process: syslog (facility mail), stderr or a file
 *
 * DESCRIPTION
 *	mts_log_init() selects the sink once, from the values that config.h
 *	read out of MTASTS_LOG and MTASTS_LOG_LEVEL. Before it is called (or
 *	if it failed) messages at warn level and above go to stderr.
 *
 *	Lines are single-line: any control character in a formatted message
 *	is replaced by '?', so a hostile name from the network can never forge
 *	a second log line. Decision lines use key=value pairs (see
 *	mts_log_kv_value() for quoting values that may hold spaces).
 *
 *	Secrets are never logged: callers pass names, addresses, reasons.
 *
 *	The file sink opens the path with O_APPEND|O_CLOEXEC and writes each
 *	line with one write(2), so concurrent processes do not interleave.
 *	Thread-safe.
 */
#ifndef MTS_LOG_H
#define MTS_LOG_H

#include <stddef.h>

enum mts_log_level {
	MTS_LOG_ERROR = 0,
	MTS_LOG_WARN,
	MTS_LOG_INFO,
	MTS_LOG_DEBUG,
};

/* target: "syslog", "stderr" or an absolute file path. ident: program name.
 * Returns 0, or -1 with a message in err. */
int mts_log_init(const char *ident, const char *target,
		 enum mts_log_level level, char *err, size_t errlen);

void mts_log(enum mts_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

int mts_log_enabled(enum mts_log_level level);

/* Parses "error|warn|info|debug". Returns 0 or -1. */
int mts_log_level_parse(const char *s, enum mts_log_level *out);

/* Writes s into out[outlen] as a key=value value: unchanged when it holds
 * only printable non-space ASCII other than '"', else double-quoted with
 * '"' and '\' escaped and non-printables as '?'. "-" for NULL or "". */
const char *mts_log_kv_value(const char *s, char *out, size_t outlen);

#endif
