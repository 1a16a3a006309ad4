# signet_policy: the authorization policy (agent/policy.h): the pure
# evaluator, the reader of signet.conf's policy sections and the printer
# for --check-config. Included from agent/CMakeLists.txt (and from
# tests/policy.cmake when that has not happened); signetd, the unit tests
# and the fuzzers link it.
if(NOT TARGET signet_policy)
  add_library(signet_policy STATIC
    ${CMAKE_CURRENT_LIST_DIR}/policy.c
    ${CMAKE_CURRENT_LIST_DIR}/policy_conf.c
    ${CMAKE_CURRENT_LIST_DIR}/policy_print.c)
  # -fPIC: like signet_core, it may end up inside a fuzzer's shared object.
  target_compile_options(signet_policy PRIVATE -fPIC)
  # signet_core: selector parsing and matching for certs = pkcs11:/sha256:
  target_link_libraries(signet_policy PUBLIC signet_core signet_common)
  install(FILES ${CMAKE_SOURCE_DIR}/docs/signet.conf.5
    DESTINATION ${CMAKE_INSTALL_MANDIR}/man5 OPTIONAL)
endif()
