/*
 * lgtm-metrics' remote_write: the shared sender tails the TSDB's WAL for every
 * `remote_write:` entry (to lgtm-longterm, or any remote-write receiver), so a
 * receiver outage loses nothing the WAL still holds.
 */
#ifndef LGTM_METRICS_FORWARDING_H
#define LGTM_METRICS_FORWARDING_H

#include <stddef.h>

struct runtime;
struct metrics_config;

int forwarding_start(struct runtime *rt, const struct metrics_config *cfg, char *err, size_t errlen);
int forwarding_apply(const struct metrics_config *cfg, char *err, size_t errlen);
void forwarding_stop(void);

#endif
