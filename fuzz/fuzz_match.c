/*
 * fuzz_match.c - libFuzzer target for MX host names and MX patterns
 *
 * DESCRIPTION
 *	The input is "pattern LF host" (without LF: both are the input).
 *	Invariants of mts_mx_match() and the checks of match.h:
 *	  - an empty host, or one containing '*', never matches;
 *	  - matching ignores ASCII case and one trailing dot on the host;
 *	  - a valid host name matches itself;
 *	  - a non-wildcard pattern matches only a host equal to it (case
 *	    and one trailing dot aside); "*.rest" only a host with exactly
 *	    one more label whose rest is "rest";
 *	  - a valid pattern is a valid host name, or "*." and one;
 *	  - mts_name_normalise() fits in its buffer and is lower case.
 */
#include <stdint.h>
#include <strings.h>

#include "fuzz.h"
#include "match.h"

#define NAME_MAX_TEXT 1024

static void to_case(char *s, int upper)
{
	for (; *s != '\0'; s++) {
		if (upper && *s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
		else if (!upper && *s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
	}
}

/* Length without one trailing dot. */
static size_t dotless_len(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && s[n - 1] == '.' ? n - 1 : n;
}

static void check_match(const char *pattern, const char *host)
{
	char p2[NAME_MAX_TEXT + 2], h2[NAME_MAX_TEXT + 2];
	int m = mts_mx_match(pattern, host);
	size_t hn = strlen(host), pn = strlen(pattern);

	FUZZ_ASSERT(m == 0 || m == 1);
	if (hn == 0 || strchr(host, '*') != NULL)
		FUZZ_ASSERT(m == 0);
	FUZZ_ASSERT(mts_mx_match(pattern, "") == 0);

	snprintf(p2, sizeof(p2), "%s", pattern);
	snprintf(h2, sizeof(h2), "%s", host);
	to_case(p2, 1);
	to_case(h2, 0);
	FUZZ_ASSERT(mts_mx_match(p2, h2) == m);
	if (hn > 0 && host[hn - 1] != '.') {
		snprintf(h2, sizeof(h2), "%s.", host);
		FUZZ_ASSERT(mts_mx_match(pattern, h2) == m);
	}
	if (m == 1 && strncmp(pattern, "*.", 2) != 0) {
		FUZZ_ASSERT(dotless_len(pattern) == dotless_len(host));
		FUZZ_ASSERT(strncasecmp(pattern, host, dotless_len(host)) == 0);
	}
	if (m == 1 && strncmp(pattern, "*.", 2) == 0) {
		const char *dot = strchr(host, '.');
		size_t rest;

		FUZZ_ASSERT(dot != NULL && dot > host);
		rest = dotless_len(dot + 1);
		FUZZ_ASSERT(rest == dotless_len(pattern + 2));
		FUZZ_ASSERT(strncasecmp(dot + 1, pattern + 2, rest) == 0);
	}
	if (mts_hostname_check(host) == NULL)
		FUZZ_ASSERT(mts_mx_match(host, host) == 1);
	(void)pn;
}

static void check_checks(const char *pattern, const char *host)
{
	char norm[256];

	if (mts_mx_pattern_check(pattern) == NULL) {
		if (strncmp(pattern, "*.", 2) == 0)
			FUZZ_ASSERT(mts_hostname_check(pattern + 2) == NULL);
		else
			FUZZ_ASSERT(mts_hostname_check(pattern) == NULL);
	}
	if (mts_hostname_check(host) == NULL) {
		FUZZ_ASSERT(strchr(host, '*') == NULL);
		FUZZ_ASSERT(mts_mx_pattern_check(host) == NULL);
	}
	if (mts_name_normalise(host, norm, sizeof(norm)) == 0) {
		size_t n = strlen(norm);

		FUZZ_ASSERT(n > 0 && n < sizeof(norm));
		for (size_t i = 0; i < n; i++)
			FUZZ_ASSERT(!(norm[i] >= 'A' && norm[i] <= 'Z'));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *lf;
	char *pattern, *host;
	size_t plen;

	if (size > NAME_MAX_TEXT)
		return 0;
	lf = memchr(data, '\n', size);
	plen = lf != NULL ? (size_t)(lf - data) : size;
	pattern = fuzz_dup(data, plen, 1);
	host = lf != NULL ? fuzz_dup(lf + 1, size - plen - 1, 1)
			  : fuzz_dup(data, size, 1);
	check_match(pattern, host);
	check_checks(pattern, host);
	free(pattern);
	free(host);
	return 0;
}
