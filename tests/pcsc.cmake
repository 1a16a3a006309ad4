# PC/SC hotplug: a real pcscd with a virtual reader and card.
#
#   ctest -L pcsc
#
# tests/lib/pcsc.py (PcscRig) runs, in a private mount namespace (root
# only; the test re-executes itself under `unshare -m`), a private pcscd
# with Debian's vsmartcard vpcd reader driver on a loopback port and
# tests/tools/vcard_bridge, a virtual CAC card (libcacard) that OpenSC's
# opensc-pkcs11.so drives, inserted and removed at will. pcscd runs with
# tests/tools/nodelay_preload.so (TCP_NODELAY and loopback-only binding
# for vpcd). See ../shared/TESTING.md for the background.
find_package(Python3 3.9 COMPONENTS Interpreter REQUIRED)
find_package(Threads REQUIRED)
# Imported targets are per directory: pkcs11/pcsc.cmake's is not seen here.
pkg_check_modules(PCSCLITE REQUIRED IMPORTED_TARGET libpcsclite)
pkg_check_modules(CACARD IMPORTED_TARGET libcacard)

# The monitor without pcscd: queue, reader list and state logic, and a
# start/stop against a socket that is not there. Needs nothing else.
add_executable(pcsc_monitor_test ${CMAKE_CURRENT_LIST_DIR}/pcsc_monitor_test.c)
target_link_libraries(pcsc_monitor_test PRIVATE PkgConfig::PCSCLITE
  Threads::Threads signet_common)
add_test(NAME pcsc_monitor_test COMMAND pcsc_monitor_test)
set_tests_properties(pcsc_monitor_test PROPERTIES
  LABELS "pcsc;unit"
  TIMEOUT 30)

add_executable(pcsc_monitor_cli ${CMAKE_CURRENT_LIST_DIR}/tools/pcsc_monitor_cli.c)
target_link_libraries(pcsc_monitor_cli PRIVATE signet_pcsc)

if(NOT CACARD_FOUND)
  message(STATUS "libcacard not found: PC/SC rig tests (label pcsc) skipped")
  return()
endif()

add_executable(vcard_bridge ${CMAKE_CURRENT_LIST_DIR}/tools/vcard_bridge.c)
target_link_libraries(vcard_bridge PRIVATE PkgConfig::CACARD)

# Loaded into pcscd, which is not built with sanitizers: keep them out.
add_library(nodelay_preload MODULE ${CMAKE_CURRENT_LIST_DIR}/tools/nodelay_preload.c)
target_link_libraries(nodelay_preload PRIVATE ${CMAKE_DL_LIBS})
set_target_properties(nodelay_preload PROPERTIES PREFIX "")
if(SIGNET_SANITIZE)
  target_compile_options(nodelay_preload PRIVATE -fno-sanitize=all)
  target_link_options(nodelay_preload PRIVATE -fno-sanitize=all)
endif()

# name    timeout (s)
set(_signet_pcsc_tests
  rig     120
  monitor 120
  agent   180)
list(LENGTH _signet_pcsc_tests _n)
math(EXPR _last "${_n} - 1")
foreach(_i RANGE 0 ${_last} 2)
  math(EXPR _j "${_i} + 1")
  list(GET _signet_pcsc_tests ${_i} _name)
  list(GET _signet_pcsc_tests ${_j} _timeout)
  add_test(NAME pcsc_${_name}
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/pcsc/test_${_name}.py)
  set_tests_properties(pcsc_${_name} PROPERTIES
    ENVIRONMENT "SIGNET_BUILD_DIR=${CMAKE_BINARY_DIR};SIGNET_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
    LABELS "pcsc"
    # Timing assertions (events within 2 s): one pcscd rig at a time.
    RESOURCE_LOCK signet_pcscd
    SKIP_RETURN_CODE 77
    TIMEOUT ${_timeout})
endforeach()
