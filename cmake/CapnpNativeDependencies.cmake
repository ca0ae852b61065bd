# Finds the Cap'n Proto engine and OpenSSL, and sets CAPNP_NATIVE_ENGINE_LIBRARIES.
#
# Two supported sources:
#  - system packages (Debian: capnproto, libcapnp-dev, libssl-dev): shared libraries, bundled
#    beside libcapnp_native by CapnpNativeBundle (Debian's static archives are not PIC);
#  - vcpkg (vcpkg.json, static PIC triplets): linked statically, nothing to bundle.
# Only the first is tested on the project's machines.

find_package(CapnProto CONFIG REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(Threads REQUIRED)

if(CapnProto_VERSION VERSION_LESS 0.9)
  message(FATAL_ERROR "Cap'n Proto ${CapnProto_VERSION} found; CapnpNative needs 0.9 or later")
endif()

set(CAPNP_NATIVE_ENGINE_LIBRARIES
  CapnProto::capnp-rpc
  CapnProto::capnp
  CapnProto::kj-async
  CapnProto::kj
  OpenSSL::SSL
  OpenSSL::Crypto
  Threads::Threads
)
