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

# The README's first command, end to end against this build: demo token,
# signetd, signet tokens/certs/login/sign/verify, openssl cms -verify, and a
# clean SIGTERM stop. Registered once both programs are part of the build.
if(TARGET signetd AND TARGET signet)
  add_test(NAME demo_script
    COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/demo.sh --no-deps --no-build
      --build-dir ${CMAKE_BINARY_DIR} --stop-after)
  set_tests_properties(demo_script PROPERTIES
    LABELS "integration"
    TIMEOUT 180)
endif()
