using Backup.Hypervisor.Cpu.Float;

namespace Backup.Hypervisor.Tests.Cpu.Float;

/// <summary>
/// The host fast paths (round to nearest even) against the exact integer path on the same operands, concentrating
/// on what the fast paths decide themselves: the inexact flag when the result is exact or within a hair of it
/// (small integers, short significands, c = -RN(a*b)), and the edges of their range guards.
/// </summary>
public sealed class SoftFloatFastPathTests
{
    private const int Rne = FloatRounding.NearestEven;
    private const int Cases = 200_000;

    [Fact]
    public void Double_fast_paths_agree_with_the_exact_path()
    {
        var random = new Random(1207);
        for (int i = 0; i < Cases; i++)
        {
            ulong a = NextDouble(random), b = NextDouble(random), c = NextDouble(random);
            if (random.Next(4) == 0)
            {
                // c = -RN(a*b), exactly or off by an ulp: the FMA result is the product's rounding error (or near it).
                c = BitConverter.DoubleToUInt64Bits(-(BitConverter.UInt64BitsToDouble(a) * BitConverter.UInt64BitsToDouble(b))) + (ulong)random.Next(-1, 2);
            }

            Same(a, b, (ref uint f) => SoftFloat.Add64(a, b, Rne, ref f), (ref uint f) => ExactArithmetic.Add(a, b, FloatFormat.Double, Rne, ref f), "add");
            Same(a, b, (ref uint f) => SoftFloat.Mul64(a, b, Rne, ref f), (ref uint f) => ExactArithmetic.Multiply(a, b, FloatFormat.Double, Rne, ref f), "mul");
            Same(a, b, (ref uint f) => SoftFloat.Div64(a, b, Rne, ref f), (ref uint f) => ExactArithmetic.Divide(a, b, FloatFormat.Double, Rne, ref f), "div");
            Same(a, b, (ref uint f) => SoftFloat.Sqrt64(a, Rne, ref f), (ref uint f) => ExactArithmetic.SquareRoot(a, FloatFormat.Double, Rne, ref f), "sqrt");
            Same(a, b, (ref uint f) => SoftFloat.MulAdd64(a, b, c, Rne, ref f), (ref uint f) => ExactArithmetic.MulAdd(a, b, c, FloatFormat.Double, Rne, ref f), $"fma c={c:X16}");
        }
    }

    [Fact]
    public void Single_fast_paths_agree_with_the_exact_path()
    {
        var random = new Random(1208);
        for (int i = 0; i < Cases; i++)
        {
            uint a = NextSingle(random), b = NextSingle(random), c = NextSingle(random);
            if (random.Next(4) == 0)
            {
                c = BitConverter.SingleToUInt32Bits(-(BitConverter.UInt32BitsToSingle(a) * BitConverter.UInt32BitsToSingle(b))) + (uint)random.Next(-1, 2);
            }

            Same(a, b, (ref uint f) => SoftFloat.Add32(a, b, Rne, ref f), (ref uint f) => ExactArithmetic.Add(a, b, FloatFormat.Single, Rne, ref f), "add");
            Same(a, b, (ref uint f) => SoftFloat.Mul32(a, b, Rne, ref f), (ref uint f) => ExactArithmetic.Multiply(a, b, FloatFormat.Single, Rne, ref f), "mul");
            Same(a, b, (ref uint f) => SoftFloat.Div32(a, b, Rne, ref f), (ref uint f) => ExactArithmetic.Divide(a, b, FloatFormat.Single, Rne, ref f), "div");
            Same(a, b, (ref uint f) => SoftFloat.Sqrt32(a, Rne, ref f), (ref uint f) => ExactArithmetic.SquareRoot(a, FloatFormat.Single, Rne, ref f), "sqrt");
            Same(a, b, (ref uint f) => SoftFloat.MulAdd32(a, b, c, Rne, ref f), (ref uint f) => ExactArithmetic.MulAdd(a, b, c, FloatFormat.Single, Rne, ref f), $"fma c={c:X8}");
        }
    }

    [Fact]
    public void Float_to_integer_host_path_agrees_with_the_integer_path_in_every_mode()
    {
        var random = new Random(1209);
        var ranges = Enum.GetValues<SoftFloat.IntegerRange>();
        for (int i = 0; i < Cases; i++)
        {
            double value = Math.ScaleB(1 + random.NextDouble(), random.Next(-3, 66)) * (random.Next(2) == 0 ? 1 : -1);
            if (random.Next(3) == 0)
            {
                value = Math.Round(value * 4) / 4;
            }

            ulong d = BitConverter.DoubleToUInt64Bits(value);
            ulong s = BitConverter.SingleToUInt32Bits((float)value);
            foreach (var range in ranges)
            {
                for (int rm = 0; rm < 5; rm++)
                {
                    Same(d, (ulong)rm, (ref uint f) => SoftFloat.ToInteger(d, FloatFormat.Double, range, rm, ref f), (ref uint f) => SoftFloat.ToIntegerExact(d, FloatFormat.Double, range, rm, ref f), $"{range} rm {rm}");
                    Same(s, (ulong)rm, (ref uint f) => SoftFloat.ToInteger(s, FloatFormat.Single, range, rm, ref f), (ref uint f) => SoftFloat.ToIntegerExact(s, FloatFormat.Single, range, rm, ref f), $"{range} rm {rm} (single)");
                }
            }
        }
    }

    [Fact]
    public void Fast_paths_set_inexact_exactly_when_the_result_is_rounded()
    {
        uint flags = 0;
        Assert.Equal(Bits(3.0), SoftFloat.MulAdd64(Bits(1.0), Bits(2.0), Bits(1.0), Rne, ref flags));
        Assert.Equal(0u, flags);

        // 0.1 * 10 rounds to exactly 1.0 but the product is not exact; FMA(0.1, 10, -1) is the tiny error.
        Assert.Equal(Bits(1.0), SoftFloat.Mul64(Bits(0.1), Bits(10.0), Rne, ref flags));
        Assert.Equal(FloatFlags.Inexact, flags);
        flags = 0;
        ulong error = SoftFloat.MulAdd64(Bits(0.1), Bits(10.0), Bits(-1.0), Rne, ref flags);
        Assert.Equal(Bits(Math.FusedMultiplyAdd(0.1, 10.0, -1.0)), error);
        Assert.Equal(0u, flags);
        Assert.Equal(Bits(2.0), SoftFloat.Sqrt64(Bits(4.0), Rne, ref flags));
        Assert.Equal(Bits(0.5), SoftFloat.Div64(Bits(1.0), Bits(2.0), Rne, ref flags));
        Assert.Equal(0u, flags);
        SoftFloat.Div64(Bits(1.0), Bits(3.0), Rne, ref flags);
        Assert.Equal(FloatFlags.Inexact, flags);
    }

    private static ulong Bits(double value) => BitConverter.DoubleToUInt64Bits(value);

    private delegate ulong Operation(ref uint flags);

    private static void Same(ulong a, ulong b, Operation fastPath, Operation exactPath, string what)
    {
        uint fastFlags = 0, exactFlags = 0;
        ulong fast = fastPath(ref fastFlags), exact = exactPath(ref exactFlags);
        if (fast != exact || fastFlags != exactFlags)
        {
            Assert.Fail($"{what} a={a:X16} b={b:X16}: fast {fast:X16} flags {fastFlags:X2}, exact {exact:X16} flags {exactFlags:X2}");
        }

        // With NX already raised (as in a running program) the fast paths skip their exactness check: same result.
        uint accrued = FloatFlags.Inexact;
        ulong again = fastPath(ref accrued);
        if (again != exact || accrued != (exactFlags | FloatFlags.Inexact))
        {
            Assert.Fail($"{what} a={a:X16} b={b:X16} with NX already set: {again:X16} flags {accrued:X2}, exact {exact:X16} flags {exactFlags | FloatFlags.Inexact:X2}");
        }
    }

    /// <summary>Normal doubles that make exact results and near-ties likely, plus the edges of the fast-path guards.</summary>
    private static ulong NextDouble(Random random)
    {
        double value = random.Next(6) switch
        {
            0 => random.Next(-100, 101),
            1 => random.Next(1, 1 << 20) / (double)(1 << random.Next(0, 20)),
            2 => Math.ScaleB(1 + random.NextDouble(), random.Next(-1100, 1030)),
            3 => Math.ScaleB(1 + random.NextDouble(), random.Next(-1022, -900)),
            4 => Math.ScaleB(1 + random.NextDouble(), random.Next(950, 1024)),
            _ => (1 + random.NextDouble()) * (random.Next(2) == 0 ? 1 : -1),
        };
        return BitConverter.DoubleToUInt64Bits(random.Next(2) == 0 ? value : -value);
    }

    private static uint NextSingle(Random random)
    {
        float value = random.Next(5) switch
        {
            0 => random.Next(-100, 101),
            1 => random.Next(1, 1 << 12) / (float)(1 << random.Next(0, 12)),
            2 => MathF.ScaleB(1 + random.NextSingle(), random.Next(-150, 130)),
            3 => BitConverter.UInt32BitsToSingle((uint)random.Next(1, 0x0100_0000)),
            _ => (1 + random.NextSingle()) * (random.Next(2) == 0 ? 1 : -1),
        };
        return BitConverter.SingleToUInt32Bits(value);
    }
}
