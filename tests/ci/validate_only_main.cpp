// `nslab validate` built against the description layer alone (nslab::model):
// if this links, validating a scenario needs nothing of the runtime — no
// netlink, no namespaces, no captures.
#include "commands.h"

int main(int argc, char** argv) {
  return nslab::cli::validate(nslab::cli::Args(argv + 1, argv + argc));
}
