# SPDX-License-Identifier: GPL-3.0-or-later
#
# The GNU Radio 3.10 side of gr-invcsi, included by the top CMakeLists.txt when
# ENABLE_GNURADIO is on (find_package(Gnuradio 3.10 COMPONENTS runtime blocks) has run,
# which also pinned PYTHON_EXECUTABLE to /usr/bin/python3 and set GR_PYTHON_DIR).
# Layout as gr_modtool makes it:
#   include/gnuradio/invcsi/<block>.h     public block header (installed)
#   lib/<block>_impl.{h,cc}               implementation, linked into libgnuradio-invcsi
#   python/invcsi/                        package, bindings/ (pybind11), qa_*.py tests
#   grc/invcsi_<block>.block.yml          GRC block definition
# Every lib/*_impl.cc is picked up here by a glob; lib/CMakeLists.txt (the C core)
# compiles only lib/*.c.

if(NOT Gnuradio_FOUND)
    # -DENABLE_GNURADIO=ON without GNU Radio: stop here with CMake's own message.
    find_package(Gnuradio 3.10 REQUIRED COMPONENTS runtime blocks)
endif()
include(GrPython)  # GR_PYTHON_DIR, QA_PYTHON_EXECUTABLE, GR_PYTHON_INSTALL
if(NOT ENABLE_PYTHON)
    message(FATAL_ERROR "gr-invcsi needs GNU Radio's Python support (ENABLE_PYTHON)")
endif()

# GrPython picks lib/python3.X/site-packages for prefix /usr on Debian, which is not on
# sys.path; Debian's own packages use lib/python3/dist-packages. (-DGR_PYTHON_DIR=...
# still overrides; prefix /usr/local gives lib/python3.X/dist-packages, on sys.path.)
if(NOT DEFINED CACHE{GR_PYTHON_DIR} AND CMAKE_INSTALL_PREFIX STREQUAL "/usr"
   AND GR_PYTHON_DIR MATCHES "site-packages$"
   AND EXISTS /usr/lib/python3/dist-packages)
    set(GR_PYTHON_DIR lib/python3/dist-packages)
endif()
message(STATUS "gr-invcsi: GNU Radio ${Gnuradio_VERSION}, Python package -> "
               "${CMAKE_INSTALL_PREFIX}/${GR_PYTHON_DIR}/gnuradio/invcsi")

########################################################################
# libgnuradio-invcsi: the C++ blocks, each a thin shell around libinvcsi
########################################################################
file(GLOB INVCSI_GR_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/lib/*_impl.cc)

add_library(gnuradio-invcsi SHARED ${INVCSI_GR_SOURCES})
# libinvcsi is private: the public block headers use only GNU Radio types; the C core
# headers are included by the *_impl files alone. It is linked by file, not as a
# target, so the exported CMake package below does not need an export of libinvcsi
# (it has none); installed, libinvcsi is found beside libgnuradio-invcsi at run time.
target_link_libraries(gnuradio-invcsi
    PUBLIC gnuradio::gnuradio-runtime
    PRIVATE $<TARGET_LINKER_FILE:invcsi>)
add_dependencies(gnuradio-invcsi invcsi)
target_include_directories(gnuradio-invcsi
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
           $<INSTALL_INTERFACE:include>
    PRIVATE ${PROJECT_SOURCE_DIR}/lib
            $<TARGET_PROPERTY:invcsi,INTERFACE_INCLUDE_DIRECTORIES>)
target_compile_definitions(gnuradio-invcsi
    PRIVATE $<TARGET_PROPERTY:invcsi,INTERFACE_COMPILE_DEFINITIONS>)
target_compile_options(gnuradio-invcsi PRIVATE -Wall -Wextra -Wno-unused-parameter)
set_target_properties(gnuradio-invcsi PROPERTIES
    DEFINE_SYMBOL "gnuradio_invcsi_EXPORTS"   # include/gnuradio/invcsi/api.h
    CXX_VISIBILITY_PRESET hidden              # export only INVCSI_API, as GNU Radio does
    VISIBILITY_INLINES_HIDDEN ON
    VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}
    # beside libinvcsi in the build tree, and finds it beside itself once installed
    LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/lib
    INSTALL_RPATH "\$ORIGIN")

install(TARGETS gnuradio-invcsi EXPORT gnuradio-invcsi-export
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/gnuradio/invcsi
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/gnuradio
        FILES_MATCHING PATTERN "*.h")

# CMake package for C++ users: find_package(gnuradio-invcsi) -> gnuradio::gnuradio-invcsi
set(INVCSI_GR_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/gnuradio-invcsi)
install(EXPORT gnuradio-invcsi-export
        FILE gnuradio-invcsiTargets.cmake
        NAMESPACE gnuradio::
        DESTINATION ${INVCSI_GR_CMAKE_DIR})
include(CMakePackageConfigHelpers)
configure_package_config_file(
    ${PROJECT_SOURCE_DIR}/cmake/Modules/gnuradio-invcsiConfig.cmake.in
    ${PROJECT_BINARY_DIR}/cmake/gnuradio-invcsiConfig.cmake
    INSTALL_DESTINATION ${INVCSI_GR_CMAKE_DIR})
write_basic_package_version_file(
    ${PROJECT_BINARY_DIR}/cmake/gnuradio-invcsiConfigVersion.cmake
    VERSION ${PROJECT_VERSION}
    COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cmake/gnuradio-invcsiConfig.cmake
              ${PROJECT_BINARY_DIR}/cmake/gnuradio-invcsiConfigVersion.cmake
        DESTINATION ${INVCSI_GR_CMAKE_DIR})

########################################################################
# Python package, bindings and QA tests; GRC block definitions
########################################################################
add_subdirectory(${PROJECT_SOURCE_DIR}/python/invcsi ${PROJECT_BINARY_DIR}/python/invcsi)
add_subdirectory(${PROJECT_SOURCE_DIR}/grc ${PROJECT_BINARY_DIR}/grc)
