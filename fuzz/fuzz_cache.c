/*
 * fuzz_cache.c - libFuzzer target for the policy cache file parser
 *
 * DESCRIPTION
 *	The parser is static in policy/cache.c, so the target goes through
 *	the real door: the input is written as the cache file of
 *	"fuzz.example" in a private directory (on /dev/shm when there is
 *	one, so fsync costs nothing) and mts_cache_load() reads it.
 *	Invariants of a file that loads:
 *	  - the entry is for the requested domain, its times are not
 *	    negative, its ids are letters and digits;
 *	  - mts_cache_store() accepts it (store refuses only what load
 *	    would refuse), and loading the stored file gives the same entry
 *	    (a control character in the failure reason becomes '?').
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "fuzz.h"

#define DOMAIN "fuzz.example"

static char load_dir[256], store_dir[256], load_path[300];

static void make_dir(char *out, size_t outlen, const char *what)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	snprintf(out, outlen, "%s/mtasts-fuzz-%s-XXXXXX", base, what);
	if (mkdtemp(out) == NULL)
		abort();
}

static void remove_dirs(void)
{
	char path[300];

	unlink(load_path);
	snprintf(path, sizeof(path), "%s/" DOMAIN, store_dir);
	unlink(path);
	rmdir(load_dir);
	rmdir(store_dir);
}

static void check_ids(const char *id)
{
	for (size_t i = 0; id[i] != '\0'; i++)
		FUZZ_ASSERT(isalnum((unsigned char)id[i]));
}

static void check_same(const struct mts_cache_entry *a,
		       const struct mts_cache_entry *b)
{
	size_t n = strlen(a->failed_reason);

	FUZZ_ASSERT(strcmp(a->domain, b->domain) == 0);
	FUZZ_ASSERT(strcmp(a->id, b->id) == 0);
	FUZZ_ASSERT(a->fetched_at == b->fetched_at);
	FUZZ_ASSERT(a->expires_at == b->expires_at);
	FUZZ_ASSERT(a->failed_at == b->failed_at);
	FUZZ_ASSERT(strcmp(a->failed_id, b->failed_id) == 0);
	FUZZ_ASSERT(strlen(b->failed_reason) == n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a->failed_reason[i];

		FUZZ_ASSERT(b->failed_reason[i] ==
			    ((c < 0x20 || c == 0x7f) ? '?' : (char)c));
	}
	FUZZ_ASSERT(a->text.len == b->text.len);
	FUZZ_ASSERT(a->text.len == 0 ||
		    memcmp(a->text.data, b->text.data, a->text.len) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	make_dir(load_dir, sizeof(load_dir), "load");
	make_dir(store_dir, sizeof(store_dir), "store");
	snprintf(load_path, sizeof(load_path), "%s/" DOMAIN, load_dir);
	atexit(remove_dirs);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mts_cache_entry e, again;
	char err[512];
	int fd, rc;

	if (size > 70000)
		return 0;
	fd = open(load_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
	mts_cache_entry_init(&e);
	mts_cache_entry_init(&again);
	rc = mts_cache_load(load_dir, DOMAIN, &e, err, sizeof(err));
	FUZZ_ASSERT(rc == 0 || rc == 1);
	if (rc == 0) {
		FUZZ_ASSERT(strcmp(e.domain, DOMAIN) == 0);
		FUZZ_ASSERT(e.fetched_at >= 0 && e.expires_at >= 0 &&
			    e.failed_at >= 0);
		check_ids(e.id);
		check_ids(e.failed_id);
		if (mts_cache_store(store_dir, &e, err, sizeof(err)) != 0) {
			fprintf(stderr, "store refused a loaded entry: %s\n",
				err);
			abort();
		}
		FUZZ_ASSERT(mts_cache_load(store_dir, DOMAIN, &again, err,
					   sizeof(err)) == 0);
		check_same(&e, &again);
	}
	mts_cache_entry_free(&e);
	mts_cache_entry_free(&again);
	return 0;
}
