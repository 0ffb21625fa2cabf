# lgtm-native: one entry point for build, test, run, install and dist.
#
# Layout the rules rely on (nothing needs to be listed by hand):
#   daemons/lib/<module>/*.c       -> $(BUILD)/liblgtm.a (the shared runtime and engines)
#   daemons/lib/proto/**/*.proto   -> $(BUILD)/gen/**/*.pb-c.[ch] via protoc-c, into liblgtm.a
#   daemons/<name>/*.c             -> $(BUILD)/bin/lgtm-<name>
#   tests/unit/test_<module>.c     -> $(BUILD)/tests/test_<module> (cmocka)
#   tests/tools/*.c                -> $(BUILD)/tools/<name> (test helpers built from the project)
#
# WERROR=1 turns warnings into errors (CI). `make asan` builds the same tree into
# build-asan/ with AddressSanitizer and UndefinedBehaviorSanitizer.

BUILD   ?= build
PREFIX  ?= /opt/lgtm
DESTDIR ?=
CC      ?= cc

DAEMONS := metrics longterm logs traces collector

# A v* tag gives the version (`git describe`); without one, the base in ./VERSION
# plus the describe-style suffix -<commits>-g<hash>, so versions stay semver-like.
BASE_VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
VERSION  := $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null | sed 's/^v//')
ifeq ($(VERSION),)
VERSION  := $(BASE_VERSION)-$(shell git rev-list --count HEAD 2>/dev/null || echo 0)-g$(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
endif
REVISION := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
BRANCH   := $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)

PKGS := libmicrohttpd libnghttp2 libprotobuf-c yaml-0.1 zlib libzstd libpcre2-8 \
        libxxhash jansson
# libcurl and libcrypto are bound on first use (daemons/lib/dynload), never linked
# into the daemons; unit tests, tools and benchmarks may call them directly.
DIRECT_PKGS := libcurl openssl

WARN    := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes
ifeq ($(WERROR),1)
WARN    += -Werror
endif
SAN     ?=
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=gnu17 $(CFLAGS) $(WARN) $(SAN) -D_GNU_SOURCE -pthread \
              -Idaemons/lib -I$(BUILD)/gen -MMD -MP
# Shared-library footprint (docs/dependencies.md, "How the daemons link"): every page a
# library maps and relocates at start counts in each daemon's RSS. --as-needed drops
# a DT_NEEDED no object uses; snappy (C++) is linked statically with the part of
# libstdc++ it needs, and libgcc's unwinder too (-static-libgcc), so libstdc++.so
# and libgcc_s.so are not loaded.
SNAPPY_LIBS := -Wl,-Bstatic -lsnappy -lstdc++ -Wl,-Bdynamic
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(SNAPPY_LIBS) -lpthread -lm
TEST_LDLIBS := $(shell pkg-config --libs $(DIRECT_PKGS) 2>/dev/null) $(LDLIBS)
LDFLAGS ?=
ALL_LDFLAGS := $(LDFLAGS) $(SAN) -pthread -Wl,--as-needed -static-libgcc

PROTOS     := $(shell find daemons/lib/proto -name '*.proto' 2>/dev/null | sort)
PROTO_C    := $(patsubst daemons/lib/proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
PROTO_H    := $(PROTO_C:.c=.h)
PROTO_O    := $(PROTO_C:.c=.o)

LIB_SRCS := $(sort $(wildcard daemons/lib/*/*.c))
LIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS))

UNIT_SRCS  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
TOOL_SRCS  := $(sort $(wildcard tests/tools/*.c))
TOOL_BINS  := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS))

BINS := $(addprefix $(BUILD)/bin/lgtm-,$(DAEMONS))

.PHONY: all deps test unit asan asan-unit integration run install dist clean conformance e2e FORCE
.DEFAULT_GOAL := all
# Keep intermediate objects (test and tool objects are reached through pattern chains).
.SECONDARY:

all: $(BINS) $(UNIT_BINS) $(TOOL_BINS)

deps:
	@scripts/install-deps

# The version is baked into one object only; the stamp changes when `git describe` does,
# so a new commit rebuilds version.o and relinks, nothing else.
$(BUILD)/version.stamp: FORCE
	@mkdir -p $(@D)
	@echo '$(VERSION) $(REVISION) $(BRANCH)' | cmp -s - $@ || echo '$(VERSION) $(REVISION) $(BRANCH)' > $@
FORCE:

$(BUILD)/obj/daemons/lib/version/version.o: $(BUILD)/version.stamp
$(BUILD)/obj/daemons/lib/version/version.o: EXTRA_CFLAGS = \
	-DLGTM_VERSION='"$(VERSION)"' -DLGTM_REVISION='"$(REVISION)"' -DLGTM_BRANCH='"$(BRANCH)"'

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: daemons/lib/proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen -Idaemons/lib/proto $<

# Generated code is not ours to warn about beyond the defaults.
$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c $(PROTO_H)
	$(CC) -std=gnu17 $(CFLAGS) $(SAN) -I$(BUILD)/gen -c $< -o $@

$(BUILD)/obj/%.o: %.c $(PROTO_H)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(EXTRA_CFLAGS) -c $< -o $@

$(BUILD)/liblgtm.a: $(LIB_OBJS) $(PROTO_O)
	@rm -f $@
	ar rcs $@ $^

define daemon_rule
$(BUILD)/bin/lgtm-$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard daemons/$(1)/*.c)) $(BUILD)/liblgtm.a
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach d,$(DAEMONS),$(eval $(call daemon_rule,$(d))))

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/liblgtm.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LDLIBS) -lcmocka

$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(BUILD)/liblgtm.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LDLIBS)

# --- benchmarks (never part of `make test`) ------------------------------------------

# bench/*.c -> $(BUILD)/bench/<name>: load generators linked with liblgtm.a.
BENCH_SRCS := $(sort $(wildcard bench/*.c))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

.PHONY: bench bench-metrics bench-query
bench: $(BENCH_BINS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/liblgtm.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LDLIBS)

# lgtm-metrics vs Prometheus vs VictoriaMetrics on one workload; writes
# docs/benchmarks.md. QUICK=1 is a one-minute smoke run (docs untouched).
bench-metrics: $(BUILD)/bin/lgtm-metrics $(BENCH_BINS)
	@bench/install-deps
	@bench/run-metrics --build $(BUILD) $(if $(filter 1,$(QUICK)),--quick)

# lgtm-metrics vs Prometheus on the same blocks (build/bench/mkblocks): PromQL range
# query latency and peak RSS; writes its section of docs/benchmarks.md. QUICK=1 is a
# few-minute smoke run on a small dataset (docs untouched).
bench-query: $(BUILD)/bin/lgtm-metrics $(BENCH_BINS)
	@bench/install-deps
	@bench/run-query --build $(BUILD) $(if $(filter 1,$(QUICK)),--quick)

# --- tests ---------------------------------------------------------------------------

# The README's test command. Unit tests (normal and sanitized builds), then integration
# tests against the real binaries; tests/run prints one closing summary line. The
# benchmark programs are built too (not run), so a library change that breaks them
# fails here rather than at the next benchmark run.
test: deps
	@$(MAKE) --no-print-directory all bench
	@$(MAKE) --no-print-directory asan-build
	@tests/run --build $(BUILD) --asan-build build-asan --shared $(SHARED)

unit: all
	@tests/run --build $(BUILD) --only unit

integration: all
	@tests/run --build $(BUILD) --only integration

asan-build:
	@$(MAKE) --no-print-directory BUILD=build-asan SAN='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined' CFLAGS='-O1 -g' all

asan: asan-build

# Upstream conformance scripts (../shared/conformance) against our engines; also part
# of `make test`. Prints per-file counts and a closing "N passed, N failed, N skipped".
SHARED ?= ../shared
conformance: all
	@tests/run --build $(BUILD) --only conformance --shared $(SHARED)

# --- run, install, dist --------------------------------------------------------------

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-stack --bin $(BUILD)/bin --data run

install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/etc
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	for d in $(DAEMONS); do install -m 0644 daemons/$$d/lgtm-$$d.yml $(DESTDIR)$(PREFIX)/etc/; done

DIST_NAME := lgtm-native-$(VERSION)-linux-amd64
dist: $(BINS)
	rm -rf $(BUILD)/dist && mkdir -p $(BUILD)/dist/$(DIST_NAME)
	$(MAKE) --no-print-directory install DESTDIR=$(abspath $(BUILD))/dist/$(DIST_NAME) PREFIX=
	echo '$(VERSION)' > $(BUILD)/dist/$(DIST_NAME)/VERSION
	tar -C $(BUILD)/dist --owner=0 --group=0 --sort=name -czf $(BUILD)/dist/$(DIST_NAME).tar.gz $(DIST_NAME)
	cd $(BUILD)/dist && sha256sum $(DIST_NAME).tar.gz > SHA256SUMS
	@echo "dist: $(BUILD)/dist/$(DIST_NAME).tar.gz"

# End to end: the playbooks on a Debian 12 VM under qemu (tests/e2e/README.md).
# Needs root and tens of minutes; not part of `make test`.
e2e: deps
	@tests/e2e/install-deps
	@tests/e2e/vm/build-image >/dev/null
	@/usr/bin/python3 -m pytest -v -rs -p no:cacheprovider tests/e2e

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
