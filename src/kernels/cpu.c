#include "kernels/cpu.h"

#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

static tp_cpu_features feats;
static int detected;
static tp_cpu_level hw_level, cur_level;

static void detect(void) {
    if (detected) return;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    feats.avx2 = __builtin_cpu_supports("avx2");
    feats.fma = __builtin_cpu_supports("fma");
    feats.avx512f = __builtin_cpu_supports("avx512f");
    feats.avx512bw = __builtin_cpu_supports("avx512bw");
    feats.avx512vl = __builtin_cpu_supports("avx512vl");
    feats.avx512dq = __builtin_cpu_supports("avx512dq");
    feats.avx512_vnni = __builtin_cpu_supports("avx512vnni");
    feats.avx512_bf16 = __builtin_cpu_supports("avx512bf16");
    unsigned a, b, c, d;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        int tile = (d >> 24) & 1, bf16 = (d >> 22) & 1, int8 = (d >> 25) & 1;
        /* Linux gates AMX state per process: ARCH_REQ_XCOMP_PERM (0x1023) for XTILEDATA (18). */
        if (tile && syscall(SYS_arch_prctl, 0x1023, 18) == 0) {
            feats.amx_tile = 1;
            feats.amx_bf16 = bf16;
            feats.amx_int8 = int8;
        }
    }
#endif
    hw_level = TP_CPU_GENERIC;
    if (feats.avx2 && feats.fma) hw_level = TP_CPU_AVX2;
    if (hw_level == TP_CPU_AVX2 && feats.avx512f && feats.avx512bw && feats.avx512vl &&
        feats.avx512dq)
        hw_level = TP_CPU_AVX512;
    if (hw_level == TP_CPU_AVX512 && feats.amx_tile && feats.amx_bf16 && feats.amx_int8 &&
        feats.avx512_bf16 && feats.avx512_vnni)
        hw_level = TP_CPU_AMX;
    cur_level = hw_level;
    const char *env = getenv("TP_CPU");
    if (env) {
        if (!strcmp(env, "generic") || !strcmp(env, "scalar"))
            cur_level = TP_CPU_GENERIC;
        else if (!strcmp(env, "avx2") && hw_level >= TP_CPU_AVX2)
            cur_level = TP_CPU_AVX2;
        else if (!strcmp(env, "avx512") && hw_level >= TP_CPU_AVX512)
            cur_level = TP_CPU_AVX512;
    }
    detected = 1;
}

const tp_cpu_features *tp_cpu_features_get(void) {
    detect();
    return &feats;
}

tp_cpu_level tp_cpu_level_get(void) {
    detect();
    return cur_level;
}

tp_cpu_level tp_cpu_force(tp_cpu_level level) {
    detect();
    cur_level = level < hw_level ? level : hw_level;
    return cur_level;
}

int tp_cpu_has_bf16(void) {
    return tp_cpu_level_get() >= TP_CPU_AVX512 && feats.avx512_bf16;
}

int tp_cpu_has_vnni(void) {
    return tp_cpu_level_get() >= TP_CPU_AVX512 && feats.avx512_vnni;
}

int tp_cpu_has_amx(void) {
    return tp_cpu_level_get() >= TP_CPU_AMX;
}

const char *tp_cpu_level_name(tp_cpu_level l) {
    switch (l) {
    case TP_CPU_GENERIC:
        return "generic";
    case TP_CPU_AVX2:
        return "avx2";
    case TP_CPU_AVX512:
        return "avx512";
    case TP_CPU_AMX:
        return "amx";
    }
    return "?";
}
