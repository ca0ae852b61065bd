# vcpkg triplet: static libraries compiled as position-independent code, so they can be linked
# into the shared libcapnp_native.so (vcpkg's default x64-linux static libraries are not PIC).
set(VCPKG_TARGET_ARCHITECTURE x64)
set(VCPKG_CRT_LINKAGE dynamic)
set(VCPKG_LIBRARY_LINKAGE static)
set(VCPKG_CMAKE_SYSTEM_NAME Linux)
set(VCPKG_C_FLAGS "-fPIC")
set(VCPKG_CXX_FLAGS "-fPIC")
