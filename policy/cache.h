/*
 * cache.h - the on-disk policy cache shared by every process of a user
 *
 * DESCRIPTION
 *	One file per policy domain, <dir>/<domain> (lower-case A-label, no
 *	trailing dot; names are validated before they become paths, so no
 *	"..", "/" or empty name can reach the file system). Written atomically:
 *	a temporary file in the same directory (mkstemp, mode 0600), fsync,
 *	rename over the old one.
 *
 *	mts_cache_dir_check() creates the directory (mode 0700) if missing
 *	and refuses it, with a clear message, when it is not a directory, is
 *	not owned by the current user or root, or is writable by group or
 *	others; it also refuses a parent chain where the last component is a
 *	symlink, and a directory inside one that is writable by others
 *	without the sticky bit (after resolving symlinks). mts_cache_load()
 *	refuses (-1) a file with the same problems, a symlink, or anything
 *	but a regular file. An invalid domain name is an error (-1) in
 *	load, store and remove.
 *
 *	File format (text, versioned; see docs/POLICY.md):
 *	    mtasts-cache 1
 *	    domain <domain>
 *	    id <id or ->
 *	    fetched <unix seconds>
 *	    expires <unix seconds>
 *	    failed <unix seconds or 0>
 *	    failed_id <id or ->
 *	    failed_reason <text or ->
 *	    length <bytes of policy text, 0 when none>
 *	    <blank line>
 *	    <policy text, exactly length bytes>
 *	A file that does not parse, or whose policy text no longer parses, is
 *	corrupt: load reports it as absent (and logs a warning); the next
 *	store replaces it.
 */
#ifndef MTS_CACHE_H
#define MTS_CACHE_H

#include <stdint.h>
#include <stddef.h>

#include "buf.h"
#include "txt.h"

struct mts_cache_entry {
	char domain[254];
	char id[MTS_ID_MAX + 1];	/* "" when no policy is cached */
	int64_t fetched_at;
	int64_t expires_at;
	int64_t failed_at;		/* 0: no failed fetch remembered */
	char failed_id[MTS_ID_MAX + 1];
	char failed_reason[160];
	struct mts_buf text;		/* raw policy body; empty: none */
};

void mts_cache_entry_init(struct mts_cache_entry *e);
void mts_cache_entry_free(struct mts_cache_entry *e);

int mts_cache_dir_check(const char *dir, char *err, size_t errlen);

/* 0 found, 1 absent (or corrupt: ignored), -1 error (err says why). */
int mts_cache_load(const char *dir, const char *domain,
		   struct mts_cache_entry *e, char *err, size_t errlen);
int mts_cache_store(const char *dir, const struct mts_cache_entry *e,
		    char *err, size_t errlen);
/* 0 removed, 1 was absent, -1 error. */
int mts_cache_remove(const char *dir, const char *domain,
		     char *err, size_t errlen);
/* Domains with a cache file, sorted, appended to out (which must be
 * initialised). A missing directory lists as empty (0). */
int mts_cache_list(const char *dir, struct mts_strlist *out,
		   char *err, size_t errlen);

#endif
