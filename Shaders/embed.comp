// output[r] = table[token of step row r], decoded to floats: one workgroup per row of the step. A table
// larger than one buffer comes in parts; each dispatch writes the rows whose tokens its part holds.
// Specialization constants: 0 workgroup size, 1 the table's type (ggml id).
#version 450
#include "common.glsl"

layout(constant_id = 0) const uint WORKGROUP = 64;
layout(constant_id = 1) const uint TYPE = 0;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer TableBytes { uint8_t wb[]; };
layout(std430, binding = 1) readonly buffer TableHalves { float16_t wh[]; };
layout(std430, binding = 2) readonly buffer TableFloats { float wf[]; };
layout(std430, binding = 3) readonly buffer Step { uint step[]; };  // per row: token, position
layout(std430, binding = 4) writeonly buffer Output { float outputs[]; };

layout(push_constant) uniform Parameters {
    uint n;           // values per row
    uint row_bytes;
    uint table_byte;  // where row 0 starts in the table's buffer
    uint first_token;  // the table rows this dispatch holds: first_token ..< first_token + table_rows
    uint table_rows;
    uint out_offset;  // floats
    uint out_stride;  // floats between output rows (at least n)
} p;

uint byte_at(uint i) { return uint(wb[i]); }
float half_at(uint i) { return float(wh[i]); }
float float_at(uint i) { return wf[i]; }

void main() {
    const uint r = gl_WorkGroupID.x, token = step[2 * r];
    if (token < p.first_token || token >= p.first_token + p.table_rows) return;
    const uint row = p.table_byte + (token - p.first_token) * p.row_bytes;
    for (uint k = 4 * gl_LocalInvocationID.x; k < p.n; k += 4 * WORKGROUP) {
        const vec4 v = dequant4(TYPE, row, k, p.n);
        for (uint i = 0; i < 4 && k + i < p.n; i++) outputs[p.out_offset + r * p.out_stride + k + i] = v[i];
    }
}
