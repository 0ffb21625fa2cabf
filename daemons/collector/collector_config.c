/*
 * otelcol configuration schema. Component ids are "type[/name]"; like otelcol we
 * reject an unknown type and a service reference to an extension that is not
 * configured, so mistakes surface at --check-config time.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "collector_config.h"

static void health_check_init(void *p)
{
	struct collector_health_check *h = p;

	h->endpoint = "127.0.0.1:13133";
	h->path = "/";
}

static const struct cfg_field health_check_fields[] = {
	{ "endpoint", CFG_STRING, offsetof(struct collector_health_check, endpoint), NULL, 0, 0, NULL },
	{ "path", CFG_STRING, offsetof(struct collector_health_check, path), NULL, 0, 0, NULL },
	{ 0 },
};
static const struct cfg_schema health_check_schema = { "health_check", health_check_fields, health_check_init };

static const struct cfg_field telemetry_metrics_fields[] = {
	{ "address", CFG_STRING, offsetof(struct collector_telemetry_metrics, address), NULL, 0, 0, NULL },
	{ "level", CFG_STRING, offsetof(struct collector_telemetry_metrics, level), NULL, 0, 0, NULL },
	{ 0 },
};
static const struct cfg_schema telemetry_metrics_schema = { "metrics", telemetry_metrics_fields, NULL };

static const struct cfg_field telemetry_fields[] = {
	{ "metrics", CFG_OBJECT, 0, &telemetry_metrics_schema, 0, 0, NULL },
	{ 0 },
};
static const struct cfg_schema telemetry_schema = { "telemetry", telemetry_fields, NULL };

static const struct cfg_field service_fields[] = {
	{ "extensions", CFG_STRING_LIST, offsetof(struct collector_service, extensions), NULL, 0, 0, NULL },
	{ "telemetry", CFG_OBJECT, offsetof(struct collector_service, telemetry), &telemetry_schema, 0, 0, NULL },
	{ 0 },
};
static const struct cfg_schema service_schema = { "service", service_fields, NULL };

static const struct cfg_field top_fields[] = {
	{ "extensions", CFG_OBJECT_MAP, offsetof(struct collector_config, extensions),
	  &health_check_schema, sizeof(struct collector_health_check), 0, NULL },
	{ "service", CFG_OBJECT, offsetof(struct collector_config, service), &service_schema, 0, 0, NULL },
	{ 0 },
};

const struct cfg_schema collector_config_schema = { "config", top_fields, NULL };

void collector_config_defaults(void *p)
{
	struct collector_config *c = p;

	memset(c, 0, sizeof(*c));
	c->service.telemetry.metrics.address = "127.0.0.1:8888";
	c->service.telemetry.metrics.level = "basic";
}

static bool id_has_type(const char *id, const char *type)
{
	size_t n = strlen(type);

	return strncmp(id, type, n) == 0 && (id[n] == '\0' || id[n] == '/');
}

int collector_config_check(void *p, char *err, size_t errlen)
{
	const struct collector_config *c = p;
	const char *lvl = c->service.telemetry.metrics.level;

	for (size_t i = 0; i < c->extensions.n; i++) {
		if (!id_has_type(c->extensions.keys[i], "health_check")) {
			snprintf(err, errlen, "extensions: unknown type \"%.*s\" for id \"%s\"",
				 (int)strcspn(c->extensions.keys[i], "/"), c->extensions.keys[i],
				 c->extensions.keys[i]);
			return -1;
		}
	}
	for (size_t i = 0; i < c->service.extensions.n; i++) {
		size_t j;
		for (j = 0; j < c->extensions.n; j++)
			if (!strcmp(c->service.extensions.v[i], c->extensions.keys[j]))
				break;
		if (j == c->extensions.n) {
			snprintf(err, errlen, "service::extensions: references extension \"%s\" which is not configured",
				 c->service.extensions.v[i]);
			return -1;
		}
	}
	if (strcmp(lvl, "none") && strcmp(lvl, "basic") && strcmp(lvl, "normal") && strcmp(lvl, "detailed")) {
		snprintf(err, errlen, "service::telemetry::metrics::level: unknown level \"%s\"", lvl);
		return -1;
	}
	return 0;
}

const struct collector_health_check *collector_config_health_check(const struct collector_config *c)
{
	const struct collector_health_check *hc = c->extensions.vals;

	for (size_t i = 0; i < c->service.extensions.n; i++)
		for (size_t j = 0; j < c->extensions.n; j++)
			if (!strcmp(c->service.extensions.v[i], c->extensions.keys[j]) &&
			    id_has_type(c->extensions.keys[j], "health_check"))
				return &hc[j];
	return NULL;
}
