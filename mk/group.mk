# Consumer groups across processes: the C, Python and Node members of
# tests/group under core/groupproc_test.go (group-test), and the example of
# examples/group (demo-group). Included by the top-level Makefile after
# mk/tools.mk, mk/c.mk and mk/bindings.mk, whose variables and targets it uses:
# $(BUILD)/libnetmesh.so, $(NODE_STAMP), PYTHON, NODE, PY_DIR, MESH_CFLAGS,
# MESH_LDLIBS, NETMESH_NATS_SERVER and NETMESH_SERVER_MATRIX.

GROUP_BIN := $(BUILD)/group

$(GROUP_BIN)/group_member: tests/group/group_member.c include/netmesh.h $(BUILD)/libnetmesh.so
	@mkdir -p $(@D)
	$(CC) $(MESH_CFLAGS) -o $@ $< $(MESH_LDLIBS)

$(GROUP_BIN)/member: examples/group/member.c include/netmesh.h $(BUILD)/libnetmesh.so
	@mkdir -p $(@D)
	$(CC) $(MESH_CFLAGS) -o $@ $< $(MESH_LDLIBS)

GROUP_ENV := NETMESH_LIBRARY=$(abspath $(BUILD)/libnetmesh.so) \
	PYTHONPATH=$(abspath $(PY_DIR)) \
	NETMESH_GROUP_C=$(abspath $(GROUP_BIN)/group_member) \
	NETMESH_GROUP_PYTHON=$(PYTHON) \
	NETMESH_GROUP_NODE=$(NODE)

.PHONY: group-test demo-group

# Six scenarios against real nats-server processes (one server, a three-node
# cluster with replicas 3, a 2.9 server); about two minutes.
group-test: $(TOOLS)/nats-server $(TOOLS)/nats-server-v2.9.10 $(GROUP_BIN)/group_member $(NODE_STAMP)
	$(GROUP_ENV) $(GO) test -count=1 -timeout 600s -run TestGroupProcesses -v ./core

# A C, a Python and a Node member share one group on a Python process's embedded
# server; the C member is stopped halfway and the other two take its shards.
demo-group: $(GROUP_BIN)/member $(NODE_STAMP)
	$(GROUP_ENV) $(PYTHON) examples/group/run.py $(GROUP_BIN)/member $(BUILD)/demo-group-data

TEST_TARGETS += group-test
DEMO_TARGETS += demo-group
