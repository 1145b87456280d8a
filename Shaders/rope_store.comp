// The first half of attention for one sequence: its rows of Q and K rotated to their positions (in
// place; positions from the step buffer), then its keys and values stored in the layer's caches at
// row position % cache_rows (a ring for a sliding-window layer, the whole context otherwise). One
// workgroup per row. Rotation: pairs (2i, 2i+1) ("adjacent", llama) or (i, i + pairs) ("halves",
// NeoX) of the first 2 * pairs values of each head, by the cosines and sines of the rope table.
// Specialization constants: 0 workgroup size, 1 whether the cache holds F16 (else F32).
#version 450
#extension GL_EXT_shader_16bit_storage : require

layout(constant_id = 0) const uint WORKGROUP = 64;
layout(constant_id = 1) const bool CACHE_F16 = true;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer Query { float q[]; };
layout(std430, binding = 1) buffer Key { float k[]; };
layout(std430, binding = 2) readonly buffer Value { float v[]; };
layout(std430, binding = 3) readonly buffer Step { uint step[]; };  // per row: token, position
layout(std430, binding = 4) readonly buffer Rope { float rope[]; };  // per position, per pair: cos, sin
layout(std430, binding = 5) writeonly buffer KeyCache { float key_cache[]; };
layout(std430, binding = 6) writeonly buffer KeyCacheHalves { float16_t key_cache_halves[]; };
layout(std430, binding = 7) writeonly buffer ValueCache { float value_cache[]; };
layout(std430, binding = 8) writeonly buffer ValueCacheHalves { float16_t value_cache_halves[]; };

layout(push_constant) uniform Parameters {
    uint first_row;
    uint q_offset, q_stride;  // floats
    uint k_offset, k_stride;
    uint v_offset, v_stride;
    uint heads, kv_heads, head_dim;
    uint pairs, halves;
    uint cache_rows;
    uint key_cache_offset, value_cache_offset;  // elements
} p;

void rotate(uint base, uint position, uint pair, bool is_query) {
    const uint first = p.halves != 0 ? pair : 2 * pair, partner = p.halves != 0 ? pair + p.pairs : 2 * pair + 1;
    const float c = rope[2 * (position * p.pairs + pair)], s = rope[2 * (position * p.pairs + pair) + 1];
    if (is_query) {
        const float a = q[base + first], b = q[base + partner];
        q[base + first] = a * c - b * s;
        q[base + partner] = a * s + b * c;
    } else {
        const float a = k[base + first], b = k[base + partner];
        k[base + first] = a * c - b * s;
        k[base + partner] = a * s + b * c;
    }
}

void main() {
    const uint row = p.first_row + gl_WorkGroupID.x, position = step[2 * row + 1], lane = gl_LocalInvocationID.x;
    for (uint i = lane; i < p.heads * p.pairs; i += WORKGROUP) {
        rotate(p.q_offset + row * p.q_stride + (i / p.pairs) * p.head_dim, position, i % p.pairs, true);
    }
    for (uint i = lane; i < p.kv_heads * p.pairs; i += WORKGROUP) {
        rotate(p.k_offset + row * p.k_stride + (i / p.pairs) * p.head_dim, position, i % p.pairs, false);
    }
    memoryBarrierBuffer();
    barrier();
    const uint width = p.kv_heads * p.head_dim, cache_row = (position % p.cache_rows) * width;
    for (uint i = lane; i < width; i += WORKGROUP) {
        const float key = k[p.k_offset + row * p.k_stride + i], value = v[p.v_offset + row * p.v_stride + i];
        if (CACHE_F16) {
            key_cache_halves[p.key_cache_offset + cache_row + i] = float16_t(key);
            value_cache_halves[p.value_cache_offset + cache_row + i] = float16_t(value);
        } else {
            key_cache[p.key_cache_offset + cache_row + i] = key;
            value_cache[p.value_cache_offset + cache_row + i] = value;
        }
    }
}
