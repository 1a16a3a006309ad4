# Every fuzz target's corpus (fuzz/corpus/<target>/), replayed through
# replay_<target> (fuzz/replay_main.c) in every build: a crash the fuzzer
# once found, saved in the corpus with its fix, stays fixed. Label "fuzz".
# The targets are listed in fuzz/CMakeLists.txt.
get_property(_signet_fuzz_targets GLOBAL PROPERTY SIGNET_FUZZ_TARGETS)
if(NOT _signet_fuzz_targets)
  message(FATAL_ERROR "tests/fuzz.cmake: no fuzz targets; "
    "add_subdirectory(fuzz) must come before add_subdirectory(tests)")
endif()
foreach(_t ${_signet_fuzz_targets})
  set(_corpus ${CMAKE_SOURCE_DIR}/fuzz/corpus/${_t})
  if(NOT IS_DIRECTORY ${_corpus})
    message(FATAL_ERROR "fuzz target ${_t} has no seed corpus ${_corpus}")
  endif()
  add_test(NAME fuzz_replay_${_t} COMMAND replay_${_t} ${_corpus})
  set_tests_properties(fuzz_replay_${_t} PROPERTIES LABELS fuzz TIMEOUT 300)
endforeach()
# A corpus directory without a target would never run.
file(GLOB _signet_corpora LIST_DIRECTORIES true
  ${CMAKE_SOURCE_DIR}/fuzz/corpus/*)
foreach(_d ${_signet_corpora})
  get_filename_component(_t ${_d} NAME)
  if(IS_DIRECTORY ${_d} AND NOT _t IN_LIST _signet_fuzz_targets)
    message(FATAL_ERROR "fuzz/corpus/${_t} has no target in fuzz/CMakeLists.txt")
  endif()
endforeach()
