/* Prints the version of the built library; used to write netmesh.pc. */
#include <netmesh.h>
#include <stdio.h>

int main(void) {
  puts(mesh_version());
  return 0;
}
