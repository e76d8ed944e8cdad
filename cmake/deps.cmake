# Libraries from Debian 12 packages, found with pkg-config where they ship a .pc file.
find_package(PkgConfig REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)          # CRC-32 for STUN FINGERPRINT
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)    # -o json
find_library(EV_LIB ev REQUIRED)
find_path(EV_INCLUDE ev.h PATH_SUFFIXES libev REQUIRED)
set(VOLE_DEP_LIBS PkgConfig::SODIUM PkgConfig::ZLIB PkgConfig::JANSSON ${EV_LIB} m)
include_directories(SYSTEM ${EV_INCLUDE})
