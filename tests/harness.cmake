# The integration-test harness (tests/lib/agent.py) checks itself: it makes
# a private SoftHSM2 token with scripts/mktoken.sh, lists it with
# pkcs11-tool, and exercises its client and openssl_verify helpers. Needs
# no signetd.
#
# Integration tests written on the harness should pass the build tree the
# same way: ENVIRONMENT SIGNET_BUILD_DIR=${CMAKE_BINARY_DIR}.
find_package(Python3 3.9 COMPONENTS Interpreter REQUIRED)

add_test(NAME harness_token
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/lib/agent.py --selftest)
set_tests_properties(harness_token PROPERTIES
  ENVIRONMENT "SIGNET_BUILD_DIR=${CMAKE_BINARY_DIR}"
  LABELS "integration"
  TIMEOUT 120)
