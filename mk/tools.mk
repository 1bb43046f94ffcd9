# Tools built from the Go module proxy into build/tools: real nats-server binaries
# for tests that must kill a server or need an old one (the current one from
# go.mod, 2.9.25 by version), and staticcheck.
TOOLS := $(BUILD)/tools
NATS_OLD_VERSION := v2.9.25

$(TOOLS)/nats-server: go.mod go.sum
	mkdir -p $(@D)
	$(GO) build -o $@ github.com/nats-io/nats-server/v2

# Any release by version: build/tools/nats-server-v2.9.10 and so on.
$(TOOLS)/nats-server-v%:
	mkdir -p $(TOOLS)/v$*
	GOBIN=$(abspath $(TOOLS)/v$*) GOFLAGS=-mod=mod $(GO) install github.com/nats-io/nats-server/v2@v$*
	mv $(TOOLS)/v$*/nats-server $@

# The server matrix (core/matrix_test.go): the oldest supported release (what
# Debian 12 installs), the newest of each minor line since, and the newest
# release. The FULL ones run every scenario, the others a compatibility subset.
NATS_MATRIX      := v2.9.10 v2.9.25 v2.10.27 v2.11.17 v2.12.15 v2.15.3
NATS_MATRIX_FULL := v2.9.10 v2.15.3
NATS_MATRIX_BINS := $(foreach v,$(NATS_MATRIX),$(TOOLS)/nats-server-$(v))
comma := ,
export NETMESH_SERVER_MATRIX := $(subst $() ,$(comma),$(foreach v,$(NATS_MATRIX),$(v)=$(abspath $(TOOLS)/nats-server-$(v))))
export NETMESH_SERVER_MATRIX_FULL := $(subst $() ,$(comma),$(NATS_MATRIX_FULL))

# staticcheck, at a pinned version, for `make vet`.
STATICCHECK_VERSION := v0.8.2
$(TOOLS)/staticcheck-$(STATICCHECK_VERSION):
	mkdir -p $(TOOLS)/sc
	GOBIN=$(abspath $(TOOLS)/sc) GOFLAGS=-mod=mod $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(TOOLS)/sc/staticcheck $@

tools: $(TOOLS)/nats-server $(TOOLS)/nats-server-$(NATS_OLD_VERSION) $(NATS_MATRIX_BINS)

export NETMESH_NATS_SERVER := $(abspath $(TOOLS)/nats-server)
export NETMESH_NATS_SERVER_OLD := $(abspath $(TOOLS)/nats-server-$(NATS_OLD_VERSION))
