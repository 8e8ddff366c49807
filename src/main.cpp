// cascade: keeps a fleet of container images patched. A thin main over the cli library.
#include "cascade/cli.hpp"

int main(int argc, char** argv) { return cascade::cli::run(argc, argv); }
