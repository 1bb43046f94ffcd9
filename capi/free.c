/*
 * mesh_free is plain C, not a Go export: freeing never enters the Go runtime, so
 * it is cheap from any thread, including the main thread of a Node process.
 * Its doc comment and prototype for the header are the //netmesh:c block in
 * exports.go; including the header makes the compiler check this definition.
 */
#include <stdlib.h>

#include "../include/netmesh.h"

void mesh_free(char *ptr) { free(ptr); }
