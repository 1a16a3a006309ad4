# Deployment files (systemd units, udev rules, default configuration) and
# the Debian package (CPack DEB). Included last by the top-level
# CMakeLists.txt, after every target exists.
#
# The package is built from a tree configured for /usr:
#   cmake -S . -B build-pkg -DCMAKE_INSTALL_PREFIX=/usr
#   cmake --build build-pkg -j
#   (cd build-pkg && cpack -G DEB)      -> signet_<version>_<arch>.deb
# The prefix is compiled into signetd (where it finds its helper), so
# cpack refuses a tree configured for another prefix.

# systemd and udev read units and rules from <prefix>/lib/..., not from
# the multiarch CMAKE_INSTALL_LIBDIR.
set(SIGNET_SYSTEMD_SYSTEM_DIR lib/systemd/system)
set(SIGNET_SYSTEMD_USER_DIR lib/systemd/user)
set(SIGNET_UDEV_RULES_DIR lib/udev/rules.d)
set(SIGNET_SYSUSERS_DIR lib/sysusers.d)
# /etc/signet for the /usr prefix (GNUInstallDirs' rule), <prefix>/etc
# otherwise.
set(SIGNET_CONFIG_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/signet)

# The units in systemd/ name the Debian paths (/usr/bin/signetd,
# /etc/signet/signet.conf). For another prefix, install copies that name
# this build's paths instead.
set(_signet_units
  signetd.socket signetd.service user/signetd.socket user/signetd.service)
foreach(_unit ${_signet_units})
  set(_src ${CMAKE_SOURCE_DIR}/systemd/${_unit})
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_src})
  file(READ ${_src} _text)
  string(REPLACE "/usr/bin/signetd" "${CMAKE_INSTALL_FULL_BINDIR}/signetd"
    _text "${_text}")
  string(REPLACE "/etc/signet/signet.conf" "${SIGNET_CONFIG_DIR}/signet.conf"
    _text "${_text}")
  if(NOT CMAKE_INSTALL_PREFIX MATCHES "^/usr(/|$)")
    string(REPLACE "ExecPaths=/usr " "ExecPaths=/usr ${CMAKE_INSTALL_PREFIX} "
      _text "${_text}")
  endif()
  file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/deploy-units/${_unit} CONTENT "${_text}")
endforeach()

install(FILES
  ${CMAKE_BINARY_DIR}/deploy-units/signetd.socket
  ${CMAKE_BINARY_DIR}/deploy-units/signetd.service
  DESTINATION ${SIGNET_SYSTEMD_SYSTEM_DIR})
install(FILES
  ${CMAKE_BINARY_DIR}/deploy-units/user/signetd.socket
  ${CMAKE_BINARY_DIR}/deploy-units/user/signetd.service
  DESTINATION ${SIGNET_SYSTEMD_USER_DIR})
install(FILES ${CMAKE_SOURCE_DIR}/systemd/signet.sysusers
  DESTINATION ${SIGNET_SYSUSERS_DIR} RENAME signet.conf)
install(FILES ${CMAKE_SOURCE_DIR}/udev/70-signet-tokens.rules
  DESTINATION ${SIGNET_UDEV_RULES_DIR})
install(FILES ${CMAKE_SOURCE_DIR}/etc/signet.conf
  DESTINATION ${SIGNET_CONFIG_DIR})
install(FILES ${CMAKE_SOURCE_DIR}/README.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR})

# ---- CPack: Debian package ------------------------------------------------

set(CPACK_PACKAGE_NAME signet)
set(CPACK_PACKAGE_VENDOR "Signet")
set(CPACK_PACKAGE_CONTACT "Signet maintainers <signet@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "local signing agent for PKCS#11 tokens (CMS/CAdES-BES)")
set(CPACK_PACKAGE_DESCRIPTION
"signetd mediates between document-management client applications and
PKCS#11 hardware tokens and smartcards over a Unix socket, and returns
detached CMS / CAdES-BES signatures. Vendor PKCS#11 modules run in a
separate helper process. Includes the signet command-line client, the
libsignet C library, systemd units (system and user mode) and udev rules
for common signing tokens and CCID readers.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# /etc/signet is an absolute destination: stage through DESTDIR so it
# lands in the package, not on the build machine.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies come from dpkg-shlibdeps; adduser for postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# libsignet.so.0 is in the library path: a shlibs file for packages built
# against it, and the ldconfig trigger.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
# The default modules (p11-kit's proxy, OpenSC's) and pcscd, through
# which those modules reach USB tokens and readers.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "p11-kit, opensc-pkcs11, pcscd")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "softhsm2, opensc")

set(_signet_deb ${CMAKE_BINARY_DIR}/deploy-debian)
file(MAKE_DIRECTORY ${_signet_deb})
foreach(_script postinst prerm postrm)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/debian/${_script}
    ${_signet_deb}/${_script} COPYONLY)
endforeach()
file(WRITE ${_signet_deb}/conffiles "${SIGNET_CONFIG_DIR}/signet.conf\n")
# CPack adds an ldconfig call only to maintainer scripts it writes itself.
file(WRITE ${_signet_deb}/triggers "activate-noawait ldconfig\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${_signet_deb}/postinst ${_signet_deb}/prerm ${_signet_deb}/postrm
  ${_signet_deb}/conffiles ${_signet_deb}/triggers)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

set(SIGNET_CONFIGURED_PREFIX ${CMAKE_INSTALL_PREFIX})
configure_file(${CMAKE_CURRENT_LIST_DIR}/cpack-check.cmake.in
  ${CMAKE_BINARY_DIR}/deploy-cpack-check.cmake @ONLY)
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_BINARY_DIR}/deploy-cpack-check.cmake)

include(CPack)
