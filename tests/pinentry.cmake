# The pinentry client (agent/pinentry.c, issue 4): against a scripted
# stand-in for the person at the dialog (tests/pinentry/fake_pinentry.c),
# and against the real pinentry-tty on a pty (skipped when the Debian
# package pinentry-tty is not installed). Built from the agent's sources
# with its loop and log, as signetd links them.
add_executable(fake_pinentry ${CMAKE_CURRENT_LIST_DIR}/pinentry/fake_pinentry.c)

add_executable(pinentry_test ${CMAKE_CURRENT_LIST_DIR}/pinentry_test.c
  ${CMAKE_SOURCE_DIR}/agent/pinentry.c ${CMAKE_SOURCE_DIR}/agent/loop.c
  ${CMAKE_SOURCE_DIR}/agent/log.c)
target_link_libraries(pinentry_test PRIVATE signet_common)
add_dependencies(pinentry_test fake_pinentry)

add_test(NAME pinentry_test
  COMMAND pinentry_test $<TARGET_FILE:fake_pinentry>)
set_tests_properties(pinentry_test PROPERTIES LABELS "unit" TIMEOUT 120)

set(SIGNET_PINENTRY_TTY /usr/bin/pinentry-tty
  CACHE FILEPATH "Real pinentry-tty driven through a pty by pinentry_tty_test")
add_test(NAME pinentry_tty_test
  COMMAND pinentry_test --tty ${SIGNET_PINENTRY_TTY})
set_tests_properties(pinentry_tty_test PROPERTIES LABELS "integration"
  TIMEOUT 60 SKIP_RETURN_CODE 77)
