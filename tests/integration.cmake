# End-to-end tests: a real signetd on a temporary socket, its PKCS#11
# helper, the signet CLI and a private SoftHSM2 token (scripts/mktoken.sh),
# driven by tests/integration/test_*.py (Python 3 standard library and the
# harness in tests/lib/agent.py). Every signature is checked with
# `openssl cms -verify`.
#
#   ctest -L integration
#
# Registered only when the three programs are part of the build; ctest does
# not build them, so build first (`cmake --build`).
find_package(Python3 3.9 COMPONENTS Interpreter REQUIRED)

if(TARGET signetd AND TARGET signet AND TARGET signet-pkcs11-helper)
  set(_signet_it_env
    "SIGNET_BUILD_DIR=${CMAKE_BINARY_DIR};SIGNET_SOURCE_DIR=${CMAKE_SOURCE_DIR}")

  # name                 timeout (s)
  set(_signet_it_tests
    sign                 180
    errors               180
    helper_crash         180
    bigdoc               300
    audit                180
    cli_more             180
    policy               180
    pinentry             120
    ru_fields            120)

  list(LENGTH _signet_it_tests _n)
  math(EXPR _last "${_n} - 1")
  foreach(_i RANGE 0 ${_last} 2)
    math(EXPR _j "${_i} + 1")
    list(GET _signet_it_tests ${_i} _name)
    list(GET _signet_it_tests ${_j} _timeout)
    add_test(NAME integration_${_name}
      COMMAND ${Python3_EXECUTABLE}
        ${CMAKE_SOURCE_DIR}/tests/integration/test_${_name}.py)
    set_tests_properties(integration_${_name} PROPERTIES
      ENVIRONMENT "${_signet_it_env}"
      LABELS "integration"
      TIMEOUT ${_timeout})
  endforeach()

  # The 1 GiB document measures signetd's memory and the loop's latency:
  # alone on the machine, other tests' load would only add noise.
  set_tests_properties(integration_bigdoc PROPERTIES RUN_SERIAL TRUE)
endif()
