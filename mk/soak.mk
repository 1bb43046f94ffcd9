# The fault soak (tests/soak): publishers and pollers against real nats-server
# processes (one server, then a three-node cluster) while servers are killed,
# restarted, stopped and stream leaders step down; then every acknowledged event
# must read back exactly once. It takes a few minutes, so it is not in `make
# test`. Pass flags through SOAK_FLAGS, e.g. make soak SOAK_FLAGS='-seed 42
# -duration 30s -cluster=false'.
SOAK_FLAGS ?=

.PHONY: soak
soak: tools
	@mkdir -p $(BUILD)
	$(GO) build -o $(BUILD)/soak ./tests/soak
	$(BUILD)/soak -server $(abspath $(TOOLS)/nats-server) $(SOAK_FLAGS)
