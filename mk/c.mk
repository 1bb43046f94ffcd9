# The C ABI: build/libnetmesh.so, its generated header, the header check, the C
# tests, the C example, the C benchmark and `make install`. Included by the
# top-level Makefile.

CC           ?= cc
CXX          ?= c++
PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR     ?= $(LIBDIR)/cmake/netmesh

# The version is written once, as core.Version in core/bus.go; make reads it from
# there with sed (`make -s version` prints it). The SONAME carries its major.
NETMESH_VERSION := $(shell sed -nE 's/^[[:space:]]*(const[[:space:]]+)?Version[[:space:]]*=[[:space:]]*"([^"]+)".*/\2/p' core/bus.go)
ifneq ($(words $(subst ., ,$(NETMESH_VERSION))),3)
$(error cannot read core.Version (major.minor.patch) from core/bus.go: got "$(NETMESH_VERSION)")
endif
NETMESH_MAJOR  := $(word 1,$(subst ., ,$(NETMESH_VERSION)))
NETMESH_SONAME := libnetmesh.so.$(NETMESH_MAJOR)

MESH_WARN     := -Wall -Wextra -Werror -pedantic
MESH_CFLAGS   := -std=c11 -O2 -g $(MESH_WARN) -Iinclude
MESH_CXXFLAGS := -std=c++17 -O2 -g $(MESH_WARN) -Iinclude
MESH_LDLIBS   := -L$(BUILD) -lnetmesh -Wl,-rpath,$(abspath $(BUILD)) -lpthread
CBIN          := $(BUILD)/c

# The library is rebuilt when any Go source it is made of changes (the header
# generator in capi/internal is not part of it).
MESH_GO_SRC := $(shell find capi core -path capi/internal -prune -o -name '*.go' ! -name '*_test.go' -print 2>/dev/null) capi/free.c include/netmesh.h go.mod go.sum

# It carries the SONAME libnetmesh.so.<major>, so programs linked with -lnetmesh
# need that name at run time: build/libnetmesh.so.<major> is a link to it. (This
# file is a prerequisite so that a library built by an older rule is rebuilt.)
$(BUILD)/libnetmesh.so: $(MESH_GO_SRC) mk/c.mk
	@mkdir -p $(@D)
	$(GO) build -buildmode=c-shared -ldflags=-extldflags=-Wl,-soname,$(NETMESH_SONAME) -o $@ ./capi
	ln -sfn libnetmesh.so $(BUILD)/$(NETMESH_SONAME)

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

.PHONY: header check-header check-header-generated c-test capi-test demo-c bench-c install version

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

version:
	@echo $(NETMESH_VERSION)

# lib/libnetmesh.so.<version> with the links libnetmesh.so.<major> and
# libnetmesh.so, include/netmesh.h, lib/pkgconfig/netmesh.pc and
# lib/cmake/netmesh/netmeshConfig{,Version}.cmake (the imported target
# netmesh::netmesh): the layout of the C tarball of `make dist` (mk/dist.mk).
# netmesh.pc holds PREFIX, so install writes it afresh every time.
install: $(BUILD)/libnetmesh.so
	NETMESH_VERSION=$(NETMESH_VERSION) LIB=$(BUILD)/libnetmesh.so HEADER=include/netmesh.h \
	  DESTDIR="$(DESTDIR)" LIBDIR="$(LIBDIR)" INCLUDEDIR="$(INCLUDEDIR)" \
	  PKGCONFIGDIR="$(PKGCONFIGDIR)" CMAKEDIR="$(CMAKEDIR)" BINDIR="$(BINDIR)" CLI= \
	  PC_PREFIX="$(PREFIX)" PC_LIBDIR="$(LIBDIR)" PC_INCLUDEDIR="$(INCLUDEDIR)" \
	  sh mk/install-c.sh
	@echo "installed netmesh $(NETMESH_VERSION) in $(DESTDIR)$(PREFIX); run ldconfig if $(LIBDIR) is on the loader's path (/etc/ld.so.conf)"

TEST_TARGETS  += capi-test check-header c-test
DEMO_TARGETS  += demo-c
BENCH_TARGETS += bench-c
