using System.Globalization;
using System.Text;

namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>One table case: assembly that leaves its result in a0, and the value a0 must hold.</summary>
internal readonly record struct AsmCase(string Name, string Code, ulong Expected);

/// <summary>
/// Runs many small cases in one assembled program: case i runs its code, then stores a0 to DATA + 8*i. All
/// mismatches are reported together, by name.
/// </summary>
internal static class CaseTable
{
    /// <param name="prologue">Assembly run once before the first case (e.g. turning on mstatus.FS).</param>
    public static void Check(IReadOnlyList<AsmCase> cases, bool compressed = true, string prologue = "")
    {
        var sb = new StringBuilder();
        foreach (string line in prologue.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            sb.Append("    ").AppendLine(line.Trim());
        }

        for (int i = 0; i < cases.Count; i++)
        {
            sb.Append("    # case ").AppendLine(cases[i].Name);
            sb.AppendLine("    li a0, 0x5a5a5a5a5a5a5a5a");
            foreach (string line in cases[i].Code.Split(';'))
            {
                sb.Append("    ").AppendLine(line.Trim());
            }

            sb.Append(CultureInfo.InvariantCulture, $"    li t6, DATA + {8 * i}\n    sd a0, 0(t6)\n");
        }

        sb.AppendLine("    HALT");
        using var m = new RiscvTestMachine(sb.ToString(), compressed);
        m.Run();
        var failures = new StringBuilder();
        for (int i = 0; i < cases.Count; i++)
        {
            ulong actual = m.Read64(RiscvTestMachine.Data + (8 * (ulong)i));
            if (actual != cases[i].Expected)
            {
                failures.Append(CultureInfo.InvariantCulture, $"{cases[i].Name}: expected 0x{cases[i].Expected:x16}, got 0x{actual:x16}   [{cases[i].Code}]\n");
            }
        }

        Assert.True(failures.Length == 0, $"{failures}");
    }
}
