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

# A GoogleTest executable; every TEST() becomes one ctest entry carrying LABELS.
function(orderly_test NAME)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
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
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
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
