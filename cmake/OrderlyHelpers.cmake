# One helper for libraries and tests, one for benchmarks.
#
#   orderly_library(platform                 # -> target orderly_platform, alias orderly::platform
#     SRCS src/event.cpp ...
#     DEPS Boost::json fmt::fmt)             # public dependencies
#   orderly_test(platform_test SRCS src/event_test.cpp DEPS orderly::platform LABELS unit)
#   orderly_benchmark(sqlite_benchmark SRCS ... DEPS ...)
#
# The library name is its path with '/' replaced: adapters/embedded becomes
# orderly_adapters_embedded with the alias orderly::adapters::embedded, matching
# the C++ namespace orderly::adapters::embedded and the include path
# <orderly/adapters/embedded/...>.

set(ORDERLY_WARNINGS -Wall -Wextra -Werror -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
    -Wimplicit-fallthrough
    # Designated initialisers that leave members at their defaults are the idiom here.
    -Wno-missing-field-initializers)

function(orderly_library PATH_NAME)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  string(REPLACE "/" "_" flat "${PATH_NAME}")
  string(REPLACE "/" "::" alias "${PATH_NAME}")
  set(target orderly_${flat})
  add_library(${target} STATIC ${ARG_SRCS})
  add_library(orderly::${alias} ALIAS ${target})
  target_include_directories(${target} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(${target} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  target_compile_options(${target} PRIVATE ${ORDERLY_WARNINGS})
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()

# A GoogleTest executable; every TEST() becomes one ctest entry carrying LABELS
# (and any further ctest PROPERTIES, e.g. FIXTURES_REQUIRED).
function(orderly_test NAME)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SRCS;DEPS;LABELS;PROPERTIES" ${ARGN})
  if(NOT ORDERLY_BUILD_TESTS)
    return()
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${NAME} ${ARG_SRCS})
  target_link_libraries(${NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_options(${NAME} PRIVATE ${ORDERLY_WARNINGS})
  set_target_properties(${NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  gtest_discover_tests(${NAME}
    DISCOVERY_MODE PRE_TEST
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT} ${ARG_PROPERTIES})
endfunction()

# A Google Benchmark executable in build/bench/.
function(orderly_benchmark NAME)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  if(NOT ORDERLY_BUILD_BENCHMARKS)
    return()
  endif()
  add_executable(${NAME} ${ARG_SRCS})
  target_link_libraries(${NAME} PRIVATE ${ARG_DEPS} benchmark::benchmark)
  target_compile_options(${NAME} PRIVATE ${ORDERLY_WARNINGS})
  set_target_properties(${NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endfunction()

# Third-party libraries, linked as shared libraries everywhere except in the
# Lambda bootstraps, which link them statically (an executable with the
# ORDERLY_STATIC property; the choice is a generator expression evaluated for
# the executable being linked). Use ${ORDERLY_JSON_LIBS}, ${ORDERLY_SSL_LIBS},
# ${ORDERLY_CRYPTO_LIBS} and ${ORDERLY_SQLITE_LIBS} instead of the imported targets.
macro(orderly_third_party_choices)
  set(_static "$<BOOL:$<TARGET_PROPERTY:ORDERLY_STATIC>>")
  set(_shared "$<NOT:${_static}>")
  foreach(lib boost_json boost_container ssl crypto sqlite3)
    find_library(ORDERLY_${lib}_A NAMES lib${lib}.a REQUIRED)
  endforeach()
  set(ORDERLY_JSON_LIBS "$<${_shared}:Boost::json>" "$<${_static}:${ORDERLY_boost_json_A}>"
      "$<${_static}:${ORDERLY_boost_container_A}>")
  set(ORDERLY_SSL_LIBS "$<${_shared}:OpenSSL::SSL>" "$<${_static}:${ORDERLY_ssl_A}>")
  set(ORDERLY_CRYPTO_LIBS "$<${_shared}:OpenSSL::Crypto>" "$<${_static}:${ORDERLY_crypto_A}>"
      ${CMAKE_DL_LIBS} Threads::Threads)
  set(ORDERLY_SQLITE_LIBS "$<${_shared}:SQLite::SQLite3>" "$<${_static}:${ORDERLY_sqlite3_A}>"
      m ${CMAKE_DL_LIBS} Threads::Threads)
  # mbedTLS (Debian's libmbedtls-dev, no pkg-config file): the HTTP client's TLS
  # and the SHA-256/HMAC of SigV4 and idempotency records. A Lambda bootstrap
  # takes about 0.3 MB of it where OpenSSL's libcrypto alone is 3.4 MB (ADR 0018).
  find_path(ORDERLY_MBEDTLS_INCLUDE_DIR mbedtls/ssl.h REQUIRED)
  foreach(lib mbedtls mbedx509 mbedcrypto)
    find_library(ORDERLY_${lib}_A NAMES lib${lib}.a REQUIRED)
    find_library(ORDERLY_${lib}_SO NAMES ${lib} REQUIRED)
  endforeach()
  set(ORDERLY_MBEDCRYPTO_LIBS "$<${_shared}:${ORDERLY_mbedcrypto_SO}>"
      "$<${_static}:${ORDERLY_mbedcrypto_A}>")
  set(ORDERLY_MBEDTLS_LIBS "$<${_shared}:${ORDERLY_mbedtls_SO}>" "$<${_static}:${ORDERLY_mbedtls_A}>"
      "$<${_shared}:${ORDERLY_mbedx509_SO}>" "$<${_static}:${ORDERLY_mbedx509_A}>"
      ${ORDERLY_MBEDCRYPTO_LIBS})
endmacro()

# A Lambda bootstrap for one service, zipped as build/lambda/<service>.zip with
# `bootstrap` at the root (what provided.al2023 runs).
#
#   orderly_lambda(orders SRCS orders.cpp DEPS orderly::services::orders)
#
# libstdc++, libgcc, mbedTLS and Boost.JSON are linked statically and
# the binary is stripped; only glibc stays dynamic, and a test checks it needs
# no symbol newer than GLIBC_2.34 (Amazon Linux 2023).
set(ORDERLY_LAMBDA_DIR ${CMAKE_BINARY_DIR}/lambda)
function(orderly_lambda SERVICE)
  cmake_parse_arguments(ARG "NO_ZIP" "" "SRCS;DEPS" ${ARGN})
  find_program(ORDERLY_ZIP zip REQUIRED)
  set(target lambda_${SERVICE})
  set(dir ${ORDERLY_LAMBDA_DIR}/${SERVICE})
  add_executable(${target} ${ARG_SRCS} ${PROJECT_SOURCE_DIR}/apps/lambda/src/glibc_floor.cpp)
  target_link_libraries(${target} PRIVATE ${ARG_DEPS})
  target_compile_options(${target} PRIVATE ${ORDERLY_WARNINGS})
  target_link_options(${target} PRIVATE -static-libstdc++ -static-libgcc -Wl,--as-needed
                      -Wl,--gc-sections -s)
  set_target_properties(${target} PROPERTIES OUTPUT_NAME bootstrap RUNTIME_OUTPUT_DIRECTORY ${dir}
                        ORDERLY_STATIC ON)
  if(ARG_NO_ZIP)
    return()
  endif()
  # A reproducible zip: a fixed timestamp on a copy, no extra attributes.
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -E rm -rf ${dir}/pkg ${ORDERLY_LAMBDA_DIR}/${SERVICE}.zip
    COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}/pkg
    COMMAND ${CMAKE_COMMAND} -E copy $<TARGET_FILE:${target}> ${dir}/pkg/bootstrap
    COMMAND touch -t 198001010000 ${dir}/pkg/bootstrap
    COMMAND ${CMAKE_COMMAND} -E chdir ${dir}/pkg ${ORDERLY_ZIP} -X -9 -q ${ORDERLY_LAMBDA_DIR}/${SERVICE}.zip bootstrap
    COMMENT "Packaging ${ORDERLY_LAMBDA_DIR}/${SERVICE}.zip"
    VERBATIM)
endfunction()
