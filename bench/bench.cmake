# Benchmarks: built with the tree, never registered with ctest (they
# measure, they do not pass or fail). See bench/README.md.
find_package(Threads REQUIRED)

# p11_sign_loop: raw PKCS#11 signing rate, the baseline for the agent. It
# dlopens the module itself, so it needs p11-kit's pkcs11.h but not its
# library.
add_executable(p11_sign_loop ${CMAKE_CURRENT_LIST_DIR}/p11_sign_loop.c)
target_include_directories(p11_sign_loop PRIVATE ${P11KIT_INCLUDE_DIRS})
target_link_libraries(p11_sign_loop PRIVATE Threads::Threads ${CMAKE_DL_LIBS})

# sign_bench: signing rate and latency through signetd over its socket,
# speaking protocol v1 itself (no libsignet), to hold against p11_sign_loop.
# bench/run.sh runs both, and openssl cms, on one fresh token.
add_executable(sign_bench ${CMAKE_CURRENT_LIST_DIR}/sign_bench.c)
target_link_libraries(sign_bench PRIVATE Threads::Threads)
