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

# rawpub publishes one payload byte for byte and prints JetStream's ack: the Python
# and Node tests store corrupt records with it. They find it through NETMESH_RAWPUB.
RAWPUB     := $(BUILD)/tools/rawpub
RAWPUB_ENV := NETMESH_RAWPUB=$(abspath $(RAWPUB))
$(RAWPUB): tests/rawpub/main.go go.mod go.sum
	@mkdir -p $(@D)
	$(GO) build -o $@ ./tests/rawpub

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

.PHONY: py-test node-test py-lint node-lint demo-py demo-node demo-polyglot bench-py bench-node node-deps

node-deps: $(NODE_STAMP)

# unittest ends with "Ran N tests in ...s" and "OK" (or "FAILED (...)").
py-test: $(BUILD)/libnetmesh.so $(RAWPUB)
	$(RAWPUB_ENV) $(PY_RUN) -m unittest discover -s $(PY_DIR)/tests -t $(PY_DIR)/tests -v

# node --test ends with "# tests N", "# pass N", "# fail N".
node-test: $(BUILD)/libnetmesh.so $(NODE_STAMP) $(RAWPUB)
	cd $(NODE_DIR) && $(RAWPUB_ENV) NETMESH_LIBRARY=$(abspath $(BUILD)/libnetmesh.so) $(NODE) --test test/*.test.js

# flake8 (PEP 8, .flake8) and mypy from Debian's packages, installed when missing
# (CI runs as root on Debian 12). mypy --strict for the package, the examples and
# the benchmark; the tests in normal mode, with their untyped functions checked too.
PY_LINT_SRC := $(PY_DIR)/netmesh $(PY_DIR)/tests $(PY_DIR)/benchmarks examples/python examples/polyglot
PY_DIST_SRC := mk/build_wheel.py mk/check_versions.py tests/dist/smoke.py
APT_GET     := DEBIAN_FRONTEND=noninteractive apt-get
MYPY_FLAGS  := --python-version 3.10 --cache-dir $(abspath $(BUILD)/mypy-cache)
py-lint:
	@command -v flake8 >/dev/null || ($(APT_GET) update && $(APT_GET) install -y flake8)
	@command -v mypy >/dev/null || ($(APT_GET) update && $(APT_GET) install -y mypy)
	flake8 $(PY_LINT_SRC) $(PY_DIST_SRC)
	MYPYPATH=$(PY_DIR) mypy --strict $(MYPY_FLAGS) $(PY_DIR)/netmesh $(PY_DIR)/benchmarks examples/python examples/polyglot
	MYPYPATH=$(PY_DIR) mypy --strict $(MYPY_FLAGS) $(PY_DIST_SRC)
	cd $(PY_DIR) && MYPYPATH=. mypy $(MYPY_FLAGS) --check-untyped-defs tests

# tsc (typescript, pinned in package-lock.json): index.d.ts, the type tests with
# their @ts-expect-error lines (test/types.test-d.ts) and the Node examples (checkJs).
node-lint: $(NODE_STAMP)
	cd $(NODE_DIR) && node_modules/.bin/tsc --noEmit -p tsconfig.json

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

TEST_TARGETS  += py-lint node-lint py-test node-test
DEMO_TARGETS  += demo-py demo-node demo-polyglot
BENCH_TARGETS += bench-py bench-node
