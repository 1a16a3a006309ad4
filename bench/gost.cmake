# streebog_bench: Streebog over a large document by descriptor through the
# agent's own document path (docread + loop + the gost engine), held
# against `openssl dgst -engine gost` by bench/streebog_bench.sh.
add_executable(streebog_bench ${CMAKE_CURRENT_LIST_DIR}/streebog_bench.c
  ${CMAKE_SOURCE_DIR}/agent/docread.c ${CMAKE_SOURCE_DIR}/agent/loop.c)
target_link_libraries(streebog_bench PRIVATE signet_gost signet_common
  PkgConfig::OPENSSL)
