# `make dist`: the packages of one version (NETMESH_VERSION, read from core.Version
# in mk/c.mk) in dist/, each carrying build/libnetmesh.so:
#
#   dist/netmesh-<v>-py3-none-linux_<arch>.whl  Python: the library is netmesh/libnetmesh.so
#   dist/netmesh-<v>.tgz                        npm: prebuilds/linux-<node arch>/libnetmesh.so
#   dist/netmesh-<v>-linux-<arch>.tar.gz        C: the layout of `make install` (mk/install-c.sh)
#                                               under netmesh-<v>-linux-<arch>/, plus bin/netmesh
#
# `make dist-test` installs each of them in a temporary folder outside the checkout
# and uses it (tests/dist/run.sh). `make version-check` fails when a checked-in copy
# of the version (package.json, pyproject.toml, ...) is not core.Version.
# Included by the top-level Makefile after mk/c.mk, mk/bindings.mk and mk/cli.mk.

DIST           := dist
DIST_STAGE     := $(BUILD)/dist
DIST_ARCH      := $(shell uname -m)
DIST_NODE_ARCH := $(patsubst x86_64,x64,$(patsubst aarch64,arm64,$(DIST_ARCH)))
DIST_WHEEL     := $(DIST)/netmesh-$(NETMESH_VERSION)-py3-none-linux_$(DIST_ARCH).whl
DIST_NPM       := $(DIST)/netmesh-$(NETMESH_VERSION).tgz
DIST_C_NAME    := netmesh-$(NETMESH_VERSION)-linux-$(DIST_ARCH)
DIST_C         := $(DIST)/$(DIST_C_NAME).tar.gz
# The command-line tool goes into the C tarball's bin/ when mk/cli.mk builds it.
DIST_CLI       := $(if $(filter mk/cli.mk,$(MAKEFILE_LIST)),$(BUILD)/netmesh)
DIST_EPOCH     := $${SOURCE_DATE_EPOCH:-315532800}

.PHONY: dist dist-wheel dist-npm dist-c dist-test version-check clean-dist

version-check:
	$(PYTHON) mk/check_versions.py $(NETMESH_VERSION)

dist: dist-wheel dist-npm dist-c
	@ls -l $(DIST_WHEEL) $(DIST_NPM) $(DIST_C)

dist-wheel: version-check $(BUILD)/libnetmesh.so
	rm -f $(DIST)/netmesh-*.whl
	$(PYTHON) mk/build_wheel.py --version $(NETMESH_VERSION) --library $(BUILD)/libnetmesh.so \
	  --source $(PY_DIR) --platform linux_$(DIST_ARCH) --out $(DIST)

# npm pack of a copy of the package with the library in prebuilds/.
dist-npm: version-check $(BUILD)/libnetmesh.so
	rm -rf $(DIST_STAGE)/npm $(DIST)/netmesh-*.tgz
	mkdir -p $(DIST_STAGE)/npm/prebuilds/linux-$(DIST_NODE_ARCH) $(DIST)
	cp $(addprefix $(NODE_DIR)/,package.json index.js index.mjs requests.js index.d.ts types.d.ts README.md) $(DIST_STAGE)/npm/
	cp $(BUILD)/libnetmesh.so $(DIST_STAGE)/npm/prebuilds/linux-$(DIST_NODE_ARCH)/libnetmesh.so
	cd $(DIST_STAGE)/npm && $(NPM) pack --silent --ignore-scripts --pack-destination $(abspath $(DIST)) >/dev/null
	@test -f $(DIST_NPM) || { echo "dist-npm: npm pack did not write $(DIST_NPM)"; exit 1; }
	@echo "wrote $(DIST_NPM)"

# The tree is relocatable: netmesh.pc names its prefix relative to ${pcfiledir},
# the CMake files find everything relative to their own directory.
dist-c: $(BUILD)/libnetmesh.so $(DIST_CLI)
	rm -rf $(DIST_STAGE)/c $(DIST)/netmesh-*.tar.gz
	mkdir -p $(DIST)
	NETMESH_VERSION=$(NETMESH_VERSION) LIB=$(BUILD)/libnetmesh.so HEADER=include/netmesh.h \
	  DESTDIR=$(DIST_STAGE)/c/$(DIST_C_NAME) LIBDIR=/lib INCLUDEDIR=/include \
	  PKGCONFIGDIR=/lib/pkgconfig CMAKEDIR=/lib/cmake/netmesh BINDIR=/bin CLI="$(DIST_CLI)" \
	  PC_PREFIX='$${pcfiledir}/../..' PC_LIBDIR='$${prefix}/lib' PC_INCLUDEDIR='$${prefix}/include' \
	  sh mk/install-c.sh
	tar -C $(DIST_STAGE)/c --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$(DIST_EPOCH) \
	  -cf - $(DIST_C_NAME) | gzip -n >$(DIST_C).part
	mv $(DIST_C).part $(DIST_C)
	@echo "wrote $(DIST_C)"

# cmake and pkg-config come from Debian when missing (CI runs as root on Debian 12).
dist-test: dist
	@command -v cmake >/dev/null || { echo "installing cmake"; $(APT_GET) update -qq && $(APT_GET) install -y -qq cmake >/dev/null; }
	@command -v pkg-config >/dev/null || { echo "installing pkg-config"; $(APT_GET) update -qq && $(APT_GET) install -y -qq pkg-config >/dev/null; }
	MAKE="$(MAKE)" PYTHON="$(PYTHON)" NODE="$(NODE)" NPM="$(NPM)" CC="$(CC)" CXX="$(CXX)" \
	  APT_GET="$(APT_GET)" sh tests/dist/run.sh $(NETMESH_VERSION) $(abspath $(DIST_WHEEL)) \
	  $(abspath $(DIST_NPM)) $(abspath $(DIST_C)) $(abspath .)

clean-dist:
	rm -rf $(DIST)

clean: clean-dist

TEST_TARGETS += version-check dist-test
