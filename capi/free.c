/*
 * mesh_free is plain C, not a Go export: freeing never enters the Go runtime, so
 * it is cheap from any thread, including the main thread of a Node process.
 * Including the public header makes the compiler check the prototype.
 */
#include <stdlib.h>

#include "../include/netmesh.h"

void mesh_free(char *ptr) { free(ptr); }
