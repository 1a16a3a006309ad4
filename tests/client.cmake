# libsignet and the signet CLI, without a real agent: unit tests of the
# library against a scripted fake agent (tests/client_fakeagent.c), the
# CLI against the same fake agent, and `signet verify` (which needs no
# agent at all) against openssl-made and third-party signatures.

add_library(client_testlib STATIC ${CMAKE_CURRENT_LIST_DIR}/client_fakeagent.c)
target_link_libraries(client_testlib PUBLIC PkgConfig::JANSSON)

foreach(_t b64 conn)
  add_executable(client_${_t}_test ${CMAKE_CURRENT_LIST_DIR}/client_${_t}_test.c)
  target_link_libraries(client_${_t}_test PRIVATE libsignet_static client_testlib)
  add_test(NAME client_${_t}_test COMMAND client_${_t}_test)
  set_tests_properties(client_${_t}_test PROPERTIES LABELS "unit" TIMEOUT 120)
endforeach()

add_executable(client_cli_test ${CMAKE_CURRENT_LIST_DIR}/client_cli_test.c)
target_link_libraries(client_cli_test PRIVATE libsignet_static client_testlib)
add_test(NAME client_cli_test COMMAND client_cli_test $<TARGET_FILE:signet>)
set_tests_properties(client_cli_test PROPERTIES LABELS "unit" TIMEOUT 120)

add_test(NAME client_usage
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/client_usage.sh $<TARGET_FILE:signet>)
set_tests_properties(client_usage PROPERTIES LABELS "unit" TIMEOUT 60)

# The shared signature vectors live beside the repository (../shared);
# the test says so and skips those checks when they are absent.
add_test(NAME client_verify
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/client_verify.sh $<TARGET_FILE:signet>
    ${CMAKE_SOURCE_DIR}/../shared/vectors)
set_tests_properties(client_verify PROPERTIES LABELS "unit" TIMEOUT 120)

# signet(1) documents every command, option and exit status.
add_test(NAME client_docs
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/client_docs.sh $<TARGET_FILE:signet>
    ${CMAKE_SOURCE_DIR})
set_tests_properties(client_docs PROPERTIES LABELS "unit" TIMEOUT 60)
