// Ember's Vulkan compute runtime in C: the loader opened at run time (never linked), the devices and
// the features Ember uses, and a context per device with buffers, compute pipelines and command
// recordings. Swift (EmberVulkan) builds the backend on top; results are VkResult codes (0 success).

#ifndef EMBER_VULKAN_H
#define EMBER_VULKAN_H

#include <stddef.h>
#include <stdint.h>

/// What Ember needs to know of a device.
typedef struct ek_vk_device_info {
    char name[256];
    uint32_t vendor_id, device_id, api_version;
    /// VkPhysicalDeviceType: 1 integrated, 2 discrete, 3 virtual, 4 CPU, 0 other.
    uint32_t type;
    uint64_t device_local_bytes;
    /// UINT32_MAX when the device has no compute queue.
    uint32_t compute_queue_family;
    uint32_t subgroup_size;
    int subgroup_arithmetic, subgroup_shuffle;
    int shader_float16, shader_int8, storage_16bit, storage_8bit, push_descriptor;
    int timestamps;
    float timestamp_period;
    uint32_t max_storage_buffer_range, max_workgroup_invocations, max_workgroup_size_x, max_push_constants;
} ek_vk_device_info;

/// Opens the Vulkan loader (`EMBER_VULKAN_LOADER` names another file) and an instance, once per
/// process. 0 on success; otherwise `error` says what is missing.
int ek_vk_open(char *error, size_t error_size);
/// The devices of the instance (after a successful `ek_vk_open`).
int ek_vk_device_count(void);
int ek_vk_describe(int index, ek_vk_device_info *info);

typedef struct ek_vk_context ek_vk_context;

/// A logical device with a compute queue on device `index`; NULL with `error` set when it cannot be made.
ek_vk_context *ek_vk_context_create(int index, char *error, size_t error_size);
void ek_vk_context_destroy(ek_vk_context *context);
/// How many device objects (memory allocations, pipelines, command buffers, query pools) the context
/// has made: a step that makes none leaves it unchanged.
uint64_t ek_vk_objects_made(ek_vk_context *context);

typedef struct ek_vk_buffer {
    uint64_t buffer, memory;
    /// The host address of a host-visible buffer, else NULL.
    void *mapped;
    uint64_t size;
} ek_vk_buffer;

/// A zeroed storage buffer of `size` bytes: device-local (`host_visible` 0), or host-visible and
/// coherent (1: staging, step inputs). Device-local memory that the host can map (lavapipe, integrated
/// GPUs) is mapped as well, unless `host_visible` is 2 (as a discrete GPU's would be: for tests).
int ek_vk_buffer_create(ek_vk_context *context, uint64_t size, int host_visible, ek_vk_buffer *buffer);
void ek_vk_buffer_destroy(ek_vk_context *context, ek_vk_buffer *buffer);

/// A compute pipeline from SPIR-V with `bindings` storage buffers (bindings 0 ..< bindings, pushed per
/// dispatch), `push_bytes` of push constants and 32-bit specialization constants 0 ..< `spec_count`.
/// Writes an id for `ek_vk_dispatch`.
int ek_vk_pipeline_create(ek_vk_context *context, const uint32_t *code, size_t code_bytes, uint32_t bindings,
                          uint32_t push_bytes, const uint32_t *spec, uint32_t spec_count, uint32_t *pipeline);

/// One buffer range bound to a dispatch.
typedef struct ek_vk_binding {
    uint64_t buffer, offset, range;
} ek_vk_binding;

typedef struct ek_vk_recording ek_vk_recording;

/// A command buffer and its fence: recorded once, submitted as often as needed.
ek_vk_recording *ek_vk_recording_create(ek_vk_context *context);
void ek_vk_recording_destroy(ek_vk_recording *recording);
int ek_vk_begin(ek_vk_recording *recording);
void ek_vk_dispatch(ek_vk_recording *recording, uint32_t pipeline, const ek_vk_binding *bindings, uint32_t binding_count,
                    const void *push, uint32_t push_bytes, uint32_t groups_x, uint32_t groups_y, uint32_t groups_z);
/// Makes every earlier write (shader or transfer) visible to every later read.
void ek_vk_barrier(ek_vk_recording *recording);
void ek_vk_copy(ek_vk_recording *recording, uint64_t source, uint64_t source_offset, uint64_t destination,
                uint64_t destination_offset, uint64_t size);
/// GPU timestamps: a pool of `count` queries (0 when it cannot be made), reset in a recording before
/// use, each written when the work recorded before it is done; read back after the wait, in ticks of
/// the device's timestamp period.
uint64_t ek_vk_query_pool_create(ek_vk_context *context, uint32_t count);
void ek_vk_query_pool_destroy(ek_vk_context *context, uint64_t pool);
void ek_vk_reset_queries(ek_vk_recording *recording, uint64_t pool, uint32_t count);
void ek_vk_timestamp(ek_vk_recording *recording, uint64_t pool, uint32_t query);
int ek_vk_timestamps(ek_vk_context *context, uint64_t pool, uint32_t count, uint64_t *ticks);
/// Fills `size` bytes (a multiple of 4) at `offset` with the 32-bit `value`.
void ek_vk_fill(ek_vk_recording *recording, uint64_t buffer, uint64_t offset, uint64_t size, uint32_t value);
int ek_vk_end(ek_vk_recording *recording);
/// Submits the recording; `ek_vk_wait` waits at most `timeout_ns` for it (VK_TIMEOUT = 2, device lost = -4).
int ek_vk_submit(ek_vk_recording *recording);
/// Has `hook` called with 1 before and 0 after the driver's calls of `ek_vk_submit` and `ek_vk_wait`:
/// a test that counts allocations tells the driver's own from Ember's with it.
void ek_vk_set_driver_call_hook(void (*hook)(int entering));
int ek_vk_wait(ek_vk_recording *recording, uint64_t timeout_ns);

#endif
