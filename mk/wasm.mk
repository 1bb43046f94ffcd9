# The WebAssembly build (GOOS=js): build/netmesh.wasm from core and wasm/, with
# Go's loader next to it (build/wasm_exec.js); the ESM binding bindings/wasm,
# its tests (Node against an embedded server's WebSocket listener, interop with
# C and Python, the example page in headless Chromium) and its benchmark.
# Included by the top-level Makefile after mk/tools.mk, mk/c.mk and
# mk/bindings.mk, whose variables and targets it uses.

WASM_DIR    := bindings/wasm
WASM        := $(BUILD)/netmesh.wasm
WASM_EXEC   := $(BUILD)/wasm_exec.js
WASM_GO_SRC := $(shell find wasm core -name '*.go' ! -name '*_test.go' 2>/dev/null) go.mod go.sum
WASM_STAMP  := $(WASM_DIR)/node_modules/.netmesh-npm-ci
MESHCALL    := $(BUILD)/wasm/meshcall
CHROMIUM    ?= /usr/bin/chromium

# Stripped (-s -w) and without file paths (-trimpath).
$(WASM): $(WASM_GO_SRC)
	@mkdir -p $(@D)
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags='-s -w' -o $@ ./wasm

# The loader must be the one of the Go that built the wasm.
$(WASM_EXEC): $(WASM)
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" $@

# What the wasm binding shares with the Node one, copied from bindings/node (the
# one source; the copies are gitignored): requests.js, the code (CommonJS there,
# an ES module here), and types.d.ts, the types (the same text in both).
WASM_SHARED := $(WASM_DIR)/requests.js $(WASM_DIR)/types.d.ts
$(WASM_DIR)/requests.js: bindings/node/requests.js
	sed 's/^module\.exports = {$$/export {/' $< >$@
	@grep -q '^export {$$' $@ || { echo "$<: no 'module.exports = {' line"; rm -f $@; exit 1; }
$(WASM_DIR)/types.d.ts: bindings/node/types.d.ts
	cp $< $@

$(WASM_STAMP): $(WASM_DIR)/package.json $(WASM_DIR)/package-lock.json
	cd $(WASM_DIR) && $(NPM) ci --no-audit --no-fund
	touch $@

$(MESHCALL): tests/wasm/meshcall.c include/netmesh.h $(BUILD)/libnetmesh.so
	@mkdir -p $(@D)
	$(CC) $(MESH_CFLAGS) -o $@ $< $(MESH_LDLIBS)

.PHONY: wasm wasm-vet wasm-test bench-wasm demo-browser chromium

wasm: $(WASM) $(WASM_EXEC) $(WASM_SHARED)
	@echo "$(WASM): $$(wc -c <$(WASM)) bytes, $$(gzip -9 -c $(WASM) | wc -c) gzipped"

# go vet of the js build (its tests are native only: they start servers) and
# staticcheck of it; tsc over index.d.ts (with the shared types.d.ts) and its
# type tests.
wasm-vet: $(WASM_STAMP) $(WASM_SHARED) $(BUILD)/tools/staticcheck-$(STATICCHECK_VERSION)
	GOOS=js GOARCH=wasm $(GO) vet ./wasm/...
	GOOS=js GOARCH=wasm $(BUILD)/tools/staticcheck-$(STATICCHECK_VERSION) -tests=false ./core ./wasm/...
	cd $(WASM_DIR) && node_modules/.bin/tsc --noEmit -p tsconfig.json

# Debian's chromium, installed when missing (CI runs as root on Debian 12);
# a test never downloads a browser.
chromium:
	@test -x $(CHROMIUM) || { echo "installing chromium"; $(APT_GET) update -qq && $(APT_GET) install -y -qq chromium >/dev/null; }

WASM_ENV := NETMESH_WASM=$(abspath $(WASM)) NETMESH_LIBRARY=$(abspath $(BUILD)/libnetmesh.so) \
	NETMESH_MESHCALL=$(abspath $(MESHCALL)) NETMESH_PYTHON=$(PYTHON) PYTHONPATH=$(abspath $(PY_DIR)) \
	NETMESH_CHROMIUM=$(CHROMIUM) NETMESH_SCREENSHOT=$(abspath $(BUILD)/browser-example.png)

wasm-test: wasm wasm-vet chromium $(MESHCALL) $(NODE_STAMP) $(TOOLS)/nats-server
	cd $(WASM_DIR) && $(WASM_ENV) $(NODE) --test test/

bench-wasm: wasm $(NODE_STAMP) $(WASM_STAMP)
	$(WASM_ENV) $(NODE) $(WASM_DIR)/bench.js $(BUILD)/bench-wasm-data

# The example page next to an embedded server with a WebSocket listener.
demo-browser: wasm $(NODE_STAMP) $(WASM_STAMP)
	NETMESH_LIBRARY=$(abspath $(BUILD)/libnetmesh.so) $(NODE) examples/browser/serve.mjs

TEST_TARGETS  += wasm-test
BENCH_TARGETS += bench-wasm
