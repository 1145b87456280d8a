// RMS normalisation, one workgroup per row: when `adds` is set, x[r] += adding[r] first (the previous
// block's output joining the residual stream), then output[r] = x[r] / sqrt(mean(x[r]^2) + epsilon) *
// weight. `output` may be `x` (in place). Rows of `width` values; per-head norms are rows one head
// wide. The sum of squares is reduced through shared memory, or (the SUBGROUPS build) per subgroup
// and then across subgroups; any subgroup size works (lavapipe's is 8). Specialization constant 0:
// the workgroup size.
#version 450
#ifdef SUBGROUPS
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

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
    uint x_offset;  // floats, in each buffer
    uint adding_offset;
    uint weight_offset;
    uint out_offset;
} p;

shared float partial[WORKGROUP];

void main() {
    const uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x, lane = gl_LocalInvocationID.x;
    const uint base = p.x_offset + row * p.width, added = p.adding_offset + row * p.width, out_base = p.out_offset + row * p.width;
    float squares = 0;
    for (uint i = lane; i < p.width; i += WORKGROUP) {
        float v = x[base + i];
        if (p.adds != 0) {
            v += adding[added + i];
            x[base + i] = v;
        }
        squares += v * v;
    }
#ifdef SUBGROUPS
    squares = subgroupAdd(squares);
    if (gl_SubgroupInvocationID == 0) partial[gl_SubgroupID] = squares;
    barrier();
    float total = 0;
    for (uint s = 0; s < gl_NumSubgroups; s++) total += partial[s];
#else
    partial[lane] = squares;
    barrier();
    for (uint stride = WORKGROUP / 2; stride > 0; stride /= 2) {
        if (lane < stride) partial[lane] += partial[lane + stride];
        barrier();
    }
    const float total = partial[0];
#endif
    const float scale = inversesqrt(total / float(p.width) + p.epsilon);
    for (uint i = lane; i < p.width; i += WORKGROUP) outputs[out_base + i] = x[base + i] * scale * weight[p.weight_offset + i];
}
