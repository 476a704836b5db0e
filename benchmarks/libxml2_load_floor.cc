// Benchmark helper, not part of the product: a program that does nothing but
// load the system's shared libxml2 (and, through it, ICU, libstdc++, zlib and
// liblzma on Debian). Its cost is the floor under any full hook that parses
// the domain XML with the shared libxml2, before it has done any work
// (tests/hook/fastpath_benchmark.sh, README "Benchmarks").
#include <libxml/xmlversion.h>

int main() {
  // A call into the library, so that the link keeps it as a dependency.
  xmlCheckVersion(LIBXML_VERSION);
  return 0;
}
