# signet-pkcs11-helper (pkcs11/helper*.c) against a private SoftHSM2 token
# made by scripts/mktoken.sh.
find_package(Threads REQUIRED)

add_library(signet_p11h_testlib STATIC ${CMAKE_SOURCE_DIR}/tests/lib/p11h.c)
target_include_directories(signet_p11h_testlib PUBLIC ${P11KIT_INCLUDE_DIRS})
target_link_libraries(signet_p11h_testlib PUBLIC signet_common)

add_executable(p11helper_test ${CMAKE_SOURCE_DIR}/tests/p11helper_test.c)
target_link_libraries(p11helper_test PRIVATE signet_p11h_testlib
  PkgConfig::OPENSSL)
add_dependencies(p11helper_test signet-pkcs11-helper)

set(SIGNET_SOFTHSM_MODULE /usr/lib/softhsm/libsofthsm2.so
  CACHE FILEPATH "SoftHSM2 PKCS#11 module used by the tests")
add_test(NAME p11helper_test
  COMMAND p11helper_test $<TARGET_FILE:signet-pkcs11-helper>
    ${CMAKE_SOURCE_DIR}/scripts/mktoken.sh ${SIGNET_SOFTHSM_MODULE})
set_tests_properties(p11helper_test PROPERTIES
  LABELS "integration;pkcs11"
  TIMEOUT 60)
