// out[t][o] = sum_k W[o][k] * x[t][k] for `tokens` rows of x and the weight's rows, one workgroup per
// output row (a 2D grid past 65,535 rows): each invocation decodes groups of 32 weights and applies
// them to up to 8 tokens at once; the workgroup then sums its partial dots in shared memory.
// Specialization constants: 0 workgroup size, 1 the weight's type (ggml id).
#version 450
#include "common.glsl"

layout(constant_id = 0) const uint WORKGROUP = 64;
layout(constant_id = 1) const uint TYPE = 0;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer WeightBytes { uint8_t wb[]; };
layout(std430, binding = 1) readonly buffer WeightHalves { float16_t wh[]; };
layout(std430, binding = 2) readonly buffer WeightFloats { float wf[]; };
layout(std430, binding = 3) readonly buffer Input { float x[]; };
layout(std430, binding = 4) buffer Output { float outputs[]; };

layout(push_constant) uniform Parameters {
    uint n;            // values per weight row (and per input row)
    uint rows;         // weight rows
    uint row_bytes;
    uint weight_byte;  // where row 0 starts in the weight buffer
    uint tokens;
    uint x_offset;     // floats: where token 0's row starts in x
    uint x_stride;     // floats between tokens' rows
    uint out_offset;   // floats: where token 0's output row 0 goes
    uint out_stride;   // floats between tokens' output rows
} p;

uint byte_at(uint i) { return uint(wb[i]); }
float half_at(uint i) { return float(wh[i]); }
float float_at(uint i) { return wf[i]; }

shared float partial[8][WORKGROUP];

void main() {
    const uint o = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x, lane = gl_LocalInvocationID.x;
    if (o >= p.rows) return;
    const uint row = p.weight_byte + o * p.row_bytes, groups = (p.n + 31) / 32;
    float v[32];
    for (uint t0 = 0; t0 < p.tokens; t0 += 8) {
        const uint count = min(8, p.tokens - t0);
        float sums[8] = float[8](0, 0, 0, 0, 0, 0, 0, 0);
        for (uint g = lane; g < groups; g += WORKGROUP) {
            dequant32(TYPE, row, g, p.n, v);
            const uint last = min(32, p.n - 32 * g);
            for (uint t = 0; t < count; t++) {
                const uint base = p.x_offset + (t0 + t) * p.x_stride + 32 * g;
                float s = 0;
                for (uint i = 0; i < last; i++) s += v[i] * x[base + i];
                sums[t] += s;
            }
        }
        for (uint t = 0; t < count; t++) partial[t][lane] = sums[t];
        barrier();
        for (uint stride = WORKGROUP / 2; stride > 0; stride /= 2) {
            if (lane < stride) {
                for (uint t = 0; t < count; t++) partial[t][lane] += partial[t][lane + stride];
            }
            barrier();
        }
        if (lane < count) outputs[p.out_offset + (t0 + lane) * p.out_stride + o] = partial[lane][0];
        barrier();
    }
}
