// Benchmark helper, not part of the product: a static program that does
// nothing. Its cost is what a second exec costs with no loading and no work:
// the floor under any hook built as an entry that execs another program
// (tests/hook/fastpath_benchmark.sh, README "Benchmarks").
int main() {
  return 0;
}
