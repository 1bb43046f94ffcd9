# The netmesh command-line tool (cmd/netmesh): build/netmesh, built on core
# without cgo, and its tests. Included by the top-level Makefile (which defines
# GO, BUILD and TEST_TARGETS); mk/tools.mk defines TOOLS and exports
# NETMESH_NATS_SERVER, the real server the follow tests run against.

CLI_GO_SRC := $(shell find cmd/netmesh core -name '*.go' ! -name '*_test.go' 2>/dev/null) go.mod go.sum

$(BUILD)/netmesh: $(CLI_GO_SRC)
	@mkdir -p $(@D)
	CGO_ENABLED=0 $(GO) build -o $@ ./cmd/netmesh

.PHONY: cli cli-test
cli: $(BUILD)/netmesh

# Every command in-process (run), a follow against a real nats-server, and
# build/netmesh itself as a process (pub | tail, SIGINT and SIGTERM, exit codes).
cli-test: $(BUILD)/netmesh $(TOOLS)/nats-server
	NETMESH_CLI=$(abspath $(BUILD)/netmesh) $(GO) test -race -count=1 -timeout 600s ./cmd/netmesh/...

TEST_TARGETS += cli-test
