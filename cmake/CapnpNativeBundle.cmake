# capnp_native_bundle_dependencies(<target> <dir>)
#
# After <target> is built, copies every shared Cap'n Proto / KJ library it links into <dir> and
# sets RUNPATH $ORIGIN on each copy, so the folder loads on a machine without libcapnp-dev and
# each bundled library finds its siblings there rather than system copies. Static builds (vcpkg)
# link nothing shared from Cap'n Proto, and the function then does nothing.

find_program(PATCHELF_EXECUTABLE patchelf)

function(capnp_native_bundle_dependencies target dir)
  set(copies)
  foreach(lib CapnProto::capnp-rpc CapnProto::capnp CapnProto::kj-async CapnProto::kj)
    get_target_property(type ${lib} TYPE)
    if(type STREQUAL "SHARED_LIBRARY")
      list(APPEND copies "$<TARGET_FILE:${lib}>")
    endif()
  endforeach()
  if(NOT copies)
    return()
  endif()
  if(NOT PATCHELF_EXECUTABLE)
    message(FATAL_ERROR "patchelf is needed to bundle the shared Cap'n Proto libraries "
                        "(Debian: apt-get install patchelf)")
  endif()
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND "${CMAKE_COMMAND}" -DDIR=${dir} -DPATCHELF=${PATCHELF_EXECUTABLE}
            "-DLIBS=${copies}" -P "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/BundleCopy.cmake"
    COMMENT "Bundling Cap'n Proto shared libraries into ${dir}"
    VERBATIM)
endfunction()
