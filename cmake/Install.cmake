# Install layout (FHS). Owned by packaging (issue 6); see packaging/.
install(TARGETS nvdimmctl RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(TARGETS nvdimm-hook RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/nvdimm-hook)
