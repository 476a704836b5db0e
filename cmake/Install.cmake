# Install layout (FHS). Owned by packaging (issue 6): packaging/nvdimm-hook.spec
# lists exactly these files and tests/packaging checks that `cmake --install`
# and the RPM agree.
#
#   ${sbindir}/nvdimmctl                          admin command
#   ${libexecdir}/nvdimm-hook/nvdimm-hook-entry   what libvirt runs (hooks/entry.cc):
#                                                 libc only, fast path, else execs
#   ${libexecdir}/nvdimm-hook/nvdimm-hook         the full libvirt qemu hook
#   /etc/libvirt/hooks/qemu.d/50-nvdimm-hook      -> the entry (symlink)
#   /etc/nvdimm-hook/nvdimm-hook.conf             config, all keys commented
#   ${NVDIMMHOOK_TMPFILES_DIR}/nvdimm-hook.conf   creates /run/nvdimm-hook
#   /var/lib/nvdimm-hook/                         state dir, 0700
#   ${mandir}/man8/nvdimmctl.8, nvdimm-hook.8
#
# The /etc and /run, /var paths do not follow CMAKE_INSTALL_PREFIX on purpose:
# libvirt has its hook directory compiled in (/etc/libvirt/hooks, for system
# and session daemons alike) and the binaries have theirs
# (src/config/hook_config.h: /etc/nvdimm-hook/nvdimm-hook.conf,
# /run/nvdimm-hook, /var/lib/nvdimm-hook). The state dir and the config file
# are installed only when they are not there yet: an admin's edits survive
# `cmake --install` (the RPM marks the config %config(noreplace)).

set(NVDIMMHOOK_LIBVIRT_HOOKS_DIR "/etc/libvirt/hooks" CACHE PATH
    "libvirt's hook directory (compiled into libvirt; the hook goes into qemu.d)")
set(NVDIMMHOOK_TMPFILES_DIR "lib/tmpfiles.d" CACHE PATH
    "systemd tmpfiles.d directory (relative: under CMAKE_INSTALL_PREFIX)")
set(NVDIMMHOOK_CONFIG_DIR "/etc/nvdimm-hook")   # = kDefaultConfigPath's directory
set(NVDIMMHOOK_STATE_DIR "/var/lib/nvdimm-hook")  # = HookConfig::state_dir default

install(TARGETS nvdimmctl RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(TARGETS nvdimm-hook-entry RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/nvdimm-hook)
if(NVDIMMHOOK_STATIC_FULL_HOOK)
  install(PROGRAMS $<TARGET_FILE:nvdimm-hook-static>
          DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/nvdimm-hook RENAME nvdimm-hook)
else()
  install(TARGETS nvdimm-hook RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/nvdimm-hook)
endif()
# The entry has the full hook's path compiled in (NVDIMMHOOK_FULL_HOOK, from
# the prefix at configure time): say so when an install goes elsewhere.
install(CODE "
  if(NOT \"\${CMAKE_INSTALL_PREFIX}\" STREQUAL \"${CMAKE_INSTALL_PREFIX}\")
    message(WARNING \"nvdimm-hook: installing under \${CMAKE_INSTALL_PREFIX}, but the hook entry \"
                    \"execs ${NVDIMMHOOK_FULL_HOOK} (configured with prefix ${CMAKE_INSTALL_PREFIX}); \"
                    \"configure with -DCMAKE_INSTALL_PREFIX=\${CMAKE_INSTALL_PREFIX} instead\")
  endif()
")

install(FILES ${PROJECT_SOURCE_DIR}/man/nvdimmctl.8 ${PROJECT_SOURCE_DIR}/man/nvdimm-hook.8
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)

install(FILES ${PROJECT_SOURCE_DIR}/packaging/nvdimm-hook.tmpfiles
        DESTINATION ${NVDIMMHOOK_TMPFILES_DIR} RENAME nvdimm-hook.conf)

# The hook link, the config file and the state dir, at install time so that
# DESTDIR and `cmake --install --prefix` are honoured.
install(CODE "
  set(_nvh_libexec \"${CMAKE_INSTALL_LIBEXECDIR}\")
  if(NOT IS_ABSOLUTE \"\${_nvh_libexec}\")
    set(_nvh_libexec \"\${CMAKE_INSTALL_PREFIX}/\${_nvh_libexec}\")
  endif()
  # relative (../../../../usr/libexec/...): resolves the same on the target
  # system and inside DESTDIR; rpmbuild and rpmlint warn about absolute ones
  file(RELATIVE_PATH _nvh_target \"${NVDIMMHOOK_LIBVIRT_HOOKS_DIR}/qemu.d\"
       \"\${_nvh_libexec}/nvdimm-hook/nvdimm-hook-entry\")
  set(_nvh_link \"\$ENV{DESTDIR}${NVDIMMHOOK_LIBVIRT_HOOKS_DIR}/qemu.d/50-nvdimm-hook\")
  message(STATUS \"Installing: \${_nvh_link} -> \${_nvh_target}\")
  file(MAKE_DIRECTORY \"\$ENV{DESTDIR}${NVDIMMHOOK_LIBVIRT_HOOKS_DIR}/qemu.d\")
  file(CREATE_LINK \"\${_nvh_target}\" \"\${_nvh_link}\" SYMBOLIC)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"${NVDIMMHOOK_LIBVIRT_HOOKS_DIR}/qemu.d/50-nvdimm-hook\")

  set(_nvh_conf \"\$ENV{DESTDIR}${NVDIMMHOOK_CONFIG_DIR}/nvdimm-hook.conf\")
  if(EXISTS \"\${_nvh_conf}\")
    message(STATUS \"Up-to-date: \${_nvh_conf} (kept: an existing config is never replaced)\")
  else()
    file(INSTALL DESTINATION \"${NVDIMMHOOK_CONFIG_DIR}\" TYPE FILE
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
         FILES \"${PROJECT_SOURCE_DIR}/config/nvdimm-hook.conf\")
  endif()

  set(_nvh_state \"\$ENV{DESTDIR}${NVDIMMHOOK_STATE_DIR}\")
  if(NOT IS_DIRECTORY \"\${_nvh_state}\")
    message(STATUS \"Installing: \${_nvh_state}/ (0700)\")
    file(MAKE_DIRECTORY \"\${_nvh_state}\")
    file(CHMOD \"\${_nvh_state}\" DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)
  endif()

  if(\"\$ENV{DESTDIR}\" STREQUAL \"\")
    message(STATUS \"nvdimm-hook: libvirt reads its hooks only at start or on SIGHUP; reload, do not restart: \"
                   \"systemctl kill --kill-whom=main --signal=HUP libvirtd.service (or virtqemud.service)\")
  endif()
")
