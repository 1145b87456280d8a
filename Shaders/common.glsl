// Shared by the shaders: the step's inputs as the host writes them (per row of the step: its token id
// and its position), and the weight types' decoding, 32 values at a time, from a row's raw bytes.
// Type ids are ggml's (EmberFormats.TensorType). Every read of a weight goes through bytes (or 16/32-bit
// views of the same buffer), so no block needs an alignment the format does not give it.

#extension GL_EXT_shader_8bit_storage : require
#extension GL_EXT_shader_16bit_storage : require

#define TYPE_F32 0
#define TYPE_F16 1
#define TYPE_Q4_0 2
#define TYPE_Q4_1 3
#define TYPE_Q5_0 6
#define TYPE_Q5_1 7
#define TYPE_Q8_0 8
#define TYPE_Q4_K 12
#define TYPE_Q5_K 13
#define TYPE_Q6_K 14
#define TYPE_BF16 30

uint byte_at(uint i);
float half_at(uint i);
float float_at(uint i);

float half_bytes(uint i) { return unpackHalf2x16(byte_at(i) | (byte_at(i + 1) << 8)).x; }
uint word_bytes(uint i) { return byte_at(i) | (byte_at(i + 1) << 8) | (byte_at(i + 2) << 16) | (byte_at(i + 3) << 24); }
int signed_byte(uint i) { uint b = byte_at(i); return int(b) - int((b & 128u) << 1); }

/// Scale and min of sub-block j of a Q4_K/Q5_K super-block whose 12 scale bytes start at `q`.
void scale_min_k4(uint j, uint q, out float scale, out float minimum) {
    if (j < 4) {
        scale = float(byte_at(q + j) & 63u);
        minimum = float(byte_at(q + j + 4) & 63u);
    } else {
        scale = float((byte_at(q + j + 4) & 15u) | ((byte_at(q + j - 4) >> 6) << 4));
        minimum = float((byte_at(q + j + 4) >> 4) | ((byte_at(q + j) >> 6) << 4));
    }
}

/// Values 32g ..< 32g + 32 of the weight row that starts at byte `row`, for a row of `n` values
/// (values past n, in a float row's last group, are 0).
void dequant32(uint type, uint row, uint g, uint n, inout float v[32]) {
    if (type == TYPE_F32 || type == TYPE_F16 || type == TYPE_BF16) {
        for (uint i = 0; i < 32; i++) {
            uint k = 32 * g + i;
            if (k >= n) { v[i] = 0; continue; }
            if (type == TYPE_F32) v[i] = float_at(row / 4 + k);
            else if (type == TYPE_F16) v[i] = half_at(row / 2 + k);
            else v[i] = uintBitsToFloat((byte_at(row + 2 * k) | (byte_at(row + 2 * k + 1) << 8)) << 16);
        }
    } else if (type == TYPE_Q8_0) {
        uint b = row + 34 * g;
        float d = half_bytes(b);
        for (uint i = 0; i < 32; i++) v[i] = d * float(signed_byte(b + 2 + i));
    } else if (type == TYPE_Q4_0 || type == TYPE_Q4_1) {
        uint b = row + (type == TYPE_Q4_0 ? 18 : 20) * g, qs = b + (type == TYPE_Q4_0 ? 2 : 4);
        float d = half_bytes(b), m = type == TYPE_Q4_0 ? -8 * d : half_bytes(b + 2);
        for (uint i = 0; i < 16; i++) {
            uint q = byte_at(qs + i);
            v[i] = d * float(q & 15u) + m;
            v[i + 16] = d * float(q >> 4) + m;
        }
    } else if (type == TYPE_Q5_0 || type == TYPE_Q5_1) {
        uint b = row + (type == TYPE_Q5_0 ? 22 : 24) * g, h = b + (type == TYPE_Q5_0 ? 2 : 4);
        float d = half_bytes(b), m = type == TYPE_Q5_0 ? -16 * d : half_bytes(b + 2);
        uint qh = word_bytes(h);
        for (uint i = 0; i < 16; i++) {
            uint q = byte_at(h + 4 + i);
            v[i] = d * float((q & 15u) | (((qh >> i) & 1u) << 4)) + m;
            v[i + 16] = d * float((q >> 4) | (((qh >> (i + 16)) & 1u) << 4)) + m;
        }
    } else if (type == TYPE_Q4_K || type == TYPE_Q5_K) {
        uint j = g % 8, b = row + (type == TYPE_Q4_K ? 144 : 176) * (g / 8);
        float scale, minimum;
        scale_min_k4(j, b + 4, scale, minimum);
        float d = half_bytes(b) * scale, m = half_bytes(b + 2) * minimum;
        uint qs = b + (type == TYPE_Q4_K ? 16 : 48) + 32 * (j / 2), shift = 4 * (j % 2);
        for (uint i = 0; i < 32; i++) {
            uint q = (byte_at(qs + i) >> shift) & 15u;
            if (type == TYPE_Q5_K) q |= ((byte_at(b + 16 + i) >> j) & 1u) << 4;
            v[i] = d * float(q) - m;
        }
    } else if (type == TYPE_Q6_K) {
        uint b = row + 210 * (g / 8), h = (g % 8) / 4, k = g % 4;
        float d = half_bytes(b + 208);
        for (uint i = 0; i < 32; i++) {
            uint low = (byte_at(b + 64 * h + 32 * (k % 2) + i) >> (4 * (k / 2))) & 15u;
            uint high = (byte_at(b + 128 + 32 * h + i) >> (2 * k)) & 3u;
            v[i] = d * float(signed_byte(b + 192 + 8 * h + 2 * k + i / 16)) * float(int(low | (high << 4)) - 32);
        }
    }
}
