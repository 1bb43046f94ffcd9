# The peers benchmark (bench/peers, issue 11) and the shard sweep (bench/shards,
# issue 13): each runs one nats-server process (file storage, loopback) and the
# programs under bench/, prints a table with the goals, writes JSON results to
# build/bench/ and an SVG chart to docs/bench/ (drawn by bench/chart). Not in
# `make test`: they take minutes. Included by the top-level Makefile after
# mk/tools.mk, mk/c.mk and mk/bindings.mk (MESH_CFLAGS, MESH_LDLIBS, APT_GET,
# NODE_STAMP, PYTHON, NODE, NPM).
#
# NETMESH_BENCH_SERVER=build/tools/nats-server-v2.11.17 make bench-peers runs
# everything against another server; the results and chart then carry its name.

BENCH_BIN    := $(BUILD)/bench
BENCH_SERVER ?= $(or $(NETMESH_BENCH_SERVER),$(TOOLS)/nats-server)
BENCH_SUFFIX := $(if $(filter $(TOOLS)/nats-server,$(BENCH_SERVER)),,-$(notdir $(BENCH_SERVER)))
BENCH_FLAGS  ?=
BENCH_CFLAGS := -std=c11 -O2 -Wall -Wextra -Werror -pedantic

# nats.c from Debian (bookworm has 3.4.1), installed when missing.
NATSC_HEADER := /usr/include/nats/nats.h
$(NATSC_HEADER):
	@apt-cache policy libnats-dev | sed -n '1,3p'
	$(APT_GET) update -qq && $(APT_GET) install -y -qq libnats-dev

$(BENCH_BIN)/natsc_pub: bench/c/natsc_pub.c bench/c/common.h $(NATSC_HEADER)
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -o $@ $< -lnats

$(BENCH_BIN)/%: bench/c/%.c bench/c/common.h bench/c/mesh.h include/netmesh.h $(BUILD)/libnetmesh.so
	@mkdir -p $(@D)
	$(CC) $(MESH_CFLAGS) -o $@ $< $(MESH_LDLIBS)

# nats.js (npm "nats", pinned by the lockfile) for the peers benchmark only.
BENCH_NODE_DIR   := bench/peers/node
BENCH_NODE_STAMP := $(BENCH_NODE_DIR)/node_modules/.netmesh-npm-ci
$(BENCH_NODE_STAMP): $(BENCH_NODE_DIR)/package.json $(BENCH_NODE_DIR)/package-lock.json
	cd $(BENCH_NODE_DIR) && $(NPM) ci --no-audit --no-fund
	touch $@

# The server is built only when missing: build/tools may be shared, and its
# rule would rebuild it whenever go.mod is newer.
.PHONY: bench-peers bench-shards bench-server bench-go
bench-server:
	@test -x $(BENCH_SERVER) || $(MAKE) $(BENCH_SERVER)

bench-go:
	@mkdir -p $(BENCH_BIN)
	$(GO) build -o $(BENCH_BIN)/gopeer ./bench/peers/gopeer
	$(GO) build -o $(BENCH_BIN)/peers ./bench/peers
	$(GO) build -o $(BENCH_BIN)/shards ./bench/shards
	$(GO) build -o $(BENCH_BIN)/chart ./bench/chart
	$(GO) build -o $(BENCH_BIN)/pubraw ./bench/pubraw
	$(GO) build -o $(BENCH_BIN)/dedupmem ./bench/dedupmem

bench-peers: bench-server bench-go $(BUILD)/libnetmesh.so $(BENCH_BIN)/mesh_peer $(BENCH_BIN)/natsc_pub $(NODE_STAMP) $(BENCH_NODE_STAMP)
	$(BENCH_BIN)/peers -server $(BENCH_SERVER) -bin $(BENCH_BIN) -node $(NODE) -python $(PYTHON) \
	  -json $(BENCH_BIN)/peers$(BENCH_SUFFIX).json -chart $(BENCH_BIN)/peers-chart$(BENCH_SUFFIX).json $(BENCH_FLAGS)
	$(BENCH_BIN)/chart -o docs/bench/peers$(BENCH_SUFFIX).svg $(BENCH_BIN)/peers-chart$(BENCH_SUFFIX).json

bench-shards: bench-server bench-go $(BUILD)/libnetmesh.so $(BENCH_BIN)/sweep
	$(BENCH_BIN)/shards -server $(BENCH_SERVER) -bin $(BENCH_BIN) \
	  -json $(BENCH_BIN)/shards$(BENCH_SUFFIX).json -chart $(BENCH_BIN)/shards-chart$(BENCH_SUFFIX).json $(BENCH_FLAGS)
	$(BENCH_BIN)/chart -o docs/bench/shards$(BENCH_SUFFIX).svg $(BENCH_BIN)/shards-chart$(BENCH_SUFFIX).json

# Whether publishing at 1024 shards is bound by the server (issue 13): netmesh
# against raw nats.go PublishMsgAsync at 16 and 1024 shards, with the server's
# and the client's CPU per event (bench/pubraw; a few minutes).
.PHONY: bench-pubraw
bench-pubraw: bench-server bench-go
	$(BENCH_BIN)/pubraw -server $(BENCH_SERVER) -data $(BENCH_BIN)/pubraw-data -shards 16,1024 -runs 3 \
	  -modes netmesh,raw,raw-noid $(BENCH_FLAGS)

# What the dedup window costs the server's memory: 1M events with the default
# 1 h window and with 2 s (bench/dedupmem; docs/reference.md, "Config").
.PHONY: bench-dedup
bench-dedup: bench-server bench-go
	$(BENCH_BIN)/dedupmem -server $(BENCH_SERVER) -data $(BENCH_BIN)/dedupmem-data

# Every program of both benchmarks at 1000 events, one run, and the chart tool,
# so that the harness keeps working (about 15 s; no figure is checked).
.PHONY: bench-smoke
bench-smoke: bench-server bench-go $(BUILD)/libnetmesh.so $(BENCH_BIN)/mesh_peer $(BENCH_BIN)/natsc_pub $(BENCH_BIN)/sweep $(NODE_STAMP) $(BENCH_NODE_STAMP)
	$(BENCH_BIN)/peers -server $(BENCH_SERVER) -bin $(BENCH_BIN) -node $(NODE) -python $(PYTHON) \
	  -events 1000 -walk 200 -runs 1 -empty-seconds 0.1 -data $(BENCH_BIN)/smoke-data \
	  -json $(BENCH_BIN)/smoke-peers.json -chart $(BENCH_BIN)/smoke-peers-chart.json >/dev/null
	$(BENCH_BIN)/shards -server $(BENCH_SERVER) -bin $(BENCH_BIN) -events 1000 -runs 1 -shards 1,16,64 \
	  -empty-seconds 0.1 -data $(BENCH_BIN)/smoke-data \
	  -json $(BENCH_BIN)/smoke-shards.json -chart $(BENCH_BIN)/smoke-shards-chart.json >/dev/null
	$(BENCH_BIN)/pubraw -server $(BENCH_SERVER) -data $(BENCH_BIN)/smoke-data -shards 1,4 -events 1000 -runs 1 \
	  -modes netmesh,raw >/dev/null
	$(BENCH_BIN)/dedupmem -server $(BENCH_SERVER) -data $(BENCH_BIN)/smoke-data -requests 2 >/dev/null
	$(BENCH_BIN)/chart -o $(BENCH_BIN)/smoke-peers.svg $(BENCH_BIN)/smoke-peers-chart.json
	$(BENCH_BIN)/chart -o $(BENCH_BIN)/smoke-shards.svg $(BENCH_BIN)/smoke-shards-chart.json
	rm -rf $(BENCH_BIN)/smoke-data
	@echo "bench-smoke: every benchmark program ran"

BENCH_TARGETS += bench-peers bench-shards
TEST_TARGETS  += bench-smoke
