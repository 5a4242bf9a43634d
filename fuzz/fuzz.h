/*
 * fuzz.h - small helpers shared by the libFuzzer targets in fuzz/
 *
 * DESCRIPTION
 *	FUZZ_ASSERT() aborts with the file, line and condition when an
 *	invariant of the code under test does not hold, so libFuzzer saves
 *	the input as a crash (a plain assert() would vanish under NDEBUG).
 *
 *	fuzz_dup() copies the input into a heap block of exactly len bytes
 *	(plus a NUL when asked), so that AddressSanitizer catches a parser
 *	reading one byte past the length it was given.
 *
 *	fuzz_quiet_logs() sends the policy engine's log lines to /dev/null:
 *	a parser that warns on every bad input would otherwise spend the
 *	fuzzer's time writing to stderr.
 */
#ifndef MTS_FUZZ_H
#define MTS_FUZZ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define FUZZ_ASSERT(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", \
				__FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

static inline char *fuzz_dup(const unsigned char *data, size_t len,
			     int with_nul)
{
	char *copy = malloc(len + (with_nul ? 1 : 0) + (len == 0));

	if (copy == NULL)
		abort();
	if (len > 0)
		memcpy(copy, data, len);
	if (with_nul)
		copy[len] = '\0';
	return copy;
}

static inline void fuzz_quiet_logs(void)
{
	char err[128];

	if (mts_log_init("fuzz", "/dev/null", MTS_LOG_ERROR, err,
			 sizeof(err)) < 0) {
		fprintf(stderr, "fuzz: log init: %s\n", err);
		abort();
	}
}

#endif
