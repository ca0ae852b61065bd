// interop-vat: the C++ peer vat of the cross-process, cross-language interop tests.
//
//   interop-vat serve  --listen  <addr> [--timeout-seconds N]
//   interop-vat client --connect <addr> --scenario <name> [--timeout-seconds N]
//   (TLS and services by ID: --tls-key, --service, --uri, --client-certificate; see README.md)
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
      "  interop-vat serve  --listen  <addr> [--timeout-seconds N] [--tls-key <pem file>]\n"
      "                     [--service <id>]... [--client-certificate optional|required]\n"
      "  interop-vat client (--connect <addr> | --uri capnp://...) --scenario <name>\n"
      "                     [--timeout-seconds N] [--client-certificate ephemeral|none]\n"
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
  kj::Maybe<kj::StringPtr> uri;
  kj::Maybe<kj::StringPtr> scenario;
  kj::Maybe<kj::StringPtr> clientCertificate;
  ServeOptions serveOptions;
  uint timeoutSeconds = DEFAULT_TIMEOUT_SECONDS;
  for (int i = 2; i < argc; i++) {
    kj::StringPtr flag = argv[i];
    if (i + 1 >= argc) return usage(kj::str("missing value after ", flag));
    kj::StringPtr value = argv[++i];
    if (flag == (serve ? "--listen" : "--connect")) {
      address = value;
    } else if (!serve && flag == "--uri") {
      uri = value;
    } else if (!serve && flag == "--scenario") {
      scenario = value;
    } else if (serve && flag == "--tls-key") {
      if (value.size() == 0) return usage("empty --tls-key path");
      serveOptions.tlsKeyFile = kj::str(value);
    } else if (serve && flag == "--service") {
      if (value.size() == 0) {
        return usage("empty --service ID (the empty ID is the bootstrap, always served)");
      }
      serveOptions.serviceIds.add(kj::str(value));
    } else if (flag == "--client-certificate") {
      clientCertificate = value;
    } else if (flag == "--timeout-seconds") {
      bool digits = value.size() > 0 && value.size() <= 6;
      for (char c: value) digits = digits && c >= '0' && c <= '9';
      if (!digits) return usage(kj::str("bad --timeout-seconds '", value, "'"));
      timeoutSeconds = value.parseAs<uint>();
    } else {
      return usage(kj::str("unknown flag '", flag, "' for ", mode));
    }
  }

  bool presentCertificate = true;
  KJ_IF_MAYBE(c, clientCertificate) {
    if (serve) {
      if (*c == "required") {
        serveOptions.requireClientCertificate = true;
      } else if (*c != "optional") {
        return usage(kj::str("bad --client-certificate '", *c, "' (optional or required)"));
      }
      if (serveOptions.tlsKeyFile == nullptr) return usage("--client-certificate needs --tls-key");
    } else {
      if (*c == "none") {
        presentCertificate = false;
      } else if (*c != "ephemeral") {
        return usage(kj::str("bad --client-certificate '", *c, "' (ephemeral or none)"));
      }
      if (uri == nullptr) return usage("--client-certificate needs --uri");
    }
  }

  kj::String error;
  if (serve) {
    KJ_IF_MAYBE(a, address) {
      KJ_IF_MAYBE(e, parseEndpoint(*a, error)) {
        return runServe(*e, timeoutSeconds, serveOptions);
      }
      return usage(error);
    }
    return usage("missing --listen <addr>");
  }

  kj::StringPtr scenarioName;
  KJ_IF_MAYBE(s, scenario) {
    bool known = false;
    for (auto name: scenarioNames()) known = known || name == *s;
    if (!known) return usage(kj::str("unknown scenario '", *s, "'"));
    scenarioName = *s;
  }
  if (address != nullptr && uri != nullptr) return usage("give --connect or --uri, not both");
  KJ_IF_MAYBE(a, address) {
    KJ_IF_MAYBE(e, parseEndpoint(*a, error)) {
      if (scenario == nullptr) return usage("missing --scenario <name>");
      return runClient(ClientTarget { kj::mv(*e), false, nullptr, nullptr, true },
                       scenarioName, timeoutSeconds);
    }
    return usage(error);
  }
  KJ_IF_MAYBE(u, uri) {
    KJ_IF_MAYBE(parsed, parseSturdyRefUri(*u, error)) {
      if (scenario == nullptr) return usage("missing --scenario <name>");
      ClientTarget target { kj::mv(parsed->endpoint), false, nullptr, kj::mv(parsed->serviceId),
                            presentCertificate };
      KJ_IF_MAYBE(f, parsed->fingerprint) {
        target.tls = true;
        target.fingerprint = kj::mv(*f);
      } else if (clientCertificate != nullptr) {
        return usage("--client-certificate needs a sha-256 (TLS) URI");
      }
      return runClient(target, scenarioName, timeoutSeconds);
    }
    return usage(kj::str("bad --uri: ", error));
  }
  return usage("missing --connect <addr> or --uri <capnp://...>");
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
