# PC/SC hotplug monitor (pcsc_monitor.[ch]): a thread that watches pcscd
# for readers and cards and hands events to the agent's loop through an
# eventfd. A static library the agent links; it needs libpcsclite.
find_package(Threads REQUIRED)
pkg_check_modules(PCSCLITE REQUIRED IMPORTED_TARGET libpcsclite)

add_library(signet_pcsc STATIC ${CMAKE_CURRENT_LIST_DIR}/pcsc_monitor.c)
target_link_libraries(signet_pcsc
  PUBLIC signet_common
  PRIVATE PkgConfig::PCSCLITE Threads::Threads)
