using System.Globalization;
using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Translation;

namespace Backup.Hypervisor.Tests.Translation;

/// <summary>
/// Random RV64GC programs run in the interpreter and in the translated tier, slice by slice: after every slice the
/// instructions consumed and the whole architectural state (registers, pc, instret, CSRs, reservation) must be
/// identical, and at the end all of RAM and every MMIO access too.
/// </summary>
public sealed class DifferentialTests
{
    public static TheoryData<int, int, int> Cases()
    {
        var data = new TheoryData<int, int, int>();
        int[] slices = [1000, 97, 13];
        for (int seed = 1; seed <= 24; seed++)
        {
            // Threshold 1 compiles every block on first sight; 3 mixes interpreted and compiled runs of a block.
            data.Add(seed, seed % 3 == 0 ? 3 : 1, slices[seed % slices.Length]);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Random_programs_leave_identical_state_in_both_modes(int seed, int hotThreshold, int slice)
    {
        var program = RandomProgram.Generate(seed);
        using var reference = new DifferentialMachine(program, seed, hotThreshold: null);
        using var translated = new DifferentialMachine(program, seed, hotThreshold);
        Assert.Equal(ExecutionMode.Translated, translated.Hart.ExecutionMode);

        for (int i = 0; i < 20_000 && (reference.Hart.Pc != program.End || translated.Hart.Pc != program.End); i++)
        {
            int expected = reference.Hart.Run(slice);
            int actual = translated.Hart.Run(slice);
            Assert.True(expected == actual, $"seed {seed}, slice {i}: interpreter consumed {expected}, translated {actual}\n{Describe(reference.Hart, translated.Hart)}");
            Assert.True(reference.Hart.FatalError == translated.Hart.FatalError, $"fatal: '{reference.Hart.FatalError}' vs '{translated.Hart.FatalError}'");
            if (!reference.HartState().AsSpan().SequenceEqual(translated.HartState()))
            {
                Assert.Fail($"seed {seed}, after slice {i}: hart state differs\n{Describe(reference.Hart, translated.Hart)}");
            }
        }

        Assert.Equal(program.End, reference.Hart.Pc);
        int firstDifference = reference.Memory.CommonPrefixLength(translated.Memory);
        Assert.True(firstDifference == reference.Memory.Length, $"seed {seed}: RAM differs at 0x{0x8000_0000UL + (ulong)firstDifference:x}");
        Assert.Equal(reference.Device.Writes, translated.Device.Writes);
        Assert.Equal(reference.Device.Reads, translated.Device.Reads);

        // The comparison means something only if compiled code did most of the work.
        var stats = translated.Hart.TranslationStatistics;
        Assert.True(stats.BlocksCompiled > 10, $"only {stats.BlocksCompiled} blocks compiled");
        // (A block runs compiled only when all of it fits in the slice's remaining budget: tiny slices run less of it.)
        long share = slice >= 97 ? 3 : 6;
        Assert.True(stats.InstructionsTranslated > (long)reference.Hart.Instret / share, $"only {stats.InstructionsTranslated} of {reference.Hart.Instret} instructions ran compiled");
    }

    private static string Describe(Hart a, Hart b)
    {
        var lines = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"pc 0x{a.Pc:x} / 0x{b.Pc:x}, instret {a.Instret} / {b.Instret}, mode {a.Mode} / {b.Mode}"),
        };
        for (int r = 0; r < 32; r++)
        {
            if (a.GetRegister(r) != b.GetRegister(r))
            {
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"x{r}: 0x{a.GetRegister(r):x16} / 0x{b.GetRegister(r):x16}"));
            }
        }

        for (int r = 0; r < 32; r++)
        {
            if (a.GetFloatRegister(r) != b.GetFloatRegister(r))
            {
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"f{r}: 0x{a.GetFloatRegister(r):x16} / 0x{b.GetFloatRegister(r):x16}"));
            }
        }

        if (a.FloatControl != b.FloatControl)
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"fcsr: 0x{a.FloatControl:x} / 0x{b.FloatControl:x}"));
        }

        return string.Join('\n', lines);
    }
}
