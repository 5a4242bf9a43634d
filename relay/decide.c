/*
 * decide.c - the relay's decision table (RFC 8461 sections 4 and 5)
 *
 * DESCRIPTION
 *	See decide.h for the table. The code has two steps: find the first
 *	failure among the facts (first_failure), then let the governing
 *	policy or fallback turn it into an action. Keeping "what went wrong"
 *	apart from "what we do about it" is what lets testing mode report
 *	exactly the failure enforce mode would have refused for.
 *
 *	The MX listing check is the only part that looks at the policy's
 *	patterns (mts_policy_mx_allowed, a pure string function); the
 *	certificate's names were matched by the caller (tls.c) and arrive
 *	as f->name.
 */
#include "decide.h"

#include <stddef.h>

#include "match.h"

struct failure {
	const char *reason;
	const char *detail;
};

enum governing {
	GOV_ENFORCE,
	GOV_TESTING,
	GOV_FALLBACK,
};

void relay_facts_init(struct relay_facts *f)
{
	f->stage = RELAY_STAGE_BEFORE_CONNECT;
	f->have_policy = 0;
	f->policy = NULL;
	f->fallback = MTS_FALLBACK_MAY;
	f->mx = NULL;
	f->starttls_offered = 0;
	f->starttls_accepted = 0;
	f->tls = RELAY_TLS_NOT_TRIED;
	f->chain = RELAY_CHAIN_INVALID;
	f->name = RELAY_NAME_UNCHECKED;
}

static enum governing governing(const struct relay_facts *f)
{
	if (!f->have_policy || f->policy == NULL)
		return GOV_FALLBACK;
	switch (f->policy->mode) {
	case MTS_MODE_ENFORCE:
		return GOV_ENFORCE;
	case MTS_MODE_TESTING:
		return GOV_TESTING;
	case MTS_MODE_NONE:
	default:
		return GOV_FALLBACK;
	}
}

static const char *policy_name(const struct relay_facts *f)
{
	if (!f->have_policy || f->policy == NULL)
		return "no-policy";
	return mts_mode_name(f->policy->mode);
}

/* 1 when the MX name is known and no pattern of the policy matches it. */
static int mx_not_listed(const struct relay_facts *f)
{
	return f->mx != NULL && !mts_policy_mx_allowed(f->policy, f->mx);
}

static int set_failure(struct failure *out, const char *reason,
		       const char *detail)
{
	out->reason = reason;
	out->detail = detail;
	return 1;
}

/* The certificate checks of an established session. */
static int cert_failure(const struct relay_facts *f, struct failure *out)
{
	switch (f->chain) {
	case RELAY_CHAIN_OK:
		break;
	case RELAY_CHAIN_EXPIRED:
		return set_failure(out, "certificate-expired", "cert-expired");
	case RELAY_CHAIN_NOT_YET_VALID:
		return set_failure(out, "certificate-expired",
				   "cert-not-yet-valid");
	case RELAY_CHAIN_UNTRUSTED:
		return set_failure(out, "certificate-not-trusted",
				   "cert-untrusted");
	case RELAY_CHAIN_INVALID:
	default:
		return set_failure(out, "validation-failure", "cert-invalid");
	}
	switch (f->name) {
	case RELAY_NAME_OK:
		return 0;
	case RELAY_NAME_MISMATCH:
		return set_failure(out, "certificate-host-mismatch",
				   f->mx != NULL ? "name-mismatch" :
						   "mx-unknown");
	case RELAY_NAME_UNCHECKED:
	default:
		return set_failure(out, "certificate-host-mismatch",
				   "mx-unknown");
	}
}

/* The first failure of the negotiated session; 0 when none. */
static int first_failure(const struct relay_facts *f, enum governing g,
			 struct failure *out)
{
	out->reason = out->detail = NULL;
	if (g != GOV_FALLBACK && mx_not_listed(f))
		return set_failure(out, "validation-failure", "mx-not-listed");
	if (!f->starttls_offered)
		return set_failure(out, "starttls-not-supported",
				   "starttls-not-offered");
	if (!f->starttls_accepted)
		return set_failure(out, "starttls-not-supported",
				   "starttls-refused");
	if (f->tls != RELAY_TLS_ESTABLISHED)
		return set_failure(out, "validation-failure",
				   "handshake-failed");
	return cert_failure(f, out);
}

static void before_connect(const struct relay_facts *f, enum governing g,
			   struct relay_decision *out)
{
	out->action = RELAY_PROCEED;
	if (g == GOV_ENFORCE && mx_not_listed(f)) {
		out->action = RELAY_REFUSE;
		out->reason = "validation-failure";
		out->detail = "mx-not-listed";
	} else if (g == GOV_FALLBACK && f->fallback == MTS_FALLBACK_NONE) {
		out->action = RELAY_HANDOFF;
	}
}

/* What an allowed session is: plaintext, or TLS verified when the
 * certificate passed every check (whatever else failed). */
static enum relay_action allowed(const struct relay_facts *f)
{
	struct failure fl;

	if (f->tls != RELAY_TLS_ESTABLISHED)
		return RELAY_ALLOW_PLAINTEXT;
	return cert_failure(f, &fl) ? RELAY_ALLOW_TLS_UNVERIFIED :
				      RELAY_ALLOW_TLS_VERIFIED;
}

static void negotiated(const struct relay_facts *f, enum governing g,
		       struct relay_decision *out)
{
	struct failure fl;
	int failed = first_failure(f, g, &fl);
	/* A failed handshake leaves a connection no one can use. */
	int broken = f->starttls_accepted && f->tls != RELAY_TLS_ESTABLISHED;

	out->reason = fl.reason;
	out->detail = fl.detail;
	if (broken) {
		out->action = RELAY_REFUSE;
		return;
	}
	switch (g) {
	case GOV_ENFORCE:
		out->action = failed ? RELAY_REFUSE : RELAY_ALLOW_TLS_VERIFIED;
		return;
	case GOV_TESTING:
		out->action = allowed(f);
		return;
	case GOV_FALLBACK:
	default:
		break;
	}
	switch (f->fallback) {
	case MTS_FALLBACK_VERIFY:
		out->action = failed ? RELAY_REFUSE : RELAY_ALLOW_TLS_VERIFIED;
		break;
	case MTS_FALLBACK_ENCRYPT:
		out->action = f->tls == RELAY_TLS_ESTABLISHED ?
			allowed(f) : RELAY_REFUSE;
		break;
	case MTS_FALLBACK_MAY:
	case MTS_FALLBACK_NONE:
	default:
		out->action = allowed(f);
		break;
	}
}

static const char *tls_state(const struct relay_facts *f)
{
	struct failure fl;

	if (f->stage != RELAY_STAGE_NEGOTIATED ||
	    f->tls != RELAY_TLS_ESTABLISHED)
		return "none";
	return cert_failure(f, &fl) ? "unverified" : "verified";
}

void relay_decide(const struct relay_facts *f, struct relay_decision *out)
{
	enum governing g = governing(f);

	out->action = RELAY_PROCEED;
	out->policy = policy_name(f);
	out->reason = NULL;
	out->detail = NULL;
	out->tls = tls_state(f);
	if (f->stage == RELAY_STAGE_BEFORE_CONNECT)
		before_connect(f, g, out);
	else
		negotiated(f, g, out);
}

const char *relay_action_name(enum relay_action a)
{
	switch (a) {
	case RELAY_PROCEED: return "proceed";
	case RELAY_ALLOW_TLS_VERIFIED: return "allow-tls-verified";
	case RELAY_ALLOW_TLS_UNVERIFIED: return "allow-tls-unverified";
	case RELAY_ALLOW_PLAINTEXT: return "allow-plaintext";
	case RELAY_REFUSE: return "refuse";
	case RELAY_HANDOFF: return "handoff";
	}
	return "?";
}

const char *relay_action_verdict(enum relay_action a)
{
	switch (a) {
	case RELAY_ALLOW_TLS_VERIFIED:
	case RELAY_ALLOW_TLS_UNVERIFIED:
	case RELAY_ALLOW_PLAINTEXT:
		return "allow";
	case RELAY_REFUSE:
		return "refuse";
	case RELAY_HANDOFF:
		return "handoff";
	case RELAY_PROCEED:
	default:
		return "proceed";
	}
}
