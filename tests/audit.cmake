# The audit trail (issue 5, docs/audit.md): the record format and chain
# (common/audit_chain.c), the agent's writer (agent/audit.c) driven through
# a real event loop, and the officer's CLI (signet audit) on logs written
# by that writer, tampered with in every way verify must tell apart.

add_executable(audit_chain_test ${CMAKE_CURRENT_LIST_DIR}/audit_chain_test.c)
target_link_libraries(audit_chain_test PRIVATE signet_common)
add_test(NAME audit_chain_test COMMAND audit_chain_test)
set_tests_properties(audit_chain_test PROPERTIES LABELS "unit" TIMEOUT 120)

# The agent's writer and what it needs of the agent (the event loop and
# its log), built once for the writer test and the log generator.
add_library(audit_agent_testlib STATIC
  ${CMAKE_SOURCE_DIR}/agent/audit.c ${CMAKE_SOURCE_DIR}/agent/audit_event.c
  ${CMAKE_SOURCE_DIR}/agent/loop.c ${CMAKE_SOURCE_DIR}/agent/log.c)
target_link_libraries(audit_agent_testlib PUBLIC signet_core signet_common)

# Runs as root where it can: the disk-full case mounts a 64 KiB tmpfs in
# a private mount namespace (it says SKIP otherwise).
add_executable(audit_writer_test ${CMAKE_CURRENT_LIST_DIR}/audit_writer_test.c)
target_link_libraries(audit_writer_test PRIVATE audit_agent_testlib
  core_fixtures)
add_test(NAME audit_writer_test COMMAND audit_writer_test)
set_tests_properties(audit_writer_test PROPERTIES LABELS "unit" TIMEOUT 120)

# The officer's CLI on logs written by the writer (audit_gen), tampered
# with by tests/audit/test_cli.py.
add_executable(audit_gen ${CMAKE_CURRENT_LIST_DIR}/audit_gen.c)
target_link_libraries(audit_gen PRIVATE audit_agent_testlib)
find_package(Python3 3.9 COMPONENTS Interpreter REQUIRED)
add_test(NAME audit_cli
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/audit/test_cli.py
    $<TARGET_FILE:signet> $<TARGET_FILE:audit_gen>)
set_tests_properties(audit_cli PROPERTIES LABELS "unit" TIMEOUT 300)
