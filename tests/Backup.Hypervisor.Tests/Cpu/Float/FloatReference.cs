using System.Buffers.Binary;
using Backup.Hypervisor.Tests.DeviceTree;

namespace Backup.Hypervisor.Tests.Cpu.Float;

/// <summary>
/// The reference implementation for the differential test: fpref.c (next to this file), built once per test run
/// with the RISC-V cross compiler as a static Linux program and run under qemu-riscv64, which executes each F/D
/// instruction with QEMU's IEEE implementation and reports rd and fflags.
/// </summary>
internal sealed class FloatReference
{
    public const string Compiler = "riscv64-linux-gnu-gcc";
    public const string Emulator = "qemu-riscv64";
    public const string CrossLibc = "/usr/riscv64-linux-gnu/lib/libc.a";

    private static readonly Lazy<FloatReference> Built = new(Build);

    private readonly string _directory;
    private readonly string _program;

    private FloatReference(string directory, string program)
    {
        _directory = directory;
        _program = program;
    }

    public static FloatReference Instance => Built.Value;

    /// <summary>The reference program's operations, in the order of their numbers: mnemonic and whether it takes rm.</summary>
    public IReadOnlyList<(string Name, bool TakesRm)> ListOperations()
    {
        var lines = ExternalTool.RunChecked(Emulator, _program, "list").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return lines.Select(line => line.Split(' ')).Select(parts => (parts[0], parts[1] == "1")).ToList();
    }

    /// <summary>Runs every record (operation number, mode 0-4 static / 5-9 dynamic, operands) and returns (rd, fflags) for each.</summary>
    public (ulong Result, uint Flags)[] Run(IReadOnlyList<(int Op, int Mode, ulong A, ulong B, ulong C)> records)
    {
        var input = new byte[records.Count * 32];
        for (int i = 0; i < records.Count; i++)
        {
            var span = input.AsSpan(i * 32, 32);
            var r = records[i];
            BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)r.Op);
            BinaryPrimitives.WriteUInt32LittleEndian(span[4..], (uint)r.Mode);
            BinaryPrimitives.WriteUInt64LittleEndian(span[8..], r.A);
            BinaryPrimitives.WriteUInt64LittleEndian(span[16..], r.B);
            BinaryPrimitives.WriteUInt64LittleEndian(span[24..], r.C);
        }

        string name = Guid.NewGuid().ToString("N");
        string inPath = Path.Combine(_directory, name + ".in"), outPath = Path.Combine(_directory, name + ".out");
        File.WriteAllBytes(inPath, input);
        ExternalTool.RunChecked(Emulator, _program, inPath, outPath);
        var output = File.ReadAllBytes(outPath);
        File.Delete(inPath);
        File.Delete(outPath);
        if (output.Length != records.Count * 16)
        {
            throw new InvalidOperationException($"fpref wrote {output.Length} bytes for {records.Count} records (expected {records.Count * 16})");
        }

        var results = new (ulong, uint)[records.Count];
        for (int i = 0; i < results.Length; i++)
        {
            results[i] = (BinaryPrimitives.ReadUInt64LittleEndian(output.AsSpan(i * 16)), (uint)BinaryPrimitives.ReadUInt64LittleEndian(output.AsSpan((i * 16) + 8)));
        }

        return results;
    }

    private static FloatReference Build()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"fpref-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        string source = Path.Combine(AppContext.BaseDirectory, "Cpu", "Float", "fpref.c");
        string program = Path.Combine(dir, "fpref");
        ExternalTool.RunChecked(Compiler, "-static", "-O2", "-march=rv64gc", "-mabi=lp64d", "-Wall", "-Werror", "-o", program, source);
        return new FloatReference(dir, program);
    }
}
