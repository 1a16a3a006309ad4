# Tests of the authorization policy (agent/policy.cmake): the pure
# evaluator, table-driven (policy_test), and the configuration reader and
# printer over tests/policy/*.conf (policy_conf_test); policy_doc_check
# keeps docs/signet.conf.5 true to the code.
include(${CMAKE_SOURCE_DIR}/agent/policy.cmake)

add_library(policy_testlib STATIC ${CMAKE_CURRENT_LIST_DIR}/lib/policy_ini.c)
target_link_libraries(policy_testlib PUBLIC signet_policy)

foreach(_t policy policy_conf)
  add_executable(${_t}_test ${CMAKE_CURRENT_LIST_DIR}/${_t}_test.c)
  target_link_libraries(${_t}_test PRIVATE policy_testlib signet_policy)
  add_test(NAME ${_t}_test
    COMMAND ${_t}_test ${CMAKE_CURRENT_LIST_DIR}/policy)
  set_tests_properties(${_t}_test PROPERTIES LABELS "unit" TIMEOUT 60)
endforeach()

add_test(NAME policy_doc_check
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/policy_doc_check.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(policy_doc_check PROPERTIES LABELS "unit")
