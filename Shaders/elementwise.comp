// Elementwise operations over `count` values of rows `width` wide, chosen by specialization constant
// 1: 0 x += bias (one row, repeated), 1 x *= factor, 2 x = factor * tanh(x / factor) (softcap),
// 3 out = silu(x) * other, 4 out = gelu_tanh(x) * other (the gated FFNs, x the gate and other the up
// projection). Constant 0: the workgroup size; a 2D grid past 65,535 workgroups.
#version 450

layout(constant_id = 0) const uint WORKGROUP = 256;
layout(constant_id = 1) const uint OPERATION = 0;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Other { float other[]; };
layout(std430, binding = 2) writeonly buffer Output { float outputs[]; };

layout(push_constant) uniform Parameters {
    uint count;
    uint width;
    float factor;
    uint x_offset;  // floats
    uint other_offset;
    uint out_offset;
} p;

void main() {
    const uint i = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * WORKGROUP + gl_LocalInvocationID.x;
    if (i >= p.count) return;
    const float v = x[p.x_offset + i];
    if (OPERATION == 0) {
        x[p.x_offset + i] = v + other[p.other_offset + i % p.width];
    } else if (OPERATION == 1) {
        x[p.x_offset + i] = v * p.factor;
    } else if (OPERATION == 2) {
        x[p.x_offset + i] = p.factor * tanh(v / p.factor);
    } else if (OPERATION == 3) {
        outputs[p.out_offset + i] = v / (1 + exp(-v)) * other[p.other_offset + i];
    } else {
        const float inner = 0.7978845608028654 * (v + 0.044715 * v * v * v);
        outputs[p.out_offset + i] = 0.5 * v * (1 + tanh(inner)) * other[p.other_offset + i];
    }
}
