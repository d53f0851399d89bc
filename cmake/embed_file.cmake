# Generates a C file holding one file's bytes as a NUL-terminated array and
# its length, so that the rumd binary carries it (the API's OpenAPI
# description). Inputs: INPUT, SYMBOL, OUTPUT.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUTPUT}.tmp" "/* Generated from ${INPUT} by cmake/embed_file.cmake. Do not edit. */\n#include <stddef.h>\n\nconst char ${SYMBOL}[] = {${bytes}0x00};\nconst size_t ${SYMBOL}_len = ${len};\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
