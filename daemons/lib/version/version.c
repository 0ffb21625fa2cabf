/* Version strings; the Makefile passes LGTM_VERSION/LGTM_REVISION/LGTM_BRANCH to this file only. */
#include "version/version.h"

#ifndef LGTM_VERSION
#define LGTM_VERSION "0.0.0-dev"
#endif
#ifndef LGTM_REVISION
#define LGTM_REVISION "unknown"
#endif
#ifndef LGTM_BRANCH
#define LGTM_BRANCH "unknown"
#endif

const char *lgtm_version(void) { return LGTM_VERSION; }
const char *lgtm_revision(void) { return LGTM_REVISION; }
const char *lgtm_branch(void) { return LGTM_BRANCH; }
const char *lgtm_build_date(void) { return __DATE__ " " __TIME__; }
const char *lgtm_go_equivalent(void) { return "gcc " __VERSION__; }
