/*
 * version: the build's identity, baked in at link time from `git describe`.
 * Only version.c is compiled with the -D flags, so a new commit relinks, not rebuilds.
 * All functions return static strings; thread-safe.
 */
#ifndef LGTM_VERSION_H
#define LGTM_VERSION_H

const char *lgtm_version(void);   /* e.g. "v0.1.0-3-gabc1234" */
const char *lgtm_revision(void);  /* short commit hash */
const char *lgtm_branch(void);
const char *lgtm_build_date(void);
const char *lgtm_go_equivalent(void); /* compiler string, reported where upstream says goVersion */

#endif
