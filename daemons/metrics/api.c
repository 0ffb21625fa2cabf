/* Prometheus API wiring: every request reads through a querier on the TSDB. */
#include <stdio.h>

#include "promapi/promapi.h"
#include "runtime/runtime.h"
#include "storage.h"
#include "tsdb/db.h"

#include "api.h"

static int open_querier(void *arg, struct http_req *req, int64_t mint, int64_t maxt,
			struct tsdb_querier **q, char *err, size_t errlen)
{
	return tsdb_db_querier(storage_db(), mint, maxt, q, err, errlen);
}

static const struct promapi_source source = { open_querier, NULL };

int api_register(struct runtime *rt, char *err, size_t errlen)
{
	if (promapi_register_metadata_routes(runtime_http(rt), "", &source) < 0) {
		snprintf(err, errlen, "registering API routes failed");
		return -1;
	}
	return 0;
}
