using System.CommandLine;
using System.Globalization;
using Backup.Cli.Terminal;
using Backup.Engine.Networks;
using Backup.Engine.Vms;
using Backup.Service.Api;
using Backup.Service.Catalog;
using Backup.Service.Data;
using Backup.Service.Hosting;
using Backup.Service.Vms;

namespace Backup.Cli.Commands;

/// <summary>
/// `backup vm create|list|start|stop|console`: the VMs the appliance manages, defined in its data folder. With the
/// service running they run in it (in the background, consoles logged); without it, `vm start` runs the VM in the
/// foreground in this process, which then holds the data folder and serves the API in the service's place.
/// </summary>
internal static class ManagedVmCommands
{
    private const byte DetachKey = 0x1D; // Ctrl-]

    public static IEnumerable<Command> Create() => [Define(), List(), Set(), Start(), Stop(), Attach()];

    private static Command Define()
    {
        var name = new Argument<string>("name") { Description = "the VM's name (a-z, 0-9, '-', '_', '.')" };
        var kernel = new Option<FileInfo?>("--kernel") { Description = "RISC-V Linux kernel Image (or boot through --firmware)" };
        var firmware = new Option<string?>("--firmware") { Description = "boot through guest firmware: 'opensbi+uboot' (U-Boot boots the first disk's extlinux/extlinux.conf; docs/firmware-boot.md)" };
        var firmwareFile = new Option<FileInfo?>("--firmware-file") { Description = "the M-mode firmware instead of Debian's OpenSBI fw_dynamic" };
        var firmwarePayload = new Option<FileInfo?>("--firmware-payload") { Description = "the S-mode payload instead of Debian's U-Boot" };
        var initrd = new Option<FileInfo?>("--initrd") { Description = "initial ramdisk the kernel boots with (kept with the kernel in every restore point)" };
        var disks = new Option<string[]>("--disk") { Description = "raw disk image; append ',ro' for read-only and ',cbt=SIZE' for its own change-tracking granularity (repeatable, in order: the first is the guest's vda)" };
        var memory = new Option<string>("--memory") { Description = "RAM size, e.g. 256M or 2G", DefaultValueFactory = _ => "256M" };
        var cpus = new Option<int>("--cpus") { Description = "number of harts (1-4)", DefaultValueFactory = _ => 1 };
        var cmdline = new Option<string>("--cmdline") { Description = "kernel command line", DefaultValueFactory = _ => "console=ttyS0" };
        var agent = new Option<bool>("--agent-channel") { Description = "add the guest-agent channel (application-consistent backups, health checks)" };
        var qga = new Option<bool>("--qemu-guest-agent") { Description = "add the standard QEMU guest agent's port (virtio-serial org.qemu.guest_agent.0 for the guest's qemu-ga); application-consistent backups freeze through it" };
        var autostart = new Option<bool>("--autostart") { Description = "the service starts this VM when it starts" };
        var granularity = new Option<string?>("--cbt-granularity") { Description = "changed-block tracking granularity of the VM's disks, a power of two from 4K to 64M (default 64K)" };
        var nics = new Option<string[]>("--nic") { Description = "a network card on an appliance network: network=NAME[,mac=aa:bb:cc:dd:ee:ff] (repeatable, in order: eth0, eth1, ...; at most 4)" };
        var forwards = new Option<string[]>("--forward") { Description = "forward a host loopback port to the guest: tcp:127.0.0.1:HOSTPORT-:GUESTPORT[,nic=N] (repeatable)" };
        var command = new Command("create", "Define a VM the appliance runs and protects") { name, kernel, initrd, firmware, firmwareFile, firmwarePayload, disks, memory, cpus, cmdline, agent, qga, autostart, granularity, nics, forwards };
        command.SetAction(parse => ApplianceCommand.Run(() =>
        {
            if (!SizeParser.TryParse(parse.GetValue(memory)!, out ulong bytes, defaultShift: 20))
            {
                throw new UsageException($"--memory '{parse.GetValue(memory)}' is not a size (examples: 256M, 2G)");
            }

            if ((parse.GetValue(kernel) is null) == (parse.GetValue(firmware) is null))
            {
                throw new UsageException("give either --kernel PATH or --firmware opensbi+uboot");
            }

            var definition = new VmDefinition
            {
                Name = parse.GetValue(name)!,
                Kernel = parse.GetValue(kernel)?.FullName ?? string.Empty,
                Firmware = parse.GetValue(firmware),
                FirmwareFile = parse.GetValue(firmwareFile)?.FullName,
                FirmwarePayload = parse.GetValue(firmwarePayload)?.FullName,
                Initrd = parse.GetValue(initrd)?.FullName,
                Disks = (parse.GetValue(disks) ?? []).Select(ParseDisk).ToArray(),
                MemoryBytes = bytes,
                Cpus = parse.GetValue(cpus),
                CommandLine = parse.GetValue(cmdline)!,
                AgentChannel = parse.GetValue(agent),
                QemuGuestAgent = parse.GetValue(qga),
                Autostart = parse.GetValue(autostart),
                CbtGranularity = ParseGranularity("--cbt-granularity", parse.GetValue(granularity)),
                Nics = (parse.GetValue(nics) ?? []).Select(VmNicDefinition.Parse).ToArray(),
                Forwards = (parse.GetValue(forwards) ?? []).Select(PortForwardDefinition.Parse).ToArray(),
            };
            var data = ApplianceCommand.Resolve(parse);
            data.EnsureCreated();
            var created = new VmStore(data).Create(definition);
            Console.WriteLine($"created VM {created.Name} ({created.MemoryBytes >> 20} MiB, {created.Cpus} CPU, {created.Disks.Count} disks{(created.Autostart ? ", autostart" : string.Empty)}, change tracking {DescribeGranularity(created)}, agents {ApplianceHost.DescribeAgents(created)}) in {data.VmDirectory(created.Name)}");
            Console.WriteLine(created.Initrd is null ? $"kernel {created.Kernel}" : $"kernel {created.Kernel}, initrd {created.Initrd}");
            for (int i = 0; i < created.Nics.Count; i++)
            {
                Console.WriteLine($"eth{i}: {created.Nics[i]}");
            }

            foreach (var forward in created.Forwards)
            {
                Console.WriteLine($"forward {forward}");
            }
            return Task.FromResult(0);
        }));
        return command;
    }

    private static Command List()
    {
        var command = new Command("list", "List the appliance's VMs and their state");
        command.SetAction(parse => ApplianceCommand.Run(async () =>
        {
            var data = ApplianceCommand.Resolve(parse);
            IReadOnlyList<VmStatus> vms;
            using (var service = await ServiceClient.TryConnect(data).ConfigureAwait(false))
            {
                if (service is not null)
                {
                    vms = await service.ListVmsAsync().ConfigureAwait(false);
                }
                else
                {
                    using var catalog = ApplianceCatalog.Open(data.CatalogPath);
                    vms = ApplianceHost.ListVms(new VmStore(data), catalog, supervisor: null);
                }
            }

            foreach (string problem in new VmStore(data).List().Problems)
            {
                Console.Error.WriteLine($"backup: {problem}");
            }

            if (vms.Count == 0)
            {
                Console.WriteLine("no VMs (create one with `backup vm create NAME --kernel ... --disk ...`)");
                return 0;
            }

            Console.WriteLine($"{"NAME",-20} {"STATE",-10} {"MEMORY",8} {"CPUS",4} {"DISKS",5} {"AUTOSTART",9} {"CBT",-12} {"AGENTS",-13}  LAST CHANGE");
            foreach (var vm in vms)
            {
                string state = vm.Running ? "running" : "stopped";
                string detail = vm.Running || vm.State == "stopped" ? string.Empty : vm.State;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{vm.Name,-20} {state,-10} {vm.MemoryBytes >> 20,5} MiB {vm.Cpus,4} {vm.Disks,5} {(vm.Autostart ? "yes" : "no"),9} {DescribeGranularities(vm.CbtGranularities),-12} {vm.Agents ?? "-",-13}  {vm.StateChanged?.ToString("u", CultureInfo.InvariantCulture) ?? "-"} {detail}"));
            }

            return 0;
        }));
        return command;
    }

    private static Command Set()
    {
        var name = new Argument<string>("name");
        var granularity = new Option<string>("--cbt-granularity")
        {
            Description = "changed-block tracking granularity, a power of two from 4K to 64M, or 'default' (the VM's, else 64K)",
            Required = true,
        };
        var disk = new Option<int?>("--disk") { Description = "set only this disk's granularity (0 = the first disk); without it, the VM's" };
        var command = new Command("set", "Change a VM's settings; a new change-tracking granularity applies from the VM's next start, and its next backup then reads each affected disk in full") { name, granularity, disk };
        command.SetAction(parse => ApplianceCommand.Run(async () =>
        {
            var data = ApplianceCommand.Resolve(parse);
            var store = new VmStore(data);
            var definition = store.Get(parse.GetValue(name)!);
            string text = parse.GetValue(granularity)!;
            int? bytes = text.Equals("default", StringComparison.OrdinalIgnoreCase) ? null : ParseGranularity("--cbt-granularity", text);
            VmDefinition updated;
            if (parse.GetValue(disk) is { } index)
            {
                if (index < 0 || index >= definition.Disks.Count)
                {
                    throw new UsageException($"--disk {index}: VM '{definition.Name}' has {definition.Disks.Count} disks (0 to {definition.Disks.Count - 1})");
                }

                updated = definition with { Disks = definition.Disks.Select((d, i) => i == index ? d with { CbtGranularity = bytes } : d).ToArray() };
            }
            else
            {
                updated = definition with { CbtGranularity = bytes };
            }

            store.Update(updated);
            bool running = false;
            using (var service = await ServiceClient.TryConnect(data).ConfigureAwait(false))
            {
                if (service is not null)
                {
                    running = (await service.ListVmsAsync().ConfigureAwait(false)).Any(vm => vm.Name == definition.Name && vm.Running);
                }
            }

            var changed = Enumerable.Range(0, definition.Disks.Count).Where(i => definition.CbtGranularityOf(i) != updated.CbtGranularityOf(i)).Select(i => $"disk{i}").ToList();
            Console.WriteLine($"VM {updated.Name}: change tracking {DescribeGranularity(updated)}");
            if (changed.Count > 0)
            {
                Console.WriteLine($"  {string.Join(", ", changed)}: the next backup reads the whole disk once (the changed-block map starts over at the new granularity){(running ? "; the VM is running: this applies when it next starts" : string.Empty)}");
            }

            return 0;
        }));
        return command;
    }

    /// <summary>"PATH[,ro][,cbt=SIZE]" in any order of the options.</summary>
    private static VmDiskDefinition ParseDisk(string spec)
    {
        string path = spec;
        bool readOnly = false;
        int? granularity = null;
        while (true)
        {
            int comma = path.LastIndexOf(',');
            string option = comma < 0 ? string.Empty : path[(comma + 1)..];
            if (option == "ro" && !readOnly)
            {
                readOnly = true;
            }
            else if (option.StartsWith("cbt=", StringComparison.Ordinal) && granularity is null)
            {
                granularity = ParseGranularity($"--disk {spec}: cbt", option["cbt=".Length..]);
            }
            else
            {
                break;
            }

            path = path[..comma];
        }

        if (path.Length == 0)
        {
            throw new UsageException($"--disk '{spec}' names no disk image");
        }

        return new VmDiskDefinition { Path = path, ReadOnly = readOnly, CbtGranularity = granularity };
    }

    private static int? ParseGranularity(string what, string? text)
    {
        if (text is null)
        {
            return null;
        }

        if (!SizeParser.TryParse(text, out ulong bytes))
        {
            throw new UsageException($"{what} '{text}' is not a size (examples: 64K, 256K, 1M)");
        }

        if (VmDefinition.CbtGranularityProblem((long)Math.Min(bytes, long.MaxValue)) is { } problem)
        {
            throw new UsageException($"{what} '{text}': a granularity {problem}");
        }

        return (int)bytes;
    }

    private static string DescribeGranularity(VmDefinition vm) =>
        vm.Disks.Count == 0 ? "(no disks)" : string.Join(", ", vm.Disks.Select((_, i) => $"disk{i} {VmDefinition.FormatGranularity(vm.CbtGranularityOf(i))}"));

    private static string DescribeGranularities(IReadOnlyList<int>? granularities) =>
        granularities is null || granularities.Count == 0 ? "-"
        : granularities.Distinct().Count() == 1 ? VmDefinition.FormatGranularity(granularities[0])
        : string.Join(",", granularities.Select(g => VmDefinition.FormatGranularity(g)));

    private static Command Start()
    {
        var name = new Argument<string>("name");
        var command = new Command("start", "Start a VM: in the running service (background), else in the foreground with its console here") { name };
        command.SetAction(parse => ApplianceCommand.Run(async () =>
        {
            var data = ApplianceCommand.Resolve(parse);
            string vm = parse.GetValue(name)!;
            using (var service = await ServiceClient.TryConnect(data).ConfigureAwait(false))
            {
                if (service is not null)
                {
                    await service.StartVmAsync(vm).ConfigureAwait(false);
                    Console.WriteLine($"VM {vm} started in the appliance service; `backup vm console {vm}` shows its console");
                    return 0;
                }
            }

            return await RunInForegroundAsync(data, vm).ConfigureAwait(false);
        }));
        return command;
    }

    private static async Task<int> RunInForegroundAsync(ApplianceData data, string vm)
    {
        await using var host = await ApplianceHost.StartAsync(new ServiceOptions
        {
            Data = data,
            RunScheduler = false,
            StartAutostartVms = false,
            StartVms = [vm],
            Purpose = $"backup vm start {vm}",
            JsonLogs = Console.IsErrorRedirected,
            LogToStandardError = true,
        }).ConfigureAwait(false);
        var running = host.Supervisor.Find(vm) ?? throw new InvalidOperationException($"VM '{vm}' stopped as it started");
        Console.Error.WriteLine($"[vm] {vm} running in the foreground (Ctrl-C stops it; other `backup` commands reach it through this process)");
        using var sink = new ConsoleOutputSink(Console.OpenStandardOutput());
        using var subscription = running.Console.Attach(bytes => sink.Write(bytes), out byte[] recent);
        sink.Write(recent);

        KeyboardForwarder.Start(bytes => running.SendInput(bytes));
        var exited = running.Exited;
        var finished = await Task.WhenAny(exited, host.Stopping).ConfigureAwait(false);
        sink.Flush();
        if (finished == exited)
        {
            var exit = await exited.ConfigureAwait(false);
            Console.Error.WriteLine($"[vm] {vm} stopped: {exit.Message}");
            return GuestExitStatus.ToProcessExitCode(exit); // a guest status of 256 must not reach the shell as 0
        }

        return 0;
    }

    private static Command Stop()
    {
        var name = new Argument<string>("name");
        var command = new Command("stop", "Stop a VM the service runs (a hard stop: the guest's journals recover its filesystems)") { name };
        command.SetAction(parse => ApplianceCommand.Run(async () =>
        {
            var data = ApplianceCommand.Resolve(parse);
            string vm = parse.GetValue(name)!;
            using var service = await ServiceClient.TryConnect(data).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"VM '{vm}' is not running: no appliance service runs on {data.Root}");
            await service.StopVmAsync(vm).ConfigureAwait(false);
            Console.WriteLine($"VM {vm} stopped");
            return 0;
        }));
        return command;
    }

    private static Command Attach()
    {
        var name = new Argument<string>("name");
        var command = new Command("console", "Attach to a running VM's console (its recent output, then live; Ctrl-] detaches)") { name };
        command.SetAction(parse => ApplianceCommand.Run(async () =>
        {
            var data = ApplianceCommand.Resolve(parse);
            string vm = parse.GetValue(name)!;
            using var service = await ServiceClient.TryConnect(data).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"VM '{vm}' is not running: no appliance service runs on {data.Root} (its console log is {data.VmConsoleLog(vm)})");
            using var detach = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) =>
            {
                e.Cancel = true;
                detach.Cancel();
            };
            if (!Console.IsInputRedirected)
            {
                Console.Error.WriteLine($"[console] attached to {vm}; Ctrl-] detaches");
                KeyboardForwarder.Start(bytes =>
                {
                    if (Array.IndexOf(bytes, DetachKey) >= 0)
                    {
                        detach.Cancel();
                        return;
                    }

                    try
                    {
                        service.SendConsoleInputAsync(vm, bytes, detach.Token).GetAwaiter().GetResult();
                    }
                    catch (Exception e) when (e is ServiceException or OperationCanceledException or ObjectDisposedException)
                    {
                        detach.Cancel(); // the VM stopped or the service went away
                    }
                });
            }

            try
            {
                await service.StreamConsoleAsync(vm, Console.OpenStandardOutput(), detach.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine();
                Console.Error.WriteLine("[console] detached");
            }

            return 0;
        }));
        return command;
    }
}
