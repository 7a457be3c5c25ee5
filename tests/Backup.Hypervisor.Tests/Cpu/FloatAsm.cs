using System.Globalization;

namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>Assembly snippets for the F/D instruction tests: loading bit patterns into FP registers, reading results.</summary>
internal static class FloatAsm
{
    /// <summary>Turns mstatus.FS on (Initial) so FP instructions are legal; used as a <see cref="CaseTable"/> prologue.</summary>
    public const string EnableFs = "li t0, 0x2000; csrs mstatus, t0";

    public const ulong CanonicalNaN64 = 0x7FF8_0000_0000_0000;
    public const ulong CanonicalNaN32 = 0x7FC0_0000;
    public const ulong SignalingNaN64 = 0x7FF4_0000_0000_0000;
    public const uint SignalingNaN32 = 0x7FA0_0000;
    public const ulong QuietNaN64 = 0x7FF8_0000_0000_1234; // a payload the result must not carry

    public const uint NX = 1, UF = 2, OF = 4, DZ = 8, NV = 16;

    public static readonly string[] RoundingModes = ["rne", "rtz", "rdn", "rup", "rmm"];

    public static ulong Bits(double value) => (ulong)BitConverter.DoubleToInt64Bits(value);

    public static uint Bits(float value) => (uint)BitConverter.SingleToInt32Bits(value);

    /// <summary>Loads a 64-bit pattern into FP register <paramref name="reg"/> (clobbers t0).</summary>
    public static string D(string reg, ulong bits) => string.Create(CultureInfo.InvariantCulture, $"li t0, 0x{bits:x}; fmv.d.x {reg}, t0");

    /// <summary>Loads a single (NaN-boxed by FMV.W.X) into FP register <paramref name="reg"/> (clobbers t0).</summary>
    public static string S(string reg, uint bits) => string.Create(CultureInfo.InvariantCulture, $"li t0, 0x{bits:x}; fmv.w.x {reg}, t0");

    /// <summary>Clears fflags, runs <paramref name="op"/>, then a0 = the raw 64 bits of fa0.</summary>
    public static string ResultD(string op) => $"csrw fflags, zero; {op}; fmv.x.d a0, fa0";

    /// <summary>Clears fflags, runs <paramref name="op"/>, then a0 = fflags.</summary>
    public static string Flags(string op) => $"csrw fflags, zero; {op}; csrr a0, fflags";

    /// <summary>A case pair: the raw result in fa0 and the flags the operation raised.</summary>
    public static IEnumerable<AsmCase> ResultAndFlags(string name, string setup, string op, ulong expected, uint flags)
    {
        yield return new AsmCase(name, $"{setup}; {ResultD(op)}", expected);
        yield return new AsmCase(name + " flags", $"{setup}; {Flags(op)}", flags);
    }

    /// <summary>A case pair for an operation writing an integer register a0, plus the flags it raised.</summary>
    public static IEnumerable<AsmCase> IntegerAndFlags(string name, string setup, string op, ulong expected, uint flags)
    {
        yield return new AsmCase(name, $"{setup}; csrw fflags, zero; {op}", expected);
        yield return new AsmCase(name + " flags", $"{setup}; {Flags(op)}", flags);
    }
}
