// The Vulkan runtime behind EmberVulkan.h: the loader through dlopen, the instance and its devices,
// and per device a context (queue, command pool, memory types, pipelines). Every entry point is
// fetched through vkGetInstanceProcAddr / vkGetDeviceProcAddr; nothing links against Vulkan.

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "EmberVulkan.h"
#include "vulkan_subset.h"

typedef void (*PFN_vkVoidFunction)(void);

#define INSTANCE_FUNCTIONS(X)                        \
    X(vkEnumeratePhysicalDevices)                    \
    X(vkGetPhysicalDeviceProperties2)                \
    X(vkGetPhysicalDeviceFeatures2)                  \
    X(vkGetPhysicalDeviceMemoryProperties)           \
    X(vkGetPhysicalDeviceQueueFamilyProperties)      \
    X(vkEnumerateDeviceExtensionProperties)          \
    X(vkCreateDevice)                                \
    X(vkGetDeviceProcAddr)

#define DEVICE_FUNCTIONS(X)          \
    X(vkDestroyDevice)               \
    X(vkGetDeviceQueue)              \
    X(vkCreateBuffer)                \
    X(vkDestroyBuffer)               \
    X(vkGetBufferMemoryRequirements) \
    X(vkAllocateMemory)              \
    X(vkFreeMemory)                  \
    X(vkBindBufferMemory)            \
    X(vkMapMemory)                   \
    X(vkCreateShaderModule)          \
    X(vkDestroyShaderModule)         \
    X(vkCreateDescriptorSetLayout)   \
    X(vkDestroyDescriptorSetLayout)  \
    X(vkCreatePipelineLayout)        \
    X(vkDestroyPipelineLayout)       \
    X(vkCreateComputePipelines)      \
    X(vkDestroyPipeline)             \
    X(vkCreateCommandPool)           \
    X(vkDestroyCommandPool)          \
    X(vkAllocateCommandBuffers)      \
    X(vkFreeCommandBuffers)          \
    X(vkBeginCommandBuffer)          \
    X(vkEndCommandBuffer)            \
    X(vkResetCommandBuffer)          \
    X(vkCmdBindPipeline)             \
    X(vkCmdPushConstants)            \
    X(vkCmdPushDescriptorSetKHR)     \
    X(vkCmdDispatch)                 \
    X(vkCmdPipelineBarrier)          \
    X(vkCmdCopyBuffer)               \
    X(vkCmdFillBuffer)               \
    X(vkCreateFence)                 \
    X(vkDestroyFence)                \
    X(vkResetFences)                 \
    X(vkWaitForFences)               \
    X(vkQueueSubmit)                 \
    X(vkCreateQueryPool)             \
    X(vkDestroyQueryPool)            \
    X(vkCmdResetQueryPool)           \
    X(vkCmdWriteTimestamp)           \
    X(vkGetQueryPoolResults)         \
    X(vkDeviceWaitIdle)

// Each function is called through a pointer of its own exact type at the call sites below.
static PFN_vkVoidFunction (*vkGetInstanceProcAddr)(VkInstance, const char *);
static VkResult (*vkCreateInstance)(const VkInstanceCreateInfo *, const void *, VkInstance *);
static VkResult (*vkEnumerateInstanceExtensionProperties)(const char *, uint32_t *, VkExtensionProperties *);
#define FIELD(name) PFN_vkVoidFunction name;
static struct { INSTANCE_FUNCTIONS(FIELD) } vki;

static VkInstance instance;
static VkPhysicalDevice *physical_devices;
static uint32_t physical_device_count;
static int open_result = 1;  // 1: not tried yet
static char open_error[256];

#define CALL(table, name, type, ...) ((type)(table).name)(__VA_ARGS__)

static void say(char *error, size_t size, const char *message) {
    if (error && size) snprintf(error, size, "%s", message);
}

int ek_vk_open(char *error, size_t error_size) {
    if (open_result != 1) {
        say(error, error_size, open_error);
        return open_result;
    }
    const char *path = getenv("EMBER_VULKAN_LOADER");
    void *library = dlopen(path ? path : "libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library && !path) library = dlopen("libvulkan.so", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(open_error, sizeof open_error, "no Vulkan loader (%s not found; Debian: apt install libvulkan1, and a driver such as mesa-vulkan-drivers)",
                 path ? path : "libvulkan.so.1");
        open_result = -9;
        return ek_vk_open(error, error_size);
    }
    vkGetInstanceProcAddr = (PFN_vkVoidFunction(*)(VkInstance, const char *))dlsym(library, "vkGetInstanceProcAddr");
    if (!vkGetInstanceProcAddr) {
        snprintf(open_error, sizeof open_error, "the Vulkan loader has no vkGetInstanceProcAddr");
        open_result = -9;
        return ek_vk_open(error, error_size);
    }
    vkCreateInstance = (VkResult(*)(const VkInstanceCreateInfo *, const void *, VkInstance *))vkGetInstanceProcAddr(NULL, "vkCreateInstance");
    vkEnumerateInstanceExtensionProperties = (VkResult(*)(const char *, uint32_t *, VkExtensionProperties *))vkGetInstanceProcAddr(
        NULL, "vkEnumerateInstanceExtensionProperties");
    // Portability enumeration lists devices such as MoltenVK's; enable it only where the loader has it.
    const char *extensions[1];
    uint32_t extension_count = 0, available = 0;
    int portability = 0;
    if (vkEnumerateInstanceExtensionProperties && vkEnumerateInstanceExtensionProperties(NULL, &available, NULL) == VK_SUCCESS && available) {
        VkExtensionProperties *properties = calloc(available, sizeof *properties);
        if (properties && vkEnumerateInstanceExtensionProperties(NULL, &available, properties) >= VK_SUCCESS) {
            for (uint32_t i = 0; i < available; i++)
                if (!strcmp(properties[i].extensionName, "VK_KHR_portability_enumeration")) portability = 1;
        }
        free(properties);
    }
    if (portability) extensions[extension_count++] = "VK_KHR_portability_enumeration";
    VkApplicationInfo application = {VK_STRUCTURE_TYPE_APPLICATION_INFO, NULL, "ember", 1, "ember", 1, VK_API_VERSION_1_1};
    VkInstanceCreateInfo create = {VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, NULL, portability ? 1u : 0u, &application, 0, NULL,
                                   extension_count, extensions};
    VkResult result = vkCreateInstance ? vkCreateInstance(&create, NULL, &instance) : VK_ERROR_INITIALIZATION_FAILED;
    if (result != VK_SUCCESS) {
        snprintf(open_error, sizeof open_error, "the Vulkan loader could not create an instance (VkResult %d: no driver, or none for Vulkan 1.1)",
                 result);
        open_result = result;
        return ek_vk_open(error, error_size);
    }
#define LOAD(name) vki.name = vkGetInstanceProcAddr(instance, #name);
    INSTANCE_FUNCTIONS(LOAD)
    CALL(vki, vkEnumeratePhysicalDevices, VkResult(*)(VkInstance, uint32_t *, VkPhysicalDevice *), instance, &physical_device_count, NULL);
    physical_devices = calloc(physical_device_count ? physical_device_count : 1, sizeof *physical_devices);
    CALL(vki, vkEnumeratePhysicalDevices, VkResult(*)(VkInstance, uint32_t *, VkPhysicalDevice *), instance, &physical_device_count,
         physical_devices);
    open_result = 0;
    open_error[0] = 0;
    return 0;
}

int ek_vk_device_count(void) { return open_result == 0 ? (int)physical_device_count : 0; }

static int has_extension(VkPhysicalDevice device, const char *name) {
    uint32_t count = 0;
    CALL(vki, vkEnumerateDeviceExtensionProperties, VkResult(*)(VkPhysicalDevice, const char *, uint32_t *, VkExtensionProperties *),
         device, NULL, &count, NULL);
    VkExtensionProperties *properties = calloc(count ? count : 1, sizeof *properties);
    CALL(vki, vkEnumerateDeviceExtensionProperties, VkResult(*)(VkPhysicalDevice, const char *, uint32_t *, VkExtensionProperties *),
         device, NULL, &count, properties);
    int found = 0;
    for (uint32_t i = 0; i < count; i++) found |= !strcmp(properties[i].extensionName, name);
    free(properties);
    return found;
}

int ek_vk_describe(int index, ek_vk_device_info *info) {
    if (index < 0 || index >= ek_vk_device_count()) return VK_ERROR_INITIALIZATION_FAILED;
    VkPhysicalDevice device = physical_devices[index];
    memset(info, 0, sizeof *info);

    VkPhysicalDeviceSubgroupProperties subgroup = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 properties = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &subgroup};
    CALL(vki, vkGetPhysicalDeviceProperties2, void (*)(VkPhysicalDevice, VkPhysicalDeviceProperties2 *), device, &properties);
    const VkPhysicalDeviceProperties *p = &properties.properties;
    snprintf(info->name, sizeof info->name, "%s", p->deviceName);
    info->vendor_id = p->vendorID;
    info->device_id = p->deviceID;
    info->api_version = p->apiVersion;
    info->type = p->deviceType;
    info->subgroup_size = subgroup.subgroupSize;
    int compute_stage = (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) != 0;
    info->subgroup_arithmetic = compute_stage && (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
    info->subgroup_shuffle = compute_stage && (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
    info->timestamp_period = p->limits.timestampPeriod;
    info->max_storage_buffer_range = p->limits.maxStorageBufferRange;
    info->max_workgroup_invocations = p->limits.maxComputeWorkGroupInvocations;
    info->max_workgroup_size_x = p->limits.maxComputeWorkGroupSize[0];
    info->max_push_constants = p->limits.maxPushConstantsSize;

    VkPhysicalDevice8BitStorageFeatures storage8 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES};
    VkPhysicalDevice16BitStorageFeatures storage16 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES, &storage8};
    VkPhysicalDeviceShaderFloat16Int8Features arithmetic = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES, &storage16};
    VkPhysicalDeviceFeatures2 features = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &arithmetic};
    CALL(vki, vkGetPhysicalDeviceFeatures2, void (*)(VkPhysicalDevice, VkPhysicalDeviceFeatures2 *), device, &features);
    info->shader_float16 = arithmetic.shaderFloat16;
    info->shader_int8 = arithmetic.shaderInt8;
    info->storage_16bit = storage16.storageBuffer16BitAccess;
    info->storage_8bit = storage8.storageBuffer8BitAccess;
    info->push_descriptor = has_extension(device, "VK_KHR_push_descriptor");

    VkPhysicalDeviceMemoryProperties memory;
    CALL(vki, vkGetPhysicalDeviceMemoryProperties, void (*)(VkPhysicalDevice, VkPhysicalDeviceMemoryProperties *), device, &memory);
    for (uint32_t h = 0; h < memory.memoryHeapCount; h++)
        if (memory.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) info->device_local_bytes += memory.memoryHeaps[h].size;

    uint32_t families = 0;
    CALL(vki, vkGetPhysicalDeviceQueueFamilyProperties, void (*)(VkPhysicalDevice, uint32_t *, VkQueueFamilyProperties *), device, &families, NULL);
    VkQueueFamilyProperties *family = calloc(families ? families : 1, sizeof *family);
    CALL(vki, vkGetPhysicalDeviceQueueFamilyProperties, void (*)(VkPhysicalDevice, uint32_t *, VkQueueFamilyProperties *), device, &families, family);
    info->compute_queue_family = UINT32_MAX;
    for (uint32_t f = 0; f < families && info->compute_queue_family == UINT32_MAX; f++) {
        if (family[f].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            info->compute_queue_family = f;
            info->timestamps = family[f].timestampValidBits > 0;
        }
    }
    free(family);
    return VK_SUCCESS;
}

// MARK: Contexts

typedef struct pipeline_entry {
    VkPipeline pipeline;
    VkPipelineLayout layout;
    VkDescriptorSetLayout set_layout;
    uint32_t bindings;
} pipeline_entry;

struct ek_vk_context {
    VkPhysicalDevice physical;
    VkDevice device;
    VkQueue queue;
    VkCommandPool pool;
    ek_vk_device_info info;
    VkPhysicalDeviceMemoryProperties memory;
    pipeline_entry *pipelines;
    uint32_t pipeline_count, pipeline_capacity;
    /// Device objects made so far (memory, pipelines, command buffers, query pools).
    uint64_t objects_made;
    struct { DEVICE_FUNCTIONS(FIELD) } vk;
};

uint64_t ek_vk_objects_made(ek_vk_context *c) { return c->objects_made; }

ek_vk_context *ek_vk_context_create(int index, char *error, size_t error_size) {
    if (ek_vk_open(error, error_size) != 0) return NULL;
    if (index < 0 || index >= ek_vk_device_count()) {
        char message[128];
        snprintf(message, sizeof message, "no Vulkan device %d (%d found)", index, ek_vk_device_count());
        say(error, error_size, message);
        return NULL;
    }
    ek_vk_context *c = calloc(1, sizeof *c);
    c->physical = physical_devices[index];
    ek_vk_describe(index, &c->info);
    if (c->info.compute_queue_family == UINT32_MAX || !c->info.push_descriptor || !c->info.storage_16bit || !c->info.storage_8bit) {
        char message[512];
        snprintf(message, sizeof message, "Vulkan device %d (%s) lacks what Ember needs:%s%s%s%s", index, c->info.name,
                 c->info.compute_queue_family == UINT32_MAX ? " a compute queue" : "",
                 c->info.push_descriptor ? "" : " VK_KHR_push_descriptor", c->info.storage_16bit ? "" : " 16-bit storage buffers",
                 c->info.storage_8bit ? "" : " 8-bit storage buffers");
        say(error, error_size, message);
        free(c);
        return NULL;
    }
    CALL(vki, vkGetPhysicalDeviceMemoryProperties, void (*)(VkPhysicalDevice, VkPhysicalDeviceMemoryProperties *), c->physical, &c->memory);

    float priority = 1;
    VkDeviceQueueCreateInfo queue = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, NULL, 0, c->info.compute_queue_family, 1, &priority};
    VkPhysicalDevice8BitStorageFeatures storage8 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES, NULL, 1};
    VkPhysicalDevice16BitStorageFeatures storage16 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES, &storage8, 1};
    VkPhysicalDeviceShaderFloat16Int8Features arithmetic = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES, &storage16,
                                                            (VkBool32)c->info.shader_float16, (VkBool32)c->info.shader_int8};
    const char *extensions[] = {"VK_KHR_push_descriptor"};
    VkDeviceCreateInfo create = {VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &arithmetic, 0, 1, &queue, 0, NULL, 1, extensions, NULL};
    VkResult result = CALL(vki, vkCreateDevice, VkResult(*)(VkPhysicalDevice, const VkDeviceCreateInfo *, const void *, VkDevice *),
                           c->physical, &create, NULL, &c->device);
    if (result != VK_SUCCESS) {
        char message[512];
        snprintf(message, sizeof message, "Vulkan device %d (%s): vkCreateDevice failed (VkResult %d)", index, c->info.name, result);
        say(error, error_size, message);
        free(c);
        return NULL;
    }
#define LOAD_DEVICE(name) c->vk.name = CALL(vki, vkGetDeviceProcAddr, PFN_vkVoidFunction(*)(VkDevice, const char *), c->device, #name);
    DEVICE_FUNCTIONS(LOAD_DEVICE)
    CALL(c->vk, vkGetDeviceQueue, void (*)(VkDevice, uint32_t, uint32_t, VkQueue *), c->device, c->info.compute_queue_family, 0, &c->queue);
    VkCommandPoolCreateInfo pool = {VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, NULL, VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                    c->info.compute_queue_family};
    CALL(c->vk, vkCreateCommandPool, VkResult(*)(VkDevice, const VkCommandPoolCreateInfo *, const void *, VkCommandPool *), c->device, &pool,
         NULL, &c->pool);
    return c;
}

void ek_vk_context_destroy(ek_vk_context *c) {
    if (!c) return;
    CALL(c->vk, vkDeviceWaitIdle, VkResult(*)(VkDevice), c->device);
    for (uint32_t i = 0; i < c->pipeline_count; i++) {
        pipeline_entry *e = &c->pipelines[i];
        CALL(c->vk, vkDestroyPipeline, void (*)(VkDevice, VkPipeline, const void *), c->device, e->pipeline, NULL);
        CALL(c->vk, vkDestroyPipelineLayout, void (*)(VkDevice, VkPipelineLayout, const void *), c->device, e->layout, NULL);
        CALL(c->vk, vkDestroyDescriptorSetLayout, void (*)(VkDevice, VkDescriptorSetLayout, const void *), c->device, e->set_layout, NULL);
    }
    free(c->pipelines);
    CALL(c->vk, vkDestroyCommandPool, void (*)(VkDevice, VkCommandPool, const void *), c->device, c->pool, NULL);
    CALL(c->vk, vkDestroyDevice, void (*)(VkDevice, const void *), c->device, NULL);
    free(c);
}

// MARK: Buffers

static int memory_type(ek_vk_context *c, uint32_t allowed, VkFlags wanted) {
    for (uint32_t t = 0; t < c->memory.memoryTypeCount; t++)
        if ((allowed & (1u << t)) && (c->memory.memoryTypes[t].propertyFlags & wanted) == wanted) return (int)t;
    return -1;
}

int ek_vk_buffer_create(ek_vk_context *c, uint64_t size, int host_visible, ek_vk_buffer *out) {
    memset(out, 0, sizeof *out);
    VkBufferCreateInfo create = {VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, NULL, 0, size,
                                 VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                                 VK_SHARING_MODE_EXCLUSIVE, 0, NULL};
    VkResult result = CALL(c->vk, vkCreateBuffer, VkResult(*)(VkDevice, const VkBufferCreateInfo *, const void *, VkBuffer *), c->device,
                           &create, NULL, &out->buffer);
    if (result != VK_SUCCESS) return result;
    VkMemoryRequirements requirements;
    CALL(c->vk, vkGetBufferMemoryRequirements, void (*)(VkDevice, VkBuffer, VkMemoryRequirements *), c->device, out->buffer, &requirements);
    int type = host_visible ? memory_type(c, requirements.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)
                            : memory_type(c, requirements.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (type < 0) type = memory_type(c, requirements.memoryTypeBits, 0);
    VkMemoryAllocateInfo allocate = {VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, NULL, requirements.size, (uint32_t)type};
    result = CALL(c->vk, vkAllocateMemory, VkResult(*)(VkDevice, const VkMemoryAllocateInfo *, const void *, VkDeviceMemory *), c->device,
                  &allocate, NULL, &out->memory);
    if (result == VK_SUCCESS)
        result = CALL(c->vk, vkBindBufferMemory, VkResult(*)(VkDevice, VkBuffer, VkDeviceMemory, VkDeviceSize), c->device, out->buffer,
                      out->memory, 0);
    // Device memory that the host can map (lavapipe, integrated GPUs) is mapped too: data arrives by copy.
    VkFlags mappable = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    if (result == VK_SUCCESS && (host_visible == 1 || (host_visible == 0 && (c->memory.memoryTypes[type].propertyFlags & mappable) == mappable)))
        result = CALL(c->vk, vkMapMemory, VkResult(*)(VkDevice, VkDeviceMemory, VkDeviceSize, VkDeviceSize, VkFlags, void **), c->device,
                      out->memory, 0, VK_WHOLE_SIZE, 0, &out->mapped);
    if (result == VK_SUCCESS) c->objects_made++;
    if (result != VK_SUCCESS) {
        ek_vk_buffer_destroy(c, out);
        return result;
    }
    out->size = size;
    if (out->mapped) memset(out->mapped, 0, size);
    return VK_SUCCESS;
}

void ek_vk_buffer_destroy(ek_vk_context *c, ek_vk_buffer *b) {
    if (b->buffer) CALL(c->vk, vkDestroyBuffer, void (*)(VkDevice, VkBuffer, const void *), c->device, b->buffer, NULL);
    if (b->memory) CALL(c->vk, vkFreeMemory, void (*)(VkDevice, VkDeviceMemory, const void *), c->device, b->memory, NULL);
    memset(b, 0, sizeof *b);
}

// MARK: Pipelines

int ek_vk_pipeline_create(ek_vk_context *c, const uint32_t *code, size_t code_bytes, uint32_t bindings, uint32_t push_bytes,
                          const uint32_t *spec, uint32_t spec_count, uint32_t *id) {
    pipeline_entry e = {.bindings = bindings};
    VkDescriptorSetLayoutBinding binding[16];
    if (bindings > 16) return VK_ERROR_INITIALIZATION_FAILED;
    for (uint32_t i = 0; i < bindings; i++)
        binding[i] = (VkDescriptorSetLayoutBinding){i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, NULL};
    VkDescriptorSetLayoutCreateInfo set = {VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, NULL,
                                           VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR, bindings, binding};
    VkResult result = CALL(c->vk, vkCreateDescriptorSetLayout,
                           VkResult(*)(VkDevice, const VkDescriptorSetLayoutCreateInfo *, const void *, VkDescriptorSetLayout *), c->device,
                           &set, NULL, &e.set_layout);
    if (result != VK_SUCCESS) return result;
    VkPushConstantRange range = {VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes};
    VkPipelineLayoutCreateInfo layout = {VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, NULL, 0, 1, &e.set_layout, push_bytes ? 1u : 0u, &range};
    result = CALL(c->vk, vkCreatePipelineLayout, VkResult(*)(VkDevice, const VkPipelineLayoutCreateInfo *, const void *, VkPipelineLayout *),
                  c->device, &layout, NULL, &e.layout);
    VkShaderModule module = 0;
    VkShaderModuleCreateInfo shader = {VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, NULL, 0, code_bytes, code};
    if (result == VK_SUCCESS)
        result = CALL(c->vk, vkCreateShaderModule, VkResult(*)(VkDevice, const VkShaderModuleCreateInfo *, const void *, VkShaderModule *),
                      c->device, &shader, NULL, &module);
    VkSpecializationMapEntry entries[32];
    if (spec_count > 32) result = VK_ERROR_INITIALIZATION_FAILED;
    for (uint32_t i = 0; i < spec_count && i < 32; i++) entries[i] = (VkSpecializationMapEntry){i, 4 * i, 4};
    VkSpecializationInfo specialization = {spec_count, entries, 4 * (size_t)spec_count, spec};
    VkComputePipelineCreateInfo create = {
        VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO, NULL, 0,
        {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, NULL, 0, VK_SHADER_STAGE_COMPUTE_BIT, module, "main",
         spec_count ? &specialization : NULL},
        e.layout, 0, -1};
    if (result == VK_SUCCESS)
        result = CALL(c->vk, vkCreateComputePipelines,
                      VkResult(*)(VkDevice, VkPipelineCache, uint32_t, const VkComputePipelineCreateInfo *, const void *, VkPipeline *), c->device,
                      0, 1, &create, NULL, &e.pipeline);
    if (module) CALL(c->vk, vkDestroyShaderModule, void (*)(VkDevice, VkShaderModule, const void *), c->device, module, NULL);
    if (result != VK_SUCCESS) {
        if (e.layout) CALL(c->vk, vkDestroyPipelineLayout, void (*)(VkDevice, VkPipelineLayout, const void *), c->device, e.layout, NULL);
        CALL(c->vk, vkDestroyDescriptorSetLayout, void (*)(VkDevice, VkDescriptorSetLayout, const void *), c->device, e.set_layout, NULL);
        return result;
    }
    if (c->pipeline_count == c->pipeline_capacity) {
        c->pipeline_capacity = c->pipeline_capacity ? 2 * c->pipeline_capacity : 16;
        c->pipelines = realloc(c->pipelines, c->pipeline_capacity * sizeof *c->pipelines);
    }
    c->pipelines[c->pipeline_count] = e;
    c->objects_made++;
    *id = c->pipeline_count++;
    return VK_SUCCESS;
}

// MARK: Recordings

struct ek_vk_recording {
    ek_vk_context *context;
    VkCommandBuffer commands;
    VkFence fence;
};

ek_vk_recording *ek_vk_recording_create(ek_vk_context *c) {
    ek_vk_recording *r = calloc(1, sizeof *r);
    r->context = c;
    VkCommandBufferAllocateInfo allocate = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, NULL, c->pool, VK_COMMAND_BUFFER_LEVEL_PRIMARY, 1};
    VkFenceCreateInfo fence = {VK_STRUCTURE_TYPE_FENCE_CREATE_INFO, NULL, 0};
    if (CALL(c->vk, vkAllocateCommandBuffers, VkResult(*)(VkDevice, const VkCommandBufferAllocateInfo *, VkCommandBuffer *), c->device,
             &allocate, &r->commands) != VK_SUCCESS ||
        CALL(c->vk, vkCreateFence, VkResult(*)(VkDevice, const VkFenceCreateInfo *, const void *, VkFence *), c->device, &fence, NULL,
             &r->fence) != VK_SUCCESS) {
        ek_vk_recording_destroy(r);
        return NULL;
    }
    c->objects_made++;
    return r;
}

void ek_vk_recording_destroy(ek_vk_recording *r) {
    if (!r) return;
    ek_vk_context *c = r->context;
    if (r->fence) CALL(c->vk, vkDestroyFence, void (*)(VkDevice, VkFence, const void *), c->device, r->fence, NULL);
    if (r->commands) CALL(c->vk, vkFreeCommandBuffers, void (*)(VkDevice, VkCommandPool, uint32_t, const VkCommandBuffer *), c->device, c->pool, 1,
                          &r->commands);
    free(r);
}

int ek_vk_begin(ek_vk_recording *r) {
    ek_vk_context *c = r->context;
    CALL(c->vk, vkResetCommandBuffer, VkResult(*)(VkCommandBuffer, VkFlags), r->commands, 0);
    VkCommandBufferBeginInfo begin = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, NULL, 0, NULL};
    return CALL(c->vk, vkBeginCommandBuffer, VkResult(*)(VkCommandBuffer, const VkCommandBufferBeginInfo *), r->commands, &begin);
}

void ek_vk_dispatch(ek_vk_recording *r, uint32_t pipeline, const ek_vk_binding *bindings, uint32_t binding_count, const void *push,
                    uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz) {
    ek_vk_context *c = r->context;
    pipeline_entry *e = &c->pipelines[pipeline];
    CALL(c->vk, vkCmdBindPipeline, void (*)(VkCommandBuffer, uint32_t, VkPipeline), r->commands, VK_PIPELINE_BIND_POINT_COMPUTE, e->pipeline);
    VkDescriptorBufferInfo info[16];
    VkWriteDescriptorSet writes[16];
    for (uint32_t i = 0; i < binding_count && i < 16; i++) {
        info[i] = (VkDescriptorBufferInfo){bindings[i].buffer, bindings[i].offset, bindings[i].range};
        writes[i] = (VkWriteDescriptorSet){VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, NULL, 0, i, 0, 1, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, NULL, &info[i], NULL};
    }
    CALL(c->vk, vkCmdPushDescriptorSetKHR, void (*)(VkCommandBuffer, uint32_t, VkPipelineLayout, uint32_t, uint32_t, const VkWriteDescriptorSet *),
         r->commands, VK_PIPELINE_BIND_POINT_COMPUTE, e->layout, 0, binding_count, writes);
    if (push_bytes)
        CALL(c->vk, vkCmdPushConstants, void (*)(VkCommandBuffer, VkPipelineLayout, VkFlags, uint32_t, uint32_t, const void *), r->commands,
             e->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes, push);
    CALL(c->vk, vkCmdDispatch, void (*)(VkCommandBuffer, uint32_t, uint32_t, uint32_t), r->commands, gx, gy, gz);
}

void ek_vk_barrier(ek_vk_recording *r) {
    ek_vk_context *c = r->context;
    VkMemoryBarrier barrier = {VK_STRUCTURE_TYPE_MEMORY_BARRIER, NULL, VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                               VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT |
                                   VK_ACCESS_HOST_READ_BIT};
    VkFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    CALL(c->vk, vkCmdPipelineBarrier,
         void (*)(VkCommandBuffer, VkFlags, VkFlags, VkFlags, uint32_t, const VkMemoryBarrier *, uint32_t, const void *, uint32_t, const void *),
         r->commands, stages, stages | VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier, 0, NULL, 0, NULL);
}

void ek_vk_copy(ek_vk_recording *r, uint64_t source, uint64_t source_offset, uint64_t destination, uint64_t destination_offset, uint64_t size) {
    ek_vk_context *c = r->context;
    VkBufferCopy region = {source_offset, destination_offset, size};
    CALL(c->vk, vkCmdCopyBuffer, void (*)(VkCommandBuffer, VkBuffer, VkBuffer, uint32_t, const VkBufferCopy *), r->commands, source,
         destination, 1, &region);
}

void ek_vk_fill(ek_vk_recording *r, uint64_t buffer, uint64_t offset, uint64_t size, uint32_t value) {
    ek_vk_context *c = r->context;
    CALL(c->vk, vkCmdFillBuffer, void (*)(VkCommandBuffer, VkBuffer, VkDeviceSize, VkDeviceSize, uint32_t), r->commands, buffer, offset, size,
         value);
}

uint64_t ek_vk_query_pool_create(ek_vk_context *c, uint32_t count) {
    VkQueryPoolCreateInfo create = {VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO, NULL, 0, VK_QUERY_TYPE_TIMESTAMP, count, 0};
    VkQueryPool pool = 0;
    if (CALL(c->vk, vkCreateQueryPool, VkResult(*)(VkDevice, const VkQueryPoolCreateInfo *, const void *, VkQueryPool *), c->device, &create,
             NULL, &pool) != VK_SUCCESS)
        return 0;
    c->objects_made++;
    return pool;
}

void ek_vk_query_pool_destroy(ek_vk_context *c, uint64_t pool) {
    if (pool) CALL(c->vk, vkDestroyQueryPool, void (*)(VkDevice, VkQueryPool, const void *), c->device, pool, NULL);
}

void ek_vk_reset_queries(ek_vk_recording *r, uint64_t pool, uint32_t count) {
    CALL(r->context->vk, vkCmdResetQueryPool, void (*)(VkCommandBuffer, VkQueryPool, uint32_t, uint32_t), r->commands, pool, 0, count);
}

void ek_vk_timestamp(ek_vk_recording *r, uint64_t pool, uint32_t query) {
    CALL(r->context->vk, vkCmdWriteTimestamp, void (*)(VkCommandBuffer, VkFlags, VkQueryPool, uint32_t), r->commands,
         VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, pool, query);
}

int ek_vk_timestamps(ek_vk_context *c, uint64_t pool, uint32_t count, uint64_t *ticks) {
    return CALL(c->vk, vkGetQueryPoolResults,
                VkResult(*)(VkDevice, VkQueryPool, uint32_t, uint32_t, size_t, void *, VkDeviceSize, VkFlags), c->device, pool, 0, count,
                sizeof(uint64_t) * count, ticks, sizeof(uint64_t), 0x1 /* VK_QUERY_RESULT_64_BIT */);
}

int ek_vk_end(ek_vk_recording *r) { return CALL(r->context->vk, vkEndCommandBuffer, VkResult(*)(VkCommandBuffer), r->commands); }

static void (*driver_call_hook)(int entering);

void ek_vk_set_driver_call_hook(void (*hook)(int entering)) { driver_call_hook = hook; }

static void driver_call(int entering) {
    if (driver_call_hook) driver_call_hook(entering);
}

int ek_vk_submit(ek_vk_recording *r) {
    ek_vk_context *c = r->context;
    driver_call(1);
    CALL(c->vk, vkResetFences, VkResult(*)(VkDevice, uint32_t, const VkFence *), c->device, 1, &r->fence);
    VkSubmitInfo submit = {VK_STRUCTURE_TYPE_SUBMIT_INFO, NULL, 0, NULL, NULL, 1, &r->commands, 0, NULL};
    int result = CALL(c->vk, vkQueueSubmit, VkResult(*)(VkQueue, uint32_t, const VkSubmitInfo *, VkFence), c->queue, 1, &submit, r->fence);
    driver_call(0);
    return result;
}

int ek_vk_wait(ek_vk_recording *r, uint64_t timeout_ns) {
    ek_vk_context *c = r->context;
    driver_call(1);
    int result = CALL(c->vk, vkWaitForFences, VkResult(*)(VkDevice, uint32_t, const VkFence *, VkBool32, uint64_t), c->device, 1,
                      &r->fence, 1, timeout_ns);
    driver_call(0);
    return result;
}
