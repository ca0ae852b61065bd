// Allocator settings: the engine builds and receives every message in freshly allocated memory,
// so how the C allocator treats large blocks decides the cost of bulk transfers.

#include "status.h"

#include <capnp_native.h>
#include <cstdlib>
#include <new>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {

// glibc refuses larger mmap thresholds (HEAP_MAX_SIZE / 2 on 64-bit systems).
constexpr uint64_t MAX_HEAP_BLOCK_BYTES = uint64_t(32) << 20;

}  // namespace

extern "C" int32_t capnp_allocator_retain_freed(uint64_t max_block_bytes, uint64_t retained_bytes) {
  using namespace capnp_native;
  return guarded([&] {
    requireArgument(max_block_bytes <= MAX_HEAP_BLOCK_BYTES,
                    "capnp_allocator_retain_freed: max_block_bytes is above 32 MiB");
    requireArgument(retained_bytes <= uint64_t(INT32_MAX),
                    "capnp_allocator_retain_freed: retained_bytes is above 2 GiB");
#if defined(__GLIBC__)
    // Setting either also turns off glibc's own adjustment of both, which would otherwise trim
    // the heap after every large message once several are in flight.
    if (mallopt(M_MMAP_THRESHOLD, static_cast<int>(max_block_bytes)) != 1 ||
        mallopt(M_TRIM_THRESHOLD, static_cast<int>(retained_bytes)) != 1) {
      throw ShimError{CAPNP_STATUS_FAILED, kj::str("mallopt refused the allocator settings")};
    }
    return CAPNP_STATUS_OK;
#else
    throw ShimError{CAPNP_STATUS_UNIMPLEMENTED,
                    kj::str("this C library has no allocator settings to change")};
#endif
  });
}

extern "C" int32_t capnp_test_allocation_is_mapped(size_t size, int32_t* out_mapped) {
  using namespace capnp_native;
  return guarded([&] {
    requireArgument(out_mapped != nullptr, "capnp_test_allocation_is_mapped: null out-parameter");
#if defined(__GLIBC__)
    auto before = mallinfo2().hblks;
    void* block = malloc(size);
    if (block == nullptr) throw std::bad_alloc();
    auto after = mallinfo2().hblks;
    free(block);
    *out_mapped = after > before ? 1 : 0;
    return CAPNP_STATUS_OK;
#else
    throw ShimError{CAPNP_STATUS_UNIMPLEMENTED, kj::str("no allocator statistics here")};
#endif
  });
}
