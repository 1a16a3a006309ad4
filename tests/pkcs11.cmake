# signet-pkcs11-helper (pkcs11/helper*.c) against a private SoftHSM2 token
# made by scripts/mktoken.sh.
find_package(Threads REQUIRED)

add_library(signet_p11h_testlib STATIC ${CMAKE_SOURCE_DIR}/tests/lib/p11h.c)
target_include_directories(signet_p11h_testlib PUBLIC ${P11KIT_INCLUDE_DIRS})
target_link_libraries(signet_p11h_testlib PUBLIC signet_common)

# p11count: a pass-through module that counts C_Login calls, so the test
# sees a PIN reach the token at most once (SIGN_AUTH).
add_library(p11count MODULE ${CMAKE_SOURCE_DIR}/tests/lib/p11count.c)
target_include_directories(p11count PRIVATE ${P11KIT_INCLUDE_DIRS})
target_link_libraries(p11count PRIVATE ${CMAKE_DL_LIBS})
set_target_properties(p11count PROPERTIES PREFIX "")

add_executable(p11helper_test ${CMAKE_SOURCE_DIR}/tests/p11helper_test.c)
target_link_libraries(p11helper_test PRIVATE signet_p11h_testlib
  PkgConfig::OPENSSL)
add_dependencies(p11helper_test signet-pkcs11-helper p11count)

set(SIGNET_SOFTHSM_MODULE /usr/lib/softhsm/libsofthsm2.so
  CACHE FILEPATH "SoftHSM2 PKCS#11 module used by the tests")
add_test(NAME p11helper_test
  COMMAND p11helper_test $<TARGET_FILE:signet-pkcs11-helper>
    ${CMAKE_SOURCE_DIR}/scripts/mktoken.sh ${SIGNET_SOFTHSM_MODULE}
    ${CMAKE_SOURCE_DIR}/tests/lib/mkalwaysauth.sh $<TARGET_FILE:p11count>)
set_tests_properties(p11helper_test PROPERTIES
  LABELS "integration;pkcs11"
  TIMEOUT 60)

# The helper against a mock module (tests/lib/p11mock.c) for what SoftHSM2
# cannot show: slow tokens, reinsertion, refused locking.
add_library(p11mock MODULE ${CMAKE_SOURCE_DIR}/tests/lib/p11mock.c)
target_include_directories(p11mock PRIVATE ${P11KIT_INCLUDE_DIRS})
target_link_libraries(p11mock PRIVATE Threads::Threads)
set_target_properties(p11mock PROPERTIES PREFIX "")

add_executable(p11helper_mock_test ${CMAKE_SOURCE_DIR}/tests/p11helper_mock_test.c)
target_link_libraries(p11helper_mock_test PRIVATE signet_p11h_testlib)
add_dependencies(p11helper_mock_test signet-pkcs11-helper p11mock)
add_test(NAME p11helper_mock_test
  COMMAND p11helper_mock_test $<TARGET_FILE:signet-pkcs11-helper>
    $<TARGET_FILE:p11mock>)
set_tests_properties(p11helper_mock_test PROPERTIES
  LABELS "integration;pkcs11"
  TIMEOUT 60)
