# The Python and Node.js bindings: their tests, examples, the polyglot demo and the
# benchmarks. Included by the top-level Makefile (which defines GO, BUILD and the
# TEST/DEMO/BENCH_TARGETS lists); mk/c.mk has the rule for $(BUILD)/libnetmesh.so.

PYTHON   ?= python3
NODE     ?= node
NPM      ?= npm
PY_DIR   := bindings/python
NODE_DIR := bindings/node
PY_RUN   := PYTHONPATH=$(abspath $(PY_DIR)) NETMESH_LIBRARY=$(abspath $(BUILD)/libnetmesh.so) $(PYTHON)
NODE_RUN := NETMESH_LIBRARY=$(abspath $(BUILD)/libnetmesh.so) $(NODE)

# node_modules is installed with `npm ci` from the lockfile (koffi pinned), again
# whenever package.json or package-lock.json is newer than the last install.
NODE_STAMP := $(NODE_DIR)/node_modules/.netmesh-npm-ci
$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && $(NPM) ci --no-audit --no-fund
	touch $@

POLY_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -pedantic -Iinclude
POLY_LDLIBS := -L$(BUILD) -lnetmesh -Wl,-rpath,$(abspath $(BUILD))
$(BUILD)/polyglot/poll: examples/polyglot/poll.c include/netmesh.h $(BUILD)/libnetmesh.so
	@mkdir -p $(@D)
	$(CC) $(POLY_CFLAGS) -o $@ $< $(POLY_LDLIBS)

.PHONY: py-test node-test demo-py demo-node demo-polyglot bench-py bench-node node-deps

node-deps: $(NODE_STAMP)

# unittest ends with "Ran N tests in ...s" and "OK" (or "FAILED (...)").
py-test: $(BUILD)/libnetmesh.so
	$(PY_RUN) -m unittest discover -s $(PY_DIR)/tests -t $(PY_DIR)/tests -v

# node --test ends with "# tests N", "# pass N", "# fail N".
node-test: $(BUILD)/libnetmesh.so $(NODE_STAMP)
	cd $(NODE_DIR) && NETMESH_LIBRARY=$(abspath $(BUILD)/libnetmesh.so) $(NODE) --test test/*.test.js

demo-py: $(BUILD)/libnetmesh.so
	$(PY_RUN) examples/python/example.py $(BUILD)/demo-py-data

demo-node: $(BUILD)/libnetmesh.so $(NODE_STAMP)
	$(NODE_RUN) examples/node/example.js $(BUILD)/demo-node-data
	$(NODE_RUN) examples/node/example.mjs $(BUILD)/demo-node-data

# Python publishes on its embedded server, listening on a loopback port; the Node
# example and a C program read the event from there.
demo-polyglot: $(BUILD)/libnetmesh.so $(NODE_STAMP) $(BUILD)/polyglot/poll
	$(PY_RUN) examples/polyglot/run.py $(BUILD)/polyglot/poll $(BUILD)/demo-polyglot-data

bench-py: $(BUILD)/libnetmesh.so
	$(PY_RUN) $(PY_DIR)/benchmarks/bench.py $(BUILD)/bench-py-data

bench-node: $(BUILD)/libnetmesh.so $(NODE_STAMP)
	$(NODE_RUN) $(NODE_DIR)/bench.js $(BUILD)/bench-node-data

TEST_TARGETS  += py-test node-test
DEMO_TARGETS  += demo-py demo-node demo-polyglot
BENCH_TARGETS += bench-py bench-node
