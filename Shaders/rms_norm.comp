// RMS normalisation, one workgroup per row: when `adds` is set, x[r] += adding[r] first (the previous
// block's output joining the residual stream), then output[r] = x[r] / sqrt(mean(x[r]^2) + epsilon) *
// weight. `output` may be the same buffer as `x`. The sum of squares is reduced through shared memory,
// so any subgroup size works (lavapipe's is 8). Specialization constant 0: the workgroup size.
#version 450

layout(constant_id = 0) const uint WORKGROUP = 128;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer Residual { float x[]; };
layout(std430, binding = 1) readonly buffer Adding { float adding[]; };
layout(std430, binding = 2) readonly buffer Weight { float weight[]; };
layout(std430, binding = 3) buffer Output { float outputs[]; };

layout(push_constant) uniform Parameters {
    uint width;
    uint adds;
    float epsilon;
} p;

shared float partial[WORKGROUP];

void main() {
    const uint row = gl_WorkGroupID.x, lane = gl_LocalInvocationID.x, base = row * p.width;
    float squares = 0;
    for (uint i = lane; i < p.width; i += WORKGROUP) {
        float v = x[base + i];
        if (p.adds != 0) {
            v += adding[base + i];
            x[base + i] = v;
        }
        squares += v * v;
    }
    partial[lane] = squares;
    barrier();
    for (uint stride = WORKGROUP / 2; stride > 0; stride /= 2) {
        if (lane < stride) partial[lane] += partial[lane + stride];
        barrier();
    }
    const float scale = inversesqrt(partial[0] / float(p.width) + p.epsilon);
    for (uint i = lane; i < p.width; i += WORKGROUP) outputs[base + i] = x[base + i] * scale * weight[i];
}
