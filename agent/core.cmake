# signet_core: the agent's pure, I/O-free building blocks -- the DER
# writer, the CMS/CAdES assembler, selector parsing and matching, and
# certificate info. Linked into signetd, the unit tests and the fuzzers.
add_library(signet_core STATIC
  ${CMAKE_CURRENT_LIST_DIR}/der.c
  ${CMAKE_CURRENT_LIST_DIR}/cades.c
  ${CMAKE_CURRENT_LIST_DIR}/selector.c
  ${CMAKE_CURRENT_LIST_DIR}/certinfo.c)
# -fPIC: the core may end up inside a shared object (a fuzzer, a module).
target_compile_options(signet_core PRIVATE -fPIC)
target_link_libraries(signet_core PUBLIC
  PkgConfig::OPENSSL PkgConfig::JANSSON signet_common)
