# Script mode helper of CapnpNativeBundle: cmake -DDIR=... -DPATCHELF=... -DLIBS=a;b -P BundleCopy.cmake
foreach(lib IN LISTS LIBS)
  get_filename_component(name "${lib}" NAME)
  file(COPY_FILE "${lib}" "${DIR}/${name}" ONLY_IF_DIFFERENT)
  execute_process(COMMAND "${PATCHELF}" --set-rpath "$ORIGIN" "${DIR}/${name}"
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "patchelf failed on ${DIR}/${name}")
  endif()
endforeach()
