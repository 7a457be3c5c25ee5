using System.Globalization;
using System.Text;
using Xunit.Abstractions;

namespace Backup.Hypervisor.Tests.Cpu.Float;

/// <summary>
/// SoftFloat against QEMU (<see cref="FloatReference"/>): every operation of the interface, both precisions, every
/// rounding mode both static (in the instruction) and dynamic (frm), on seeded operands; every result bit and
/// every fflags bit must match.
/// </summary>
public sealed class FloatDifferentialTests
{
    private const int TuplesPerOperation = 6000;
    private const int Seed = 20261207;

    private static readonly Func<FloatOperation, bool>[] Groups =
    [
        o => o.Operands == FloatValueKind.Double && o.Result == FloatValueKind.Double && o.TakesRm,
        o => o.Operands == FloatValueKind.Single && o.Result == FloatValueKind.Single && o.TakesRm,
        o => (!o.TakesRm && o.Arity == 2) || o.Name.StartsWith("fclass", StringComparison.Ordinal),
        o => o.Name.StartsWith("fcvt", StringComparison.Ordinal),
    ];

    private readonly ITestOutputHelper _output;

    public FloatDifferentialTests(ITestOutputHelper output) => _output = output;

    [FloatReferenceFact]
    public void Reference_program_lists_exactly_the_operations_the_test_drives()
    {
        var listed = FloatReference.Instance.ListOperations();
        Assert.Equal(FloatOperation.All.Select(o => (o.Name, o.TakesRm)), listed);
    }

    [Fact]
    public void Every_operation_is_in_exactly_one_compared_group()
    {
        foreach (var operation in FloatOperation.All)
        {
            Assert.Equal(1, Groups.Count(group => group(operation)));
        }
    }

    [FloatReferenceFact]
    public void Double_arithmetic_matches_qemu() => Compare(Groups[0], 1);

    [FloatReferenceFact]
    public void Single_arithmetic_matches_qemu() => Compare(Groups[1], 2);

    [FloatReferenceFact]
    public void Min_max_compare_and_classify_match_qemu() => Compare(Groups[2], 3);

    [FloatReferenceFact]
    public void Conversions_match_qemu() => Compare(Groups[3], 4);

    private void Compare(Func<FloatOperation, bool> select, int seedOffset)
    {
        var operations = FloatOperation.All.Select((o, i) => (Op: o, Index: i)).Where(x => select(x.Op)).ToList();
        Assert.NotEmpty(operations);
        var generator = new FloatOperandGenerator(Seed + seedOffset);
        var records = new List<(int Op, int Mode, ulong A, ulong B, ulong C)>();
        foreach (var (op, index) in operations)
        {
            for (int t = 0; t < TuplesPerOperation; t++)
            {
                var (a, b, c) = generator.Next(op);
                if (!op.TakesRm)
                {
                    records.Add((index, 0, a, b, c));
                    continue;
                }

                for (int mode = 0; mode < 5; mode++)
                {
                    records.Add((index, mode, a, b, c));
                }

                records.Add((index, 5 + (t % 5), a, b, c));
            }
        }

        var expected = FloatReference.Instance.Run(records);
        var mismatches = new Dictionary<string, int>();
        var report = new StringBuilder();
        int shown = 0;
        for (int i = 0; i < records.Count; i++)
        {
            var r = records[i];
            var op = FloatOperation.All[r.Op];
            uint flags = 0;
            ulong actual = op.Run(r.A, r.B, r.C, r.Mode % 5, ref flags);
            if (op.Significant(actual) == op.Significant(expected[i].Result) && flags == expected[i].Flags)
            {
                continue;
            }

            mismatches[op.Name] = mismatches.GetValueOrDefault(op.Name) + 1;
            if (shown++ < 40)
            {
                report.AppendLine(CultureInfo.InvariantCulture, $"{op.Name} mode {r.Mode}: a={r.A:X16} b={r.B:X16} c={r.C:X16}: qemu {op.Significant(expected[i].Result):X16} flags {expected[i].Flags:X2}, ours {op.Significant(actual):X16} flags {flags:X2}");
            }
        }

        var flagCounts = new int[5];
        foreach (var (_, refFlags) in expected)
        {
            for (int bit = 0; bit < 5; bit++)
            {
                flagCounts[bit] += (int)(refFlags >> bit) & 1;
            }
        }

        _output.WriteLine($"reference flags raised: NX {flagCounts[0]}, UF {flagCounts[1]}, OF {flagCounts[2]}, DZ {flagCounts[3]}, NV {flagCounts[4]}");
        _output.WriteLine($"{records.Count} records ({operations.Count} operations x {TuplesPerOperation} operand tuples, 5 static + 1 dynamic rounding mode each where the instruction has rm)");
        Assert.True(mismatches.Count == 0, $"{mismatches.Values.Sum()} of {records.Count} results differ from QEMU ({string.Join(", ", mismatches.Select(m => $"{m.Key}: {m.Value}"))}):\n{report}");
    }
}
