// Command capi is libnetmesh.so: the C ABI of include/netmesh.h over package core,
// built with go build -buildmode=c-shared. It holds only the translation: a handle
// table, C string copies and panic guards. Every rule about requests, errors and
// codes lives in core.
//
// include/netmesh.h is generated from the doc comments of the exports (see
// internal/headergen): run `go generate ./capi` after changing one.
package main

//go:generate go run ./internal/headergen -o ../include/netmesh.h

func main() {} // required by -buildmode=c-shared; never runs
