/*
 * test_engine.c - unit tests for policy/engine.c: the RFC 8461 section 5
 * decisions, driven through mts_engine_lookup_with() with a fake TXT
 * look-up, a fake fetch and a fake clock (no network, no sleeping).
 *
 * Each test gets a fresh private cache directory under /tmp and a reset
 * fake world. The fakes count their calls, so every test asserts not
 * only the answer but also whether the network was asked.
 */
#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cache.h"
#include "engine.h"

#define T0 1700000000

#define POLICY_ENFORCE "version: STSv1\nmode: enforce\nmx: mx.example.com\n" \
		       "max_age: 86400\n"
#define POLICY_TESTING "version: STSv1\r\nmode: testing\r\nmx: *.example.com\r\n" \
		       "max_age: 604800\r\n"
#define POLICY_NONE "version: STSv1\nmode: none\nmax_age: 86400\n"
#define POLICY_SHORT "version: STSv1\nmode: enforce\nmx: mx.example.com\n" \
		     "max_age: 100\n"
#define POLICY_NO_MX "version: STSv1\nmode: enforce\nmax_age: 86400\n"

/* The fake world the engine sees. */
static struct {
	enum mts_dns_status txt_status;
	const char *txt[4];
	size_t ntxt;
	int txt_calls;
	char txt_name[300];
	enum mts_fetch_status fetch_status;
	const char *body;
	const char *fetch_err;
	int fetch_calls;
	char fetch_domain[300];
	int64_t now;
} fake;

static char tmpdir[64];
static struct mts_config cfg;
static struct mts_result res;

static enum mts_dns_status fake_txt(const struct mts_config *c,
				    const char *name, unsigned timeout_ms,
				    struct mts_txt_records *out,
				    char *err, size_t errlen)
{
	fake.txt_calls++;
	mts_strlcpy(fake.txt_name, name, sizeof(fake.txt_name));
	out->rec = (struct mts_strlist)MTS_STRLIST_INIT;
	out->len = NULL;
	ck_assert_uint_gt(timeout_ms, 0);
	if (fake.txt_status != MTS_DNS_OK) {
		snprintf(err, errlen, "TXT %s: fake %s", name,
			 mts_dns_status_name(fake.txt_status));
		return fake.txt_status;
	}
	out->len = calloc(fake.ntxt, sizeof(*out->len));
	ck_assert_ptr_nonnull(out->len);
	for (size_t i = 0; i < fake.ntxt; i++) {
		ck_assert_int_eq(mts_strlist_add(&out->rec, fake.txt[i]), 0);
		out->len[i] = strlen(fake.txt[i]);
	}
	return MTS_DNS_OK;
}

static enum mts_fetch_status fake_fetch(const struct mts_config *c,
					const char *domain, struct mts_buf *body,
					char *err, size_t errlen)
{
	fake.fetch_calls++;
	mts_strlcpy(fake.fetch_domain, domain, sizeof(fake.fetch_domain));
	if (fake.fetch_status != MTS_FETCH_OK) {
		snprintf(err, errlen, "%s", fake.fetch_err);
		return fake.fetch_status;
	}
	ck_assert_int_eq(mts_buf_append_str(body, fake.body), 0);
	return MTS_FETCH_OK;
}

static int64_t fake_now(void)
{
	return fake.now;
}

static const struct mts_engine_ops ops = { fake_txt, fake_fetch, fake_now };

/* ---- fixture and helpers ---- */

static int remove_one(const char *path, const struct stat *st, int type,
		      struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void setup(void)
{
	memset(&fake, 0, sizeof(fake));
	fake.now = T0;
	mts_strlcpy(tmpdir, "/tmp/test_engine.XXXXXX", sizeof(tmpdir));
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.cache_dir, sizeof(cfg.cache_dir), "%s/cache", tmpdir);
	cfg.timeout_s = 5;
	mts_result_init(&res);
}

static void teardown(void)
{
	mts_result_free(&res);
	nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void txt(const char *record)
{
	fake.txt_status = MTS_DNS_OK;
	fake.txt[0] = record;
	fake.ntxt = 1;
}

static void serve(const char *body)
{
	fake.fetch_status = MTS_FETCH_OK;
	fake.body = body;
}

static void fail_fetch(enum mts_fetch_status st, const char *why)
{
	fake.fetch_status = st;
	fake.fetch_err = why;
}

static enum mts_status lookup(const char *domain, unsigned flags)
{
	return mts_engine_lookup_with(&ops, &cfg, domain, flags, &res);
}

/* Loads the cache entry of example.com; fails the test when absent. */
static void load_entry(struct mts_cache_entry *e)
{
	char err[512];

	mts_cache_entry_init(e);
	ck_assert_int_eq(mts_cache_load(cfg.cache_dir, "example.com", e, err,
					sizeof(err)), 0);
}

/* Caches body with id a1 at the fake now, through the engine itself. */
static void prime_cache(const char *body)
{
	fake.fetch_calls = fake.txt_calls = 0;
	txt("v=STSv1; id=a1");
	serve(body);
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(res.source, MTS_SRC_NETWORK);
	ck_assert_int_eq(fake.fetch_calls, 1);
	fake.fetch_calls = fake.txt_calls = 0;
}

#define assert_contains(hay, needle) \
	ck_assert_msg(strstr((hay), (needle)) != NULL, \
		      "\"%s\" does not contain \"%s\"", (hay), (needle))

/* ---- tests ---- */

START_TEST(network_then_cache)
{
	struct mts_cache_entry e;

	txt("v=STSv1; id=a1");
	serve(POLICY_ENFORCE);
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_str_eq(fake.txt_name, "_mta-sts.example.com");
	ck_assert_str_eq(fake.fetch_domain, "example.com");
	ck_assert_int_eq(res.status, MTS_POLICY);
	ck_assert_int_eq(res.source, MTS_SRC_NETWORK);
	ck_assert_int_eq(res.failure, MTS_FAIL_NONE);
	ck_assert_int_eq(res.policy.mode, MTS_MODE_ENFORCE);
	ck_assert_uint_eq(res.policy.max_age, 86400);
	ck_assert_uint_eq(res.policy.mx.count, 1);
	ck_assert_str_eq(res.policy.mx.item[0], "mx.example.com");
	ck_assert_str_eq(res.id, "a1");
	ck_assert_int_eq(res.fetched_at, T0);
	ck_assert_int_eq(res.expires_at, T0 + 86400);
	ck_assert_uint_eq(res.text.len, strlen(POLICY_ENFORCE));
	ck_assert_mem_eq(res.text.data, POLICY_ENFORCE, res.text.len);

	load_entry(&e);
	ck_assert_str_eq(e.id, "a1");
	ck_assert_int_eq(e.fetched_at, T0);
	ck_assert_int_eq(e.expires_at, T0 + 86400);
	ck_assert_int_eq(e.failed_at, 0);
	ck_assert_uint_eq(e.text.len, strlen(POLICY_ENFORCE));
	mts_cache_entry_free(&e);

	/* Same id later: the cache answers, the TXT is still checked. */
	fake.now = T0 + 3600;
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(res.source, MTS_SRC_CACHE);
	ck_assert_int_eq(res.failure, MTS_FAIL_NONE);
	ck_assert_int_eq(fake.txt_calls, 2);
	ck_assert_int_eq(fake.fetch_calls, 1);
	ck_assert_str_eq(res.id, "a1");
	ck_assert_int_eq(res.fetched_at, T0);
	ck_assert_int_eq(res.expires_at, T0 + 86400);
	ck_assert_int_eq(res.policy.mode, MTS_MODE_ENFORCE);
	ck_assert_str_eq(res.policy.mx.item[0], "mx.example.com");
	ck_assert_mem_eq(res.text.data, POLICY_ENFORCE, res.text.len);
}
END_TEST

START_TEST(domain_normalised_and_checked)
{
	static const char *const bad[] = {
		"192.0.2.1", "[192.0.2.1]", "localhost", "", "a..b.com",
		"exa mple.com", "-x.example.com", "example.com/../x",
	};
	char longname[300];

	txt("v=STSv1; id=a1");
	serve(POLICY_ENFORCE);
	ck_assert_int_eq(lookup("Mail.EXAMPLE.com.", 0), MTS_POLICY);
	ck_assert_str_eq(fake.txt_name, "_mta-sts.mail.example.com");
	ck_assert_str_eq(fake.fetch_domain, "mail.example.com");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fake.txt_calls = 0;
		ck_assert_int_eq(lookup(bad[i], 0), MTS_NO_POLICY);
		ck_assert_int_eq(fake.txt_calls, 0);
		ck_assert_int_eq(res.failure, MTS_FAIL_NONE);
		assert_contains(res.reason, "no policy for this name");
	}
	ck_assert_int_eq(mts_engine_lookup_with(&ops, &cfg, NULL, 0, &res),
			 MTS_NO_POLICY);

	/* A valid 250-byte host name leaves no room for "_mta-sts.". */
	memset(longname, 'a', sizeof(longname));
	for (size_t i = 1; i <= 4; i++)
		longname[i * 62 - 1] = '.';	/* four labels of 61 */
	memcpy(longname + 248, "com", 4);
	ck_assert_uint_eq(strlen(longname), 251);
	fake.txt_calls = 0;
	ck_assert_int_eq(lookup(longname, 0), MTS_NO_POLICY);
	ck_assert_int_eq(fake.txt_calls, 0);
	assert_contains(res.reason, "too long");
}
END_TEST

START_TEST(id_change_refetches)
{
	struct mts_cache_entry e;

	prime_cache(POLICY_ENFORCE);
	fake.now = T0 + 60;
	txt("v=STSv1; id=a2");
	serve(POLICY_TESTING);
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(fake.fetch_calls, 1);
	ck_assert_int_eq(res.source, MTS_SRC_NETWORK);
	ck_assert_int_eq(res.policy.mode, MTS_MODE_TESTING);
	ck_assert_str_eq(res.policy.mx.item[0], "*.example.com");
	ck_assert_str_eq(res.id, "a2");
	ck_assert_int_eq(res.expires_at, T0 + 60 + 604800);
	load_entry(&e);
	ck_assert_str_eq(e.id, "a2");
	ck_assert_int_eq(e.fetched_at, T0 + 60);
	ck_assert_mem_eq(e.text.data, POLICY_TESTING, e.text.len);
	mts_cache_entry_free(&e);
}
END_TEST

START_TEST(txt_notfound_keeps_cache)
{
	struct mts_cache_entry e;

	prime_cache(POLICY_ENFORCE);
	fake.now = T0 + 60;
	fake.txt_status = MTS_DNS_NOTFOUND;
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(res.source, MTS_SRC_CACHE);
	ck_assert_int_eq(res.failure, MTS_FAIL_NONE);
	ck_assert_int_eq(res.policy.mode, MTS_MODE_ENFORCE);
	ck_assert_int_eq(fake.fetch_calls, 0);
	assert_contains(res.reason, "no TXT record _mta-sts.example.com");
	/* ... and does not remove it. */
	load_entry(&e);
	ck_assert_str_eq(e.id, "a1");
	mts_cache_entry_free(&e);

	ck_assert_int_eq(lookup("other.example", 0), MTS_NO_POLICY);
	ck_assert_int_eq(res.source, MTS_SRC_NONE);
	ck_assert_int_eq(res.failure, MTS_FAIL_NONE);
	ck_assert_str_eq(res.reason, "no TXT record _mta-sts.other.example");
	ck_assert_int_eq(fake.fetch_calls, 0);
}
END_TEST

START_TEST(txt_not_one_valid_record)
{
	fake.txt_status = MTS_DNS_OK;
	fake.txt[0] = "v=STSv1; id=a1";
	fake.txt[1] = "v=STSv1; id=a2";
	fake.txt[2] = "v=spf1 -all";
	fake.ntxt = 3;
	ck_assert_int_eq(lookup("example.com", 0), MTS_NO_POLICY);
	assert_contains(res.reason, "2 v=STSv1 records");
	ck_assert_int_eq(fake.fetch_calls, 0);

	txt("v=STSv1; id=toolongtoolongtoolongtoolongtoolong1");
	ck_assert_int_eq(lookup("example.com", 0), MTS_NO_POLICY);
	ck_assert_int_eq(fake.fetch_calls, 0);

	/* With a cached policy, an unusable TXT set keeps it. */
	prime_cache(POLICY_ENFORCE);
	fake.txt_status = MTS_DNS_OK;
	fake.txt[0] = "v=STSv1; id=a1";
	fake.txt[1] = "v=STSv1; id=a2";
	fake.ntxt = 2;
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(res.source, MTS_SRC_CACHE);
	ck_assert_int_eq(fake.fetch_calls, 0);
}
END_TEST

START_TEST(txt_tempfail)
{
	fake.txt_status = MTS_DNS_TEMPFAIL;
	ck_assert_int_eq(lookup("example.com", 0), MTS_TEMPFAIL);
	ck_assert_int_eq(res.failure, MTS_FAIL_DNS);
	ck_assert_int_eq(res.source, MTS_SRC_NONE);
	assert_contains(res.reason, "DNS: TXT _mta-sts.example.com: fake tempfail");
	ck_assert_int_eq(fake.fetch_calls, 0);

	prime_cache(POLICY_ENFORCE);
	fake.now = T0 + 60;
	fake.txt_status = MTS_DNS_TEMPFAIL;
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(res.source, MTS_SRC_CACHE);
	ck_assert_int_eq(res.failure, MTS_FAIL_DNS);
	ck_assert_int_eq(res.policy.mode, MTS_MODE_ENFORCE);
	assert_contains(res.reason, "DNS:");
	ck_assert_int_eq(fake.fetch_calls, 0);
}
END_TEST

START_TEST(fetch_fail_with_cache)
{
	struct mts_cache_entry e;

	prime_cache(POLICY_ENFORCE);
	fake.now = T0 + 60;
	txt("v=STSv1; id=a2");
	fail_fetch(MTS_FETCH_ERROR, "HTTP status 404");
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(fake.fetch_calls, 1);
	ck_assert_int_eq(res.source, MTS_SRC_CACHE);
	ck_assert_int_eq(res.failure, MTS_FAIL_FETCH);
	ck_assert_str_eq(res.id, "a1");
	ck_assert_int_eq(res.policy.mode, MTS_MODE_ENFORCE);
	ck_assert_str_eq(res.reason, "fetch: HTTP status 404");

	load_entry(&e);
	ck_assert_str_eq(e.id, "a1");
	ck_assert_int_eq(e.fetched_at, T0);
	ck_assert_int_eq(e.expires_at, T0 + 86400);
	ck_assert_mem_eq(e.text.data, POLICY_ENFORCE, e.text.len);
	ck_assert_int_eq(e.failed_at, T0 + 60);
	ck_assert_str_eq(e.failed_id, "a2");
	ck_assert_str_eq(e.failed_reason,
			 "sts-policy-fetch-error: HTTP status 404");
	mts_cache_entry_free(&e);
}
END_TEST

START_TEST(fetch_fail_without_cache)
{
	struct mts_cache_entry e;

	txt("v=STSv1; id=a1");
	fail_fetch(MTS_FETCH_ERROR, "timeout");
	ck_assert_int_eq(lookup("example.com", 0), MTS_TEMPFAIL);
	ck_assert_int_eq(res.failure, MTS_FAIL_FETCH);
	ck_assert_int_eq(res.source, MTS_SRC_NONE);
	ck_assert_str_eq(res.reason, "fetch: timeout");
	ck_assert_uint_eq(res.policy.mx.count, 0);
	load_entry(&e);
	ck_assert_str_eq(e.id, "");
	ck_assert_uint_eq(e.text.len, 0);
	ck_assert_int_eq(e.failed_at, T0);
	ck_assert_str_eq(e.failed_id, "a1");
	mts_cache_entry_free(&e);
}
END_TEST

START_TEST(backoff_honoured_then_lifted)
{
	txt("v=STSv1; id=a1");
	fail_fetch(MTS_FETCH_ERROR, "connect: refused");
	ck_assert_int_eq(lookup("example.com", 0), MTS_TEMPFAIL);
	ck_assert_int_eq(fake.fetch_calls, 1);

	fake.now = T0 + MTS_FETCH_BACKOFF - 1;
	serve(POLICY_ENFORCE);
	ck_assert_int_eq(lookup("example.com", 0), MTS_TEMPFAIL);
	ck_assert_int_eq(fake.fetch_calls, 1);
	ck_assert_int_eq(res.failure, MTS_FAIL_FETCH);
	ck_assert_str_eq(res.reason, "fetch backoff: id a1 failed 299 s ago: "
			 "connect: refused");

	/* A new id is a new policy: no backoff for it. */
	txt("v=STSv1; id=a2");
	fail_fetch(MTS_FETCH_ERROR, "connect: refused");
	ck_assert_int_eq(lookup("example.com", 0), MTS_TEMPFAIL);
	ck_assert_int_eq(fake.fetch_calls, 2);

	/* a2 failed at T0 + 299: held back until T0 + 599. */
	fake.now = T0 + 598;
	serve(POLICY_ENFORCE);
	ck_assert_int_eq(lookup("example.com", 0), MTS_TEMPFAIL);
	ck_assert_int_eq(fake.fetch_calls, 2);
	fake.now = T0 + 599;
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(fake.fetch_calls, 3);
	ck_assert_int_eq(res.source, MTS_SRC_NETWORK);
	ck_assert_int_eq(res.failure, MTS_FAIL_NONE);
	ck_assert_str_eq(res.id, "a2");
}
END_TEST

START_TEST(churning_ids_held_back)
{
	char rec[64];
	struct mts_cache_entry e;

	/* A cached enforce policy; then the id changes on every query and
	 * the host fails: a new id is fetched at once once, after the
	 * second failing id no id is fetched until the window passes. */
	prime_cache(POLICY_ENFORCE);
	fail_fetch(MTS_FETCH_ERROR, "HTTP status 404");
	for (int i = 2; i <= 12; i++) {
		snprintf(rec, sizeof(rec), "v=STSv1; id=c%d", i);
		txt(rec);
		fake.now = T0 + i;
		ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
		ck_assert_int_eq(res.source, MTS_SRC_CACHE);
		ck_assert_str_eq(res.id, "a1");
	}
	ck_assert_int_eq(fake.fetch_calls, 2);
	assert_contains(res.reason, "several ids failed: HTTP status 404");
	load_entry(&e);
	ck_assert_str_eq(e.failed_id, "c3");
	ck_assert_int_eq(e.failed_at, T0 + 3);
	mts_cache_entry_free(&e);

	/* --fresh still fetches; the tag stays. */
	ck_assert_int_eq(lookup("example.com", MTS_LOOKUP_FRESH), MTS_POLICY);
	ck_assert_int_eq(fake.fetch_calls, 3);

	/* The window passes (MTS_FETCH_BACKOFF after the last failure at
	 * T0 + 12): the next id is fetched again. */
	fake.now = T0 + 12 + MTS_FETCH_BACKOFF;
	txt("v=STSv1; id=c99");
	serve(POLICY_TESTING);
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(fake.fetch_calls, 4);
	ck_assert_int_eq(res.source, MTS_SRC_NETWORK);
	ck_assert_str_eq(res.id, "c99");
}
END_TEST

START_TEST(backoff_serves_valid_cache_with_class)
{
	struct mts_cache_entry e;

	prime_cache(POLICY_ENFORCE);
	txt("v=STSv1; id=a2");
	fail_fetch(MTS_FETCH_WEBPKI, "certificate: certificate has expired");
	fake.now = T0 + 10;
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(res.failure, MTS_FAIL_WEBPKI);
	ck_assert_int_eq(fake.fetch_calls, 1);

	fake.now = T0 + 70;
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(fake.fetch_calls, 1);
	ck_assert_int_eq(res.source, MTS_SRC_CACHE);
	ck_assert_str_eq(res.id, "a1");
	ck_assert_int_eq(res.failure, MTS_FAIL_WEBPKI);
	ck_assert_str_eq(res.reason, "fetch backoff: id a2 failed 60 s ago: "
			 "certificate: certificate has expired");

	/* A failure time in the future (clock went back) holds nothing. */
	load_entry(&e);
	ck_assert_int_eq(e.failed_at, T0 + 10);
	mts_cache_entry_free(&e);
	fake.now = T0 + 5;
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(fake.fetch_calls, 2);
}
END_TEST

START_TEST(fresh_ignores_cache_and_backoff)
{
	prime_cache(POLICY_ENFORCE);

	/* Same id, valid cache: FRESH fetches anyway. */
	fake.now = T0 + 60;
	serve(POLICY_TESTING);
	ck_assert_int_eq(lookup("example.com", MTS_LOOKUP_FRESH), MTS_POLICY);
	ck_assert_int_eq(fake.fetch_calls, 1);
	ck_assert_int_eq(res.source, MTS_SRC_NETWORK);
	ck_assert_int_eq(res.policy.mode, MTS_MODE_TESTING);

	/* A failed fetch, then FRESH within the backoff: fetched again;
	 * a failing FRESH fetch still falls back to the valid cache. */
	txt("v=STSv1; id=a2");
	fail_fetch(MTS_FETCH_ERROR, "HTTP status 500");
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(fake.fetch_calls, 2);
	fake.now = T0 + 61;
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(fake.fetch_calls, 2);
	ck_assert_int_eq(lookup("example.com", MTS_LOOKUP_FRESH), MTS_POLICY);
	ck_assert_int_eq(fake.fetch_calls, 3);
	ck_assert_int_eq(res.source, MTS_SRC_CACHE);
	ck_assert_int_eq(res.failure, MTS_FAIL_FETCH);
	ck_assert_str_eq(res.reason, "fetch: HTTP status 500");

	/* FRESH with NO_DNS still asks DNS. */
	fake.txt_calls = 0;
	serve(POLICY_ENFORCE);
	ck_assert_int_eq(lookup("example.com", MTS_LOOKUP_FRESH |
					       MTS_LOOKUP_NO_DNS), MTS_POLICY);
	ck_assert_int_eq(fake.txt_calls, 1);
	ck_assert_int_eq(res.source, MTS_SRC_NETWORK);
	ck_assert_str_eq(res.id, "a2");
}
END_TEST

START_TEST(mode_none_replaces_enforce)
{
	struct mts_cache_entry e;

	prime_cache(POLICY_ENFORCE);
	fake.now = T0 + 60;
	txt("v=STSv1; id=withdrawn");
	serve(POLICY_NONE);
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(res.source, MTS_SRC_NETWORK);
	ck_assert_int_eq(res.policy.mode, MTS_MODE_NONE);
	ck_assert_uint_eq(res.policy.mx.count, 0);
	load_entry(&e);
	ck_assert_str_eq(e.id, "withdrawn");
	ck_assert_mem_eq(e.text.data, POLICY_NONE, e.text.len);
	mts_cache_entry_free(&e);

	fake.now = T0 + 120;
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(res.source, MTS_SRC_CACHE);
	ck_assert_int_eq(res.policy.mode, MTS_MODE_NONE);
	ck_assert_int_eq(fake.fetch_calls, 1);
}
END_TEST

START_TEST(expired_cache_never_served)
{
	prime_cache(POLICY_SHORT);

	/* Valid until T0 + 99 inclusive. */
	fake.now = T0 + 99;
	ck_assert_int_eq(lookup("example.com", MTS_LOOKUP_NO_DNS), MTS_POLICY);
	ck_assert_int_eq(res.source, MTS_SRC_CACHE);
	ck_assert_int_eq(fake.txt_calls, 0);

	fake.now = T0 + 100;
	fake.txt_status = MTS_DNS_NOTFOUND;
	ck_assert_int_eq(lookup("example.com", MTS_LOOKUP_NO_DNS),
			 MTS_NO_POLICY);
	ck_assert_int_eq(fake.txt_calls, 1);
	fake.txt_status = MTS_DNS_TEMPFAIL;
	ck_assert_int_eq(lookup("example.com", 0), MTS_TEMPFAIL);
	ck_assert_int_eq(res.failure, MTS_FAIL_DNS);

	/* Same id, expired: fetched again; if that fails, no cache. */
	txt("v=STSv1; id=a1");
	fail_fetch(MTS_FETCH_ERROR, "timeout");
	ck_assert_int_eq(lookup("example.com", 0), MTS_TEMPFAIL);
	ck_assert_int_eq(fake.fetch_calls, 1);
	ck_assert_int_eq(res.source, MTS_SRC_NONE);
	ck_assert_int_eq(res.failure, MTS_FAIL_FETCH);

	fake.now = T0 + 100 + MTS_FETCH_BACKOFF;
	serve(POLICY_ENFORCE);
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(res.source, MTS_SRC_NETWORK);
	ck_assert_int_eq(res.expires_at, T0 + 100 + MTS_FETCH_BACKOFF + 86400);
}
END_TEST

START_TEST(invalid_policy_body)
{
	struct mts_cache_entry e;

	txt("v=STSv1; id=a1");
	serve(POLICY_NO_MX);
	ck_assert_int_eq(lookup("example.com", 0), MTS_TEMPFAIL);
	ck_assert_int_eq(res.failure, MTS_FAIL_INVALID);
	assert_contains(res.reason, "policy invalid: ");
	ck_assert_uint_eq(res.text.len, 0);
	load_entry(&e);
	ck_assert_int_eq(strncmp(e.failed_reason, "sts-policy-invalid: ", 20), 0);
	mts_cache_entry_free(&e);

	/* The backoff reports the class of the remembered failure. */
	fake.now = T0 + 1;
	ck_assert_int_eq(lookup("example.com", 0), MTS_TEMPFAIL);
	ck_assert_int_eq(fake.fetch_calls, 1);
	ck_assert_int_eq(res.failure, MTS_FAIL_INVALID);
	assert_contains(res.reason, "fetch backoff");

	/* A body that is not a policy at all, with a valid cache. */
	fake.now = T0 + 1000;
	prime_cache(POLICY_ENFORCE);
	txt("v=STSv1; id=a2");
	serve("<html>hello</html>\n");
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(res.source, MTS_SRC_CACHE);
	ck_assert_int_eq(res.failure, MTS_FAIL_INVALID);
	ck_assert_str_eq(res.id, "a1");
}
END_TEST

START_TEST(webpki_failure)
{
	txt("v=STSv1; id=a1");
	fail_fetch(MTS_FETCH_WEBPKI, "certificate: Hostname mismatch");
	ck_assert_int_eq(lookup("example.com", 0), MTS_TEMPFAIL);
	ck_assert_int_eq(res.failure, MTS_FAIL_WEBPKI);
	ck_assert_str_eq(res.reason, "fetch: certificate: Hostname mismatch");
	ck_assert_str_eq(mts_failure_name(res.failure), "sts-webpki-invalid");
}
END_TEST

START_TEST(no_dns_flag)
{
	txt("v=STSv1; id=a1");
	serve(POLICY_ENFORCE);
	/* Nothing cached: NO_DNS still has to ask. */
	ck_assert_int_eq(lookup("example.com", MTS_LOOKUP_NO_DNS), MTS_POLICY);
	ck_assert_int_eq(fake.txt_calls, 1);
	ck_assert_int_eq(fake.fetch_calls, 1);
	fake.now = T0 + 10;
	ck_assert_int_eq(lookup("example.com", MTS_LOOKUP_NO_DNS), MTS_POLICY);
	ck_assert_int_eq(fake.txt_calls, 1);
	ck_assert_int_eq(res.source, MTS_SRC_CACHE);
}
END_TEST

START_TEST(no_store_flag)
{
	struct mts_cache_entry e;
	char err[512];

	txt("v=STSv1; id=a1");
	serve(POLICY_ENFORCE);
	ck_assert_int_eq(lookup("example.com", MTS_LOOKUP_NO_STORE),
			 MTS_POLICY);
	ck_assert_int_eq(res.source, MTS_SRC_NETWORK);
	fail_fetch(MTS_FETCH_ERROR, "timeout");
	ck_assert_int_eq(lookup("example.com", MTS_LOOKUP_NO_STORE),
			 MTS_TEMPFAIL);
	mts_cache_entry_init(&e);
	ck_assert_int_eq(mts_cache_load(cfg.cache_dir, "example.com", &e, err,
					sizeof(err)), 1);
	mts_cache_entry_free(&e);
	/* No failure remembered: no backoff either. */
	ck_assert_int_eq(lookup("example.com", MTS_LOOKUP_NO_STORE),
			 MTS_TEMPFAIL);
	ck_assert_int_eq(fake.fetch_calls, 3);
}
END_TEST

START_TEST(corrupt_cache_ignored)
{
	char path[PATH_MAX + 32];
	FILE *f;

	prime_cache(POLICY_ENFORCE);
	snprintf(path, sizeof(path), "%s/example.com", cfg.cache_dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("mtasts-cache 1\ndomain example.com\nid a1\ngarbage\n", f);
	fclose(f);

	fake.now = T0 + 10;
	serve(POLICY_TESTING);
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(res.source, MTS_SRC_NETWORK);
	ck_assert_int_eq(res.policy.mode, MTS_MODE_TESTING);
	ck_assert_int_eq(fake.fetch_calls, 1);
	fake.now = T0 + 20;
	ck_assert_int_eq(lookup("example.com", 0), MTS_POLICY);
	ck_assert_int_eq(res.source, MTS_SRC_CACHE);
}
END_TEST

START_TEST(cache_dir_refused)
{
	ck_assert_int_eq(mkdir(cfg.cache_dir, 0700), 0);
	ck_assert_int_eq(chmod(cfg.cache_dir, 0777), 0);
	txt("v=STSv1; id=a1");
	serve(POLICY_ENFORCE);
	ck_assert_int_eq(lookup("example.com", 0), MTS_TEMPFAIL);
	ck_assert_int_eq(res.failure, MTS_FAIL_CACHE);
	ck_assert_int_eq(strncmp(res.reason, "cache: ", 7), 0);
	ck_assert_int_eq(fake.txt_calls, 0);
	ck_assert_int_eq(fake.fetch_calls, 0);
	ck_assert_str_eq(mts_failure_name(MTS_FAIL_CACHE), "cache-error");
}
END_TEST

START_TEST(failure_names)
{
	ck_assert_str_eq(mts_failure_name(MTS_FAIL_NONE), "none");
	ck_assert_str_eq(mts_failure_name(MTS_FAIL_FETCH),
			 "sts-policy-fetch-error");
	ck_assert_str_eq(mts_failure_name(MTS_FAIL_INVALID),
			 "sts-policy-invalid");
	ck_assert_str_eq(mts_failure_name(MTS_FAIL_WEBPKI),
			 "sts-webpki-invalid");
	ck_assert_str_eq(mts_failure_name(MTS_FAIL_DNS),
			 "sts-policy-fetch-error");
	ck_assert_str_eq(mts_failure_name((enum mts_failure)99), "unknown");
}
END_TEST

START_TEST(result_reused)
{
	/* The same result twice without a free in between: no leak (ASan),
	 * and nothing of the first answer survives into the second. */
	prime_cache(POLICY_ENFORCE);
	fake.txt_status = MTS_DNS_TEMPFAIL;
	ck_assert_int_eq(lookup("other.example", 0), MTS_TEMPFAIL);
	ck_assert_uint_eq(res.text.len, 0);
	ck_assert_uint_eq(res.policy.mx.count, 0);
	ck_assert_str_eq(res.id, "");
	ck_assert_int_eq(res.expires_at, 0);
}
END_TEST

static Suite *engine_suite(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("decisions");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, network_then_cache);
	tcase_add_test(tc, domain_normalised_and_checked);
	tcase_add_test(tc, id_change_refetches);
	tcase_add_test(tc, txt_notfound_keeps_cache);
	tcase_add_test(tc, txt_not_one_valid_record);
	tcase_add_test(tc, txt_tempfail);
	tcase_add_test(tc, fetch_fail_with_cache);
	tcase_add_test(tc, fetch_fail_without_cache);
	tcase_add_test(tc, backoff_honoured_then_lifted);
	tcase_add_test(tc, backoff_serves_valid_cache_with_class);
	tcase_add_test(tc, churning_ids_held_back);
	tcase_add_test(tc, fresh_ignores_cache_and_backoff);
	tcase_add_test(tc, mode_none_replaces_enforce);
	tcase_add_test(tc, expired_cache_never_served);
	tcase_add_test(tc, invalid_policy_body);
	tcase_add_test(tc, webpki_failure);
	tcase_add_test(tc, no_dns_flag);
	tcase_add_test(tc, no_store_flag);
	tcase_add_test(tc, corrupt_cache_ignored);
	tcase_add_test(tc, cache_dir_refused);
	tcase_add_test(tc, failure_names);
	tcase_add_test(tc, result_reused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(engine_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
