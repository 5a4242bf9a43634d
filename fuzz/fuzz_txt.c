/*
 * fuzz_txt.c - libFuzzer target for the _mta-sts TXT record parser
 *
 * DESCRIPTION
 *	The input is one record (any bytes, NUL included), then, split at
 *	LF, a set of records for the discard-then-count rule. Invariants:
 *	  - a record that parses is an STS record (mts_txt_is_sts);
 *	  - its id is 1..MTS_ID_MAX letters and digits;
 *	  - the canonical record "v=STSv1; id=<id>" parses to the same id;
 *	  - mts_txt_select() succeeds only when exactly one record is an
 *	    STS record, and then gives that record's id.
 */
#include <ctype.h>
#include <stdint.h>

#include "fuzz.h"
#include "txt.h"

#define MAX_RECORDS 16

static void check_id(const struct mts_txt *t)
{
	size_t n = strnlen(t->id, sizeof(t->id));

	FUZZ_ASSERT(n >= 1 && n <= MTS_ID_MAX);
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(isalnum((unsigned char)t->id[i]));
}

static void check_one(const unsigned char *data, size_t size)
{
	char *rec = fuzz_dup(data, size, 0);
	struct mts_txt t, again;
	char canon[64];

	memset(&t, 0x5a, sizeof(t));
	if (mts_txt_parse(rec, size, &t) == NULL) {
		FUZZ_ASSERT(mts_txt_is_sts(rec, size));
		check_id(&t);
		snprintf(canon, sizeof(canon), "v=STSv1; id=%s", t.id);
		FUZZ_ASSERT(mts_txt_parse(canon, strlen(canon), &again) == NULL);
		FUZZ_ASSERT(strcmp(again.id, t.id) == 0);
	}
	free(rec);
}

static void check_select(const unsigned char *data, size_t size)
{
	char *records[MAX_RECORDS];
	size_t lens[MAX_RECORDS], count = 0, start = 0, sts = 0, which = 0;
	struct mts_txt t, single;

	for (size_t i = 0; i <= size && count < MAX_RECORDS; i++) {
		if (i < size && data[i] != '\n')
			continue;
		lens[count] = i - start;
		records[count] = fuzz_dup(data + start, lens[count], 1);
		if (mts_txt_is_sts(records[count], lens[count])) {
			sts++;
			which = count;
		}
		count++;
		start = i + 1;
	}
	if (mts_txt_select(records, lens, count, &t) == NULL) {
		FUZZ_ASSERT(sts == 1);
		check_id(&t);
		FUZZ_ASSERT(mts_txt_parse(records[which], lens[which],
					  &single) == NULL);
		FUZZ_ASSERT(strcmp(single.id, t.id) == 0);
	}
	for (size_t i = 0; i < count; i++)
		free(records[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	check_one(data, size);
	check_select(data, size);
	return 0;
}
