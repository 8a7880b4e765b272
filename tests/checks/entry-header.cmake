# modelplan/modelplan.h, the one header a user includes, includes every public header of the core.
#   cmake -DSOURCE_DIR=<repository root> -P tests/checks/entry-header.cmake
cmake_minimum_required(VERSION 3.20)
set(_dir "${SOURCE_DIR}/core/include/modelplan")
file(READ "${_dir}/modelplan.h" _entry)
file(GLOB _headers RELATIVE "${_dir}" "${_dir}/*.h" "${_dir}/*.h.in")
list(REMOVE_ITEM _headers modelplan.h)
foreach(_h IN LISTS _headers)
  string(REGEX REPLACE "\\.in$" "" _h "${_h}") # version.h.in becomes the build tree's version.h
  string(FIND "${_entry}" "#include \"modelplan/${_h}\"" _at)
  if(_at EQUAL -1)
    message(SEND_ERROR "core/include/modelplan/modelplan.h does not include modelplan/${_h}")
  endif()
endforeach()
list(LENGTH _headers _count)
message(STATUS "modelplan.h includes all ${_count} public headers")
