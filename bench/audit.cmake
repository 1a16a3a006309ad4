# audit_bench: records/s through the agent's audit writer (agent/audit.c)
# with 1, 16 and 64 records in flight, against the record's CPU cost and a
# plain write+fdatasync per line. See bench/README.md.
add_executable(audit_bench ${CMAKE_CURRENT_LIST_DIR}/audit_bench.c
  ${CMAKE_SOURCE_DIR}/agent/audit.c ${CMAKE_SOURCE_DIR}/agent/audit_event.c
  ${CMAKE_SOURCE_DIR}/agent/loop.c ${CMAKE_SOURCE_DIR}/agent/log.c)
target_link_libraries(audit_bench PRIVATE signet_core signet_common)
