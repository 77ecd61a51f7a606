# nslab_add_scenario_tests(DIRECTORY dir [LABELS label...] [PREFIX name] [TIMEOUT s])
#
# Adds one ctest test per scenario file (*.yaml, *.yml) found under DIRECTORY,
# running `nslab check FILE`. Exit 4 (this machine cannot build labs) is a
# skip, with the reason in the test's output. Tests are labelled `netns` and
# `scenario` plus LABELS.
function(nslab_add_scenario_tests)
  cmake_parse_arguments(ARG "" "DIRECTORY;PREFIX;TIMEOUT" "LABELS" ${ARGN})
  if(NOT ARG_DIRECTORY)
    message(FATAL_ERROR "nslab_add_scenario_tests: DIRECTORY is required")
  endif()
  get_filename_component(dir "${ARG_DIRECTORY}" ABSOLUTE)
  if(NOT ARG_PREFIX)
    set(ARG_PREFIX "scenario")
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  if(DEFINED NSLAB_EXECUTABLE)
    set(exe "${NSLAB_EXECUTABLE}")
  elseif(TARGET nslab)
    set(exe "$<TARGET_FILE:nslab>")
  elseif(TARGET nslab::nslab)
    set(exe "$<TARGET_FILE:nslab::nslab>")
  else()
    message(FATAL_ERROR "nslab_add_scenario_tests: no nslab executable (set NSLAB_EXECUTABLE)")
  endif()
  file(GLOB_RECURSE files CONFIGURE_DEPENDS "${dir}/*.yaml" "${dir}/*.yml")
  list(SORT files)
  foreach(file IN LISTS files)
    file(RELATIVE_PATH rel "${dir}" "${file}")
    string(REGEX REPLACE "\\.ya?ml$" "" rel "${rel}")
    set(name "${ARG_PREFIX}.${rel}")
    add_test(NAME "${name}" COMMAND "${exe}" check "${file}")
    set_tests_properties("${name}" PROPERTIES
      SKIP_RETURN_CODE 4
      TIMEOUT ${ARG_TIMEOUT}
      LABELS "netns;scenario;${ARG_LABELS}")
  endforeach()
endfunction()
