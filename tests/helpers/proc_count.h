/*
 * proc_count.h - what a test client counts in /proc about itself
 *
 * SYNOPSIS
 *	#include "proc_count.h"
 *	int before = proc_count_fds();
 *	...
 *	if (proc_count_fds() != before || proc_children_of_me("me") != 0) ...
 *
 * DESCRIPTION
 *	proc_count_fds() is the number of open fds of the process (entries
 *	of /proc/self/fd, less the one the listing itself holds).
 *	proc_children_of_me(who) is the number of processes whose parent is
 *	this one (the ppid field of every /proc/PID/stat); each is printed to
 *	stderr after "who: child: " so that a failing test shows which.
 *	Both return -1 when /proc cannot be read.
 *
 *	Header-only: each test client under tests/helpers/ is one .c file
 *	built on its own.
 */
#ifndef MTS_TEST_PROC_COUNT_H
#define MTS_TEST_PROC_COUNT_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static inline int proc_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

static inline int proc_children_of_me(const char *who)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char path[300], buf[512], *p;
		long ppid;
		FILE *f;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		/* "pid (comm) state ppid": comm may hold spaces and ')'. */
		if (p == NULL || (p = strrchr(buf, ')')) == NULL)
			continue;
		if (sscanf(p + 1, " %*c %ld", &ppid) == 1 && ppid == getpid()) {
			fprintf(stderr, "%s: child: %s", who, buf);
			n++;
		}
	}
	closedir(d);
	return n;
}

#endif
