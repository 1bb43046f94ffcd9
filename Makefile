# netmesh: `make demo` and `make test` do everything on a fresh machine.
GO       ?= go
BUILD    := build
# A count, not a duration: duration-based -fuzztime can fail spuriously with
# "context deadline exceeded" at its end in Go 1.26 (golang/go#75804).
FUZZTIME ?= 5000x

.PHONY: build test demo bench core-test fuzz vet clean tools demo-go bench-core
.DEFAULT_GOAL := build

build: $(BUILD)/libnetmesh.so

# Language parts add their targets and extend these lists.
TEST_TARGETS := vet core-test fuzz
DEMO_TARGETS := demo-go
BENCH_TARGETS := bench-core

include mk/tools.mk mk/c.mk mk/bindings.mk mk/soak.mk mk/group.mk mk/cli.mk mk/dist.mk mk/wasm.mk mk/bench.mk

# gofmt, go vet and staticcheck over every Go package.
vet: $(BUILD)/tools/staticcheck-$(STATICCHECK_VERSION)
	@test -z "$$(gofmt -l $$($(GO) list -f '{{.Dir}}' ./...))" || { gofmt -l $$($(GO) list -f '{{.Dir}}' ./...); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(BUILD)/tools/staticcheck-$(STATICCHECK_VERSION) ./...

core-test: tools
	$(GO) test -race -count=1 -timeout 600s ./core/...

# Each JSON parser is fuzzed for a few seconds from its seed corpus.
fuzz:
	@mkdir -p $(BUILD); for f in FuzzParseConfig FuzzParsePublish FuzzParsePoll FuzzDecodeCursor FuzzDecodeRecord FuzzValidAgrees; do \
	  echo "fuzz $$f ($(FUZZTIME))"; \
	  $(GO) test ./core -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) >$(BUILD)/fuzz-$$f.log 2>&1 \
	    || { cat $(BUILD)/fuzz-$$f.log; exit 1; }; \
	done

test:
	@mkdir -p $(BUILD)
	$(MAKE) $(TEST_TARGETS)

demo: $(DEMO_TARGETS)

demo-go:
	$(GO) run ./examples/go

bench: $(BENCH_TARGETS)

bench-core:
	$(GO) test ./core -run '^$$' -bench . -benchtime 2s -timeout 900s

clean:
	rm -rf $(BUILD)
