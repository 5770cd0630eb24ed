/* Runtime CPU feature detection for the kernel layer. One binary runs everywhere: AVX-512 code is
 * compiled with __attribute__((target(...))) and only called when the CPU (and the override) allow.
 *
 * Levels, lowest first. The environment variable TP_CPU (generic | avx2 | avx512 | amx) caps the
 * level at first use; tp_cpu_force() changes it at run time (tests run every path in one process).
 */
#ifndef TP_KERNELS_CPU_H
#define TP_KERNELS_CPU_H

typedef enum {
    TP_CPU_GENERIC = 0, /* plain C + OpenBLAS (OpenBLAS picks its own kernels) */
    TP_CPU_AVX2,        /* AVX2 + FMA: same paths as generic today (OpenBLAS dispatches itself) */
    TP_CPU_AVX512,      /* AVX-512 F/BW/VL/DQ: own GEMM micro-kernels and vectorized ops */
    TP_CPU_AMX,         /* + AMX tiles (bf16 / int8 linear layers), when the kernel grants them */
} tp_cpu_level;

typedef struct tp_cpu_features {
    int avx2, fma, avx512f, avx512bw, avx512vl, avx512dq, avx512_bf16, avx512_vnni;
    int amx_tile, amx_bf16, amx_int8; /* in the CPU and enabled by the OS for this process */
} tp_cpu_features;

/* What the hardware supports (not capped). */
const tp_cpu_features *tp_cpu_features_get(void);
/* The level kernels dispatch on: min(hardware, TP_CPU, tp_cpu_force). */
tp_cpu_level tp_cpu_level_get(void);
/* Caps the level (clamped to what the hardware has); returns the level now in force. Not
 * thread-safe with respect to running kernels: call it between forward passes. Weights prepared
 * at one level stay valid at every level. */
tp_cpu_level tp_cpu_force(tp_cpu_level level);
/* AVX512-BF16 / VNNI usable at the current level. */
int tp_cpu_has_bf16(void);
int tp_cpu_has_vnni(void);
int tp_cpu_has_amx(void); /* AMX-BF16 and AMX-INT8 usable at the current level */
const char *tp_cpu_level_name(tp_cpu_level l);

#endif
