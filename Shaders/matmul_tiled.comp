// out[t][o] = sum_k W[o][k] * x[t][k] for a prompt's many tokens, tiled: a workgroup of 256
// invocations computes a 64 x 64 block of outputs (64 weight rows by 64 tokens), walking k in chunks
// of 16 whose weights (decoded once for all 64 tokens) and inputs are staged in shared memory; each
// invocation keeps a 4 x 4 block of sums in registers. The weight's type decodes through dequant4
// (common.glsl). Specialization constant 0: the weight's type (ggml id). Grid: x (and y past 65,535)
// the blocks of rows, z the blocks of tokens.
#version 450
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout(constant_id = 0) const uint TYPE = 0;
layout(local_size_x = 256) in;

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

const uint BLOCK = 64, CHUNK = 16;
// One column of padding keeps the 4 x 4 readers off one bank.
shared float weights[BLOCK][CHUNK + 1];
shared float inputs[BLOCK][CHUNK + 1];

void main() {
    const uint lane = gl_LocalInvocationID.x;
    const uint row_block = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * BLOCK, token_block = gl_WorkGroupID.z * BLOCK;
    // What this invocation stages: 4 values of one row and of one token per chunk.
    const uint staged = lane / 4, quarter = 4 * (lane % 4);
    const uint staged_row = p.weight_byte + min(row_block + staged, p.rows - 1) * p.row_bytes;
    const bool staged_token_live = token_block + staged < p.tokens;
    const uint staged_x = p.x_offset + (token_block + staged) * p.x_stride;
    // What it sums: rows 4r ..< 4r + 4 and tokens 4c ..< 4c + 4 of the block.
    const uint r = lane / 16, c = lane % 16;
    vec4 sums[4] = vec4[4](vec4(0), vec4(0), vec4(0), vec4(0));  // sums[i][j]: row 4r + i, token 4c + j
    for (uint k0 = 0; k0 < p.n; k0 += CHUNK) {
        const uint k = k0 + quarter;
        const vec4 w = k < p.n ? dequant4(TYPE, staged_row, k, p.n) : vec4(0);
        vec4 v = vec4(0);
        if (staged_token_live) {
            [[unroll]] for (uint i = 0; i < 4; i++) v[i] = k + i < p.n ? x[staged_x + k + i] : 0;
        }
        [[unroll]] for (uint i = 0; i < 4; i++) {
            weights[staged][quarter + i] = w[i];
            inputs[staged][quarter + i] = v[i];
        }
        barrier();
        [[unroll]] for (uint kk = 0; kk < CHUNK; kk++) {
            const vec4 a = vec4(weights[4 * r][kk], weights[4 * r + 1][kk], weights[4 * r + 2][kk], weights[4 * r + 3][kk]);
            const vec4 b = vec4(inputs[4 * c][kk], inputs[4 * c + 1][kk], inputs[4 * c + 2][kk], inputs[4 * c + 3][kk]);
            [[unroll]] for (uint i = 0; i < 4; i++) sums[i] += a[i] * b;
        }
        barrier();
    }
    [[unroll]] for (uint i = 0; i < 4; i++) {
        const uint o = row_block + 4 * r + i;
        [[unroll]] for (uint j = 0; j < 4; j++) {
            const uint t = token_block + 4 * c + j;
            if (o < p.rows && t < p.tokens) outputs[p.out_offset + t * p.out_stride + o] = sums[i][j];
        }
    }
}
