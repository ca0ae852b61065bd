// interop-vat: the C++ peer vat of the cross-process, cross-language interop tests.
//
//   interop-vat serve  --listen  <addr> [--timeout-seconds N]
//   interop-vat client --connect <addr> --scenario <name> [--timeout-seconds N]
//
// <addr> is tcp:127.0.0.1:<port>, tcp:[::1]:<port> or unix:<path>. See tests/interop/README.md.
#include "vat.h"

#include <kj/debug.h>
#include <exception>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

namespace interop {
namespace {

const uint DEFAULT_TIMEOUT_SECONDS = 20;

int usage(kj::StringPtr error) {
  fprintf(stderr,
      "interop-vat: %s\n"
      "usage:\n"
      "  interop-vat serve  --listen  <addr> [--timeout-seconds N]\n"
      "  interop-vat client --connect <addr> --scenario <name> [--timeout-seconds N]\n"
      "<addr>: tcp:127.0.0.1:<port> | tcp:[::1]:<port> | unix:<path>  (port 0 when listening:\n"
      "        the real one is printed as 'LISTENING <addr>')\n"
      "N: seconds (default %u, 0 = none)\n"
      "scenarios:", error.cStr(), DEFAULT_TIMEOUT_SECONDS);
  for (auto name: scenarioNames()) fprintf(stderr, " %s", name.cStr());
  fprintf(stderr, "\n");
  return EXIT_USAGE;
}

int run(int argc, char** argv) {
  if (argc < 2) return usage("missing mode");
  kj::StringPtr mode = argv[1];
  bool serve = mode == "serve";
  if (!serve && mode != "client") return usage(kj::str("unknown mode '", mode, "'"));

  kj::Maybe<kj::StringPtr> address;
  kj::Maybe<kj::StringPtr> scenario;
  uint timeoutSeconds = DEFAULT_TIMEOUT_SECONDS;
  for (int i = 2; i < argc; i++) {
    kj::StringPtr flag = argv[i];
    if (i + 1 >= argc) return usage(kj::str("missing value after ", flag));
    kj::StringPtr value = argv[++i];
    if (flag == (serve ? "--listen" : "--connect")) {
      address = value;
    } else if (!serve && flag == "--scenario") {
      scenario = value;
    } else if (flag == "--timeout-seconds") {
      bool digits = value.size() > 0 && value.size() <= 6;
      for (char c: value) digits = digits && c >= '0' && c <= '9';
      if (!digits) return usage(kj::str("bad --timeout-seconds '", value, "'"));
      timeoutSeconds = value.parseAs<uint>();
    } else {
      return usage(kj::str("unknown flag '", flag, "' for ", mode));
    }
  }

  kj::StringPtr addressText;
  KJ_IF_MAYBE(a, address) {
    addressText = *a;
  } else {
    return usage(serve ? "missing --listen <addr>" : "missing --connect <addr>");
  }
  kj::String error;
  auto endpoint = parseEndpoint(addressText, error);
  KJ_IF_MAYBE(e, endpoint) {
    if (serve) return runServe(*e, timeoutSeconds);
    KJ_IF_MAYBE(s, scenario) {
      bool known = false;
      for (auto name: scenarioNames()) known = known || name == *s;
      if (!known) return usage(kj::str("unknown scenario '", *s, "'"));
      return runClient(*e, *s, timeoutSeconds);
    }
    return usage("missing --scenario <name>");
  }
  return usage(error);
}

}  // namespace
}  // namespace interop

int main(int argc, char** argv) {
  // A peer that vanishes mid-write must surface as an error, not kill us.
  signal(SIGPIPE, SIG_IGN);
  try {
    return interop::run(argc, argv);
  } catch (kj::Exception& e) {
    fprintf(stderr, "interop-vat: internal error: %s: %s\n",
            interop::typeName(e.getType()).cStr(), kj::str(e).cStr());
    return interop::EXIT_INTERNAL;
  } catch (std::exception& e) {
    fprintf(stderr, "interop-vat: internal error: %s\n", e.what());
    return interop::EXIT_INTERNAL;
  } catch (...) {
    fprintf(stderr, "interop-vat: internal error: unknown exception\n");
    return interop::EXIT_INTERNAL;
  }
}
