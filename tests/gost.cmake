# GOST R 34.10-2012 / Streebog (docs/gost.md): the one assembler with
# software GOST keys against OpenSSL's gost engine, both ways, and
# `signet verify` on the third-party signatures of ../shared/vectors. The
# assembler's own unit test (cades_test) covers GOST too.

add_test(NAME gost_interop
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/gost/interop.sh
    $<TARGET_FILE:softsign> $<TARGET_FILE:signet>
    ${CMAKE_CURRENT_LIST_DIR}/gost/mkgost.sh)
set_tests_properties(gost_interop PROPERTIES LABELS "unit;gost" TIMEOUT 300)

# The shared vectors live beside the repository (../shared); the test says
# so and skips when they are absent.
add_test(NAME gost_vectors
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/gost/vectors.sh $<TARGET_FILE:signet>
    ${CMAKE_SOURCE_DIR}/../shared/vectors)
set_tests_properties(gost_vectors PROPERTIES LABELS "unit;gost" TIMEOUT 120)
