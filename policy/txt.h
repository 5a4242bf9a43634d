/*
 * txt.h - the _mta-sts TXT record (RFC 8461 section 3.1)
 *
 * DESCRIPTION
 *	Pure parsing, no I/O. A record is the concatenation of its strings,
 *	joined without spaces (the DNS layer does the joining).
 *
 *	mts_txt_is_sts() tells whether a record takes part in the count of
 *	STS records: it begins with "v=STSv1" followed by ';', WSP or the end.
 *	(The RFC says records not beginning with "v=STSv1;" are discarded;
 *	erratum 6285: the ABNF also allows "v=STSv1 ;". See docs/POLICY.md.)
 *
 *	mts_txt_parse() validates a record against the ABNF:
 *	  sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
 *	  sts-field-delim = *WSP ";" *WSP
 *	  sts-id          = "id=" 1*32(ALPHA / DIGIT)
 *	  sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
 *	  sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
 *	exactly one id field is required (two make the record invalid, even
 *	when equal); a field named exactly "id" must be a valid sts-id (it is
 *	never read as an extension); "ID=" or a later "v=" are extensions.
 *	Extensions are validated and ignored. White space is SP and HTAB,
 *	only around ';': "v=STSv1; id=1 " (no final ';') is invalid.
 *
 *	mts_txt_select() applies the discard-then-count rule to all records of
 *	the name: non-STS records are dropped first, then exactly one must be
 *	left and valid.
 *
 * DIAGNOSTICS
 *	The parse functions return NULL on success, or a static English
 *	reason ("id longer than 32 characters", ...).
 */
#ifndef MTS_TXT_H
#define MTS_TXT_H

#include <stddef.h>

#define MTS_ID_MAX 32

struct mts_txt {
	char id[MTS_ID_MAX + 1];
};

int mts_txt_is_sts(const char *rec, size_t len);
const char *mts_txt_parse(const char *rec, size_t len, struct mts_txt *out);

/* records[i] are NUL-terminated joined records (lens[i] bytes each; they
 * may contain NUL bytes, which make a record invalid). Returns NULL with
 * *out filled, or a reason: "no v=STSv1 record", "2 v=STSv1 records",
 * or the parse reason of the single record. */
const char *mts_txt_select(char *const *records, const size_t *lens,
			   size_t count, struct mts_txt *out);

#endif
