# Real nats-server binaries for tests that must kill a server or need an old one.
# Both come from the Go module proxy: the current one from go.mod, 2.9.25 by version.
TOOLS := $(BUILD)/tools
NATS_OLD_VERSION := v2.9.25

$(TOOLS)/nats-server: go.mod go.sum
	mkdir -p $(@D)
	$(GO) build -o $@ github.com/nats-io/nats-server/v2

$(TOOLS)/nats-server-$(NATS_OLD_VERSION):
	mkdir -p $(TOOLS)/old
	GOBIN=$(abspath $(TOOLS)/old) GOFLAGS=-mod=mod $(GO) install github.com/nats-io/nats-server/v2@$(NATS_OLD_VERSION)
	mv $(TOOLS)/old/nats-server $@

tools: $(TOOLS)/nats-server $(TOOLS)/nats-server-$(NATS_OLD_VERSION)

export NETMESH_NATS_SERVER := $(abspath $(TOOLS)/nats-server)
export NETMESH_NATS_SERVER_OLD := $(abspath $(TOOLS)/nats-server-$(NATS_OLD_VERSION))
