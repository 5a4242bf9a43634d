/*
 * test_decide.c - the relay's decision table (relay/decide.c)
 *
 * Table-driven: every row of the table in decide.h, for every governing
 * policy and fallback level, is one Check test (tcase_add_loop_test), so
 * a failure names the row. The module is pure, so it is compiled in here
 * directly (the unit-test rule links only the policy library).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../relay/decide.c"

enum { NOPOL = -1 };
#define B RELAY_STAGE_BEFORE_CONNECT
#define N RELAY_STAGE_NEGOTIATED
#define EST RELAY_TLS_ESTABLISHED
#define HSF RELAY_TLS_FAILED
#define NOT RELAY_TLS_NOT_TRIED
#define OK RELAY_CHAIN_OK
#define EXP RELAY_CHAIN_EXPIRED
#define NYV RELAY_CHAIN_NOT_YET_VALID
#define UNT RELAY_CHAIN_UNTRUSTED
#define INV RELAY_CHAIN_INVALID
#define NOK RELAY_NAME_OK
#define NMM RELAY_NAME_MISMATCH
#define NUN RELAY_NAME_UNCHECKED
#define MAY MTS_FALLBACK_MAY
#define ENC MTS_FALLBACK_ENCRYPT
#define VER MTS_FALLBACK_VERIFY
#define NON MTS_FALLBACK_NONE
#define PROCEED RELAY_PROCEED
#define VERIFIED RELAY_ALLOW_TLS_VERIFIED
#define UNVERIFIED RELAY_ALLOW_TLS_UNVERIFIED
#define PLAIN RELAY_ALLOW_PLAINTEXT
#define REFUSE RELAY_REFUSE
#define HANDOFF RELAY_HANDOFF

/* The policy of every row: mx1.example.com and *.wild.example. */
struct row {
	const char *name;
	enum relay_stage stage;
	int mode;			/* enum mts_mode or NOPOL */
	enum mts_fallback fallback;
	const char *mx;			/* NULL: unknown */
	int offered, accepted;
	enum relay_tls_state tls;
	enum relay_chain chain;
	enum relay_name cert_name;
	/* expected */
	enum relay_action action;
	const char *reason, *detail, *tls_state, *policy;
};

static const struct row rows[] = {
	/* --- before connecting ------------------------------------------- */
	{ "enforce, MX not listed: refused before any connection", B,
	  MTS_MODE_ENFORCE, MAY, "rogue.example.com", 0, 0, NOT, INV, NUN,
	  REFUSE, "validation-failure", "mx-not-listed", "none", "enforce" },
	{ "enforce, MX listed: proceed", B, MTS_MODE_ENFORCE, MAY,
	  "mx1.example.com", 0, 0, NOT, INV, NUN,
	  PROCEED, NULL, NULL, "none", "enforce" },
	{ "enforce, MX listed in other case with a dot: proceed", B,
	  MTS_MODE_ENFORCE, MAY, "MX1.Example.COM.", 0, 0, NOT, INV, NUN,
	  PROCEED, NULL, NULL, "none", "enforce" },
	{ "enforce, MX under a wildcard: proceed", B, MTS_MODE_ENFORCE, MAY,
	  "a.wild.example", 0, 0, NOT, INV, NUN,
	  PROCEED, NULL, NULL, "none", "enforce" },
	{ "enforce, two labels under a wildcard: refused", B, MTS_MODE_ENFORCE,
	  MAY, "a.b.wild.example", 0, 0, NOT, INV, NUN,
	  REFUSE, "validation-failure", "mx-not-listed", "none", "enforce" },
	{ "enforce, MX unknown: proceed (the certificate decides)", B,
	  MTS_MODE_ENFORCE, MAY, NULL, 0, 0, NOT, INV, NUN,
	  PROCEED, NULL, NULL, "none", "enforce" },
	{ "enforce with fallback none, MX listed: proceed (no hand-off)", B,
	  MTS_MODE_ENFORCE, NON, "mx1.example.com", 0, 0, NOT, INV, NUN,
	  PROCEED, NULL, NULL, "none", "enforce" },
	{ "testing, MX not listed: proceed", B, MTS_MODE_TESTING, MAY,
	  "rogue.example.com", 0, 0, NOT, INV, NUN,
	  PROCEED, NULL, NULL, "none", "testing" },
	{ "testing with fallback none: proceed", B, MTS_MODE_TESTING, NON,
	  "mx1.example.com", 0, 0, NOT, INV, NUN,
	  PROCEED, NULL, NULL, "none", "testing" },
	{ "no policy, fallback none: hand-off", B, NOPOL, NON,
	  "mx1.example.com", 0, 0, NOT, INV, NUN,
	  HANDOFF, NULL, NULL, "none", "no-policy" },
	{ "mode none, fallback none: hand-off", B, MTS_MODE_NONE, NON,
	  "rogue.example.com", 0, 0, NOT, INV, NUN,
	  HANDOFF, NULL, NULL, "none", "none" },
	{ "no policy, fallback may: proceed", B, NOPOL, MAY, NULL, 0, 0, NOT,
	  INV, NUN, PROCEED, NULL, NULL, "none", "no-policy" },
	{ "no policy, fallback encrypt: proceed", B, NOPOL, ENC, NULL, 0, 0,
	  NOT, INV, NUN, PROCEED, NULL, NULL, "none", "no-policy" },
	{ "no policy, fallback verify: proceed", B, NOPOL, VER, NULL, 0, 0,
	  NOT, INV, NUN, PROCEED, NULL, NULL, "none", "no-policy" },
	{ "mode none, MX not listed, fallback may: proceed", B, MTS_MODE_NONE,
	  MAY, "rogue.example.com", 0, 0, NOT, INV, NUN,
	  PROCEED, NULL, NULL, "none", "none" },

	/* --- enforce, after STARTTLS and TLS ------------------------------ */
	{ "enforce, STARTTLS not offered", N, MTS_MODE_ENFORCE, MAY,
	  "mx1.example.com", 0, 0, NOT, INV, NUN,
	  REFUSE, "starttls-not-supported", "starttls-not-offered", "none",
	  "enforce" },
	{ "enforce, STARTTLS refused", N, MTS_MODE_ENFORCE, MAY,
	  "mx1.example.com", 1, 0, NOT, INV, NUN,
	  REFUSE, "starttls-not-supported", "starttls-refused", "none",
	  "enforce" },
	{ "enforce, handshake failed", N, MTS_MODE_ENFORCE, MAY,
	  "mx1.example.com", 1, 1, HSF, INV, NUN,
	  REFUSE, "validation-failure", "handshake-failed", "none", "enforce" },
	{ "enforce, expired", N, MTS_MODE_ENFORCE, MAY, "mx1.example.com", 1,
	  1, EST, EXP, NOK, REFUSE, "certificate-expired", "cert-expired",
	  "unverified", "enforce" },
	{ "enforce, not yet valid", N, MTS_MODE_ENFORCE, MAY,
	  "mx1.example.com", 1, 1, EST, NYV, NOK,
	  REFUSE, "certificate-expired", "cert-not-yet-valid", "unverified",
	  "enforce" },
	{ "enforce, untrusted chain", N, MTS_MODE_ENFORCE, MAY,
	  "mx1.example.com", 1, 1, EST, UNT, NOK,
	  REFUSE, "certificate-not-trusted", "cert-untrusted", "unverified",
	  "enforce" },
	{ "enforce, other chain error", N, MTS_MODE_ENFORCE, MAY,
	  "mx1.example.com", 1, 1, EST, INV, NOK,
	  REFUSE, "validation-failure", "cert-invalid", "unverified",
	  "enforce" },
	{ "enforce, chain error wins over the name", N, MTS_MODE_ENFORCE, MAY,
	  "mx1.example.com", 1, 1, EST, UNT, NMM,
	  REFUSE, "certificate-not-trusted", "cert-untrusted", "unverified",
	  "enforce" },
	{ "enforce, SAN does not name the MX", N, MTS_MODE_ENFORCE, MAY,
	  "mx1.example.com", 1, 1, EST, OK, NMM,
	  REFUSE, "certificate-host-mismatch", "name-mismatch", "unverified",
	  "enforce" },
	{ "enforce, valid: allowed over TLS", N, MTS_MODE_ENFORCE, MAY,
	  "mx1.example.com", 1, 1, EST, OK, NOK,
	  VERIFIED, NULL, NULL, "verified", "enforce" },
	{ "enforce, valid, fallback verify changes nothing", N,
	  MTS_MODE_ENFORCE, VER, "mx1.example.com", 1, 1, EST, OK, NOK,
	  VERIFIED, NULL, NULL, "verified", "enforce" },
	{ "enforce, MX unknown, a SAN matches a pattern", N, MTS_MODE_ENFORCE,
	  MAY, NULL, 1, 1, EST, OK, NOK,
	  VERIFIED, NULL, NULL, "verified", "enforce" },
	{ "enforce, MX unknown, no SAN matches a pattern", N,
	  MTS_MODE_ENFORCE, MAY, NULL, 1, 1, EST, OK, NMM,
	  REFUSE, "certificate-host-mismatch", "mx-unknown", "unverified",
	  "enforce" },
	{ "enforce, MX unknown, nothing to check against", N,
	  MTS_MODE_ENFORCE, MAY, NULL, 1, 1, EST, OK, NUN,
	  REFUSE, "certificate-host-mismatch", "mx-unknown", "unverified",
	  "enforce" },
	{ "enforce, MX unknown, untrusted chain", N, MTS_MODE_ENFORCE, MAY,
	  NULL, 1, 1, EST, UNT, NOK,
	  REFUSE, "certificate-not-trusted", "cert-untrusted", "unverified",
	  "enforce" },
	{ "enforce, MX unknown, no STARTTLS", N, MTS_MODE_ENFORCE, MAY, NULL,
	  0, 0, NOT, INV, NUN,
	  REFUSE, "starttls-not-supported", "starttls-not-offered", "none",
	  "enforce" },

	/* --- testing: allowed, failures reported -------------------------- */
	{ "testing, valid", N, MTS_MODE_TESTING, MAY, "mx1.example.com", 1, 1,
	  EST, OK, NOK, VERIFIED, NULL, NULL, "verified", "testing" },
	{ "testing, no STARTTLS: plaintext", N, MTS_MODE_TESTING, MAY,
	  "mx1.example.com", 0, 0, NOT, INV, NUN,
	  PLAIN, "starttls-not-supported", "starttls-not-offered", "none",
	  "testing" },
	{ "testing, STARTTLS refused: plaintext", N, MTS_MODE_TESTING, VER,
	  "mx1.example.com", 1, 0, NOT, INV, NUN,
	  PLAIN, "starttls-not-supported", "starttls-refused", "none",
	  "testing" },
	{ "testing, self-signed: TLS anyway", N, MTS_MODE_TESTING, MAY,
	  "mx1.example.com", 1, 1, EST, UNT, NOK,
	  UNVERIFIED, "certificate-not-trusted", "cert-untrusted",
	  "unverified", "testing" },
	{ "testing, expired: TLS anyway", N, MTS_MODE_TESTING, MAY,
	  "mx1.example.com", 1, 1, EST, EXP, NOK,
	  UNVERIFIED, "certificate-expired", "cert-expired", "unverified",
	  "testing" },
	{ "testing, wrong name: TLS anyway", N, MTS_MODE_TESTING, MAY,
	  "mx1.example.com", 1, 1, EST, OK, NMM,
	  UNVERIFIED, "certificate-host-mismatch", "name-mismatch",
	  "unverified", "testing" },
	{ "testing, MX not listed, valid certificate", N, MTS_MODE_TESTING,
	  MAY, "rogue.example.com", 1, 1, EST, OK, NOK,
	  VERIFIED, "validation-failure", "mx-not-listed", "verified",
	  "testing" },
	{ "testing, MX not listed, no STARTTLS", N, MTS_MODE_TESTING, MAY,
	  "rogue.example.com", 0, 0, NOT, INV, NUN,
	  PLAIN, "validation-failure", "mx-not-listed", "none", "testing" },
	{ "testing, handshake failed: no session left", N, MTS_MODE_TESTING,
	  MAY, "mx1.example.com", 1, 1, HSF, INV, NUN,
	  REFUSE, "validation-failure", "handshake-failed", "none",
	  "testing" },
	{ "testing, MX unknown, no SAN matches", N, MTS_MODE_TESTING, MAY,
	  NULL, 1, 1, EST, OK, NMM,
	  UNVERIFIED, "certificate-host-mismatch", "mx-unknown", "unverified",
	  "testing" },

	/* --- no policy: the fallback levels ------------------------------- */
	{ "may, no STARTTLS: plaintext", N, NOPOL, MAY, "mx1.example.com", 0,
	  0, NOT, INV, NUN, PLAIN, "starttls-not-supported",
	  "starttls-not-offered", "none", "no-policy" },
	{ "may, STARTTLS refused: plaintext", N, NOPOL, MAY,
	  "mx1.example.com", 1, 0, NOT, INV, NUN,
	  PLAIN, "starttls-not-supported", "starttls-refused", "none",
	  "no-policy" },
	{ "may, valid: verified", N, NOPOL, MAY, "mx1.example.com", 1, 1, EST,
	  OK, NOK, VERIFIED, NULL, NULL, "verified", "no-policy" },
	{ "may, self-signed: unverified TLS", N, NOPOL, MAY,
	  "mx1.example.com", 1, 1, EST, UNT, NOK,
	  UNVERIFIED, "certificate-not-trusted", "cert-untrusted",
	  "unverified", "no-policy" },
	{ "may, MX unknown, valid chain: unverified", N, NOPOL, MAY, NULL, 1,
	  1, EST, OK, NUN, UNVERIFIED, "certificate-host-mismatch",
	  "mx-unknown", "unverified", "no-policy" },
	{ "may, MX not in any policy: no listing check", N, NOPOL, MAY,
	  "rogue.example.com", 1, 1, EST, OK, NOK,
	  VERIFIED, NULL, NULL, "verified", "no-policy" },
	{ "may, handshake failed: refused", N, NOPOL, MAY, "mx1.example.com",
	  1, 1, HSF, INV, NUN, REFUSE, "validation-failure",
	  "handshake-failed", "none", "no-policy" },
	{ "encrypt, no STARTTLS: refused", N, NOPOL, ENC, "mx1.example.com",
	  0, 0, NOT, INV, NUN, REFUSE, "starttls-not-supported",
	  "starttls-not-offered", "none", "no-policy" },
	{ "encrypt, STARTTLS refused: refused", N, NOPOL, ENC,
	  "mx1.example.com", 1, 0, NOT, INV, NUN,
	  REFUSE, "starttls-not-supported", "starttls-refused", "none",
	  "no-policy" },
	{ "encrypt, handshake failed: refused", N, NOPOL, ENC,
	  "mx1.example.com", 1, 1, HSF, INV, NUN,
	  REFUSE, "validation-failure", "handshake-failed", "none",
	  "no-policy" },
	{ "encrypt, self-signed: unverified TLS", N, NOPOL, ENC,
	  "mx1.example.com", 1, 1, EST, UNT, NMM,
	  UNVERIFIED, "certificate-not-trusted", "cert-untrusted",
	  "unverified", "no-policy" },
	{ "encrypt, valid: verified", N, NOPOL, ENC, "mx1.example.com", 1, 1,
	  EST, OK, NOK, VERIFIED, NULL, NULL, "verified", "no-policy" },
	{ "verify, no STARTTLS: refused", N, NOPOL, VER, "mx1.example.com", 0,
	  0, NOT, INV, NUN, REFUSE, "starttls-not-supported",
	  "starttls-not-offered", "none", "no-policy" },
	{ "verify, expired: refused", N, NOPOL, VER, "mx1.example.com", 1, 1,
	  EST, EXP, NOK, REFUSE, "certificate-expired", "cert-expired",
	  "unverified", "no-policy" },
	{ "verify, wrong name: refused", N, NOPOL, VER, "mx1.example.com", 1,
	  1, EST, OK, NMM, REFUSE, "certificate-host-mismatch",
	  "name-mismatch", "unverified", "no-policy" },
	{ "verify, MX unknown: refused", N, NOPOL, VER, NULL, 1, 1, EST, OK,
	  NUN, REFUSE, "certificate-host-mismatch", "mx-unknown",
	  "unverified", "no-policy" },
	{ "verify, valid: verified", N, NOPOL, VER, "mx1.example.com", 1, 1,
	  EST, OK, NOK, VERIFIED, NULL, NULL, "verified", "no-policy" },
	{ "mode none, fallback verify, self-signed: refused", N,
	  MTS_MODE_NONE, VER, "mx1.example.com", 1, 1, EST, UNT, NOK,
	  REFUSE, "certificate-not-trusted", "cert-untrusted", "unverified",
	  "none" },
	{ "mode none, MX not listed, may: plaintext, no listing check", N,
	  MTS_MODE_NONE, MAY, "rogue.example.com", 0, 0, NOT, INV, NUN,
	  PLAIN, "starttls-not-supported", "starttls-not-offered", "none",
	  "none" },
	{ "fallback none reached after connecting: as may", N, NOPOL, NON,
	  "mx1.example.com", 0, 0, NOT, INV, NUN,
	  PLAIN, "starttls-not-supported", "starttls-not-offered", "none",
	  "no-policy" },
};

static int streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

START_TEST(table_row)
{
	const struct row *r = &rows[_i];
	struct mts_policy p = MTS_POLICY_INIT;
	struct relay_facts f;
	struct relay_decision d;

	ck_assert_int_eq(mts_strlist_add(&p.mx, "mx1.example.com"), 0);
	ck_assert_int_eq(mts_strlist_add(&p.mx, "*.wild.example"), 0);
	relay_facts_init(&f);
	f.stage = r->stage;
	if (r->mode != NOPOL) {
		p.mode = (enum mts_mode)r->mode;
		f.have_policy = 1;
		f.policy = &p;
	}
	f.fallback = r->fallback;
	f.mx = r->mx;
	f.starttls_offered = r->offered;
	f.starttls_accepted = r->accepted;
	f.tls = r->tls;
	f.chain = r->chain;
	f.name = r->cert_name;

	relay_decide(&f, &d);
	ck_assert_msg(d.action == r->action, "%s: action %s, expected %s",
		      r->name, relay_action_name(d.action),
		      relay_action_name(r->action));
	ck_assert_msg(streq(d.reason, r->reason), "%s: reason %s, expected %s",
		      r->name, d.reason ? d.reason : "NULL",
		      r->reason ? r->reason : "NULL");
	ck_assert_msg(streq(d.detail, r->detail), "%s: detail %s, expected %s",
		      r->name, d.detail ? d.detail : "NULL",
		      r->detail ? r->detail : "NULL");
	ck_assert_msg(streq(d.tls, r->tls_state), "%s: tls %s, expected %s",
		      r->name, d.tls, r->tls_state);
	ck_assert_msg(streq(d.policy, r->policy), "%s: policy %s, expected %s",
		      r->name, d.policy, r->policy);
	mts_policy_free(&p);
}
END_TEST

/* A policy pointer without have_policy (a lookup that failed) is no
 * policy at all. */
START_TEST(have_policy_gates_the_policy)
{
	struct mts_policy p = MTS_POLICY_INIT;
	struct relay_facts f;
	struct relay_decision d;

	ck_assert_int_eq(mts_strlist_add(&p.mx, "mx1.example.com"), 0);
	p.mode = MTS_MODE_ENFORCE;
	relay_facts_init(&f);
	f.policy = &p;
	f.mx = "rogue.example.com";
	relay_decide(&f, &d);
	ck_assert_int_eq(d.action, RELAY_PROCEED);
	ck_assert_str_eq(d.policy, "no-policy");
	mts_policy_free(&p);
}
END_TEST

START_TEST(facts_init_defaults)
{
	struct relay_facts f;

	memset(&f, 0x5a, sizeof(f));
	relay_facts_init(&f);
	ck_assert_int_eq(f.stage, RELAY_STAGE_BEFORE_CONNECT);
	ck_assert_int_eq(f.have_policy, 0);
	ck_assert_ptr_null(f.policy);
	ck_assert_ptr_null(f.mx);
	ck_assert_int_eq(f.fallback, MTS_FALLBACK_MAY);
	ck_assert_int_eq(f.tls, RELAY_TLS_NOT_TRIED);
	ck_assert_int_eq(f.chain, RELAY_CHAIN_INVALID);
	ck_assert_int_eq(f.name, RELAY_NAME_UNCHECKED);
}
END_TEST

START_TEST(action_names)
{
	ck_assert_str_eq(relay_action_name(RELAY_PROCEED), "proceed");
	ck_assert_str_eq(relay_action_name(RELAY_ALLOW_TLS_VERIFIED),
			 "allow-tls-verified");
	ck_assert_str_eq(relay_action_name(RELAY_ALLOW_TLS_UNVERIFIED),
			 "allow-tls-unverified");
	ck_assert_str_eq(relay_action_name(RELAY_ALLOW_PLAINTEXT),
			 "allow-plaintext");
	ck_assert_str_eq(relay_action_name(RELAY_REFUSE), "refuse");
	ck_assert_str_eq(relay_action_name(RELAY_HANDOFF), "handoff");
	ck_assert_str_eq(relay_action_verdict(RELAY_ALLOW_TLS_VERIFIED), "allow");
	ck_assert_str_eq(relay_action_verdict(RELAY_ALLOW_TLS_UNVERIFIED),
			 "allow");
	ck_assert_str_eq(relay_action_verdict(RELAY_ALLOW_PLAINTEXT), "allow");
	ck_assert_str_eq(relay_action_verdict(RELAY_REFUSE), "refuse");
	ck_assert_str_eq(relay_action_verdict(RELAY_HANDOFF), "handoff");
	ck_assert_str_eq(relay_action_verdict(RELAY_PROCEED), "proceed");
}
END_TEST

static Suite *decide_suite(void)
{
	Suite *s = suite_create("decide");
	TCase *tc = tcase_create("table");

	tcase_add_loop_test(tc, table_row, 0,
			    (int)(sizeof(rows) / sizeof(rows[0])));
	tcase_add_test(tc, have_policy_gates_the_policy);
	tcase_add_test(tc, facts_init_defaults);
	tcase_add_test(tc, action_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(decide_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
