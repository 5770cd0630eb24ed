/* libFuzzer target: the safetensors reader on arbitrary bytes (open, then read every tensor). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("st", 0);
    if (fd < 0) return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    tp_weights *w = NULL;
    tp_error err;
    if (tp_weights_open_file(path, &w, &err) == TP_OK) {
        for (size_t i = 0; i < tp_weights_count(w); i++) {
            const tp_tensor *t = tp_weights_at(w, i);
            const float *f;
            if (tp_weights_f32(w, t->name, -1, NULL, &f, &err) == TP_OK && t->numel > 0) {
                volatile float sink = f[t->numel - 1];
                (void)sink;
            }
        }
        tp_weights_free(w);
    }
    close(fd);
    return 0;
}
