# Libraries from Debian 12 packages, found with pkg-config where they ship a .pc file.
find_package(PkgConfig REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)          # CRC-32 for STUN FINGERPRINT
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)    # -o json
pkg_check_modules(PCAP REQUIRED IMPORTED_TARGET libpcap)       # speedtest --pcap-file
find_library(EV_LIB ev REQUIRED)
find_path(EV_INCLUDE ev.h PATH_SUFFIXES libev REQUIRED)
# Debian 12 ships no pkg-config files for these three.
find_library(MBEDTLS_LIB mbedtls REQUIRED)
find_library(MBEDX509_LIB mbedx509 REQUIRED)
find_library(MBEDCRYPTO_LIB mbedcrypto REQUIRED)
find_library(HTTP_PARSER_LIB http_parser REQUIRED)
find_library(WSLAY_LIB wslay REQUIRED)
set(VOLE_DEP_LIBS PkgConfig::SODIUM PkgConfig::ZLIB PkgConfig::JANSSON PkgConfig::PCAP
    ${MBEDTLS_LIB} ${MBEDX509_LIB} ${MBEDCRYPTO_LIB} ${HTTP_PARSER_LIB} ${WSLAY_LIB} ${EV_LIB} m)
include_directories(SYSTEM ${EV_INCLUDE})
