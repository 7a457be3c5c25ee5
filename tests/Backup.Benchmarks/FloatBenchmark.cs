using System.Diagnostics;
using System.Globalization;
using Backup.Hypervisor.Cpu.Float;

namespace Backup.Benchmarks;

/// <summary>
/// ns per SoftFloat operation in round-to-nearest-even on normal operands (the host fast path), against the exact
/// integer path on the same operands and the bare host instruction (no flags), so the cost of the fast path's
/// inexact check and of falling back are both visible. Operands: 4096 random values in [1, 2) * 2^[-20, 20]
/// with random signs (singles likewise), cycled; every result is folded into a checksum so nothing is optimized away.
/// Usage: dotnet run -c Release --project tests/Backup.Benchmarks -- fp [--runs N]
/// </summary>
public static class FloatBenchmark
{
    private const int Operands = 4096;
    private const int Iterations = 20_000_000;

    private interface IOperation
    {
        static abstract ulong Run(ulong a, ulong b, ulong c, ref uint flags);
    }

    public static int Run(BenchmarkOptions options)
    {
        var random = new Random(42);
        var doubles = new ulong[Operands];
        var singles = new ulong[Operands];
        for (int i = 0; i < Operands; i++)
        {
            double d = Math.ScaleB(1 + random.NextDouble(), random.Next(-20, 21)) * (random.Next(2) == 0 ? 1 : -1);
            doubles[i] = BitConverter.DoubleToUInt64Bits(d);
            singles[i] = BitConverter.SingleToUInt32Bits((float)d);
        }

        Console.WriteLine($"SoftFloat ns/op, {Iterations / 1_000_000} M operations per measurement, median of {options.Runs} runs; RNE, normal operands");
        Console.WriteLine("| operation | host instruction (no flags) | SoftFloat (fast path) | exact integer path | exact / fast |");
        Console.WriteLine("| --- | --- | --- | --- | --- |");
        Row<HostAdd64, Add64, ExactAdd64>("Add64", doubles, options.Runs);
        Row<HostMul64, Mul64, ExactMul64>("Mul64", doubles, options.Runs);
        Row<HostMulAdd64, MulAdd64, ExactMulAdd64>("MulAdd64", doubles, options.Runs);
        Row<HostDiv64, Div64, ExactDiv64>("Div64", doubles, options.Runs);
        Row<HostSqrt64, Sqrt64, ExactSqrt64>("Sqrt64", doubles, options.Runs);
        Row<HostAdd32, Add32, ExactAdd32>("Add32", singles, options.Runs);
        Row<HostMul32, Mul32, ExactMul32>("Mul32", singles, options.Runs);
        Row<HostMulAdd32, MulAdd32, ExactMulAdd32>("MulAdd32", singles, options.Runs);
        Row<HostDiv32, Div32, ExactDiv32>("Div32", singles, options.Runs);

        // Conversions have one path each (integer work, or the host where exact); C casts use FCVT with RTZ.
        Console.WriteLine();
        Console.WriteLine("| conversion | host instruction (no flags) | SoftFloat |");
        Console.WriteLine("| --- | --- | --- |");
        ConversionRow<HostF64ToI32, F64ToI32>("F64ToI32 (RTZ)", doubles, options.Runs);
        ConversionRow<HostF64ToI64, F64ToI64>("F64ToI64 (RTZ)", doubles, options.Runs);
        ConversionRow<HostI64ToF64, I64ToF64>("I64ToF64 (RNE, 44-bit values: exact)", doubles, options.Runs);
        ConversionRow<HostWideI64ToF64, WideI64ToF64>("I64ToF64 (RNE, 62-63-bit values: rounded)", doubles, options.Runs);
        ConversionRow<HostF64ToF32, F64ToF32>("F64ToF32 (RNE)", doubles, options.Runs);
        return 0;
    }

    private static void Row<THost, TFast, TExact>(string name, ulong[] operands, int runs)
        where THost : struct, IOperation
        where TFast : struct, IOperation
        where TExact : struct, IOperation
    {
        double host = Median<THost>(operands, runs), fast = Median<TFast>(operands, runs), exact = Median<TExact>(operands, runs);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {host:F2} | {fast:F2} | {exact:F2} | {exact / fast:F1}x |"));
    }

    private static void ConversionRow<THost, TSoft>(string name, ulong[] operands, int runs)
        where THost : struct, IOperation
        where TSoft : struct, IOperation
    {
        double host = Median<THost>(operands, runs), soft = Median<TSoft>(operands, runs);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {host:F2} | {soft:F2} |"));
    }

    private static double Median<T>(ulong[] operands, int runs)
        where T : struct, IOperation
    {
        Measure<T>(operands, Iterations / 10); // warm up: tier-1 code before timing
        var samples = new List<double>();
        for (int r = 0; r < Math.Max(1, runs); r++)
        {
            samples.Add(Measure<T>(operands, Iterations));
        }

        samples.Sort();
        return samples[samples.Count / 2];
    }

    private static double Measure<T>(ulong[] operands, int iterations)
        where T : struct, IOperation
    {
        ulong checksum = 0;
        uint flags = 0;
        int mask = operands.Length - 1;
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            checksum ^= T.Run(operands[i & mask], operands[(i + 1) & mask], operands[(i + 2) & mask], ref flags);
        }

        watch.Stop();
        if (checksum == 0x1234_5678_9ABC_DEF0 && flags == 0xFFFF)
        {
            Console.WriteLine("(checksum coincidence)");
        }

        return watch.Elapsed.TotalNanoseconds / iterations;
    }

    private static double D(ulong bits) => BitConverter.UInt64BitsToDouble(bits);

    private static ulong B(double value) => BitConverter.DoubleToUInt64Bits(value);

    private static float S(ulong bits) => BitConverter.UInt32BitsToSingle((uint)bits);

    private static ulong B(float value) => BitConverter.SingleToUInt32Bits(value);

    private const int Rne = FloatRounding.NearestEven;

    private struct HostAdd64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => B(D(a) + D(b)); }
    private struct Add64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => SoftFloat.Add64(a, b, Rne, ref f); }
    private struct ExactAdd64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => ExactArithmetic.Add(a, b, FloatFormat.Double, Rne, ref f); }
    private struct HostMul64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => B(D(a) * D(b)); }
    private struct Mul64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => SoftFloat.Mul64(a, b, Rne, ref f); }
    private struct ExactMul64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => ExactArithmetic.Multiply(a, b, FloatFormat.Double, Rne, ref f); }
    private struct HostMulAdd64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => B(Math.FusedMultiplyAdd(D(a), D(b), D(c))); }
    private struct MulAdd64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => SoftFloat.MulAdd64(a, b, c, Rne, ref f); }
    private struct ExactMulAdd64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => ExactArithmetic.MulAdd(a, b, c, FloatFormat.Double, Rne, ref f); }
    private struct HostDiv64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => B(D(a) / D(b)); }
    private struct Div64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => SoftFloat.Div64(a, b, Rne, ref f); }
    private struct ExactDiv64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => ExactArithmetic.Divide(a, b, FloatFormat.Double, Rne, ref f); }
    private struct HostSqrt64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => B(Math.Sqrt(Math.Abs(D(a)))); }
    private struct Sqrt64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => SoftFloat.Sqrt64(a & ~(1UL << 63), Rne, ref f); }
    private struct ExactSqrt64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => ExactArithmetic.SquareRoot(a & ~(1UL << 63), FloatFormat.Double, Rne, ref f); }
    private struct HostAdd32 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => B(S(a) + S(b)); }
    private struct Add32 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => SoftFloat.Add32((uint)a, (uint)b, Rne, ref f); }
    private struct ExactAdd32 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => ExactArithmetic.Add(a, b, FloatFormat.Single, Rne, ref f); }
    private struct HostMul32 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => B(S(a) * S(b)); }
    private struct Mul32 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => SoftFloat.Mul32((uint)a, (uint)b, Rne, ref f); }
    private struct ExactMul32 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => ExactArithmetic.Multiply(a, b, FloatFormat.Single, Rne, ref f); }
    private struct HostMulAdd32 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => B(MathF.FusedMultiplyAdd(S(a), S(b), S(c))); }
    private struct MulAdd32 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => SoftFloat.MulAdd32((uint)a, (uint)b, (uint)c, Rne, ref f); }
    private struct ExactMulAdd32 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => ExactArithmetic.MulAdd(a, b, c, FloatFormat.Single, Rne, ref f); }
    private struct HostDiv32 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => B(S(a) / S(b)); }
    private struct Div32 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => SoftFloat.Div32((uint)a, (uint)b, Rne, ref f); }
    private struct ExactDiv32 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => ExactArithmetic.Divide(a, b, FloatFormat.Single, Rne, ref f); }
    private struct HostF64ToI32 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => (ulong)(long)(int)D(a); }
    private struct F64ToI32 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => SoftFloat.F64ToI32(a, FloatRounding.TowardZero, ref f); }
    private struct HostF64ToI64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => (ulong)(long)D(a); }
    private struct F64ToI64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => SoftFloat.F64ToI64(a, FloatRounding.TowardZero, ref f); }
    private struct HostI64ToF64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => B((double)(long)(a >> 20)); }
    private struct I64ToF64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => SoftFloat.I64ToF64(a >> 20, Rne, ref f); }
    private struct HostWideI64ToF64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => B((double)(long)a); }
    private struct WideI64ToF64 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => SoftFloat.I64ToF64(a, Rne, ref f); }
    private struct HostF64ToF32 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => B((float)D(a)); }
    private struct F64ToF32 : IOperation { public static ulong Run(ulong a, ulong b, ulong c, ref uint f) => SoftFloat.F64ToF32(a, Rne, ref f); }
}
