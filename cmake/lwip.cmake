# lwIP: Debian 13's lwip 2.2.1 source (fetched by scripts/fetch-lwip.sh, never
# committed) or any lwIP 2.2.x tree given as -DVOLE_LWIP_DIR=..., built as a
# static library with our own stack/lwipopts.h and stack/arch/cc.h.
if(VOLE_LWIP_DIR)
  set(LWIP_DIR ${VOLE_LWIP_DIR})
else()
  set(LWIP_DIR ${CMAKE_SOURCE_DIR}/.deps/lwip-2.2.1)
  if(NOT EXISTS ${LWIP_DIR}/.vole-fetched)
    execute_process(COMMAND ${CMAKE_SOURCE_DIR}/scripts/fetch-lwip.sh ${LWIP_DIR}
                    RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR "fetching lwIP failed; run scripts/fetch-lwip.sh or pass -DVOLE_LWIP_DIR")
    endif()
  endif()
endif()
if(NOT EXISTS ${LWIP_DIR}/src/Filelists.cmake)
  message(FATAL_ERROR "${LWIP_DIR} is not an lwIP 2.2.x source tree")
endif()
message(STATUS "lwIP from ${LWIP_DIR}")

include(${LWIP_DIR}/src/Filelists.cmake)
add_library(lwip STATIC ${lwipcore_SRCS} ${lwipcore4_SRCS} ${lwipcore6_SRCS}
  ${CMAKE_SOURCE_DIR}/stack/port/sys_arch.c
  ${CMAKE_SOURCE_DIR}/stack/port/chksum.c)
target_include_directories(lwip SYSTEM PUBLIC
  ${CMAKE_SOURCE_DIR}/stack/port     # lwipopts.h and arch/cc.h
  ${LWIP_DIR}/src/include)
# lwIP's own code is not ours to lint; keep its warnings out of our build log.
target_compile_options(lwip PRIVATE -w)
target_link_libraries(lwip PUBLIC PkgConfig::SODIUM)
