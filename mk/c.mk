# The C ABI: build/libnetmesh.so, its generated header, the header check, the C
# tests, the C example, the C benchmark and `make install`. Included by the
# top-level Makefile.

CC           ?= cc
CXX          ?= c++
PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

MESH_WARN     := -Wall -Wextra -Werror -pedantic
MESH_CFLAGS   := -std=c11 -O2 -g $(MESH_WARN) -Iinclude
MESH_CXXFLAGS := -std=c++17 -O2 -g $(MESH_WARN) -Iinclude
MESH_LDLIBS   := -L$(BUILD) -lnetmesh -Wl,-rpath,$(abspath $(BUILD)) -lpthread
CBIN          := $(BUILD)/c

# The library is rebuilt when any Go source it is made of changes (the header
# generator in capi/internal is not part of it).
MESH_GO_SRC := $(shell find capi core -path capi/internal -prune -o -name '*.go' ! -name '*_test.go' -print 2>/dev/null) capi/free.c include/netmesh.h go.mod go.sum

$(BUILD)/libnetmesh.so: $(MESH_GO_SRC)
	@mkdir -p $(@D)
	$(GO) build -buildmode=c-shared -o $@ ./capi

$(CBIN):
	mkdir -p $@

$(CBIN)/%: tests/c/%.c tests/c/check.h include/netmesh.h $(BUILD)/libnetmesh.so | $(CBIN)
	$(CC) $(MESH_CFLAGS) -o $@ $< $(MESH_LDLIBS)

# The header must work in C99 too, not only in the C11 of the other programs.
$(CBIN)/header_calls: tests/c/header_calls.c include/netmesh.h $(BUILD)/libnetmesh.so | $(CBIN)
	$(CC) -std=c99 -O2 -g $(MESH_WARN) -Iinclude -o $@ $< $(MESH_LDLIBS)

$(CBIN)/header_calls_cpp: tests/c/header_calls.cpp include/netmesh.h $(BUILD)/libnetmesh.so | $(CBIN)
	$(CXX) $(MESH_CXXFLAGS) -o $@ $< $(MESH_LDLIBS)

$(CBIN)/example: examples/c/main.c include/netmesh.h $(BUILD)/libnetmesh.so | $(CBIN)
	$(CC) $(MESH_CFLAGS) -o $@ $< $(MESH_LDLIBS)

$(CBIN)/mesh_version: mk/mesh_version.c include/netmesh.h $(BUILD)/libnetmesh.so | $(CBIN)
	$(CC) $(MESH_CFLAGS) -o $@ $< $(MESH_LDLIBS)

.PHONY: header check-header check-header-generated c-test capi-test demo-c bench-c install

# include/netmesh.h is generated from the doc comments of capi's exports, core's
# code table and capi/internal/headergen/header.h.tmpl.
header:
	$(GO) generate ./capi

# The committed header is what the sources generate; it declares exactly the
# library's mesh_* functions; a C99 and a C++17 program that include it and call
# every function compile without warnings and run.
check-header: check-header-generated $(BUILD)/libnetmesh.so $(CBIN)/header_calls $(CBIN)/header_calls_cpp
	CC="$(CC)" sh mk/check-header.sh $(BUILD)/libnetmesh.so include/netmesh.h
	rm -rf $(BUILD)/check-header-data
	$(CBIN)/header_calls '{"embedded":{"memory":true,"store_dir":"$(BUILD)/check-header-data"}}'
	$(CBIN)/header_calls_cpp '{"embedded":{"memory":true,"store_dir":"$(BUILD)/check-header-data"}}'
	rm -rf $(BUILD)/check-header-data

check-header-generated:
	@mkdir -p $(BUILD)
	$(GO) run ./capi/internal/headergen -dir capi -o $(BUILD)/netmesh.h
	@diff -u include/netmesh.h $(BUILD)/netmesh.h || \
	  { echo "check-header: include/netmesh.h (-) is not what the capi sources generate (+): run make header"; exit 1; }

# The C tests; each test keeps its data under build/ctest-data, removed on success.
c-test: $(CBIN)/test_capi
	rm -rf $(BUILD)/ctest-data
	$(CBIN)/test_capi $(BUILD)/ctest-data
	rm -rf $(BUILD)/ctest-data

# Go tests of capi's own pieces (the handle table), with the race detector.
capi-test:
	$(GO) test -race -count=1 ./capi

demo-c: $(CBIN)/example
	$(CBIN)/example

bench-c: $(CBIN)/bench
	rm -rf $(BUILD)/bench-c-data
	$(CBIN)/bench $(BUILD)/bench-c-data
	rm -rf $(BUILD)/bench-c-data

# netmesh.pc holds PREFIX, so install writes it afresh every time.
install: $(BUILD)/libnetmesh.so $(CBIN)/mesh_version
	{ echo 'prefix=$(PREFIX)'; \
	  echo 'libdir=$(LIBDIR)'; \
	  echo 'includedir=$(INCLUDEDIR)'; \
	  echo; \
	  echo 'Name: netmesh'; \
	  echo 'Description: schema-agnostic JSON event bus over NATS JetStream (C ABI)'; \
	  echo "Version: $$($(CBIN)/mesh_version)"; \
	  echo 'Libs: -L$${libdir} -lnetmesh'; \
	  echo 'Libs.private: -lpthread'; \
	  echo 'Cflags: -I$${includedir}'; \
	} >$(BUILD)/netmesh.pc
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0755 $(BUILD)/libnetmesh.so $(DESTDIR)$(LIBDIR)/libnetmesh.so
	install -m 0644 include/netmesh.h $(DESTDIR)$(INCLUDEDIR)/netmesh.h
	install -m 0644 $(BUILD)/netmesh.pc $(DESTDIR)$(PKGCONFIGDIR)/netmesh.pc

TEST_TARGETS  += capi-test check-header c-test
DEMO_TARGETS  += demo-c
BENCH_TARGETS += bench-c
