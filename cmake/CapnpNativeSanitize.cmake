# Builds everything defined after this include with sanitizers, when asked:
#
#   cmake -S native -B build/native-asan -DCAPNP_NATIVE_SANITIZE=address,undefined \
#         -DCAPNP_NATIVE_OUTPUT_DIR=$PWD/build/native-asan/out
#
# CAPNP_NATIVE_SANITIZE is the list given to -fsanitize= (e.g. "address,undefined"; LeakSanitizer
# comes with address). Every sanitizer report aborts the program (no recovery), so a test that
# triggers one fails. Only the project's own code is instrumented; the Cap'n Proto and OpenSSL
# libraries are the system's. Use a separate build (and output) folder: a sanitized
# libcapnp_native cannot be loaded by the .NET runtime without the sanitizer runtime preloaded.

set(CAPNP_NATIVE_SANITIZE "" CACHE STRING
    "Sanitizers for the shim and its tests, as for -fsanitize= (e.g. address,undefined); empty: none")

if(CAPNP_NATIVE_SANITIZE)
  message(STATUS "CapnpNative: building with -fsanitize=${CAPNP_NATIVE_SANITIZE}")
  add_compile_options(-fsanitize=${CAPNP_NATIVE_SANITIZE} -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${CAPNP_NATIVE_SANITIZE})
endif()

# Environment for sanitized tests (ctest ENVIRONMENT): stack traces on UBSan reports. Empty when
# not sanitizing.
set(CAPNP_NATIVE_SANITIZER_TEST_ENV "")
if(CAPNP_NATIVE_SANITIZE)
  set(CAPNP_NATIVE_SANITIZER_TEST_ENV "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()
