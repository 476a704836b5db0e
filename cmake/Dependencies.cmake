find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBXML2 REQUIRED IMPORTED_TARGET libxml-2.0)
pkg_check_modules(LIBNDCTL REQUIRED IMPORTED_TARGET libndctl)
pkg_check_modules(LIBDAXCTL REQUIRED IMPORTED_TARGET libdaxctl)
pkg_check_modules(LIBVIRT REQUIRED IMPORTED_TARGET libvirt)
find_package(Boost 1.74 REQUIRED COMPONENTS program_options)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(GTest REQUIRED)

# libxml2 and Boost.Program_options as the core's users link them: shared by
# default; as archives (with libxml2's own dependencies, libstdc++ and
# libgcc) for a target whose NVDIMMHOOK_STATIC_LIBS property is true: the full
# hook under -DNVDIMMHOOK_STATIC_FULL_HOOK=ON (CMakeLists.txt says why).
set(nvdimmhook_static_archives ${LIBXML2_STATIC_LIBRARIES})
list(REMOVE_ITEM nvdimmhook_static_archives m)  # libm stays glibc's shared one
add_library(nvdimmhook_external_libs INTERFACE)
set(nvdimmhook_static "$<BOOL:$<TARGET_PROPERTY:NVDIMMHOOK_STATIC_LIBS>>")
target_include_directories(nvdimmhook_external_libs INTERFACE ${LIBXML2_INCLUDE_DIRS})
target_link_libraries(nvdimmhook_external_libs INTERFACE
  "$<$<NOT:${nvdimmhook_static}>:PkgConfig::LIBXML2>"
  "$<$<NOT:${nvdimmhook_static}>:Boost::program_options>"
  "$<${nvdimmhook_static}:-static-libstdc++;-static-libgcc;-Wl,-Bstatic;${nvdimmhook_static_archives};boost_program_options;-Wl,-Bdynamic;m>")
