// Command capi is libnetmesh.so: the C ABI of include/netmesh.h over package core,
// built with go build -buildmode=c-shared. It holds only the translation: a handle
// table, C string copies and panic guards. Every rule about requests, errors and
// codes lives in core.
package main

func main() {} // required by -buildmode=c-shared; never runs
