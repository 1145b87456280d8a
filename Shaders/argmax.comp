// The greedy choice of each row of logits, on the device so that only token ids come back: the
// index of the row's largest value, the lowest on ties (as the host's LogitScan.argmax). One
// workgroup per row; each invocation keeps the best of its strided share, then the workgroup's are
// reduced through shared memory. Specialization constant 0: the workgroup size.
#version 450

layout(constant_id = 0) const uint WORKGROUP = 256;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Rows { float values[]; };
layout(std430, binding = 1) writeonly buffer Indices { uint indices[]; };

layout(push_constant) uniform Parameters {
    uint width;
    uint offset;  // floats: where row 0 starts
} p;

const uint NONE = 0xffffffffu;
shared float best_values[WORKGROUP];
shared uint best_indices[WORKGROUP];

/// Whether (value, index) beats (best, at): larger, or as large and earlier.
bool beats(float value, uint index, float best, uint at) { return value > best || (value == best && index < at); }

void main() {
    const uint row = gl_WorkGroupID.x, lane = gl_LocalInvocationID.x, base = p.offset + row * p.width;
    float best = -1.0 / 0.0;
    uint at = NONE;
    for (uint i = lane; i < p.width; i += WORKGROUP) {
        const float value = values[base + i];
        if (beats(value, i, best, at)) {
            best = value;
            at = i;
        }
    }
    best_values[lane] = best;
    best_indices[lane] = at;
    barrier();
    for (uint stride = WORKGROUP / 2; stride > 0; stride /= 2) {
        if (lane < stride && beats(best_values[lane + stride], best_indices[lane + stride], best_values[lane], best_indices[lane])) {
            best_values[lane] = best_values[lane + stride];
            best_indices[lane] = best_indices[lane + stride];
        }
        barrier();
    }
    if (lane == 0) indices[row] = best_indices[0] == NONE ? 0 : best_indices[0];
}
