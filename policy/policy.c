/*
 * policy.c - the MTA-STS policy file (RFC 8461 section 3.2)
 *
 * SYNOPSIS
 *	struct mts_policy p = MTS_POLICY_INIT;
 *	struct mts_diag d;
 *	if (mts_policy_parse(body, len, &p, &d) < 0)
 *		log("%s", mts_diag_first(&d, buf, sizeof(buf)));
 *
 * DESCRIPTION
 *	One pass over the body, line by line, in time linear in its size
 *	(memchr for line ends, every mx appended to an amortised list), so a
 *	64 KiB file of 10,000 mx lines costs nothing worth measuring.
 *
 *	Each line is judged on its own and the parse goes on after an
 *	error, so that `mtasts lint` shows every problem at once. A line is
 *	split at its first ':' only: the key must be one of the four known
 *	names or a valid sts-policy-ext-name; known keys compare exactly
 *	(case-sensitive), so "Mode" is an unknown field, ignored with a
 *	note. The value is what follows ":" *WSP, minus trailing WSP.
 *
 *	The choices where the RFC is loose are listed, with reasons, in
 *	docs/POLICY.md, section "Parsing". In short: LF and CRLF (mixed
 *	too) end lines; a lone CR is an error; one final line end is part
 *	of the grammar, any other empty or blank line is ignored with a
 *	note; a byte order mark is an error; bytes >= 0x80 are accepted
 *	only where the ABNF allows UTF-8 (extension values), and only as
 *	well-formed UTF-8; repeated single-valued keys: the first occurrence
 *	wins, valid or not, later ones give a note; max_age is bounded by
 *	its digit count before any arithmetic.
 *
 *	Text taken from the input is quoted into diagnostics cut to a few
 *	dozen characters, with every byte outside printable ASCII shown as
 *	'?', so a hostile policy cannot forge log or terminal output.
 *
 * DIAGNOSTICS
 *	mts_policy_parse() returns 0 or -1; the reasons are in the mts_diag.
 *	Out of memory is reported there as an error too.
 */
#include "policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "match.h"

#define MAX_AGE_DIGITS 10
#define EXT_NAME_MAX 32
#define QUOTE_MAX 48		/* input bytes shown in a diagnostic */
#define PATTERN_BUF 256		/* 253 + trailing dot + NUL, rounded */

/* A known, single-valued field: where it was first seen. */
struct seen {
	unsigned line;		/* 0 = not seen */
};

struct parser {
	struct mts_diag *diag;
	struct mts_policy *out;
	struct seen version, mode, max_age;
	int mode_valid;
	size_t mx_lines;
	int out_of_memory;
};

/* ---- diagnostics ---------------------------------------------------- */

static int has_stored_error(const struct mts_diag *d)
{
	for (size_t i = 0; i < d->count; i++)
		if (d->item[i].is_error)
			return 1;
	return 0;
}

/*
 * Records a problem. When the array is full, the item is counted as
 * dropped; except that the first error is never crowded out by notes:
 * it takes the last slot, so mts_diag_first() always has one to show.
 */
static void diag_add(struct mts_diag *d, unsigned line, int is_error,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void diag_add(struct mts_diag *d, unsigned line, int is_error,
		     const char *fmt, ...)
{
	struct mts_diag_item *item;
	va_list ap;

	if (is_error)
		d->errors++;
	if (d->count < MTS_DIAG_MAX) {
		item = &d->item[d->count++];
	} else if (is_error && !has_stored_error(d)) {
		item = &d->item[MTS_DIAG_MAX - 1];
		d->dropped++;
	} else {
		d->dropped++;
		return;
	}
	item->line = line;
	item->is_error = is_error;
	va_start(ap, fmt);
	vsnprintf(item->text, sizeof(item->text), fmt, ap);
	va_end(ap);
}

/* Copies at most QUOTE_MAX bytes of s into buf, printable ASCII only. */
static const char *quote(const char *s, size_t len, char *buf, size_t buflen)
{
	size_t n = 0, i;

	for (i = 0; i < len && i < QUOTE_MAX && n + 4 < buflen; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (i < len && n + 3 < buflen) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

const char *mts_diag_first(const struct mts_diag *d, char *out, size_t outlen)
{
	if (out == NULL || outlen == 0)
		return out;
	out[0] = '\0';
	if (d == NULL)
		return out;
	for (size_t i = 0; i < d->count; i++) {
		const struct mts_diag_item *item = &d->item[i];

		if (!item->is_error)
			continue;
		if (item->line > 0)
			snprintf(out, outlen, "line %u: %s", item->line,
				 item->text);
		else
			snprintf(out, outlen, "%s", item->text);
		break;
	}
	return out;
}

/* ---- character classes ---------------------------------------------- */

static int is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static int is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static int ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int equals(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(s, word, len) == 0;
}

static int equals_nocase(const char *s, size_t len, const char *word)
{
	if (strlen(word) != len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (ascii_lower((unsigned char)s[i]) != word[i])
			return 0;
	return 1;
}

/* sts-policy-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".") */
static int is_ext_name(const char *s, size_t len)
{
	if (len == 0 || len > EXT_NAME_MAX || !is_alnum((unsigned char)s[0]))
		return 0;
	for (size_t i = 1; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!is_alnum(c) && c != '_' && c != '-' && c != '.')
			return 0;
	}
	return 1;
}

/* Length of the well-formed UTF-8 sequence (RFC 3629) at s, or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t len)
{
	size_t n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (len < n)
		return 0;
	/* The second byte's range excludes overlongs and surrogates. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * sts-policy-ext-value: visible ASCII or UTF-8, with single spaces (SP,
 * not HTAB) allowed inside. The caller has removed the WSP at both ends.
 */
static const char *ext_value_check(const char *v, size_t len)
{
	const unsigned char *s = (const unsigned char *)v;
	size_t i = 0, n;

	if (len == 0)
		return "empty value";
	while (i < len) {
		if (s[i] >= 0x20 && s[i] < 0x7f) {
			i++;
		} else if (s[i] == '\t') {
			return "tab inside a value";
		} else if (s[i] >= 0x80) {
			if ((n = utf8_sequence(s + i, len - i)) == 0)
				return "invalid UTF-8 in value";
			i += n;
		} else {
			return "control character in value";
		}
	}
	return NULL;
}

/* The first byte of a line that no field may contain, or NULL. */
static const char *forbidden_byte(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c == '\0')
			return "NUL byte";
		if (c == '\r')
			return "carriage return not followed by line feed";
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return "control character";
	}
	return NULL;
}

/* ---- the fields ------------------------------------------------------ */

/* Notes a repeated key; returns 1 when this occurrence is to be ignored. */
static int repeated(struct parser *ps, struct seen *s, const char *key,
		    unsigned line)
{
	if (s->line != 0) {
		diag_add(ps->diag, line, 0,
			 "repeated %s ignored (the first, on line %u, counts)",
			 key, s->line);
		return 1;
	}
	s->line = line;
	return 0;
}

static void field_version(struct parser *ps, unsigned line,
			  const char *v, size_t len)
{
	char q[QUOTE_MAX + 8];

	if (repeated(ps, &ps->version, "version", line))
		return;
	if (!equals(v, len, "STSv1"))
		diag_add(ps->diag, line, 1,
			 "version \"%s\" is not STSv1 (case-sensitive)",
			 quote(v, len, q, sizeof(q)));
}

static void field_mode(struct parser *ps, unsigned line,
		       const char *v, size_t len)
{
	char q[QUOTE_MAX + 8];

	if (repeated(ps, &ps->mode, "mode", line))
		return;
	ps->mode_valid = 1;
	if (equals(v, len, "enforce")) {
		ps->out->mode = MTS_MODE_ENFORCE;
	} else if (equals(v, len, "testing")) {
		ps->out->mode = MTS_MODE_TESTING;
	} else if (equals(v, len, "none")) {
		ps->out->mode = MTS_MODE_NONE;
	} else {
		ps->mode_valid = 0;
		diag_add(ps->diag, line, 1,
			 "mode \"%s\" is not enforce, testing or none%s",
			 quote(v, len, q, sizeof(q)),
			 equals_nocase(v, len, "enforce") ||
			 equals_nocase(v, len, "testing") ||
			 equals_nocase(v, len, "none") ?
			 " (values are case-sensitive)" : "");
	}
}

static void field_max_age(struct parser *ps, unsigned line,
			  const char *v, size_t len)
{
	char q[QUOTE_MAX + 8];
	uint64_t value = 0;

	if (repeated(ps, &ps->max_age, "max_age", line))
		return;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9') {
			diag_add(ps->diag, line, 1,
				 "max_age \"%s\" is not a plain decimal number",
				 quote(v, len, q, sizeof(q)));
			return;
		}
	}
	if (len == 0 || len > MAX_AGE_DIGITS) {
		diag_add(ps->diag, line, 1, "max_age must have 1 to %d digits",
			 MAX_AGE_DIGITS);
		return;
	}
	/* At most 10 digits: below 10^10, no overflow in 64 bits. */
	for (size_t i = 0; i < len; i++)
		value = value * 10 + (uint64_t)(v[i] - '0');
	if (value > MTS_MAX_AGE_LIMIT) {
		diag_add(ps->diag, line, 1, "max_age %llu is over the limit "
			 "of %u seconds", (unsigned long long)value,
			 MTS_MAX_AGE_LIMIT);
		return;
	}
	ps->out->max_age = (uint32_t)value;
}

static void field_mx(struct parser *ps, unsigned line,
		     const char *v, size_t len)
{
	char q[QUOTE_MAX + 8], pattern[PATTERN_BUF];
	const char *why;

	ps->mx_lines++;
	if (len == 0) {
		diag_add(ps->diag, line, 1, "empty mx");
		return;
	}
	if (len >= sizeof(pattern)) {
		diag_add(ps->diag, line, 1, "mx \"%s\": longer than 253 "
			 "characters", quote(v, len, q, sizeof(q)));
		return;
	}
	for (size_t i = 0; i < len; i++)
		pattern[i] = (char)ascii_lower((unsigned char)v[i]);
	pattern[len] = '\0';
	/* The check stops at a NUL; forbidden_byte() has excluded those. */
	if ((why = mts_mx_pattern_check(pattern)) != NULL) {
		diag_add(ps->diag, line, 1, "mx \"%s\": %s",
			 quote(v, len, q, sizeof(q)), why);
		return;
	}
	if (pattern[len - 1] == '.') {
		pattern[--len] = '\0';
		diag_add(ps->diag, line, 0, "mx \"%s\": trailing dot removed",
			 quote(v, len, q, sizeof(q)));
	}
	if (mts_strlist_addn(&ps->out->mx, pattern, len) < 0) {
		diag_add(ps->diag, line, 1, "out of memory");
		ps->out_of_memory = 1;
	}
}

static void field_unknown(struct parser *ps, unsigned line,
			  const char *key, size_t keylen,
			  const char *v, size_t len)
{
	static const char *const known[] = { "version", "mode", "max_age", "mx" };
	char q[QUOTE_MAX + 8];
	const char *why;
	int case_variant = 0;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (equals_nocase(key, keylen, known[i]))
			case_variant = 1;
	if ((why = ext_value_check(v, len)) != NULL) {
		diag_add(ps->diag, line, 1, "field \"%s\": %s",
			 quote(key, keylen, q, sizeof(q)), why);
		return;
	}
	diag_add(ps->diag, line, 0, "unknown field \"%s\" ignored%s",
		 quote(key, keylen, q, sizeof(q)), case_variant ?
		 " (field names are case-sensitive)" : "");
}

/* ---- lines ----------------------------------------------------------- */

static int blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_wsp((unsigned char)s[i]))
			return 0;
	return 1;
}

static void bad_key(struct parser *ps, unsigned line, const char *key,
		    size_t keylen)
{
	char q[QUOTE_MAX + 8];

	if (keylen == 0)
		diag_add(ps->diag, line, 1, "empty field name before ':'");
	else if (is_wsp((unsigned char)key[0]))
		diag_add(ps->diag, line, 1, "white space at the start of "
			 "the line");
	else if (is_wsp((unsigned char)key[keylen - 1]))
		diag_add(ps->diag, line, 1, "white space before ':'");
	else
		diag_add(ps->diag, line, 1, "invalid field name \"%s\"",
			 quote(key, keylen, q, sizeof(q)));
}

/* One line, without its line end. */
static void parse_line(struct parser *ps, unsigned line,
		       const char *s, size_t len)
{
	const char *colon, *v, *why;
	size_t keylen, vlen;
	char q[QUOTE_MAX + 8];

	if (len == 0) {
		diag_add(ps->diag, line, 0, "empty line ignored");
		return;
	}
	if ((why = forbidden_byte(s, len)) != NULL) {
		diag_add(ps->diag, line, 1, "%s", why);
		return;
	}
	if (blank(s, len)) {
		diag_add(ps->diag, line, 0, "blank line ignored");
		return;
	}
	colon = memchr(s, ':', len);
	if (colon == NULL) {
		diag_add(ps->diag, line, 1, "no ':' in \"%s\"",
			 quote(s, len, q, sizeof(q)));
		return;
	}
	keylen = (size_t)(colon - s);
	v = colon + 1;
	vlen = len - keylen - 1;
	while (vlen > 0 && is_wsp((unsigned char)v[0])) {
		v++;
		vlen--;
	}
	while (vlen > 0 && is_wsp((unsigned char)v[vlen - 1]))
		vlen--;

	if (equals(s, keylen, "version"))
		field_version(ps, line, v, vlen);
	else if (equals(s, keylen, "mode"))
		field_mode(ps, line, v, vlen);
	else if (equals(s, keylen, "max_age"))
		field_max_age(ps, line, v, vlen);
	else if (equals(s, keylen, "mx"))
		field_mx(ps, line, v, vlen);
	else if (is_ext_name(s, keylen))
		field_unknown(ps, line, s, keylen, v, vlen);
	else
		bad_key(ps, line, s, keylen);
}

static void check_complete(struct parser *ps)
{
	if (ps->version.line == 0)
		diag_add(ps->diag, 0, 1, "missing version");
	if (ps->mode.line == 0)
		diag_add(ps->diag, 0, 1, "missing mode");
	if (ps->max_age.line == 0)
		diag_add(ps->diag, 0, 1, "missing max_age");
	/* Only meaningful once the mode is known and not none. */
	if (ps->mode_valid && ps->out->mode != MTS_MODE_NONE &&
	    ps->out->mx.count == 0)
		diag_add(ps->diag, 0, 1, ps->mx_lines == 0 ?
			 "no mx (required unless mode is none)" :
			 "no valid mx (required unless mode is none)");
}

int mts_policy_parse(const char *text, size_t len, struct mts_policy *out,
		     struct mts_diag *diag)
{
	struct mts_diag scratch;
	struct mts_policy unused = MTS_POLICY_INIT;
	struct parser ps;
	const char *line, *eol, *end;
	size_t linelen;
	unsigned lineno = 0;

	if (diag == NULL)
		diag = &scratch;
	if (out == NULL)
		out = &unused;	/* a validity check only */
	memset(diag, 0, sizeof(*diag));
	memset(&ps, 0, sizeof(ps));
	ps.diag = diag;
	ps.out = out;
	mts_policy_free(out);

	if (text == NULL || len == 0) {
		diag_add(diag, 0, 1, "empty policy");
		goto invalid;
	}
	if (len > MTS_POLICY_MAX_BYTES) {
		diag_add(diag, 0, 1, "policy larger than %d bytes",
			 MTS_POLICY_MAX_BYTES);
		goto invalid;
	}
	line = text;
	end = text + len;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		diag_add(diag, 1, 1, "byte order mark at the start of the file");
		line += 3;
	}
	while (line < end && !ps.out_of_memory) {
		lineno++;
		eol = memchr(line, '\n', (size_t)(end - line));
		linelen = (size_t)((eol != NULL ? eol : end) - line);
		if (eol != NULL && linelen > 0 && line[linelen - 1] == '\r')
			linelen--;	/* CRLF */
		parse_line(&ps, lineno, line, linelen);
		line = eol != NULL ? eol + 1 : end;
	}
	if (!ps.out_of_memory)
		check_complete(&ps);
	if (diag->errors == 0) {
		if (out == &unused)
			mts_policy_free(out);
		return 0;
	}

invalid:
	mts_policy_free(out);
	return -1;
}

void mts_policy_free(struct mts_policy *p)
{
	if (p == NULL)
		return;
	mts_strlist_free(&p->mx);
	p->mode = MTS_MODE_NONE;
	p->max_age = 0;
}

const char *mts_mode_name(enum mts_mode m)
{
	switch (m) {
	case MTS_MODE_NONE:
		return "none";
	case MTS_MODE_TESTING:
		return "testing";
	case MTS_MODE_ENFORCE:
		return "enforce";
	}
	return "unknown";
}

int mts_policy_format(const struct mts_policy *p, int crlf, struct mts_buf *out)
{
	const char *eol = crlf ? "\r\n" : "\n";

	if (p == NULL || out == NULL)
		return -1;
	if (mts_buf_printf(out, "version: STSv1%smode: %s%s", eol,
			   mts_mode_name(p->mode), eol) < 0)
		return -1;
	for (size_t i = 0; i < p->mx.count; i++)
		if (mts_buf_printf(out, "mx: %s%s", p->mx.item[i], eol) < 0)
			return -1;
	if (mts_buf_printf(out, "max_age: %u%s", (unsigned)p->max_age, eol) < 0)
		return -1;
	return 0;
}
