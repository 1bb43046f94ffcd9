#!/bin/sh
# install-c.sh: installs the C library, its header, netmesh.pc and the CMake
# package files, for `make install` (mk/c.mk) and the C tarball of `make dist`
# (mk/dist.mk), which therefore have one layout:
#
#   LIBDIR/libnetmesh.so.<version>   (SONAME libnetmesh.so.<major>)
#   LIBDIR/libnetmesh.so.<major> -> libnetmesh.so.<version>
#   LIBDIR/libnetmesh.so         -> libnetmesh.so.<major>
#   INCLUDEDIR/netmesh.h
#   PKGCONFIGDIR/netmesh.pc
#   CMAKEDIR/netmeshConfig.cmake, netmeshConfigVersion.cmake  (netmesh::netmesh)
#   BINDIR/netmesh                   (only when CLI names the command-line tool)
#
# Everything comes from the environment: NETMESH_VERSION, LIB (the built
# library), HEADER, DESTDIR (may be empty), LIBDIR, INCLUDEDIR, PKGCONFIGDIR,
# CMAKEDIR, BINDIR, CLI (may be empty), and the three variables of netmesh.pc:
# PC_PREFIX, PC_LIBDIR, PC_INCLUDEDIR (absolute for `make install`, relative to
# ${pcfiledir} for the relocatable tarball). The CMake files find the library
# and header relative to their own directory, so they are always relocatable.
set -eu
: "${NETMESH_VERSION:?}" "${LIB:?}" "${HEADER:?}" "${LIBDIR:?}" "${INCLUDEDIR:?}"
: "${PKGCONFIGDIR:?}" "${CMAKEDIR:?}" "${BINDIR:?}"
: "${PC_PREFIX:?}" "${PC_LIBDIR:?}" "${PC_INCLUDEDIR:?}"
DESTDIR=${DESTDIR:-}
CLI=${CLI:-}

major=${NETMESH_VERSION%%.*}
real=libnetmesh.so.$NETMESH_VERSION
soname=libnetmesh.so.$major

install -d "$DESTDIR$LIBDIR" "$DESTDIR$INCLUDEDIR" "$DESTDIR$PKGCONFIGDIR" "$DESTDIR$CMAKEDIR"
install -m 0755 "$LIB" "$DESTDIR$LIBDIR/$real"
ln -sfn "$real" "$DESTDIR$LIBDIR/$soname"
ln -sfn "$soname" "$DESTDIR$LIBDIR/libnetmesh.so"
install -m 0644 "$HEADER" "$DESTDIR$INCLUDEDIR/netmesh.h"

cat >"$DESTDIR$PKGCONFIGDIR/netmesh.pc" <<EOF
prefix=$PC_PREFIX
libdir=$PC_LIBDIR
includedir=$PC_INCLUDEDIR

Name: netmesh
Description: schema-agnostic JSON event bus over NATS JetStream (C ABI)
Version: $NETMESH_VERSION
Libs: -L\${libdir} -lnetmesh
Libs.private: -lpthread
Cflags: -I\${includedir}
EOF

# The library and header directories relative to CMAKEDIR (paths without DESTDIR).
lib_rel=$(realpath -m -s --relative-to="$CMAKEDIR" "$LIBDIR")
inc_rel=$(realpath -m -s --relative-to="$CMAKEDIR" "$INCLUDEDIR")

cat >"$DESTDIR$CMAKEDIR/netmeshConfig.cmake" <<EOF
# netmesh $NETMESH_VERSION: find_package(netmesh) defines the imported target
# netmesh::netmesh (libnetmesh.so.$major and netmesh.h), found relative to this file.
if(NOT TARGET netmesh::netmesh)
  get_filename_component(_netmesh_libdir "\${CMAKE_CURRENT_LIST_DIR}/$lib_rel" ABSOLUTE)
  get_filename_component(_netmesh_includedir "\${CMAKE_CURRENT_LIST_DIR}/$inc_rel" ABSOLUTE)
  if(NOT EXISTS "\${_netmesh_libdir}/$real" OR NOT EXISTS "\${_netmesh_includedir}/netmesh.h")
    set(netmesh_FOUND FALSE)
    set(netmesh_NOT_FOUND_MESSAGE
      "\${_netmesh_libdir}/$real or \${_netmesh_includedir}/netmesh.h is missing")
    return()
  endif()
  add_library(netmesh::netmesh SHARED IMPORTED)
  set_target_properties(netmesh::netmesh PROPERTIES
    IMPORTED_LOCATION "\${_netmesh_libdir}/$real"
    IMPORTED_SONAME "$soname"
    INTERFACE_INCLUDE_DIRECTORIES "\${_netmesh_includedir}")
  set(netmesh_INCLUDE_DIRS "\${_netmesh_includedir}")
  set(netmesh_LIBRARIES netmesh::netmesh)
  unset(_netmesh_libdir)
  unset(_netmesh_includedir)
endif()
EOF

# Compatible: the same major version, at least the version asked for (or inside
# the range asked for); the library is 64-bit only.
cat >"$DESTDIR$CMAKEDIR/netmeshConfigVersion.cmake" <<EOF
set(PACKAGE_VERSION "$NETMESH_VERSION")
set(PACKAGE_VERSION_COMPATIBLE FALSE)
if(PACKAGE_FIND_VERSION_RANGE)
  if(PACKAGE_FIND_VERSION_MIN_MAJOR STREQUAL "$major"
     AND NOT PACKAGE_VERSION VERSION_LESS PACKAGE_FIND_VERSION_MIN
     AND ((PACKAGE_FIND_VERSION_RANGE_MAX STREQUAL "INCLUDE"
           AND NOT PACKAGE_VERSION VERSION_GREATER PACKAGE_FIND_VERSION_MAX)
          OR (PACKAGE_FIND_VERSION_RANGE_MAX STREQUAL "EXCLUDE"
              AND PACKAGE_VERSION VERSION_LESS PACKAGE_FIND_VERSION_MAX)))
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
  endif()
elseif(NOT PACKAGE_FIND_VERSION OR (PACKAGE_FIND_VERSION_MAJOR STREQUAL "$major"
       AND NOT PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION))
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
endif()
if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
  set(PACKAGE_VERSION_EXACT TRUE)
endif()
if(CMAKE_SIZEOF_VOID_P AND NOT CMAKE_SIZEOF_VOID_P STREQUAL "8")
  set(PACKAGE_VERSION "\${PACKAGE_VERSION} (64-bit)")
  set(PACKAGE_VERSION_UNSUITABLE TRUE)
endif()
EOF

if [ -n "$CLI" ]; then
	install -d "$DESTDIR$BINDIR"
	install -m 0755 "$CLI" "$DESTDIR$BINDIR/netmesh"
fi
