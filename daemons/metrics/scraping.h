/*
 * lgtm-metrics' scraping: the shared scrape manager fed from prometheus.yml's
 * scrape_configs, appending into the TSDB one transaction per scrape, and
 * GET /api/v1/targets.
 */
#ifndef LGTM_METRICS_SCRAPING_H
#define LGTM_METRICS_SCRAPING_H

#include <stddef.h>

struct runtime;
struct metrics_config;

int scraping_start(struct runtime *rt, const struct metrics_config *cfg, char *err, size_t errlen);
int scraping_apply(const struct metrics_config *cfg, char *err, size_t errlen);
void scraping_stop(void);

#endif
