# rum_add_unit_test(NAME SOURCES... [LIBS libs...])
#   A C unit test (tests/unit/check.h) registered with CTest, label "unit".
function(rum_add_unit_test name)
  cmake_parse_arguments(T "" "" "LIBS" ${ARGN})
  add_executable(${name} ${T_UNPARSED_ARGUMENTS})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
  target_link_libraries(${name} PRIVATE ${T_LIBS})
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit
                       ENVIRONMENT "RUM_SHARED_DIR=${CMAKE_SOURCE_DIR}/../shared")
endfunction()

# rum_add_fuzz_target(NAME SOURCE LIBS...)
#   With RUM_FUZZ (clang): a libFuzzer binary NAME.
#   Always: NAME_replay, which runs LLVMFuzzerTestOneInput over every file in
#   tests/fuzz/corpus/NAME, registered with CTest (label "fuzz"), so a crash
#   found once stays fixed under gcc too.
function(rum_add_fuzz_target name source)
  set(corpus ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${name})
  add_executable(${name}_replay ${source} ${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.c)
  target_link_libraries(${name}_replay PRIVATE ${ARGN})
  add_test(NAME ${name}_replay COMMAND ${name}_replay ${corpus})
  set_tests_properties(${name}_replay PROPERTIES LABELS fuzz)
  if(RUM_FUZZ)
    add_executable(${name} ${source})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name} PRIVATE ${ARGN})
  endif()
endfunction()
