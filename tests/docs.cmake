# Documentation kept true by tests.
add_test(NAME docs_check COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/docs_check.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(docs_check PROPERTIES LABELS "unit")
