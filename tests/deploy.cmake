# Deployment: systemd units, udev rules, default configuration, install
# layout and the Debian package (issue 8). Label "deploy".
#
#   deploy_security       exposure of systemd/signetd.service <= 1.5
#   deploy_udev           udev's parser accepts the rules, rejects broken
#                         copies; the rules tag the right (fake) devices
#   deploy_config         signetd runs with etc/signet.conf
#   deploy_tree           (setup) a private build configured for /usr
#   deploy_install_files  cmake --install into a stage = expected-files.txt
#   deploy_units_verify   systemd-analyze verify on the staged units
#   deploy_sandbox        the staged system units under a private systemd
#                         (namespaces; containers/CI only): activation,
#                         READY=1, signet user, no caps, pcscd reachable,
#                         login + sign + verify, restart on crash
#   deploy_deb            cpack -G DEB, apt-get install, signetd --version,
#                         user and group, apt-get purge
#
# The tree, install and package tests build their own tree for /usr, so in
# a sanitizer build (which is not what ships) only the first three run.
set(_deploy ${CMAKE_CURRENT_LIST_DIR}/deploy)

add_test(NAME deploy_security
  COMMAND bash ${_deploy}/security.sh ${CMAKE_SOURCE_DIR})
add_test(NAME deploy_udev
  COMMAND bash ${_deploy}/udev_check.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(deploy_security deploy_udev PROPERTIES
  LABELS "deploy" TIMEOUT 60 SKIP_RETURN_CODE 77)

if(TARGET signetd)
  add_test(NAME deploy_config
    COMMAND bash ${_deploy}/config_check.sh $<TARGET_FILE:signetd> ${CMAKE_SOURCE_DIR})
  set_tests_properties(deploy_config PROPERTIES LABELS "deploy" TIMEOUT 60)
endif()

if(NOT SIGNET_SANITIZE AND TARGET signetd)
  set(_deploy_tree ${CMAKE_BINARY_DIR}/deploy-tree)
  set(_deploy_stage ${CMAKE_BINARY_DIR}/deploy-stage)

  add_test(NAME deploy_tree
    COMMAND bash ${_deploy}/tree.sh ${CMAKE_SOURCE_DIR} ${_deploy_tree} ${CMAKE_C_COMPILER})
  set_tests_properties(deploy_tree PROPERTIES
    LABELS "deploy" TIMEOUT 300 FIXTURES_SETUP deploy_tree
    RESOURCE_LOCK deploy_tree)

  add_test(NAME deploy_install_files
    COMMAND bash ${_deploy}/install_files.sh ${CMAKE_SOURCE_DIR} ${_deploy_tree} ${_deploy_stage})
  set_tests_properties(deploy_install_files PROPERTIES
    LABELS "deploy" TIMEOUT 120 FIXTURES_REQUIRED deploy_tree
    FIXTURES_SETUP deploy_stage RESOURCE_LOCK deploy_tree)

  add_test(NAME deploy_units_verify
    COMMAND bash ${_deploy}/units_verify.sh ${CMAKE_SOURCE_DIR} ${_deploy_stage})
  set_tests_properties(deploy_units_verify PROPERTIES
    LABELS "deploy" TIMEOUT 120 FIXTURES_REQUIRED deploy_stage)

  add_test(NAME deploy_sandbox
    COMMAND bash ${_deploy}/sandbox.sh ${CMAKE_SOURCE_DIR} ${_deploy_stage})
  set_tests_properties(deploy_sandbox PROPERTIES
    LABELS "deploy" TIMEOUT 180 FIXTURES_REQUIRED deploy_stage
    SKIP_RETURN_CODE 77)

  # Installs and purges the system's signet package: one at a time, even
  # across build trees (RESOURCE_LOCK holds within one ctest run only).
  add_test(NAME deploy_deb
    COMMAND flock /tmp/signet-deploy-deb.lock
      bash ${_deploy}/deb.sh ${_deploy_tree} ${PROJECT_VERSION})
  set_tests_properties(deploy_deb PROPERTIES
    LABELS "deploy" TIMEOUT 300 FIXTURES_REQUIRED deploy_tree
    RESOURCE_LOCK "deploy_tree;signet_system_package" SKIP_RETURN_CODE 77)
endif()
