/*
 * fuzz_policy.c - libFuzzer target for the MTA-STS policy file parser
 *
 * DESCRIPTION
 *	The input is a policy body. Invariants of a body that parses:
 *	  - no error was recorded, and the mode is none or has an mx;
 *	  - max_age is at most MTS_MAX_AGE_LIMIT;
 *	  - every mx is a valid pattern, lower case, without trailing dot;
 *	  - parse -> format -> parse gives the same policy, and formatting
 *	    that again gives the same bytes (LF and CRLF forms);
 *	and of a body that does not: at least one error, and
 *	mts_diag_first() names it.
 */
#include <stdint.h>

#include "buf.h"
#include "fuzz.h"
#include "match.h"
#include "policy.h"

static void check_valid(const struct mts_policy *p, const struct mts_diag *d)
{
	FUZZ_ASSERT(d->errors == 0);
	FUZZ_ASSERT(p->mode == MTS_MODE_NONE || p->mx.count > 0);
	FUZZ_ASSERT(p->max_age <= MTS_MAX_AGE_LIMIT);
	for (size_t i = 0; i < p->mx.count; i++) {
		const char *mx = p->mx.item[i];
		size_t n = strlen(mx);

		FUZZ_ASSERT(mts_mx_pattern_check(mx) == NULL);
		FUZZ_ASSERT(n > 0 && mx[n - 1] != '.');
		for (size_t j = 0; j < n; j++)
			FUZZ_ASSERT(!(mx[j] >= 'A' && mx[j] <= 'Z'));
	}
}

static int same_policy(const struct mts_policy *a, const struct mts_policy *b)
{
	if (a->mode != b->mode || a->max_age != b->max_age ||
	    a->mx.count != b->mx.count)
		return 0;
	for (size_t i = 0; i < a->mx.count; i++)
		if (strcmp(a->mx.item[i], b->mx.item[i]) != 0)
			return 0;
	return 1;
}

static void check_round_trip(const struct mts_policy *p, int crlf)
{
	struct mts_buf text = MTS_BUF_INIT, text2 = MTS_BUF_INIT;
	struct mts_policy again = MTS_POLICY_INIT;
	struct mts_diag diag;

	FUZZ_ASSERT(mts_policy_format(p, crlf, &text) == 0);
	FUZZ_ASSERT(mts_policy_parse(text.data, text.len, &again, &diag) == 0);
	FUZZ_ASSERT(same_policy(p, &again));
	FUZZ_ASSERT(mts_policy_format(&again, crlf, &text2) == 0);
	FUZZ_ASSERT(text.len == text2.len &&
		    memcmp(text.data, text2.data, text.len) == 0);
	mts_policy_free(&again);
	mts_buf_free(&text);
	mts_buf_free(&text2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mts_policy p = MTS_POLICY_INIT;
	struct mts_diag diag;
	char first[MTS_DIAG_TEXT + 32];
	char *body;

	if (size > MTS_POLICY_MAX_BYTES)
		return 0;
	body = fuzz_dup(data, size, 0);
	if (mts_policy_parse(body, size, &p, &diag) == 0) {
		check_valid(&p, &diag);
		check_round_trip(&p, 0);
		check_round_trip(&p, 1);
	} else {
		FUZZ_ASSERT(diag.errors > 0);
		FUZZ_ASSERT(p.mx.count == 0);
		FUZZ_ASSERT(mts_diag_first(&diag, first, sizeof(first))[0]
			    != '\0');
	}
	FUZZ_ASSERT(diag.count <= MTS_DIAG_MAX);
	for (size_t i = 0; i < diag.count; i++)
		FUZZ_ASSERT(memchr(diag.item[i].text, '\0',
				   sizeof(diag.item[i].text)) != NULL);
	mts_policy_free(&p);
	free(body);
	return 0;
}
