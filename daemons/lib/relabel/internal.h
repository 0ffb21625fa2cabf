/* Shared inside the relabel module. */
#ifndef LGTM_RELABEL_INTERNAL_H
#define LGTM_RELABEL_INTERNAL_H

#include "relabel/relabel.h"

/* Go's strings.ToLower / ToUpper of s into the arena; NULL on OOM. */
const char *relabel_case(struct arena *a, const char *s, size_t n, bool upper);

#endif
