/*
 * txt.c - the _mta-sts TXT record (RFC 8461 section 3.1)
 *
 * SYNOPSIS
 *	struct mts_txt t;
 *	const char *why = mts_txt_select(recs, lens, n, &t);
 *
 * DESCRIPTION
 *	A strict, single-pass recogniser of
 *	  sts-text-record = sts-version 1*(sts-field-delim sts-field)
 *	                    [sts-field-delim]
 *	over a byte string that is not trusted to be NUL-free: the length
 *	is always explicit, and a NUL byte anywhere rejects the record.
 *
 *	Choices where the RFC leaves room (docs/POLICY.md, "Parsing"):
 *	  - "v=STSv1" and "id=" are case-sensitive (%s in the ABNF).
 *	  - A field named exactly "id" must be a valid sts-id; it is never
 *	    re-read as an extension "id" with a looser value. Two id fields
 *	    make the record invalid: which one names the policy would be a
 *	    guess.
 *	  - White space is SP and HTAB only, and only inside a delimiter:
 *	    trailing white space without a ';' does not match the ABNF.
 *	  - A later "v=..." field is an extension like any other.
 *	  - mts_txt_is_sts() accepts "v=STSv1" followed by ';', WSP or the
 *	    end (erratum 6285), so "v=STSv1 ;" counts, and "v=STSv1" alone
 *	    counts too and then fails to parse ("missing id"): a broken
 *	    record still spoils a second, valid one, as the RFC wants.
 */
#include "txt.h"

#include <string.h>

#define STS_VERSION "v=STSv1"
#define STS_VERSION_LEN (sizeof(STS_VERSION) - 1)
#define EXT_NAME_MAX 32

static int is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static int is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static int is_ext_name_char(int c)
{
	return is_alnum(c) || c == '_' || c == '-' || c == '.';
}

/* sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): visible, not ';' or '='. */
static int is_ext_value_char(int c)
{
	return c >= 0x21 && c <= 0x7e && c != ';' && c != '=';
}

/* A value ends at the end of the record, at white space or at ';'. */
static int at_value_end(const char *rec, size_t len, size_t pos)
{
	return pos == len || is_wsp((unsigned char)rec[pos]) || rec[pos] == ';';
}

int mts_txt_is_sts(const char *rec, size_t len)
{
	if (rec == NULL || len < STS_VERSION_LEN ||
	    memcmp(rec, STS_VERSION, STS_VERSION_LEN) != 0)
		return 0;
	return len == STS_VERSION_LEN || rec[STS_VERSION_LEN] == ';' ||
	       is_wsp((unsigned char)rec[STS_VERSION_LEN]);
}

static const char *parse_id(const char *rec, size_t len, size_t *pos,
			    struct mts_txt *out, int *have_id)
{
	size_t start = *pos, end = start;

	while (end < len && is_alnum((unsigned char)rec[end]))
		end++;
	if (!at_value_end(rec, len, end))
		return "id contains a character other than a letter or digit";
	if (end == start)
		return "empty id";
	if (end - start > MTS_ID_MAX)
		return "id longer than 32 characters";
	if (*have_id)
		return "more than one id field";
	memcpy(out->id, rec + start, end - start);
	out->id[end - start] = '\0';
	*have_id = 1;
	*pos = end;
	return NULL;
}

static const char *parse_extension_value(const char *rec, size_t len,
					 size_t *pos)
{
	size_t start = *pos, end = start;

	while (end < len && is_ext_value_char((unsigned char)rec[end]))
		end++;
	if (!at_value_end(rec, len, end))
		return "invalid character in extension value";
	if (end == start)
		return "empty extension value";
	*pos = end;
	return NULL;
}

/* One sts-field at *pos: sts-id or sts-extension. */
static const char *parse_field(const char *rec, size_t len, size_t *pos,
			       struct mts_txt *out, int *have_id)
{
	size_t start = *pos, end = start;

	if (start == len || rec[start] == ';')
		return "empty field (two ';' in a row)";
	if (!is_alnum((unsigned char)rec[start]))
		return "field name does not start with a letter or digit";
	while (end < len && is_ext_name_char((unsigned char)rec[end]))
		end++;
	if (end - start > EXT_NAME_MAX)
		return "field name longer than 32 characters";
	if (end == len || rec[end] != '=')
		return "field without '=' or invalid character in field name";
	*pos = end + 1;
	if (end - start == 2 && memcmp(rec + start, "id", 2) == 0)
		return parse_id(rec, len, pos, out, have_id);
	return parse_extension_value(rec, len, pos);
}

static size_t skip_wsp(const char *rec, size_t len, size_t pos)
{
	while (pos < len && is_wsp((unsigned char)rec[pos]))
		pos++;
	return pos;
}

const char *mts_txt_parse(const char *rec, size_t len, struct mts_txt *out)
{
	struct mts_txt scratch;
	size_t pos, before;
	int have_id = 0;
	const char *why;

	if (out == NULL)
		out = &scratch;
	memset(out, 0, sizeof(*out));
	if (rec == NULL || len == 0)
		return "empty record";
	if (memchr(rec, '\0', len) != NULL)
		return "NUL byte in record";
	if (len < STS_VERSION_LEN ||
	    memcmp(rec, STS_VERSION, STS_VERSION_LEN) != 0)
		return "record does not begin with v=STSv1";

	pos = STS_VERSION_LEN;
	for (;;) {
		/* sts-field-delim = *WSP ";" *WSP, or the end of the record */
		before = pos;
		pos = skip_wsp(rec, len, pos);
		if (pos == len) {
			why = "white space at the end without ';'";
			if (pos != before)
				goto invalid;
			break;
		}
		if (rec[pos] != ';') {
			why = before == STS_VERSION_LEN && pos == before ?
			      "v=STSv1 not followed by ';'" :
			      "expected ';' between fields";
			goto invalid;
		}
		pos = skip_wsp(rec, len, pos + 1);
		if (pos == len)
			break;	/* the one optional trailing delimiter */
		if ((why = parse_field(rec, len, &pos, out, &have_id)) != NULL)
			goto invalid;
	}
	if (have_id)
		return NULL;
	why = "missing id field";

invalid:
	memset(out, 0, sizeof(*out));
	return why;
}

/* Static reasons for "several records", so the result needs no storage. */
static const char *several_records(size_t n)
{
	static const char *const text[] = {
		"2 v=STSv1 records", "3 v=STSv1 records", "4 v=STSv1 records",
		"5 v=STSv1 records", "6 v=STSv1 records", "7 v=STSv1 records",
		"8 v=STSv1 records", "9 v=STSv1 records",
	};

	if (n >= 2 && n - 2 < sizeof(text) / sizeof(text[0]))
		return text[n - 2];
	return "more than 9 v=STSv1 records";
}

const char *mts_txt_select(char *const *records, const size_t *lens,
			   size_t count, struct mts_txt *out)
{
	size_t sts = 0, chosen = 0, len;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	/* Discard first, then count (RFC 8461 3.1). */
	for (size_t i = 0; records != NULL && i < count; i++) {
		if (records[i] == NULL)
			continue;
		len = lens != NULL ? lens[i] : strlen(records[i]);
		if (mts_txt_is_sts(records[i], len)) {
			sts++;
			chosen = i;
		}
	}
	if (sts == 0)
		return "no v=STSv1 record";
	if (sts > 1)
		return several_records(sts);
	len = lens != NULL ? lens[chosen] : strlen(records[chosen]);
	return mts_txt_parse(records[chosen], len, out);
}
