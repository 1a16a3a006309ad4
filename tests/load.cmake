# The load test: a real signetd on a private SoftHSM2 token, over its Unix
# socket only (nothing leaves the machine), driven by tests/load/test_load.py
# and its C client tests/load/load_client.c.
#
#   ctest -L load
#
# 64 concurrent clients make 10,000 signatures (EC P-256 and RSA-2048),
# every one verified in-process with OpenSSL's CMS_verify; 1,000 idle
# connections stay open meanwhile and are served afterwards; a client that
# stalls in the middle of a line is closed after line_timeout (2 s here);
# signetd's VmRSS after the run is within 2 MiB of before. Prints the rate
# and latency percentiles. Bounded: the client gives up after 300 s, ctest
# after TIMEOUT. Two more: what 1,000 small requests on 1,000 connections
# cost in RSS (load_conn_memory), and signetd out of descriptors
# (load_fd_exhaustion). tests/load/test_load.py says what each checks.
find_package(Python3 3.9 COMPONENTS Interpreter REQUIRED)
find_package(Threads REQUIRED)

add_executable(load_client ${CMAKE_CURRENT_LIST_DIR}/load/load_client.c)
target_link_libraries(load_client PRIVATE PkgConfig::OPENSSL
  PkgConfig::JANSSON Threads::Threads)

if(TARGET signetd AND TARGET signet-pkcs11-helper)
  set(_signet_load_env
    "SIGNET_BUILD_DIR=${CMAKE_BINARY_DIR};SIGNET_SOURCE_DIR=${CMAKE_SOURCE_DIR};SIGNET_LOAD_CLIENT=$<TARGET_FILE:load_client>")
  # ctest name         unittest class     timeout (s)
  set(_signet_load_tests
    load_sign          LoadTest           600
    load_conn_memory   ConnMemoryTest     120
    load_fd_exhaustion FdExhaustionTest   120)
  list(LENGTH _signet_load_tests _n)
  math(EXPR _last "${_n} - 1")
  foreach(_i RANGE 0 ${_last} 3)
    math(EXPR _j "${_i} + 1")
    math(EXPR _k "${_i} + 2")
    list(GET _signet_load_tests ${_i} _name)
    list(GET _signet_load_tests ${_j} _class)
    list(GET _signet_load_tests ${_k} _timeout)
    add_test(NAME ${_name}
      COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/load/test_load.py
        ${_class})
    set_tests_properties(${_name} PROPERTIES
      ENVIRONMENT "${_signet_load_env}"
      LABELS "load"
      # Rates, latencies, CPU and RSS are measured: alone on the machine,
      # other tests would only add noise (and take the clients' CPU).
      RUN_SERIAL TRUE
      TIMEOUT ${_timeout})
  endforeach()
endif()
