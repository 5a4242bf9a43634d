/*
 * match.c - MX host names and MX patterns (RFC 8461 sections 3.2 and 4.1)
 *
 * SYNOPSIS
 *	if ((why = mts_mx_pattern_check("*.example.net")) != NULL) ...
 *	if (mts_mx_match("*.example.net", "mx1.example.net.")) ...
 *
 * DESCRIPTION
 *	Pure string functions over NUL-terminated names; see match.h for the
 *	contract. Everything is ASCII: letters are folded with our own
 *	ascii_lower(), never with the locale's tolower(), so a byte >= 0x80
 *	is never turned into something that compares equal to a letter.
 *	Such bytes make a name invalid in the check functions and simply
 *	fail to compare equal in the match functions.
 *
 *	A host name is in A-label form: the LDH rule of RFC 5890/RFC 1123
 *	(letters, digits, '-', not at either end of a label), labels of 1-63
 *	octets, at most 253 octets without the one optional trailing dot, at
 *	least two labels. IP literals are refused: anything with ':' or '['
 *	(IPv6, "[192.0.2.1]", "host:25") and any name whose last label is all
 *	digits (a dotted-quad; no top-level domain is numeric, RFC 3696 2).
 *
 *	A pattern is such a name or "*." followed by such a name: the
 *	wildcard is only ever the whole left-most label, as the policy
 *	grammar ["*."] Domain says. "*.com" is refused because "com" alone
 *	has one label.
 *
 *	mts_mx_match() is a comparison, not a validator: the caller checks
 *	names first. It still never lets a host containing '*' match, nor
 *	one whose first label is not a valid LDH label (empty, too long,
 *	non-ASCII) match a wildcard, whatever it is given.
 */
#include "match.h"

#include <string.h>

#define NAME_MAX_LEN 253
#define LABEL_MAX_LEN 63

static int ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* Length of name without its one optional trailing dot. */
static size_t len_without_dot(const char *name)
{
	size_t len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		len--;
	return len;
}

static int ascii_equal_n(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower((unsigned char)a[i]) !=
		    ascii_lower((unsigned char)b[i]))
			return 0;
	return 1;
}

/* Checks one label [label, label+len). */
static const char *label_check(const char *label, size_t len)
{
	if (len == 0)
		return "empty label";
	if (len > LABEL_MAX_LEN)
		return "label longer than 63 characters";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)label[i];

		if (c == '*')
			return "'*' is allowed only as the whole left-most label";
		if (!is_alnum(c) && c != '-')
			return "character other than letter, digit, '-' or '.'";
	}
	if (label[0] == '-' || label[len - 1] == '-')
		return "label starts or ends with '-'";
	return NULL;
}

static int all_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return len > 0;
}

const char *mts_hostname_check(const char *name)
{
	const char *label, *dot, *end, *why, *last = name;
	size_t len, labels = 0;

	if (name == NULL || name[0] == '\0')
		return "empty name";
	len = len_without_dot(name);
	if (len == 0)
		return "empty name";
	/* Before the character rules, so the reason names the real mistake. */
	if (strpbrk(name, ":[]") != NULL)
		return "IP address literal or port, not a host name";
	if (len > NAME_MAX_LEN)
		return "name longer than 253 characters";
	end = name + len;
	for (label = name; label <= end; label = dot + 1) {
		dot = memchr(label, '.', (size_t)(end - label));
		if (dot == NULL)
			dot = end;
		if ((why = label_check(label, (size_t)(dot - label))) != NULL)
			return why;
		labels++;
		last = label;
	}
	if (labels < 2)
		return "name has only one label";
	if (all_digits(last, (size_t)(end - last)))
		return "IP address literal, not a host name";
	return NULL;
}

const char *mts_mx_pattern_check(const char *pattern)
{
	const char *why;

	if (pattern == NULL || pattern[0] == '\0')
		return "empty pattern";
	if (pattern[0] == '*' && pattern[1] == '.') {
		if (len_without_dot(pattern) > NAME_MAX_LEN)
			return "name longer than 253 characters";
		why = mts_hostname_check(pattern + 2);
		if (why != NULL && strcmp(why, "empty name") == 0)
			return "nothing after \"*.\"";
		return why;
	}
	if (pattern[0] == '*')
		return "'*' is allowed only as the whole left-most label";
	return mts_hostname_check(pattern);
}

int mts_mx_match(const char *pattern, const char *host)
{
	size_t plen, hlen, blen, first;
	const char *dot;

	if (pattern == NULL || host == NULL)
		return 0;
	plen = len_without_dot(pattern);
	hlen = len_without_dot(host);
	if (plen == 0 || hlen == 0 || memchr(host, '*', hlen) != NULL)
		return 0;
	if (plen >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		/* Exactly one valid label in front of the base. */
		blen = plen - 2;
		dot = memchr(host, '.', hlen);
		if (blen == 0 || dot == NULL)
			return 0;
		first = (size_t)(dot - host);
		if (label_check(host, first) != NULL)
			return 0;
		return hlen - first - 1 == blen &&
		       ascii_equal_n(dot + 1, pattern + 2, blen);
	}
	return plen == hlen && ascii_equal_n(pattern, host, hlen);
}

int mts_policy_mx_allowed(const struct mts_policy *p, const char *host)
{
	if (p == NULL || host == NULL)
		return 0;
	for (size_t i = 0; i < p->mx.count; i++)
		if (mts_mx_match(p->mx.item[i], host))
			return 1;
	return 0;
}

int mts_name_normalise(const char *in, char *out, size_t outlen)
{
	size_t len;

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	if (in == NULL || out == NULL)
		return -1;
	len = len_without_dot(in);
	if (len == 0 || len >= outlen)
		return -1;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)ascii_lower((unsigned char)in[i]);
	out[len] = '\0';
	return 0;
}
