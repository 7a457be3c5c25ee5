using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Backup.Cli.Terminal;
using Backup.Disks.BlockDevices;
using Backup.Hypervisor.Boot;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Snapshots;
using Backup.Hypervisor.Timing;
using Backup.Hypervisor.Translation;

namespace Backup.Cli.Commands;

/// <summary>`backup vm ...`: run virtual machines on the embedded hypervisor.</summary>
public static class VmCommands
{
    public static Command Create()
    {
        var vm = new Command("vm", "Run and manage virtual machines") { CreateRun(), CreateResume() };
        foreach (var command in ManagedVmCommands.Create())
        {
            vm.Subcommands.Add(command);
        }

        return vm;
    }

    private static Command CreateRun()
    {
        var kernel = new Option<FileInfo?>("--kernel") { Description = "RISC-V Linux kernel Image to boot (S-mode, host SBI, generated device tree)" };
        var elf = new Option<FileInfo?>("--elf") { Description = "bare-metal RISC-V ELF to run in M-mode; exits with its HTIF status" };
        var initrd = new Option<FileInfo?>("--initrd") { Description = "initial ramdisk for the kernel (cpio, optionally compressed); loaded below the device tree at the top of RAM" };
        var (firmware, firmwareFile, firmwarePayload) = FirmwareOptions();
        var disks = new Option<string[]>("--disk") { Description = "raw disk image; append ',ro' for read-only (repeatable)", AllowMultipleArgumentsPerToken = false };
        var memory = new Option<string>("--memory") { Description = "RAM size, e.g. 256M or 2G (a bare number is MiB)", DefaultValueFactory = _ => "256M" };
        var cpus = new Option<int>("--cpus") { Description = "number of harts (1-4)", DefaultValueFactory = _ => 1 };
        var cmdline = new Option<string>("--cmdline") { Description = "kernel command line", DefaultValueFactory = _ => "console=ttyS0" };
        var clock = new Option<ClockMode>("--clock") { Description = "RealTime (default) or Deterministic (guest time from instructions)", DefaultValueFactory = _ => ClockMode.RealTime };
        var execution = new Option<ExecutionMode>("--execution") { Description = "interpreter (default) or translated (hot guest code compiled to native code)", DefaultValueFactory = _ => ExecutionMode.Interpreter };
        var limit = new Option<ulong>("--max-instructions") { Description = "stop after this many instructions (0 = no limit)" };
        var signature = new Option<FileInfo?>("--signature") { Description = "bare-metal: write memory between begin_signature and end_signature here (hex words)" };
        var stats = new Option<bool>("--stats") { Description = "print instructions, time and MIPS to stderr at exit" };
        var agentChannel = new Option<bool>("--agent-channel") { Description = "add the guest-agent channel (a second UART, the guest's ttyS1)" };
        var qga = new Option<bool>("--qemu-guest-agent") { Description = "add the QEMU guest agent's port (virtio-serial org.qemu.guest_agent.0)" };
        var checkpointDir = new Option<DirectoryInfo?>("--checkpoint-dir") { Description = "take crash-consistent checkpoints into this folder (the first full, then incremental)" };
        var checkpointEvery = new Option<TimeSpan>("--checkpoint-every") { Description = "interval between checkpoints, e.g. 00:00:30", DefaultValueFactory = _ => TimeSpan.FromSeconds(30) };

        var run = new Command("run", "Run a VM in the foreground: console on stdout, keyboard to the guest, Ctrl-C stops it")
        {
            kernel, initrd, elf, firmware, firmwareFile, firmwarePayload, disks, memory, cpus, cmdline, clock, execution, limit, signature, stats,
            checkpointDir, checkpointEvery, agentChannel, qga,
        };
        run.SetAction(parse =>
        {
            if (!SizeParser.TryParse(parse.GetValue(memory)!, out ulong memoryBytes, defaultShift: 20))
            {
                Console.Error.WriteLine($"backup: --memory '{parse.GetValue(memory)}' is not a size (examples: 256M, 2G)");
                return 2;
            }

            if (!TryGetFirmware(parse, firmware, firmwareFile, firmwarePayload, out var boot))
            {
                return 2;
            }

            return RunVm(new ForegroundRun
            {
                Kernel = parse.GetValue(kernel)?.FullName,
                Initrd = parse.GetValue(initrd)?.FullName,
                Elf = parse.GetValue(elf)?.FullName,
                Firmware = boot,
                DiskSpecs = parse.GetValue(disks) ?? [],
                MemoryBytes = memoryBytes,
                Cpus = parse.GetValue(cpus),
                CommandLine = parse.GetValue(cmdline)!,
                Clock = parse.GetValue(clock),
                Execution = parse.GetValue(execution),
                InstructionLimit = parse.GetValue(limit),
                SignaturePath = parse.GetValue(signature)?.FullName,
                Stats = parse.GetValue(stats),
                CheckpointDirectory = parse.GetValue(checkpointDir)?.FullName,
                CheckpointEvery = parse.GetValue(checkpointEvery),
                AgentChannel = parse.GetValue(agentChannel),
                QemuGuestAgent = parse.GetValue(qga),
            });
        });
        return run;
    }

    private static Command CreateResume()
    {
        var from = new Option<DirectoryInfo>("--from") { Description = "folder of checkpoints (written by vm run --checkpoint-dir); the newest chain is resumed", Required = true };
        var kernel = new Option<FileInfo?>("--kernel") { Description = "the kernel the VM was started with (selects Linux mode)" };
        var initrd = new Option<FileInfo?>("--initrd") { Description = "the initrd the VM was started with (booted again if the guest reboots)" };
        var elf = new Option<FileInfo?>("--elf") { Description = "the bare-metal ELF the VM was started with" };
        var (firmware, firmwareFile, firmwarePayload) = FirmwareOptions();
        var disks = new Option<string[]>("--disk") { Description = "disk images holding the contents at the checkpoint (repeatable)" };
        var memory = new Option<string>("--memory") { Description = "RAM size the VM had", DefaultValueFactory = _ => "256M" };
        var cpus = new Option<int>("--cpus") { Description = "harts the VM had", DefaultValueFactory = _ => 1 };
        var clock = new Option<ClockMode>("--clock") { DefaultValueFactory = _ => ClockMode.RealTime };
        var agentChannel = new Option<bool>("--agent-channel") { Description = "the VM had the guest-agent channel" };
        var resumeQga = new Option<bool>("--qemu-guest-agent") { Description = "the VM had the QEMU guest agent's port" };
        var execution = new Option<ExecutionMode>("--execution") { Description = "interpreter (default) or translated", DefaultValueFactory = _ => ExecutionMode.Interpreter };
        var resume = new Command("resume", "Continue a VM from its newest checkpoint: CPU, devices and RAM as at the cut")
        {
            from, kernel, initrd, elf, firmware, firmwareFile, firmwarePayload, disks, memory, cpus, clock, execution, agentChannel, resumeQga,
        };
        resume.SetAction(parse =>
        {
            if (!SizeParser.TryParse(parse.GetValue(memory)!, out ulong memoryBytes, defaultShift: 20))
            {
                Console.Error.WriteLine($"backup: --memory '{parse.GetValue(memory)}' is not a size (examples: 256M, 2G)");
                return 2;
            }

            if (!TryGetFirmware(parse, firmware, firmwareFile, firmwarePayload, out var boot))
            {
                return 2;
            }

            return RunVm(new ForegroundRun
            {
                Kernel = parse.GetValue(kernel)?.FullName,
                Initrd = parse.GetValue(initrd)?.FullName,
                Elf = parse.GetValue(elf)?.FullName,
                Firmware = boot,
                DiskSpecs = parse.GetValue(disks) ?? [],
                MemoryBytes = memoryBytes,
                Cpus = parse.GetValue(cpus),
                Clock = parse.GetValue(clock),
                Execution = parse.GetValue(execution),
                ResumeFrom = parse.GetValue(from)!.FullName,
                AgentChannel = parse.GetValue(agentChannel),
                QemuGuestAgent = parse.GetValue(resumeQga),
            });
        });
        return resume;
    }

    private static (Option<string?> Firmware, Option<FileInfo?> File, Option<FileInfo?> Payload) FirmwareOptions() =>
    (
        new Option<string?>("--firmware") { Description = $"boot through guest firmware: '{FirmwareBoot.OpenSbiUBootName}' (OpenSBI, then U-Boot, which boots a disk's extlinux/extlinux.conf)" },
        new Option<FileInfo?>("--firmware-file") { Description = $"the M-mode firmware (ELF or raw image at 0x80000000) instead of {FirmwareBoot.DefaultOpenSbiPath}" },
        new Option<FileInfo?>("--firmware-payload") { Description = $"the S-mode payload (ELF or raw image at 0x80200000) instead of {FirmwareBoot.DefaultUBootPath}" }
    );

    private static bool TryGetFirmware(ParseResult parse, Option<string?> firmware, Option<FileInfo?> file, Option<FileInfo?> payload, out FirmwareBoot? boot)
    {
        string? name = parse.GetValue(firmware);
        string? firmwareFile = parse.GetValue(file)?.FullName;
        string? payloadFile = parse.GetValue(payload)?.FullName;
        boot = null;
        if (name is null)
        {
            if (firmwareFile is null && payloadFile is null)
            {
                return true;
            }

            Console.Error.WriteLine("backup: --firmware-file and --firmware-payload need --firmware");
            return false;
        }

        if (!string.Equals(name, FirmwareBoot.OpenSbiUBootName, StringComparison.OrdinalIgnoreCase))
        {
            Console.Error.WriteLine($"backup: --firmware '{name}' is unknown (known: {FirmwareBoot.OpenSbiUBootName})");
            return false;
        }

        boot = FirmwareBoot.OpenSbiUBoot(firmwareFile, payloadFile);
        return true;
    }

    private static int RunVm(ForegroundRun run)
    {
        string? resumeFrom = run.ResumeFrom;
        string? checkpointDir = run.CheckpointDirectory;
        var opened = new List<IBlockDevice>();
        try
        {
            foreach (string spec in run.DiskSpecs)
            {
                bool readOnly = spec.EndsWith(",ro", StringComparison.Ordinal);
                string path = readOnly ? spec[..^3] : spec;
                opened.Add(RawFileDisk.Open(path, readOnly));
            }

            var config = new VmConfiguration
            {
                KernelPath = run.Kernel,
                InitrdPath = run.Initrd,
                ElfPath = run.Elf,
                Firmware = run.Firmware,
                Disks = opened,
                MemorySize = run.MemoryBytes,
                CpuCount = run.Cpus,
                CommandLine = run.CommandLine,
                Clock = run.Clock,
                InstructionLimit = run.InstructionLimit,
                AgentChannel = run.AgentChannel,
                QemuGuestAgent = run.QemuGuestAgent,
                Execution = run.Execution,
            };

            using var sink = new ConsoleOutputSink(Console.OpenStandardOutput());
            VirtualMachine? current = null;
            Console.CancelKeyPress += (_, e) =>
            {
                e.Cancel = true;
                current?.RequestStop("interrupted (Ctrl-C)");
            };
            var input = new ConsoleInputRelay();
            KeyboardForwarder.Start(input.Send);

            while (true)
            {
                var stopwatch = Stopwatch.StartNew();
                Action<string> log = message => Console.Error.WriteLine($"[vm] {message}");
                using var vm = resumeFrom is null
                    ? new VirtualMachine(config, sink.Write, log)
                    : VirtualMachine.Restore(config, CheckpointChain.Latest(resumeFrom), sink.Write, log);
                if (resumeFrom is not null)
                {
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[vm] resumed from '{resumeFrom}' in {stopwatch.Elapsed.TotalMilliseconds:F1} ms"));
                    resumeFrom = null; // a reboot after this starts the kernel afresh
                }

                current = vm;
                input.Attach(bytes => vm.SendConsoleInput(bytes));
                var checkpoints = checkpointDir is null ? null : new Timer(_ => TakeCheckpoint(vm, checkpointDir), null, run.CheckpointEvery, run.CheckpointEvery);
                VmExit exit;
                try
                {
                    exit = vm.Run();
                }
                finally
                {
                    input.Detach(); // keys typed from here on go to the next machine (after a reboot), not to this one
                    current = null;
                    checkpoints?.Dispose();
                }

                stopwatch.Stop();
                sink.Flush();
                if (run.Stats)
                {
                    double seconds = stopwatch.Elapsed.TotalSeconds;
                    ulong instructions = vm.RetiredInstructions;
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"[vm] {instructions} instructions in {seconds:F3} s = {instructions / seconds / 1e6:F1} MIPS"));
                    if (run.Execution == ExecutionMode.Translated)
                    {
                        var t = vm.Harts.Select(h => h.TranslationStatistics).Aggregate((a, b) => a.Add(b));
                        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"[vm] translated: {t.BlocksCompiled} blocks compiled in {t.CompileTime.TotalMilliseconds:F0} ms, {t.InstructionsTranslated} instructions ran compiled ({t.BlockRuns} block runs), {t.PagesInvalidated} code pages invalidated ({t.BlocksInvalidated} blocks)"));
                    }
                }

                if (exit.Kind == VmExitKind.Reboot)
                {
                    Console.Error.WriteLine("[vm] the guest rebooted; starting it again");
                    continue;
                }

                if (run.SignaturePath is not null && vm.SignatureRange is { } range)
                {
                    WriteSignature(vm, range.Begin, range.End, run.SignaturePath);
                }

                int status = GuestExitStatus.ToProcessExitCode(exit);
                if (!exit.Succeeded)
                {
                    Console.Error.WriteLine($"[vm] stopped: {exit.Message}");
                }

                if (exit.ExitCode is < 0 or > 255)
                {
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"[vm] guest status {exit.ExitCode} does not fit a process exit status (1-255): exiting with {status}"));
                }

                return status;
            }
        }
        catch (Exception e) when (e is ArgumentException or DiskImageException or IOException or FormatException or UnauthorizedAccessException or VmStateFormatException)
        {
            Console.Error.WriteLine($"backup: {e.Message}");
            return 2;
        }
        finally
        {
            foreach (var disk in opened)
            {
                disk.Dispose();
            }
        }
    }

    private static void TakeCheckpoint(VirtualMachine vm, string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
            string path = Path.Combine(directory, $"{DateTime.UtcNow:yyyyMMdd-HHmmss-fff}{CheckpointChain.Extension}");
            var cut = vm.Checkpoint(path);
            long pages = cut.Completion.GetAwaiter().GetResult();
            foreach (var snapshot in cut.Disks)
            {
                snapshot?.Dispose(); // raw disks are not snapshotted here; tracked ones would be released
            }

            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[vm] checkpoint {Path.GetFileName(path)} ({(cut.Header.IsIncremental ? "incremental" : "full")}, {pages} pages, stun {cut.StunTime.TotalMilliseconds:F2} ms)"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException or InvalidOperationException)
        {
            Console.Error.WriteLine($"[vm] checkpoint failed: {e.Message}");
        }
    }

    private static void WriteSignature(VirtualMachine vm, ulong begin, ulong end, string path)
    {
        using var writer = new StreamWriter(path);
        for (ulong a = begin; a + 4 <= end; a += 4)
        {
            if (!vm.Ram.TryGetSpan(a, 4, out var word))
            {
                break;
            }

            writer.WriteLine(BitConverter.ToUInt32(word).ToString("x8", CultureInfo.InvariantCulture));
        }
    }
}
