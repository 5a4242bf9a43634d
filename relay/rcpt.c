/*
 * rcpt.c - the recipient of a RCPT command, and its policy decision
 *
 * DESCRIPTION
 *	See rcpt.h. The parser walks the path once, left to right, in the
 *	order of RFC 5321's grammar: "<", a source route up to ":" (whose
 *	address literals may hold colons), the local part (a quoted string
 *	is skipped as a whole, so an "@" or ">" inside it is not taken for
 *	the domain's), "@", the domain or address literal, ">". Every
 *	octet is bounds-checked against the end of the line; nothing is
 *	copied before its length is known to fit.
 *
 *	The decision reuses the connection's decision table (decide.c) with
 *	the recipient's policy in place of the connection's: one table, so
 *	the per-recipient check cannot drift from the connect-time one.
 */
#include "rcpt.h"

#include <stdio.h>
#include <string.h>

#include "decide.h"

static int rcpt_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int starts_ci(const char *p, const char *end, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (rcpt_lower((unsigned char)p[i]) != word[i])
			return 0;
	return 1;
}

/* An octet a domain (or its U-label form) may hold: no controls, spaces
 * or the specials of RFC 5322 that delimit paths. */
static int domain_octet(unsigned char c)
{
	if (c >= 0x80)
		return 1;
	if (c <= ' ' || c == 0x7f)
		return 0;
	return strchr("<>\"()[]\\,;:@", c) == NULL;
}

/* Skips "@a,@b:" (p at the first "@"); NULL when malformed. */
static const char *skip_route(const char *p, const char *end)
{
	int in_literal = 0;

	for (; p < end; p++) {
		if (*p == '[')
			in_literal = 1;
		else if (*p == ']')
			in_literal = 0;
		else if (*p == ':' && !in_literal)
			return p + 1;
		else if (*p == '>' || *p == ' ')
			return NULL;
	}
	return NULL;
}

/* Skips the local part; NULL when malformed. */
static const char *skip_local(const char *p, const char *end)
{
	if (p < end && *p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && ++p == end)
				return NULL;
		}
		return p < end ? p + 1 : NULL;
	}
	while (p < end && *p != '@' && *p != '>' && *p != ' ' && *p != '<' &&
	       *p != '"')
		p++;
	return p;
}

static const char *store_domain(const char *dom, size_t n,
				struct relay_rcpt_addr *out)
{
	if (n == 0)
		return "empty domain";
	if (out->kind == RELAY_RCPT_LITERAL) {
		if (n > RELAY_RCPT_DOMAIN_MAX)
			return "address literal too long";
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)dom[i] <= ' ' ||
			    (unsigned char)dom[i] >= 0x7f)
				return "bad octet in address literal";
		memcpy(out->domain, dom, n);
		out->domain[n] = '\0';
		return NULL;
	}
	if (dom[n - 1] == '.')
		n--;
	if (n == 0)
		return "empty domain";
	if (n > MTS_DOMAIN_MAX)
		return "domain too long";
	for (size_t i = 0; i < n; i++) {
		if (!domain_octet((unsigned char)dom[i]))
			return "bad octet in domain";
		out->domain[i] = (char)rcpt_lower((unsigned char)dom[i]);
	}
	out->domain[n] = '\0';
	return NULL;
}

const char *relay_rcpt_parse(const char *line, size_t len,
			     struct relay_rcpt_addr *out)
{
	const char *p = line, *end = line + len, *local, *dom;
	int bracket = 0;

	memset(out, 0, sizeof(*out));
	if (end > p && end[-1] == '\n')
		end--;
	if (end > p && end[-1] == '\r')
		end--;
	if (memchr(p, '\0', (size_t)(end - p)) != NULL)
		return "NUL in command";
	if (!starts_ci(p, end, "rcpt ") )
		return "not a RCPT command";
	for (p += 5; p < end && *p == ' '; p++)
		;
	if (!starts_ci(p, end, "to:"))
		return "expected \"TO:\"";
	for (p += 3; p < end && *p == ' '; p++)
		;
	if (p < end && *p == '<') {
		bracket = 1;
		p++;
	}
	if (bracket && p < end && *p == '@' && (p = skip_route(p, end)) == NULL)
		return "malformed source route";
	local = p;
	if ((p = skip_local(p, end)) == NULL)
		return "malformed quoted local part";
	if (p < end && *p == '@') {
		dom = ++p;
		if (p < end && *p == '[') {
			const char *close = memchr(p, ']', (size_t)(end - p));

			if (close == NULL)
				return "unterminated address literal";
			p = close + 1;
			out->kind = RELAY_RCPT_LITERAL;
		} else {
			while (p < end && *p != '>' && *p != ' ')
				p++;
			out->kind = RELAY_RCPT_DOMAIN;
		}
		const char *why = store_domain(dom, (size_t)(p - dom), out);
		if (why != NULL)
			return why;
	} else {
		if (p == local)
			return "empty address";
		out->kind = RELAY_RCPT_NO_DOMAIN;
	}
	if (bracket) {
		if (p >= end || *p != '>')
			return "missing \">\"";
		p++;
	}
	if (p < end && *p != ' ')
		return "junk after the address";
	return NULL;
}

void relay_rcpt_decide(const struct relay_rcpt_conn *c,
		       const struct mts_policy *p,
		       enum relay_name san_vs_policy,
		       struct relay_rcpt_decision *out)
{
	struct relay_facts f;
	struct relay_decision d;
	int enforce = p != NULL && p->mode == MTS_MODE_ENFORCE;
	int testing = p != NULL && p->mode == MTS_MODE_TESTING;

	relay_facts_init(&f);
	f.stage = RELAY_STAGE_NEGOTIATED;
	f.have_policy = p != NULL;
	f.policy = p;
	f.mx = c->mx;
	f.starttls_offered = c->starttls_offered;
	f.starttls_accepted = c->starttls_accepted;
	f.tls = c->tls;
	f.chain = c->chain;
	f.name = c->mx != NULL ? c->mx_name : san_vs_policy;
	relay_decide(&f, &d);
	out->policy = d.policy;
	out->reason = d.reason;
	out->detail = d.detail;
	out->report = enforce || testing;
	out->verdict = enforce && d.action == RELAY_REFUSE ? RELAY_RCPT_DEFER :
							     RELAY_RCPT_ALLOW;
	if (!enforce && !testing)
		out->reason = out->detail = NULL;	/* nothing to satisfy */
}

int relay_rcpt_reply(const struct relay_rcpt_decision *d, const char *domain,
		     char *out, size_t outlen)
{
	const char *status = d->reason != NULL &&
			     strcmp(d->reason, "starttls-not-supported") == 0 ?
				"4.7.4" : "4.7.5";
	int n = snprintf(out, outlen,
			 "450 %s MTA-STS: policy of %.253s not satisfied: "
			 "%s (%s)\r\n", status, domain,
			 d->reason != NULL ? d->reason : "validation-failure",
			 d->detail != NULL ? d->detail : "-");

	return n < 0 || (size_t)n >= outlen ? -1 : n;
}
