/* Compiled (not run) by `make check-header`: the public header and the cgo header
 * declare the same functions; with `const` removed from both, the C compiler
 * itself rejects any conflicting declaration ("conflicting types for ..."). */
#include <complex.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define const /* cgo cannot express const: set it aside on both sides */
#include <netmesh.h>
#include <libnetmesh.h>

int main(void) { return 0; }
