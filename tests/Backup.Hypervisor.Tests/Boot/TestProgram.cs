using Backup.Hypervisor.Tests.DeviceTree;

namespace Backup.Hypervisor.Tests.Boot;

/// <summary>
/// A tiny bare-metal RISC-V program assembled and linked with the real binutils once per test run:
/// .text at 0x80000000, .tohost (tohost, fromhost) at 0x80001000, .data then .bss at 0x80002000.
/// </summary>
internal sealed class TestProgram
{
    public const ulong TextBase = 0x8000_0000;
    public const ulong ToHostBase = 0x8000_1000;
    public const ulong DataBase = 0x8000_2000;
    public const ulong DataWord = 0x1122_3344_5566_7788;
    public const int BssSize = 256;

    public static readonly string[] Tools = ["riscv64-linux-gnu-as", "riscv64-linux-gnu-ld", "riscv64-linux-gnu-objcopy"];

    private const string Source = """
            .section .text
            .globl _start
        _start:
            la t0, tohost
            li t1, 1
            sd t1, 0(t0)
        1:  j 1b

            .section .data
            .globl data_word
        data_word:
            .dword 0x1122334455667788

            .section .bss
            .globl bss_buf
        bss_buf:
            .space 256

            .section .tohost, "aw", @progbits
            .align 6
            .globl tohost
        tohost:
            .dword 0
            .align 6
            .globl fromhost
        fromhost:
            .dword 0
        """;

    private static readonly Lazy<TestProgram> Built = new(Build);

    private TestProgram(string directory)
    {
        Directory = directory;
        ElfPath = Path.Combine(directory, "prog.elf");
        Elf = File.ReadAllBytes(ElfPath);
        Object = File.ReadAllBytes(Path.Combine(directory, "prog.o"));
        DefaultLinkedElf = File.ReadAllBytes(Path.Combine(directory, "prog-default.elf"));
        TextBytes = File.ReadAllBytes(Path.Combine(directory, "text.bin"));
    }

    public static TestProgram Instance => Built.Value;

    public string Directory { get; }

    /// <summary>Path of <see cref="Elf"/> on disk (for file-based parsing).</summary>
    public string ElfPath { get; }

    /// <summary>Linked with -n (no page alignment): only the three sections are loaded.</summary>
    public byte[] Elf { get; }

    /// <summary>The relocatable object (ET_REL).</summary>
    public byte[] Object { get; }

    /// <summary>Linked with ld's default layout, whose first PT_LOAD also maps the ELF headers below 0x80000000.</summary>
    public byte[] DefaultLinkedElf { get; }

    /// <summary>.text extracted by objcopy: what must appear at <see cref="TextBase"/> after loading.</summary>
    public byte[] TextBytes { get; }

    /// <summary>A private copy of <see cref="Elf"/> to corrupt.</summary>
    public byte[] CopyOfElf() => (byte[])Elf.Clone();

    private static TestProgram Build()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"elf-test-{Environment.ProcessId}-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                System.IO.Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        string P(string name) => Path.Combine(dir, name);

        File.WriteAllText(P("prog.S"), Source + "\n");
        ExternalTool.RunChecked("riscv64-linux-gnu-as", "-march=rv64imac", "-mabi=lp64", "-o", P("prog.o"), P("prog.S"));
        string[] common = ["-nostdlib", "-Ttext=0x80000000", "--section-start=.tohost=0x80001000", "-Tdata=0x80002000"];
        ExternalTool.RunChecked("riscv64-linux-gnu-ld", [.. common, "-n", "-o", P("prog.elf"), P("prog.o")]);
        ExternalTool.RunChecked("riscv64-linux-gnu-ld", [.. common, "-o", P("prog-default.elf"), P("prog.o")]);
        ExternalTool.RunChecked("riscv64-linux-gnu-objcopy", "-O", "binary", "--only-section=.text", P("prog.elf"), P("text.bin"));
        return new TestProgram(dir);
    }
}
