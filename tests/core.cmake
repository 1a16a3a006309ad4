# Tests of signet_core (agent/core.cmake): DER writer, CAdES assembler,
# selectors, certificate info. Unit tests are plain C with a tiny main;
# cades_verify checks our signatures with the openssl CLI.

# Shared fixtures: in-memory keys/certificates and a software signer that
# exists only for tests.
add_library(core_fixtures STATIC ${CMAKE_CURRENT_LIST_DIR}/lib/core_fixtures.c)
target_link_libraries(core_fixtures PUBLIC signet_core PkgConfig::OPENSSL)

foreach(_t der cades selector certinfo)
  add_executable(${_t}_test ${CMAKE_CURRENT_LIST_DIR}/${_t}_test.c)
  target_link_libraries(${_t}_test PRIVATE core_fixtures signet_core)
  add_test(NAME ${_t}_test COMMAND ${_t}_test)
  set_tests_properties(${_t}_test PROPERTIES LABELS "unit" TIMEOUT 120)
endforeach()

# softsign: SOFTWARE SIGNER FOR TESTS ONLY (see its header comment).
add_executable(softsign ${CMAKE_CURRENT_LIST_DIR}/tools/softsign.c)
target_link_libraries(softsign PRIVATE core_fixtures signet_core)

add_test(NAME cades_verify
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/cades_verify_test.sh
    $<TARGET_FILE:softsign> ${CMAKE_CURRENT_LIST_DIR}/lib/mkcerts.sh)
set_tests_properties(cades_verify PROPERTIES LABELS "unit" TIMEOUT 300)
