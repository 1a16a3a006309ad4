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

# signet_gost: loads the gost engine at run time (agent/gost.c, the one
# file allowed the deprecated ENGINE API -- see its header comment). Part
# of signet_core's interface so signetd and the tests have gost_init().
add_library(signet_gost STATIC ${CMAKE_CURRENT_LIST_DIR}/gost.c)
target_compile_options(signet_gost PRIVATE -fPIC)
target_link_libraries(signet_gost PUBLIC PkgConfig::OPENSSL signet_common)
target_link_libraries(signet_core PUBLIC signet_gost)

# `signet verify` (client/cmd_verify.c) loads the engine too. The client's
# CMakeLists.txt is read after this file, so its target is linked once the
# whole tree is configured. (Its owner may move this line there.)
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL
  target_link_libraries signet PRIVATE signet_gost)
