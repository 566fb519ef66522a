/*
 * A stand-in for NVIDIA's libnvidia-ml.so.1, for tests on machines without a GPU.
 *
 * The tests compile this file, put its directory first on LD_LIBRARY_PATH and run the real
 * `pynvml` (nvidia-ml-py) against it, so ctypes, struct layouts, bytes/str decoding, the _v2
 * entry points and error codes are exercised exactly as on a real driver. Signatures follow
 * NVML's nvml.h; only the handful of symbols mmdoctor uses are provided.
 *
 * Every answer is read from the environment at call time:
 *   FAKE_NVML_INIT_ERROR     NVML return code of the init call (default 0, success)
 *   FAKE_NVML_DRIVER         driver version string (default "535.104.05")
 *   FAKE_NVML_CUDA           CUDA driver version as an int, e.g. 12020 (default 12020)
 *   FAKE_NVML_CUDA_V2_ERROR  if set and not empty, the code nvmlSystemGetCudaDriverVersion_v2
 *                            returns instead of a version (e.g. 12: no libcuda)
 *   FAKE_NVML_GPUS           "name|major.minor|memory_MiB|uuid" entries separated by ';'
 *                            (default: no GPUs); an empty uuid makes GetUUID "Not Supported"
 *   FAKE_NVML_GPU_LOST       index of a GPU whose handle lookup returns NVML_ERROR_GPU_IS_LOST
 *   FAKE_NVML_CALL_LOG       file to which each called symbol's name is appended, one a line
 *
 * Build: gcc -shared -fPIC -O2 -Wall -Werror -o libnvidia-ml.so.1 fake_nvml.c
 * Not thread-safe (the GPU table is re-read on each call); pynvml and the tests do not care.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int nvmlReturn_t; /* an enum in nvml.h: int-sized, which is what ctypes assumes */

enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
};

/* nvml.h: typedef struct nvmlDevice_st *nvmlDevice_t; the contents are ours to choose. */
struct nvmlDevice_st {
    unsigned int index;
};
typedef struct nvmlDevice_st *nvmlDevice_t;

typedef struct {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_t;

typedef struct {
    unsigned int version;
    unsigned long long total;
    unsigned long long reserved;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_v2_t;

/* NVML_STRUCT_VERSION(Memory, 2): the struct size in the low bits, the version in the top byte. */
#define NVML_MEMORY_V2 ((unsigned int)(sizeof(nvmlMemory_v2_t) | (2u << 24)))

#define MAX_GPUS 16
#define NAME_SIZE 96 /* NVML_DEVICE_NAME_V2_BUFFER_SIZE */
#define UUID_SIZE 96 /* NVML_DEVICE_UUID_V2_BUFFER_SIZE */

typedef struct {
    char name[NAME_SIZE];
    int cc_major;
    int cc_minor;
    unsigned long long memory_mib;
    char uuid[UUID_SIZE];
} fake_gpu;

static int init_count;
static struct nvmlDevice_st handles[MAX_GPUS];
static fake_gpu gpus[MAX_GPUS];
static unsigned int gpu_count;

static void log_call(const char *symbol)
{
    const char *path = getenv("FAKE_NVML_CALL_LOG");
    FILE *log;
    if (path == NULL || *path == '\0')
        return;
    log = fopen(path, "a");
    if (log == NULL)
        return;
    fprintf(log, "%s\n", symbol);
    fclose(log);
}

static long env_long(const char *name, long fallback)
{
    const char *text = getenv(name);
    char *end;
    long value;
    if (text == NULL || *text == '\0')
        return fallback;
    value = strtol(text, &end, 10);
    return *end == '\0' ? value : fallback;
}

static const char *env_str(const char *name, const char *fallback)
{
    const char *text = getenv(name);
    return text != NULL ? text : fallback;
}

/* Cuts *cursor at the next `sep` (or the end) and returns the piece before it. */
static char *next_field(char **cursor, char sep)
{
    char *start = *cursor;
    char *stop = strchr(start, sep);
    if (stop != NULL) {
        *stop = '\0';
        *cursor = stop + 1;
    } else {
        *cursor = start + strlen(start);
    }
    return start;
}

static void copy_text(char *dest, size_t size, const char *src)
{
    snprintf(dest, size, "%s", src);
}

/* Re-reads FAKE_NVML_GPUS into gpus[] / gpu_count. */
static void load_gpus(void)
{
    static char spec[4096];
    char *cursor = spec;
    copy_text(spec, sizeof spec, env_str("FAKE_NVML_GPUS", ""));
    gpu_count = 0;
    while (*cursor != '\0' && gpu_count < MAX_GPUS) {
        char *entry = next_field(&cursor, ';');
        fake_gpu *gpu = &gpus[gpu_count];
        char *cc;
        if (*entry == '\0')
            continue;
        copy_text(gpu->name, sizeof gpu->name, next_field(&entry, '|'));
        cc = next_field(&entry, '|');
        gpu->cc_major = (int)strtol(cc, &cc, 10);
        gpu->cc_minor = *cc == '.' ? (int)strtol(cc + 1, NULL, 10) : 0;
        gpu->memory_mib = strtoull(next_field(&entry, '|'), NULL, 10);
        copy_text(gpu->uuid, sizeof gpu->uuid, next_field(&entry, '|'));
        gpu_count++;
    }
}

/* NVML's contract for string outputs: fail with INSUFFICIENT_SIZE rather than truncate. */
static nvmlReturn_t copy_out(char *buffer, unsigned int length, const char *text)
{
    if (buffer == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(text) + 1 > length)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(buffer, text, strlen(text) + 1);
    return NVML_SUCCESS;
}

/* Maps a handle back to its GPU, with the checks the real library makes. */
static nvmlReturn_t find_gpu(nvmlDevice_t device, const fake_gpu **gpu)
{
    if (init_count == 0)
        return NVML_ERROR_UNINITIALIZED;
    load_gpus();
    if (device < handles || device >= handles + gpu_count)
        return NVML_ERROR_INVALID_ARGUMENT;
    *gpu = &gpus[device - handles];
    return NVML_SUCCESS;
}

/* A cluster's nodes differ: with FAKE_NVML_NODE_DIR set, the node's own file
 * (DIR/$SLURMD_NODENAME.env, lines FAKE_NVML_X=value) overrides the FAKE_NVML_* variables.
 * slurmd sets SLURMD_NODENAME for every task it starts, so one library serves every node. */
static void load_node_file(void)
{
    const char *dir = getenv("FAKE_NVML_NODE_DIR");
    const char *node = getenv("SLURMD_NODENAME");
    char path[4096];
    char line[4096];
    FILE *file;
    if (dir == NULL || *dir == '\0' || node == NULL || *node == '\0')
        return;
    snprintf(path, sizeof path, "%s/%s.env", dir, node);
    file = fopen(path, "r");
    if (file == NULL)
        return;
    while (fgets(line, sizeof line, file) != NULL) {
        char *eq = strchr(line, '=');
        line[strcspn(line, "\r\n")] = '\0';
        if (eq == NULL || strncmp(line, "FAKE_NVML_", 10) != 0)
            continue;
        *eq = '\0';
        setenv(line, eq + 1, 1);
    }
    fclose(file);
}

static nvmlReturn_t do_init(void)
{
    nvmlReturn_t ret;
    long delay;
    load_node_file();
    delay = env_long("FAKE_NVML_INIT_SECONDS", 0); /* a driver that hangs in nvmlInit */
    if (delay > 0)
        sleep((unsigned int)delay);
    ret = (nvmlReturn_t)env_long("FAKE_NVML_INIT_ERROR", 0);
    if (ret == NVML_SUCCESS)
        init_count++;
    return ret;
}

nvmlReturn_t nvmlInit_v2(void)
{
    log_call(__func__);
    return do_init();
}

nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
    log_call(__func__);
    (void)flags;
    return do_init();
}

nvmlReturn_t nvmlShutdown(void)
{
    log_call(__func__);
    if (init_count == 0)
        return NVML_ERROR_UNINITIALIZED;
    init_count--;
    return NVML_SUCCESS;
}

/* The library's own strings (NVIDIA DCGM's nvml_error_strings.h mirrors them); note that
 * pynvml only asks for codes missing from its own table, e.g. 19. */
const char *nvmlErrorString(nvmlReturn_t result)
{
    log_call(__func__);
    switch (result) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 5: return "Already Initialized";
    case 6: return "Not Found";
    case 7: return "Insufficient Size";
    case 8: return "Insufficient External Power";
    case 9: return "Driver Not Loaded";
    case 10: return "Timeout";
    case 11: return "Interrupt Request Issue";
    case 12: return "NVML Shared Library Not Found";
    case 13: return "Function Not Found";
    case 14: return "Corrupted infoROM";
    case 15: return "GPU is lost";
    case 16: return "GPU requires reset";
    case 17: return "GPU access blocked by the operating system";
    case 18: return "Driver/library version mismatch";
    case 19: return "In use by another client";
    case 20: return "Insufficient Memory";
    case 23: return "Insufficient Resources";
    default: return "Unknown Error";
    }
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    log_call(__func__);
    if (init_count == 0)
        return NVML_ERROR_UNINITIALIZED;
    return copy_out(version, length, env_str("FAKE_NVML_DRIVER", "535.104.05"));
}

nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length)
{
    char text[128];
    log_call(__func__);
    /* The real format is "<CUDA major>.<driver version>", e.g. "12.535.104.05". */
    snprintf(text, sizeof text, "%ld.%s", env_long("FAKE_NVML_CUDA", 12020) / 1000,
             env_str("FAKE_NVML_DRIVER", "535.104.05"));
    return copy_out(version, length, text);
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion)
{
    log_call(__func__);
    if (cudaDriverVersion == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    *cudaDriverVersion = (int)env_long("FAKE_NVML_CUDA", 12020);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion)
{
    log_call(__func__);
    if (cudaDriverVersion == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (*env_str("FAKE_NVML_CUDA_V2_ERROR", "") != '\0')
        return (nvmlReturn_t)env_long("FAKE_NVML_CUDA_V2_ERROR", 999);
    *cudaDriverVersion = (int)env_long("FAKE_NVML_CUDA", 12020);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)
{
    log_call(__func__);
    if (init_count == 0)
        return NVML_ERROR_UNINITIALIZED;
    if (deviceCount == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    load_gpus();
    *deviceCount = gpu_count;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    log_call(__func__);
    if (init_count == 0)
        return NVML_ERROR_UNINITIALIZED;
    load_gpus();
    if (device == NULL || index >= gpu_count)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (env_long("FAKE_NVML_GPU_LOST", -1) == (long)index)
        return NVML_ERROR_GPU_IS_LOST;
    handles[index].index = index;
    *device = &handles[index];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    const fake_gpu *gpu;
    nvmlReturn_t ret;
    log_call(__func__);
    ret = find_gpu(device, &gpu);
    return ret != NVML_SUCCESS ? ret : copy_out(name, length, gpu->name);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    const fake_gpu *gpu;
    nvmlReturn_t ret;
    log_call(__func__);
    ret = find_gpu(device, &gpu);
    if (ret != NVML_SUCCESS)
        return ret;
    if (gpu->uuid[0] == '\0')
        return NVML_ERROR_NOT_SUPPORTED;
    return copy_out(uuid, length, gpu->uuid);
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
    const fake_gpu *gpu;
    nvmlReturn_t ret;
    log_call(__func__);
    ret = find_gpu(device, &gpu);
    if (ret != NVML_SUCCESS)
        return ret;
    if (memory == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    /* 1% in use, so that a struct read in the wrong field order shows. */
    memory->total = gpu->memory_mib * 1024ULL * 1024ULL;
    memory->used = memory->total / 100;
    memory->free = memory->total - memory->used;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
    const fake_gpu *gpu;
    nvmlReturn_t ret;
    log_call(__func__);
    ret = find_gpu(device, &gpu);
    if (ret != NVML_SUCCESS)
        return ret;
    if (memory == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (memory->version != NVML_MEMORY_V2)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    /* v2 splits the driver's reservation out of "used": 1% reserved, 2% used. */
    memory->total = gpu->memory_mib * 1024ULL * 1024ULL;
    memory->reserved = memory->total / 100;
    memory->used = memory->total / 50;
    memory->free = memory->total - memory->reserved - memory->used;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int *minor)
{
    const fake_gpu *gpu;
    nvmlReturn_t ret;
    log_call(__func__);
    ret = find_gpu(device, &gpu);
    if (ret != NVML_SUCCESS)
        return ret;
    if (major == NULL || minor == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    *major = gpu->cc_major;
    *minor = gpu->cc_minor;
    return NVML_SUCCESS;
}

/* nvmlDeviceArchitecture_t is an unsigned int: NVML_DEVICE_ARCH_KEPLER (2) ... BLACKWELL (10). */
nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t device, unsigned int *arch)
{
    const fake_gpu *gpu;
    nvmlReturn_t ret;
    int cc;
    log_call(__func__);
    ret = find_gpu(device, &gpu);
    if (ret != NVML_SUCCESS)
        return ret;
    if (arch == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    cc = gpu->cc_major * 10 + gpu->cc_minor;
    if (cc >= 100)
        *arch = 10; /* Blackwell (10.x, 12.x) */
    else if (cc >= 90)
        *arch = 9; /* Hopper */
    else if (cc == 89)
        *arch = 8; /* Ada */
    else if (cc >= 80)
        *arch = 7; /* Ampere */
    else if (cc >= 75)
        *arch = 6; /* Turing */
    else if (cc >= 70)
        *arch = 5; /* Volta */
    else if (cc >= 60)
        *arch = 4; /* Pascal */
    else if (cc >= 50)
        *arch = 3; /* Maxwell */
    else if (cc >= 30)
        *arch = 2; /* Kepler */
    else
        *arch = 0xffffffffu; /* NVML_DEVICE_ARCH_UNKNOWN */
    return NVML_SUCCESS;
}
