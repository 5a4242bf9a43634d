/*
 * policy.h - the MTA-STS policy file (RFC 8461 section 3.2)
 *
 * DESCRIPTION
 *	mts_policy_parse() parses a policy body strictly:
 *	  - lines end in LF or CRLF; the last line may lack its end;
 *	  - a line is split at its first ':' only; key names are
 *	    case-sensitive; *WSP after ':' and after the value is ignored;
 *	  - version must be "STSv1"; mode is enforce | testing | none;
 *	  - max_age is 1-10 plain digits with value <= 31557600;
 *	  - mx may repeat; at least one is required unless mode is none; each
 *	    must pass mts_mx_pattern_check() (match.h);
 *	  - unknown keys are ignored (with a note); for a repeated key other
 *	    than mx the first occurrence wins, valid or not (later ones are
 *	    ignored, with a note);
 *	  - a NUL byte, a lone CR, any other control character, a line
 *	    without ':', an empty or malformed key are errors; a byte >= 0x80
 *	    is an error except inside the value of an unknown key, where the
 *	    ABNF allows well-formed UTF-8; a leading UTF-8 BOM is an error
 *	    ("byte order mark");
 *	  - an empty or blank line is ignored with a note (one final line
 *	    end is not an empty line); an mx with a trailing dot is stored
 *	    without it, with a note.
 *	The input need not be NUL-terminated; at most MTS_POLICY_MAX_BYTES.
 *	out is freed before parsing; diag is reset. docs/POLICY.md, section
 *	"Parsing", gives the reasons for each choice.
 *
 *	Every problem is recorded in the mts_diag with its 1-based line
 *	number (0 when it concerns the whole file, e.g. "missing mode"), so
 *	`mtasts lint` can show all of them at once.
 *
 *	mts_policy_format() writes the normalised form: version, mode, one mx
 *	line per pattern in input order, max_age, each line ending in CRLF
 *	when crlf is set, LF otherwise.
 */
#ifndef MTS_POLICY_H
#define MTS_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define MTS_POLICY_MAX_BYTES 65536
#define MTS_MAX_AGE_LIMIT 31557600u

enum mts_mode {
	MTS_MODE_NONE = 0,
	MTS_MODE_TESTING,
	MTS_MODE_ENFORCE,
};

struct mts_policy {
	enum mts_mode mode;
	uint32_t max_age;
	struct mts_strlist mx;	/* patterns, lower-cased, no trailing dot */
};

#define MTS_POLICY_INIT { MTS_MODE_NONE, 0, MTS_STRLIST_INIT }

#define MTS_DIAG_MAX 32
#define MTS_DIAG_TEXT 160

struct mts_diag_item {
	unsigned line;		/* 1-based, 0 = whole file */
	int is_error;		/* 0 = a note (e.g. duplicate ignored) */
	char text[MTS_DIAG_TEXT];
};

struct mts_diag {
	size_t count;		/* items stored */
	size_t errors;		/* errors seen, stored or not */
	size_t dropped;		/* items not stored, beyond MTS_DIAG_MAX */
	struct mts_diag_item item[MTS_DIAG_MAX];
};

/* Returns 0 when valid (out filled), -1 when invalid (out freed; diag says
 * why). diag may be NULL. out must be MTS_POLICY_INIT or freed. */
int mts_policy_parse(const char *text, size_t len, struct mts_policy *out,
		     struct mts_diag *diag);
void mts_policy_free(struct mts_policy *p);

/* First error of a diag as "line N: text" ("text" for line 0) into out;
 * "" when there is none; returns out. When the items overflow, the first
 * error still gets stored (it replaces the last note). */
const char *mts_diag_first(const struct mts_diag *d, char *out, size_t outlen);

/* Appends the normalised form to out; 0, or -1 (out of memory). */
int mts_policy_format(const struct mts_policy *p, int crlf, struct mts_buf *out);

const char *mts_mode_name(enum mts_mode m);

#endif
