using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Backup.Disks.BlockDevices;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Snapshots;
using Backup.Hypervisor.Tests.Boot;
using Backup.Hypervisor.Tests.Support;

namespace Backup.Hypervisor.Tests.Snapshots;

/// <summary>
/// The state format's compatibility guard (docs/vm-state-format.md): a version-1 checkpoint committed to the repository
/// (Fixtures/golden-v1.vmstate, a 16 MiB bare-metal machine with one virtio disk, cut in the middle of a computation)
/// must keep restoring into exactly the machine it was taken from, whatever later builds write. A change to any
/// section's layout without a new version breaks it; so does dropping the code that reads version 1. Section
/// versions this build does not know are refused by name.
/// </summary>
public sealed class GoldenCheckpointTests : IDisposable
{
    // The cut: how far the program had run, what it had computed, and the SHA-256 of its 16 MiB of RAM.
    private const ulong GoldenCut = 600_000;
    private const ulong GoldenRetired = 602_338;
    private const ulong GoldenS0 = 27_368;
    private const ulong GoldenPc = 0x8000_0274;
    private const string GoldenRamSha256 = "9ffad3aa81236e3bd1135e5ef21947c03e6d358b7eba5d877c9d49d8fe0ddd2d";

    private const string GoldenProgram = """
        main:
            la a0, msg_start
            call puts
            call virtio_init
            li t0, 0x0c000004
            li t1, 5
            sw t1, 0(t0)
            li t0, 0x0c002000
            li t1, 2
            sw t1, 0(t0)
            li t0, 0x0c200000
            li t1, 3
            sw t1, 0(t0)
            li t0, 0x02004000
            li t1, 0x123456789
            sd t1, 0(t0)
            li a0, 0
            li a1, 0x80020000
            li a2, 4096
            call virtio_read
            bnez a0, fail
            li s0, 0
            li s1, 0x12345
        loop:
            andi t0, s0, 511
            slli t0, t0, 3
            li t1, 0x80020000
            add t0, t0, t1
            ld t2, 0(t0)
            li t3, 31
            mul s1, s1, t3
            add s1, s1, t2
            add s1, s1, s0
            andi t0, s0, 1023
            slli t0, t0, 3
            li t1, 0x80030000
            add t0, t0, t1
            sd s1, 0(t0)
            addi s0, s0, 1
            li t0, 100000
            bltu s0, t0, loop
            la a0, msg_hash
            call puts
            mv a0, s1
            call put_hex
            la a0, msg_timer
            call puts
            li t0, 0x02004000
            ld a0, 0(t0)
            call put_hex
            la a0, msg_plic
            call puts
            li t0, 0x0c000004
            lw a0, 0(t0)
            slli a0, a0, 8
            li t0, 0x0c200000
            lw t1, 0(t0)
            or a0, a0, t1
            call put_hex
            li a0, 8
            li a1, 0x80040000
            li a2, 4096
            call virtio_read
            bnez a0, fail
            li t0, 0x80040000
            li t1, 0x80041000
            li s2, 0
        1:  ld t2, 0(t0)
            xor s2, s2, t2
            slli t3, s2, 7
            srli s2, s2, 57
            or s2, s2, t3
            addi t0, t0, 8
            bltu t0, t1, 1b
            la a0, msg_disk
            call puts
            mv a0, s2
            call put_hex
            la a0, msg_done
            call puts
            j power_off

        msg_start: .asciz "golden: started\n"
        msg_hash: .asciz "hash "
        msg_timer: .asciz "mtimecmp "
        msg_plic: .asciz "plic "
        msg_disk: .asciz "disk "
        msg_done: .asciz "golden: done\n"
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("golden-checkpoint-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string FixturePath => Path.Combine(AppContext.BaseDirectory, "Snapshots", "Fixtures", "golden-v1.vmstate");

    [Fact]
    public void The_committed_v1_checkpoint_restores_into_the_machine_it_was_taken_from_and_runs_on()
    {
        var header = VmStateFile.ReadHeader(FixturePath);
        Assert.False(header.IsIncremental);
        Assert.Equal((16UL << 20, 1, 1, false), (header.RamSize, header.HartCount, header.DiskCount, header.AgentChannel));
        Assert.True(new FileInfo(FixturePath).Length < 100 << 10, "the golden checkpoint should stay small");

        using var disk = OpenDisk();
        var console = new ConsoleCapture();
        using var vm = VirtualMachine.Restore(Config(disk), [FixturePath], console.Write);
        Assert.Equal(GoldenRetired, vm.RetiredInstructions);
        Assert.Equal(GoldenS0, vm.Harts[0].GetRegister(8));
        Assert.Equal(GoldenPc, vm.Harts[0].Pc);
        Assert.Equal(GoldenRamSha256, RamSha256(vm));

        var exit = vm.Run();
        Assert.True(exit.Kind == VmExitKind.PowerOff, $"{exit}\n{console.Text}");
        Assert.Equal(ExpectedConsoleAfterCut(), console.Text);
    }

    [RiscvToolchainFact]
    public async Task This_build_cuts_the_same_machine_the_golden_checkpoint_holds()
    {
        string fresh = Path.Combine(_dir, "fresh.vmstate");
        using var disk = OpenDisk();
        var console = new ConsoleCapture();
        using var live = new VirtualMachine(Config(disk) with { ElfPath = BareMetalGuest.Build(GoldenProgram) }, console.Write);
        Assert.Equal(VmExitKind.Stopped, live.RunUntil(GoldenCut).Kind);
        Assert.Equal("golden: started\n", console.Text);
        await live.Checkpoint(fresh).Completion.WaitAsync(TimeSpan.FromMinutes(1));

        // To regenerate the fixture (only with a new format version: see docs/vm-state-format.md), set this variable.
        if (Environment.GetEnvironmentVariable("BACKUP_WRITE_GOLDEN_CHECKPOINT") == "1")
        {
            File.Copy(fresh, SourceFixturePath(), overwrite: true);
            Directory.CreateDirectory(Path.GetDirectoryName(FixturePath)!);
            File.Copy(fresh, FixturePath, overwrite: true);
        }

        using var golden = VirtualMachine.Restore(Config(disk), [FixturePath], _ => { });
        Assert.Equal(live.DigestState(), golden.DigestState());
        Assert.Equal(GoldenRamSha256, RamSha256(live));
    }

    [Theory]
    [InlineData("uart0")]
    [InlineData("hart0")]
    [InlineData("clock")]
    [InlineData("clint")]
    [InlineData("plic")]
    [InlineData("virtio-blk0")]
    public void A_section_of_an_unknown_version_is_refused_naming_the_section_and_version(string section)
    {
        string rewritten = Rewrite(section, (name, version, payload) => [(name, name == section ? 99 : version, payload)]);
        string message = Refused(rewritten);
        Assert.Contains($"'{section}'", message, StringComparison.Ordinal);
        Assert.Contains("layout version 99 is not supported (this build reads version", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_or_foreign_section_is_refused_by_name()
    {
        string missing = Rewrite("missing", (name, version, payload) => name == "plic" ? [] : [(name, version, payload)]);
        Assert.Contains("has no state for 'plic'", Refused(missing), StringComparison.Ordinal);

        string extra = Rewrite("extra", (name, version, payload) =>
            name == "uart0" ? [(name, version, payload), ("uart7", 1, payload)] : [(name, version, payload)]);
        Assert.Contains("parts this machine does not have: uart7", Refused(extra), StringComparison.Ordinal);
    }

    private static VmConfiguration Config(IBlockDevice disk) =>
        BareMetalGuest.Config("golden-v1.elf (not needed to restore)", disk);

    private RawFileDisk OpenDisk()
    {
        string path = Path.Combine(_dir, $"disk-{Guid.NewGuid():N}.img");
        BareMetalGuest.CreateDisk(path);
        return RawFileDisk.Open(path);
    }

    private string Refused(string stateFile)
    {
        using var disk = OpenDisk();
        return Assert.Throws<VmStateFormatException>(() => VirtualMachine.Restore(Config(disk), [stateFile], _ => { }).Dispose()).Message;
    }

    /// <summary>Copies the golden file with its sections passed through <paramref name="edit"/> (and a valid checksum).</summary>
    private string Rewrite(string name, Func<string, int, byte[], IEnumerable<(string Name, int Version, byte[] Payload)>> edit)
    {
        string path = Path.Combine(_dir, name + ".vmstate");
        using var input = File.OpenRead(FixturePath);
        using var reader = new VmStateFile.Reader(input, FixturePath);
        using var output = File.Create(path);
        using var writer = new VmStateFile.Writer(output, reader.Header);
        var zero = new byte[VmStateFile.PageSize];
        while (reader.Next(out string? section, out int version, out byte[]? payload, out ulong page))
        {
            if (section is not null)
            {
                foreach (var (n, v, p) in edit(section, version, payload!))
                {
                    writer.WriteSection(n, v, p);
                }
            }
            else
            {
                writer.WritePage(page, payload ?? zero);
            }
        }

        writer.Finish();
        return path;
    }

    private static string RamSha256(VirtualMachine vm)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var page = new byte[VmStateFile.PageSize];
        for (ulong p = 0; p < vm.Ram.Size / VmStateFile.PageSize; p++)
        {
            vm.Ram.CopyPage(p, page);
            hash.AppendData(page);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>What the program prints after the cut, computed here from the disk pattern (not copied from a run).</summary>
    private static string ExpectedConsoleAfterCut()
    {
        ulong Word(long offset)
        {
            Span<byte> b = stackalloc byte[8];
            for (int i = 0; i < 8; i++)
            {
                b[i] = BareMetalGuest.DiskByte(offset + i);
            }

            return BinaryPrimitives.ReadUInt64LittleEndian(b);
        }

        ulong s1 = 0x12345;
        for (ulong i = 0; i < 100_000; i++)
        {
            s1 = unchecked((s1 * 31) + Word((long)(i & 511) * 8) + i);
        }

        ulong s2 = 0;
        for (long offset = 4096; offset < 8192; offset += 8)
        {
            s2 = ulong.RotateLeft(s2 ^ Word(offset), 7);
        }

        return $"hash {s1:x16}\nmtimecmp {0x1_2345_6789UL:x16}\nplic {(5UL << 8) | 3:x16}\ndisk {s2:x16}\ngolden: done\n";
    }

    private static string SourceFixturePath([CallerFilePath] string source = "") =>
        Path.Combine(Path.GetDirectoryName(source)!, "Fixtures", "golden-v1.vmstate");
}
