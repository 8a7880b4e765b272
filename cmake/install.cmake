# Installation (docs/cpp-api.md): the core's headers and static library, with MODELPLAN_WITH_TORCH the LibTorch
# adapter's, the modelplan program, and a CMake package so that a project's
#   find_package(modelplan REQUIRED)
#   target_link_libraries(app PRIVATE modelplan::torch)   # or modelplan::core
# works against the installed prefix. The package config is written by hand (cmake/modelplanConfig.cmake.in)
# rather than exported. The core's public headers need only the standard library, so the package needs no
# RapidJSON (tests/consumer builds a program against it with RapidJSON out of reach).
if(EMSCRIPTEN)
  return()
endif()
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(DIRECTORY "${PROJECT_SOURCE_DIR}/core/include/modelplan" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        PATTERN "*.in" EXCLUDE)
install(FILES "${MODELPLAN_GENERATED_INCLUDE}/modelplan/version.h" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/modelplan")
install(TARGETS modelplan_core ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}")
install(TARGETS modelplan RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
if(MODELPLAN_WITH_TORCH)
  install(DIRECTORY "${PROJECT_SOURCE_DIR}/native/torch/include/modelplan" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
  install(TARGETS modelplan_torch modelplan_io ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}")
  install(TARGETS modelplan-torch RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}") # beside modelplan, which starts it
  set(MODELPLAN_PACKAGE_WITH_TORCH ON)
  # libmodelplan_io's Hub client uses libcurl when the build found it (native/CMakeLists.txt).
  get_target_property(_io_defs modelplan_io COMPILE_DEFINITIONS)
  if(_io_defs MATCHES "MODELPLAN_HAVE_CURL")
    set(MODELPLAN_PACKAGE_WITH_CURL ON)
  else()
    set(MODELPLAN_PACKAGE_WITH_CURL OFF)
  endif()
else()
  set(MODELPLAN_PACKAGE_WITH_TORCH OFF)
endif()

set(_package_dir "${CMAKE_INSTALL_LIBDIR}/cmake/modelplan")
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/modelplanConfig.cmake.in"
                              "${PROJECT_BINARY_DIR}/modelplanConfig.cmake" INSTALL_DESTINATION "${_package_dir}"
                              PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR)
write_basic_package_version_file("${PROJECT_BINARY_DIR}/modelplanConfigVersion.cmake" VERSION "${PROJECT_VERSION}"
                                 COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/modelplanConfig.cmake" "${PROJECT_BINARY_DIR}/modelplanConfigVersion.cmake"
        DESTINATION "${_package_dir}")
