/*
 * The reference side of FloatDifferentialTests: runs every F and D instruction that SoftFloat implements on real
 * RISC-V semantics (under qemu-riscv64), one record at a time.
 *
 *   fpref list          prints "name takes-rm" per operation, in the order of their numbers
 *   fpref IN OUT        reads 32-byte records (u32 op, u32 mode, u64 a, u64 b, u64 c) from IN and writes 16-byte
 *                       results (u64 rd bits, u64 fflags) to OUT
 *
 * Mode 0-4 is a static rounding mode in the instruction (with frm set to a different mode, so a static rm that
 * were ignored would show); mode 5-9 is the dynamic rm with frm = mode - 5. Operands go in and results come out
 * through integer registers (fmv.d.x / fmv.w.x NaN-box, fmv.x.w sign-extends), so the C compiler never touches a
 * floating-point value. Built with: riscv64-linux-gnu-gcc -static -O2 -march=rv64gc
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef uint64_t (*op_fn)(int m, uint64_t a, uint64_t b, uint64_t c);

#define SWITCH_RM(A, ...) \
    switch (m) { \
    case 0: A(__VA_ARGS__, ",rne"); break; \
    case 1: A(__VA_ARGS__, ",rtz"); break; \
    case 2: A(__VA_ARGS__, ",rdn"); break; \
    case 3: A(__VA_ARGS__, ",rup"); break; \
    case 4: A(__VA_ARGS__, ",rmm"); break; \
    default: A(__VA_ARGS__, ""); break; \
    }

/* fd = op(fs1, fs2) */
#define ASM_FFF(insn, mvin, mvout, rm) \
    __asm__ volatile(mvin " ft0,%1\n\t" mvin " ft1,%2\n\t" insn " ft2,ft0,ft1" rm "\n\t" mvout " %0,ft2" \
                     : "=r"(r) : "r"(a), "r"(b) : "ft0", "ft1", "ft2")
/* fd = op(fs1, fs2, fs3) */
#define ASM_FFFF(insn, mvin, mvout, rm) \
    __asm__ volatile(mvin " ft0,%1\n\t" mvin " ft1,%2\n\t" mvin " ft2,%3\n\t" insn " ft3,ft0,ft1,ft2" rm "\n\t" \
                     mvout " %0,ft3" : "=r"(r) : "r"(a), "r"(b), "r"(c) : "ft0", "ft1", "ft2", "ft3")
/* fd = op(fs1) */
#define ASM_FF(insn, mvin, mvout, rm) \
    __asm__ volatile(mvin " ft0,%1\n\t" insn " ft1,ft0" rm "\n\t" mvout " %0,ft1" : "=r"(r) : "r"(a) : "ft0", "ft1")
/* rd = op(fs1) */
#define ASM_FI(insn, mvin, rm) \
    __asm__ volatile(mvin " ft0,%1\n\t" insn " %0,ft0" rm : "=r"(r) : "r"(a) : "ft0")
/* rd = op(fs1, fs2) */
#define ASM_FFI(insn, mvin, rm) \
    __asm__ volatile(mvin " ft0,%1\n\t" mvin " ft1,%2\n\t" insn " %0,ft0,ft1" rm : "=r"(r) : "r"(a), "r"(b) : "ft0", "ft1")
/* fd = op(rs1) */
#define ASM_IF(insn, mvout, rm) \
    __asm__ volatile(insn " ft0,%1" rm "\n\t" mvout " %0,ft0" : "=r"(r) : "r"(a) : "ft0")

#define DEF_RM(name, A, ...) \
    static uint64_t name(int m, uint64_t a, uint64_t b, uint64_t c) \
    { uint64_t r; (void)a; (void)b; (void)c; SWITCH_RM(A, __VA_ARGS__) return r; }
#define DEF_NORM(name, A, ...) \
    static uint64_t name(int m, uint64_t a, uint64_t b, uint64_t c) \
    { uint64_t r; (void)m; (void)a; (void)b; (void)c; A(__VA_ARGS__, ""); return r; }

DEF_RM(fadd_d, ASM_FFF, "fadd.d", "fmv.d.x", "fmv.x.d")
DEF_RM(fsub_d, ASM_FFF, "fsub.d", "fmv.d.x", "fmv.x.d")
DEF_RM(fmul_d, ASM_FFF, "fmul.d", "fmv.d.x", "fmv.x.d")
DEF_RM(fdiv_d, ASM_FFF, "fdiv.d", "fmv.d.x", "fmv.x.d")
DEF_RM(fsqrt_d, ASM_FF, "fsqrt.d", "fmv.d.x", "fmv.x.d")
DEF_RM(fmadd_d, ASM_FFFF, "fmadd.d", "fmv.d.x", "fmv.x.d")
DEF_RM(fmsub_d, ASM_FFFF, "fmsub.d", "fmv.d.x", "fmv.x.d")
DEF_RM(fnmsub_d, ASM_FFFF, "fnmsub.d", "fmv.d.x", "fmv.x.d")
DEF_RM(fnmadd_d, ASM_FFFF, "fnmadd.d", "fmv.d.x", "fmv.x.d")
DEF_RM(fadd_s, ASM_FFF, "fadd.s", "fmv.w.x", "fmv.x.w")
DEF_RM(fsub_s, ASM_FFF, "fsub.s", "fmv.w.x", "fmv.x.w")
DEF_RM(fmul_s, ASM_FFF, "fmul.s", "fmv.w.x", "fmv.x.w")
DEF_RM(fdiv_s, ASM_FFF, "fdiv.s", "fmv.w.x", "fmv.x.w")
DEF_RM(fsqrt_s, ASM_FF, "fsqrt.s", "fmv.w.x", "fmv.x.w")
DEF_RM(fmadd_s, ASM_FFFF, "fmadd.s", "fmv.w.x", "fmv.x.w")
DEF_RM(fmsub_s, ASM_FFFF, "fmsub.s", "fmv.w.x", "fmv.x.w")
DEF_RM(fnmsub_s, ASM_FFFF, "fnmsub.s", "fmv.w.x", "fmv.x.w")
DEF_RM(fnmadd_s, ASM_FFFF, "fnmadd.s", "fmv.w.x", "fmv.x.w")
DEF_NORM(fmin_d, ASM_FFF, "fmin.d", "fmv.d.x", "fmv.x.d")
DEF_NORM(fmax_d, ASM_FFF, "fmax.d", "fmv.d.x", "fmv.x.d")
DEF_NORM(fmin_s, ASM_FFF, "fmin.s", "fmv.w.x", "fmv.x.w")
DEF_NORM(fmax_s, ASM_FFF, "fmax.s", "fmv.w.x", "fmv.x.w")
DEF_NORM(feq_d, ASM_FFI, "feq.d", "fmv.d.x")
DEF_NORM(flt_d, ASM_FFI, "flt.d", "fmv.d.x")
DEF_NORM(fle_d, ASM_FFI, "fle.d", "fmv.d.x")
DEF_NORM(feq_s, ASM_FFI, "feq.s", "fmv.w.x")
DEF_NORM(flt_s, ASM_FFI, "flt.s", "fmv.w.x")
DEF_NORM(fle_s, ASM_FFI, "fle.s", "fmv.w.x")
DEF_NORM(fclass_d, ASM_FI, "fclass.d", "fmv.d.x")
DEF_NORM(fclass_s, ASM_FI, "fclass.s", "fmv.w.x")
DEF_RM(fcvt_s_d, ASM_FF, "fcvt.s.d", "fmv.d.x", "fmv.x.w")
DEF_NORM(fcvt_d_s, ASM_FF, "fcvt.d.s", "fmv.w.x", "fmv.x.d")
DEF_RM(fcvt_w_d, ASM_FI, "fcvt.w.d", "fmv.d.x")
DEF_RM(fcvt_wu_d, ASM_FI, "fcvt.wu.d", "fmv.d.x")
DEF_RM(fcvt_l_d, ASM_FI, "fcvt.l.d", "fmv.d.x")
DEF_RM(fcvt_lu_d, ASM_FI, "fcvt.lu.d", "fmv.d.x")
DEF_RM(fcvt_w_s, ASM_FI, "fcvt.w.s", "fmv.w.x")
DEF_RM(fcvt_wu_s, ASM_FI, "fcvt.wu.s", "fmv.w.x")
DEF_RM(fcvt_l_s, ASM_FI, "fcvt.l.s", "fmv.w.x")
DEF_RM(fcvt_lu_s, ASM_FI, "fcvt.lu.s", "fmv.w.x")
DEF_RM(fcvt_d_l, ASM_IF, "fcvt.d.l", "fmv.x.d")
DEF_RM(fcvt_d_lu, ASM_IF, "fcvt.d.lu", "fmv.x.d")
DEF_NORM(fcvt_d_w, ASM_IF, "fcvt.d.w", "fmv.x.d")
DEF_NORM(fcvt_d_wu, ASM_IF, "fcvt.d.wu", "fmv.x.d")
DEF_RM(fcvt_s_w, ASM_IF, "fcvt.s.w", "fmv.x.w")
DEF_RM(fcvt_s_wu, ASM_IF, "fcvt.s.wu", "fmv.x.w")
DEF_RM(fcvt_s_l, ASM_IF, "fcvt.s.l", "fmv.x.w")
DEF_RM(fcvt_s_lu, ASM_IF, "fcvt.s.lu", "fmv.x.w")

static const struct { const char *name; int rm; op_fn fn; } ops[] = {
    {"fadd.d", 1, fadd_d}, {"fsub.d", 1, fsub_d}, {"fmul.d", 1, fmul_d}, {"fdiv.d", 1, fdiv_d},
    {"fsqrt.d", 1, fsqrt_d}, {"fmadd.d", 1, fmadd_d}, {"fmsub.d", 1, fmsub_d}, {"fnmsub.d", 1, fnmsub_d},
    {"fnmadd.d", 1, fnmadd_d},
    {"fadd.s", 1, fadd_s}, {"fsub.s", 1, fsub_s}, {"fmul.s", 1, fmul_s}, {"fdiv.s", 1, fdiv_s},
    {"fsqrt.s", 1, fsqrt_s}, {"fmadd.s", 1, fmadd_s}, {"fmsub.s", 1, fmsub_s}, {"fnmsub.s", 1, fnmsub_s},
    {"fnmadd.s", 1, fnmadd_s},
    {"fmin.d", 0, fmin_d}, {"fmax.d", 0, fmax_d}, {"fmin.s", 0, fmin_s}, {"fmax.s", 0, fmax_s},
    {"feq.d", 0, feq_d}, {"flt.d", 0, flt_d}, {"fle.d", 0, fle_d},
    {"feq.s", 0, feq_s}, {"flt.s", 0, flt_s}, {"fle.s", 0, fle_s},
    {"fclass.d", 0, fclass_d}, {"fclass.s", 0, fclass_s},
    {"fcvt.s.d", 1, fcvt_s_d}, {"fcvt.d.s", 0, fcvt_d_s},
    {"fcvt.w.d", 1, fcvt_w_d}, {"fcvt.wu.d", 1, fcvt_wu_d}, {"fcvt.l.d", 1, fcvt_l_d}, {"fcvt.lu.d", 1, fcvt_lu_d},
    {"fcvt.w.s", 1, fcvt_w_s}, {"fcvt.wu.s", 1, fcvt_wu_s}, {"fcvt.l.s", 1, fcvt_l_s}, {"fcvt.lu.s", 1, fcvt_lu_s},
    {"fcvt.d.l", 1, fcvt_d_l}, {"fcvt.d.lu", 1, fcvt_d_lu}, {"fcvt.d.w", 0, fcvt_d_w}, {"fcvt.d.wu", 0, fcvt_d_wu},
    {"fcvt.s.w", 1, fcvt_s_w}, {"fcvt.s.wu", 1, fcvt_s_wu}, {"fcvt.s.l", 1, fcvt_s_l}, {"fcvt.s.lu", 1, fcvt_s_lu},
};

#define OP_COUNT (sizeof ops / sizeof ops[0])

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "list") == 0) {
        for (unsigned i = 0; i < OP_COUNT; i++)
            printf("%s %d\n", ops[i].name, ops[i].rm);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: fpref list | fpref IN OUT\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
    if (!in || !out) {
        perror("fpref: open");
        return 2;
    }
    struct { uint32_t op, mode; uint64_t a, b, c; } rec;
    while (fread(&rec, sizeof rec, 1, in) == 1) {
        if (rec.op >= OP_COUNT || rec.mode > 9) {
            fprintf(stderr, "fpref: bad record (op %u, mode %u)\n", rec.op, rec.mode);
            return 2;
        }
        int m = (int)rec.mode;
        uint64_t frm = m >= 5 ? (uint64_t)(m - 5) : (uint64_t)((m + 1) % 5);
        uint64_t res[2];
        __asm__ volatile("fsrm %0" : : "r"(frm));
        __asm__ volatile("fsflags x0");
        res[0] = ops[rec.op].fn(m, rec.a, rec.b, rec.c);
        __asm__ volatile("frflags %0" : "=r"(res[1]));
        if (fwrite(res, sizeof res, 1, out) != 1) {
            perror("fpref: write");
            return 2;
        }
    }
    return fclose(out) == 0 ? 0 : 2;
}
