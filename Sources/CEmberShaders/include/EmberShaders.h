// The compute shaders of the Vulkan backend as SPIR-V (Shaders/*.comp, compiled by scripts/gen-shaders).

#ifndef EMBER_SHADERS_H
#define EMBER_SHADERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ek_shader {
    const char *name;
    const uint32_t *code;
    size_t bytes;
} ek_shader;

/// The shader named `name` (its file name without `.comp`), or NULL.
const ek_shader *ek_shader_named(const char *name);

#endif
