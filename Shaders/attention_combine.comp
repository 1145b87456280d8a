// Merges the ranges of a decode row's attention split over its cache (attention.comp with splits > 1):
// each range left its maximum score m, its sum of exp(score - m) and its output unnormalized by that
// sum; the row's output is sum_s exp(m_s - M) out_s / sum_s exp(m_s - M) sum_s, M the largest m_s. One
// workgroup per (row, head); an empty range (m = -inf) weighs nothing. Specialization constant 0: the
// workgroup size.
#version 450

layout(constant_id = 0) const uint WORKGROUP = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Partials { float partials[]; };
layout(std430, binding = 1) writeonly buffer Output { float outputs[]; };

layout(push_constant) uniform Parameters {
    uint first_row;
    uint out_offset, out_stride;  // floats
    uint heads, head_dim, splits;
    uint partial_offset;  // floats: where the sequence's ranges start
} p;

void main() {
    const uint row = gl_WorkGroupID.x, head = gl_WorkGroupID.y, lane = gl_LocalInvocationID.x, stride = p.head_dim + 2;
    const uint base = p.partial_offset + (row * p.heads + head) * p.splits * stride;
    float largest = -1.0 / 0.0;
    for (uint s = 0; s < p.splits; s++) largest = max(largest, partials[base + s * stride]);
    float total = 0;
    for (uint s = 0; s < p.splits; s++) total += exp(partials[base + s * stride] - largest) * partials[base + s * stride + 1];
    for (uint d = lane; d < p.head_dim; d += WORKGROUP) {
        float sum = 0;
        for (uint s = 0; s < p.splits; s++) sum += exp(partials[base + s * stride] - largest) * partials[base + s * stride + 2 + d];
        outputs[p.out_offset + (p.first_row + row) * p.out_stride + head * p.head_dim + d] = sum / total;
    }
}
