// The second half of attention for one sequence: each of its query rows attends, per head, over the
// cached positions it may see (up to its own; the last `window` of them for a sliding-window layer)
// with an online softmax. One workgroup per (row, head, split): positions in chunks of WORKGROUP, one
// score per invocation, then each invocation accumulates its share of the head's dimensions. With one
// split the workgroup writes the output row; a decode row's positions may instead be split into
// `splits` ranges (so that a deep context keeps the GPU busy with few rows), each workgroup writing
// its range's maximum, sum and unnormalized output to `partials`, which attention_combine merges.
// Specialization constants: 0 workgroup size, 1 F16 cache (else F32), 2 the largest head width.
#version 450
#extension GL_EXT_shader_16bit_storage : require

layout(constant_id = 0) const uint WORKGROUP = 64;
layout(constant_id = 1) const bool CACHE_F16 = true;
layout(constant_id = 2) const uint MAX_HEAD_DIM = 256;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Query { float q[]; };
layout(std430, binding = 1) readonly buffer Step { uint step[]; };  // per row: token, position
layout(std430, binding = 2) readonly buffer KeyCache { float key_cache[]; };
layout(std430, binding = 3) readonly buffer KeyCacheHalves { float16_t key_cache_halves[]; };
layout(std430, binding = 4) readonly buffer ValueCache { float value_cache[]; };
layout(std430, binding = 5) readonly buffer ValueCacheHalves { float16_t value_cache_halves[]; };
layout(std430, binding = 6) writeonly buffer Output { float outputs[]; };
layout(std430, binding = 7) writeonly buffer Partials { float partials[]; };  // per (row, head, split): max, sum, head_dim values

layout(push_constant) uniform Parameters {
    uint first_row;
    uint q_offset, q_stride;  // floats
    uint out_offset, out_stride;
    uint heads, kv_heads, head_dim;
    uint cache_rows;
    uint key_cache_offset, value_cache_offset;  // elements
    uint window;  // 0: every earlier position
    float scale;
    uint splits;
    uint partial_offset;  // floats: where this sequence's ranges start in `partials`
} p;

const uint PER_LANE = (MAX_HEAD_DIM + WORKGROUP - 1) / WORKGROUP;
shared float query[MAX_HEAD_DIM];
shared float weights[WORKGROUP];

float key_at(uint i) { return CACHE_F16 ? float(key_cache_halves[p.key_cache_offset + i]) : key_cache[p.key_cache_offset + i]; }
float value_at(uint i) { return CACHE_F16 ? float(value_cache_halves[p.value_cache_offset + i]) : value_cache[p.value_cache_offset + i]; }

void main() {
    const uint row = p.first_row + gl_WorkGroupID.x, head = gl_WorkGroupID.y, split = gl_WorkGroupID.z, lane = gl_LocalInvocationID.x;
    const uint kv_head = head / (p.heads / p.kv_heads), width = p.kv_heads * p.head_dim;
    const uint newest = step[2 * row + 1], oldest = p.window != 0 && newest + 1 > p.window ? newest + 1 - p.window : 0;
    // This workgroup's range of positions, first ... last (empty when first > last).
    const uint per_split = (newest + 1 - oldest + p.splits - 1) / p.splits, first = oldest + split * per_split;
    const uint last = min(first + per_split, newest + 1) - 1;
    for (uint d = lane; d < p.head_dim; d += WORKGROUP) query[d] = q[p.q_offset + row * p.q_stride + head * p.head_dim + d];
    barrier();

    float maximum = -1.0 / 0.0, total = 0, acc[PER_LANE];
    for (uint j = 0; j < PER_LANE; j++) acc[j] = 0;
    for (uint chunk = first; chunk <= last; chunk += WORKGROUP) {
        const uint position = chunk + lane;
        float score = -1.0 / 0.0;
        if (position <= last) {
            const uint base = (position % p.cache_rows) * width + kv_head * p.head_dim;
            score = 0;
            for (uint d = 0; d < p.head_dim; d++) score += query[d] * key_at(base + d);
            score *= p.scale;
        }
        weights[lane] = score;
        barrier();
        float chunk_max = -1.0 / 0.0;
        for (uint i = 0; i < WORKGROUP; i++) chunk_max = max(chunk_max, weights[i]);
        const float next = max(maximum, chunk_max), rescale = exp(maximum - next);
        barrier();
        weights[lane] = position <= last ? exp(score - next) : 0;
        barrier();
        total *= rescale;
        for (uint j = 0; j < PER_LANE; j++) acc[j] *= rescale;
        const uint count = min(WORKGROUP, last + 1 - chunk);
        for (uint i = 0; i < count; i++) {
            const float w = weights[i];
            total += w;
            const uint base = ((chunk + i) % p.cache_rows) * width + kv_head * p.head_dim;
            for (uint j = 0; j < PER_LANE; j++) {
                const uint d = lane + j * WORKGROUP;
                if (d < p.head_dim) acc[j] += w * value_at(base + d);
            }
        }
        maximum = next;
        barrier();
    }
    if (p.splits == 1) {
        for (uint j = 0; j < PER_LANE; j++) {
            const uint d = lane + j * WORKGROUP;
            if (d < p.head_dim) outputs[p.out_offset + row * p.out_stride + head * p.head_dim + d] = acc[j] / total;
        }
        return;
    }
    const uint base = p.partial_offset + ((gl_WorkGroupID.x * p.heads + head) * p.splits + split) * (p.head_dim + 2);
    if (lane == 0) {
        partials[base] = maximum;
        partials[base + 1] = total;
    }
    for (uint j = 0; j < PER_LANE; j++) {
        const uint d = lane + j * WORKGROUP;
        if (d < p.head_dim) partials[base + 2 + d] = acc[j];
    }
}
