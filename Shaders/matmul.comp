// out[t][o] = sum_k W[o][k] * x[t][k] for `tokens` rows of x and the weight's rows. A workgroup
// takes WORKGROUP / ROW_THREADS weight rows; each row's ROW_THREADS invocations decode its values
// four at a time, apply them to up to four tokens at once, and sum their partial dots in shared
// memory, or (the SUBGROUPS build) by subgroup shuffles and shared memory only across subgroups.
// The host picks ROW_THREADS by the row's length (a short row gets few invocations).
// Specialization constants: 0 workgroup size, 1 the weight's type (ggml id), 2 invocations per row
// (a power of 2, at most the workgroup size). Past 65,535 workgroups, a 2D grid.
#version 450
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#ifdef SUBGROUPS
#extension GL_KHR_shader_subgroup_shuffle : require
#endif

layout(constant_id = 0) const uint WORKGROUP = 64;
layout(constant_id = 1) const uint TYPE = 0;
layout(constant_id = 2) const uint ROW_THREADS = 64;
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

const uint TILE = 4;
shared vec4 partial[WORKGROUP];

void main() {
    const uint lane = gl_LocalInvocationID.x, part = lane % ROW_THREADS;
    const uint o = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * (WORKGROUP / ROW_THREADS) + lane / ROW_THREADS;
    const bool live = o < p.rows;
    const uint row = p.weight_byte + min(o, p.rows - 1) * p.row_bytes, chunks = (p.n + 3) / 4;
    for (uint t0 = 0; t0 < p.tokens; t0 += TILE) {
        vec4 sums = vec4(0);
        if (live) {
            for (uint c = part; c < chunks; c += ROW_THREADS) {
                const uint k = 4 * c;
                const vec4 w = dequant4(TYPE, row, k, p.n);
                [[unroll]] for (uint t = 0; t < TILE; t++) {
                    if (t0 + t < p.tokens) {
                        const uint base = p.x_offset + (t0 + t) * p.x_stride + k;
                        vec4 v = vec4(x[base], k + 1 < p.n ? x[base + 1] : 0, k + 2 < p.n ? x[base + 2] : 0, k + 3 < p.n ? x[base + 3] : 0);
                        sums[t] += dot(w, v);
                    }
                }
            }
        }
#ifdef SUBGROUPS
        // Within a subgroup (contiguous invocations), then each subgroup's sum through shared memory.
        const uint subgroup = gl_SubgroupSize, within = min(ROW_THREADS, subgroup);
        for (uint stride = 1; stride < within; stride *= 2) sums += subgroupShuffleXor(sums, stride);
        if (ROW_THREADS > subgroup) {
            if (lane % subgroup == 0) partial[lane / subgroup] = sums;
            barrier();
            if (part == 0) {
                sums = vec4(0);
                for (uint s = 0; s < ROW_THREADS / subgroup; s++) sums += partial[lane / subgroup + s];
            }
            barrier();
        }
#else
        partial[lane] = sums;
        barrier();
        [[unroll]] for (uint stride = ROW_THREADS / 2; stride > 0; stride /= 2) {
            if (part < stride) partial[lane] += partial[lane + stride];
            barrier();
        }
        sums = partial[lane];
        barrier();
#endif
        if (live && part == 0) {
            [[unroll]] for (uint t = 0; t < TILE; t++) {
                if (t0 + t < p.tokens) outputs[p.out_offset + (t0 + t) * p.out_stride + o] = sums[t];
            }
        }
    }
}
