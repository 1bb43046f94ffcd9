# Tools built from the Go module proxy into build/tools: real nats-server binaries
# for tests that must kill a server or need an old one (the current one from
# go.mod, 2.9.25 by version), and staticcheck.
TOOLS := $(BUILD)/tools
NATS_OLD_VERSION := v2.9.25

$(TOOLS)/nats-server: go.mod go.sum
	mkdir -p $(@D)
	$(GO) build -o $@ github.com/nats-io/nats-server/v2

$(TOOLS)/nats-server-$(NATS_OLD_VERSION):
	mkdir -p $(TOOLS)/old
	GOBIN=$(abspath $(TOOLS)/old) GOFLAGS=-mod=mod $(GO) install github.com/nats-io/nats-server/v2@$(NATS_OLD_VERSION)
	mv $(TOOLS)/old/nats-server $@

# staticcheck, at a pinned version, for `make lint-go`.
STATICCHECK_VERSION := v0.8.2
$(TOOLS)/staticcheck-$(STATICCHECK_VERSION):
	mkdir -p $(TOOLS)/sc
	GOBIN=$(abspath $(TOOLS)/sc) GOFLAGS=-mod=mod $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(TOOLS)/sc/staticcheck $@

tools: $(TOOLS)/nats-server $(TOOLS)/nats-server-$(NATS_OLD_VERSION)

export NETMESH_NATS_SERVER := $(abspath $(TOOLS)/nats-server)
export NETMESH_NATS_SERVER_OLD := $(abspath $(TOOLS)/nats-server-$(NATS_OLD_VERSION))
