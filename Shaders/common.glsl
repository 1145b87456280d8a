// Shared by the shaders: the step's inputs as the host writes them (per row of the step: its token id
// and its position), and the weight types' decoding, 4 values at a time, from a row's raw bytes.
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

/// Values k ..< k + 4 (k a multiple of 4) of the weight row that starts at byte `row`, for a row of
/// `n` values (values past n, in a float row's tail, are 0). The four share a block and a scale.
vec4 dequant4(uint type, uint row, uint k, uint n) {
    vec4 v = vec4(0);
    if (type == TYPE_F32 || type == TYPE_F16 || type == TYPE_BF16) {
        for (uint i = 0; i < 4; i++) {
            if (k + i >= n) break;
            if (type == TYPE_F32) v[i] = float_at(row / 4 + k + i);
            else if (type == TYPE_F16) v[i] = half_at(row / 2 + k + i);
            else v[i] = uintBitsToFloat((byte_at(row + 2 * (k + i)) | (byte_at(row + 2 * (k + i) + 1) << 8)) << 16);
        }
    } else if (type == TYPE_Q8_0) {
        const uint b = row + 34 * (k / 32), i0 = k % 32;
        const float d = half_bytes(b);
        for (uint i = 0; i < 4; i++) v[i] = d * float(signed_byte(b + 2 + i0 + i));
    } else if (type == TYPE_Q4_0 || type == TYPE_Q4_1 || type == TYPE_Q5_0 || type == TYPE_Q5_1) {
        // Element i of a block: the low nibble of byte i (i < 16) or the high one of byte i - 16, and
        // for the 5-bit types bit i of the 32-bit qh as its fifth bit.
        const bool five = type == TYPE_Q5_0 || type == TYPE_Q5_1, offset = type == TYPE_Q4_1 || type == TYPE_Q5_1;
        const uint bytes = five ? (offset ? 24 : 22) : (offset ? 20 : 18), b = row + bytes * (k / 32), i0 = k % 32;
        const uint qs = b + (offset ? 4 : 2) + (five ? 4 : 0), qh = five ? word_bytes(b + (offset ? 4 : 2)) : 0;
        const float d = half_bytes(b), m = offset ? half_bytes(b + 2) : (five ? -16 : -8) * d;
        for (uint i = 0; i < 4; i++) {
            const uint e = i0 + i;
            uint q = e < 16 ? byte_at(qs + e) & 15u : byte_at(qs + e - 16) >> 4;
            if (five) q |= ((qh >> e) & 1u) << 4;
            v[i] = d * float(q) + m;
        }
    } else if (type == TYPE_Q4_K || type == TYPE_Q5_K) {
        const uint b = row + (type == TYPE_Q4_K ? 144 : 176) * (k / 256), j = (k % 256) / 32, i0 = k % 32;
        float scale, minimum;
        scale_min_k4(j, b + 4, scale, minimum);
        const float d = half_bytes(b) * scale, m = half_bytes(b + 2) * minimum;
        const uint qs = b + (type == TYPE_Q4_K ? 16 : 48) + 32 * (j / 2) + i0, shift = 4 * (j % 2);
        for (uint i = 0; i < 4; i++) {
            uint q = (byte_at(qs + i) >> shift) & 15u;
            if (type == TYPE_Q5_K) q |= ((byte_at(b + 16 + i0 + i) >> j) & 1u) << 4;
            v[i] = d * float(q) - m;
        }
    } else if (type == TYPE_Q6_K) {
        // A half (128 values) has four quarters: low 4 bits from ql (two quarters per 32 bytes, low
        // then high nibbles), high 2 bits from qh (four quarters per 32 bytes), a scale per 16 values.
        const uint b = row + 210 * (k / 256), within = k % 256, h = within / 128, quarter = (within % 128) / 32, i0 = within % 32;
        const float d = half_bytes(b + 208) * float(signed_byte(b + 192 + 8 * h + 2 * quarter + i0 / 16));
        for (uint i = 0; i < 4; i++) {
            const uint low = (byte_at(b + 64 * h + 32 * (quarter % 2) + i0 + i) >> (4 * (quarter / 2))) & 15u;
            const uint high = (byte_at(b + 128 + 32 * h + i0 + i) >> (2 * quarter)) & 3u;
            v[i] = d * float(int(low | (high << 4)) - 32);
        }
    }
    return v;
}
