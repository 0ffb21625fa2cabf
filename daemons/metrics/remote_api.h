/*
 * POST /api/v1/write (remote-write 1.0 receiver) and POST /api/v1/read (remote read,
 * SAMPLES) for lgtm-metrics, answering as Prometheus does: 204 when everything was
 * stored; 400 with the reasons when the request or some series or samples were bad
 * (the good ones are stored, so a sender does not retry forever); 500 when the WAL
 * could not make the batch durable (nothing acknowledged; the sender retries).
 */
#ifndef LGTM_METRICS_REMOTE_API_H
#define LGTM_METRICS_REMOTE_API_H

#include <stddef.h>

struct runtime;
struct tsdb_db;

int remote_api_register(struct runtime *rt, struct tsdb_db *db, char *err, size_t errlen);
/* Free what registering took; after the HTTP server has stopped. */
void remote_api_close(void);

#endif
