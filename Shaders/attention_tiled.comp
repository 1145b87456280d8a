// Attention for a prompt chunk, tiled: a workgroup takes 8 consecutive query rows of one sequence and
// one head, and walks the cached positions they may see in chunks of 8, each chunk's keys and values
// read once into shared memory for all 8 rows (attention.comp reads them once per row). Each of the
// 64 invocations scores one (row, position) pair of a chunk, then keeps one row's online softmax and
// an eighth of its output dimensions. Rows see their own position and the ones before it (the last
// `window` of them for a sliding-window layer); positions are read from the step buffer and the caches
// are rings of `cache_rows`. Specialization constants: 0 F16 cache (else F32), 1 the largest head
// width (at most 128).
#version 450
#extension GL_EXT_shader_16bit_storage : require

layout(constant_id = 0) const bool CACHE_F16 = true;
layout(constant_id = 1) const uint MAX_HEAD_DIM = 128;
layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer Query { float q[]; };
layout(std430, binding = 1) readonly buffer Step { uint step[]; };  // per row: token, position
layout(std430, binding = 2) readonly buffer KeyCache { float key_cache[]; };
layout(std430, binding = 3) readonly buffer KeyCacheHalves { float16_t key_cache_halves[]; };
layout(std430, binding = 4) readonly buffer ValueCache { float value_cache[]; };
layout(std430, binding = 5) readonly buffer ValueCacheHalves { float16_t value_cache_halves[]; };
layout(std430, binding = 6) writeonly buffer Output { float outputs[]; };

layout(push_constant) uniform Parameters {
    uint first_row, rows;  // the sequence's rows of the step
    uint q_offset, q_stride;  // floats
    uint out_offset, out_stride;
    uint heads, kv_heads, head_dim;
    uint cache_rows;
    uint key_cache_offset, value_cache_offset;  // elements
    uint window;  // 0: every earlier position
    float scale;
} p;

const uint TILE = 8, CHUNK = 8, DIMS_PER_LANE = MAX_HEAD_DIM / 8;
shared float queries[TILE][MAX_HEAD_DIM];
shared float keys[CHUNK][MAX_HEAD_DIM];
shared float values[CHUNK][MAX_HEAD_DIM];
shared float scores[TILE][CHUNK];

float key_at(uint i) { return CACHE_F16 ? float(key_cache_halves[p.key_cache_offset + i]) : key_cache[p.key_cache_offset + i]; }
float value_at(uint i) { return CACHE_F16 ? float(value_cache_halves[p.value_cache_offset + i]) : value_cache[p.value_cache_offset + i]; }

/// The first position a row at `position` sees.
uint oldest(uint position) { return p.window != 0 && position + 1 > p.window ? position + 1 - p.window : 0; }

void main() {
    const uint head = gl_WorkGroupID.y, lane = gl_LocalInvocationID.x;
    const uint kv_head = head / (p.heads / p.kv_heads), width = p.kv_heads * p.head_dim;
    const uint tile_first = gl_WorkGroupID.x * TILE, tile_rows = min(TILE, p.rows - tile_first);
    const uint first_row = p.first_row + tile_first;
    for (uint i = lane; i < TILE * p.head_dim; i += 64) {
        const uint t = i / p.head_dim, d = i % p.head_dim;
        queries[t][d] = t < tile_rows ? q[p.q_offset + (first_row + t) * p.q_stride + head * p.head_dim + d] : 0;
    }
    // The score this lane computes: row `mine`, chunk position `at`; the row whose output it keeps.
    const uint mine = lane / CHUNK, at = lane % CHUNK, kept = lane / 8, share = lane % 8;
    const uint my_position = step[2 * (first_row + min(mine, tile_rows - 1)) + 1];
    const uint kept_position = step[2 * (first_row + min(kept, tile_rows - 1)) + 1];
    const uint start = oldest(step[2 * first_row + 1]), end = step[2 * (first_row + tile_rows - 1) + 1];

    float maximum = -1.0 / 0.0, total = 0, acc[DIMS_PER_LANE];
    for (uint j = 0; j < DIMS_PER_LANE; j++) acc[j] = 0;
    for (uint chunk = start; chunk <= end; chunk += CHUNK) {
        barrier();
        for (uint i = lane; i < CHUNK * p.head_dim; i += 64) {
            const uint c = i / p.head_dim, d = i % p.head_dim, position = chunk + c;
            const uint at_cache = (position % p.cache_rows) * width + kv_head * p.head_dim + d;
            keys[c][d] = position <= end ? key_at(at_cache) : 0;
            values[c][d] = position <= end ? value_at(at_cache) : 0;
        }
        barrier();
        const uint position = chunk + at;
        float score = -1.0 / 0.0;
        if (mine < tile_rows && position <= my_position && position >= oldest(my_position)) {
            score = 0;
            for (uint d = 0; d < p.head_dim; d++) score += queries[mine][d] * keys[at][d];
            score *= p.scale;
        }
        scores[mine][at] = score;
        barrier();
        float chunk_max = -1.0 / 0.0;
        for (uint c = 0; c < CHUNK; c++) chunk_max = max(chunk_max, scores[kept][c]);
        // A chunk wholly outside this row's window leaves its softmax as it was.
        if (chunk_max != -1.0 / 0.0) {
            const float next = max(maximum, chunk_max), rescale = exp(maximum - next);
            total *= rescale;
            for (uint j = 0; j < DIMS_PER_LANE; j++) acc[j] *= rescale;
            for (uint c = 0; c < CHUNK; c++) {
                const float w = exp(scores[kept][c] - next);
                total += w;
                for (uint j = 0; j < DIMS_PER_LANE; j++) {
                    const uint d = share + 8 * j;
                    if (d < p.head_dim) acc[j] += w * values[c][d];
                }
            }
            maximum = next;
        }
    }
    if (kept >= tile_rows) return;
    for (uint j = 0; j < DIMS_PER_LANE; j++) {
        const uint d = share + 8 * j;
        if (d < p.head_dim) outputs[p.out_offset + (first_row + kept) * p.out_stride + head * p.head_dim + d] = acc[j] / total;
    }
}
