using Backup.Hypervisor.Boot;
using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Devices;
using Backup.Hypervisor.Devices.Virtio;
using Backup.Hypervisor.DeviceTree;

namespace Backup.Hypervisor.Machine;

/// <summary>
/// The devices a distribution kernel expects beyond the UART and disks (an RTC, an entropy source, a virtio console),
/// and the Linux boot: kernel, initial ramdisk and device tree placed in RAM by <see cref="LinuxBootLayout"/>.
/// </summary>
public sealed partial class VirtualMachine
{
    /// <summary>Where the virtio entropy device sits: past QEMU virt's eight virtio-mmio slots, so disks keep them all.</summary>
    public const ulong EntropyBase = 0x1000_9000;

    /// <summary>The entropy device's PLIC source (unused on QEMU virt, between the virtio slots' 1-8 and the UART's 10).</summary>
    public const uint EntropyIrq = 9;

    /// <summary>Where the virtio console (the guest's hvc0) sits, after the entropy device.</summary>
    public const ulong ConsoleBase = 0x1000_A000;

    /// <summary>The virtio console's PLIC source (after the agent UART's 12).</summary>
    public const uint ConsoleIrq = 13;

    /// <summary>Sections a checkpoint written before these devices existed lacks; their devices then stay as at power-on.</summary>
    private readonly HashSet<string> _optionalStateParts = new(StringComparer.Ordinal);

    private GoldfishRtc? _rtc;
    private VirtioMmioTransport? _entropy;
    private VirtioConsoleDevice? _virtioConsole;
    private bool _inputToVirtioConsole;

    /// <summary>The real-time clock.</summary>
    public GoldfishRtc Rtc => _rtc!;

    /// <summary>The virtio entropy device.</summary>
    public VirtioEntropyDevice Entropy => (VirtioEntropyDevice)_entropy!.Backend;

    /// <summary>The virtio console (hvc0). Keyboard input goes to it when the command line's last console= is hvc.</summary>
    public VirtioConsoleDevice VirtioConsole => _virtioConsole!;

    /// <summary>Adds the RTC and the slots of the entropy device and the virtio console to <paramref name="description"/>.</summary>
    private static MachineDescription WithPlatformDevices(MachineDescription description) => description with
    {
        Rtc = new RtcDescription { Base = GoldfishRtc.DefaultBase },
        VirtioSlots = [.. description.VirtioSlots, new VirtioMmioSlot(EntropyBase, EntropyIrq), new VirtioMmioSlot(ConsoleBase, ConsoleIrq)],
    };

    /// <summary>True when the kernel's console (its last console= argument) is a hypervisor console (hvc0).</summary>
    private static bool ConsoleIsHvc(string commandLine) =>
        commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .LastOrDefault(a => a.StartsWith("console=", StringComparison.Ordinal))?
            .StartsWith("console=hvc", StringComparison.Ordinal) == true;

    /// <summary>
    /// Creates and attaches the RTC, the entropy device and the virtio console; returns what needs polling. Their
    /// state sections are optional on restore: a checkpoint from a build without them comes from a guest whose device
    /// tree (in its saved RAM) never described them, so it never touched them and their power-on state is exact.
    /// </summary>
    private IPolledDevice[] AttachPlatformDevices(Plic plic, string commandLine)
    {
        var rtc = Description.Rtc!;
        _rtc = new GoldfishRtc(_clock, plic.GetLine((int)rtc.Irq), rtc.Base);
        var entropySlot = Description.VirtioSlots.Single(s => s.Base == EntropyBase);
        var entropy = new VirtioEntropyDevice(reproducible: _clock.Mode == Timing.ClockMode.Deterministic);
        _entropy = new VirtioMmioTransport(entropySlot.Base, _ram, entropy, plic.GetLine((int)entropySlot.Irq), OnDeviceError, "virtio-rng");
        var consoleSlot = Description.VirtioSlots.Single(s => s.Base == ConsoleBase);
        _virtioConsole = new VirtioConsoleDevice(_consoleOutput);
        var console = new VirtioMmioTransport(consoleSlot.Base, _ram, _virtioConsole, plic.GetLine((int)consoleSlot.Irq), OnDeviceError, "virtio-console");
        _inputToVirtioConsole = ConsoleIsHvc(commandLine);
        foreach (var device in new IMmioDevice[] { _rtc, _entropy, console })
        {
            _bus.Attach(device);
        }

        foreach (var part in new Snapshots.IDeviceState[] { _rtc, _entropy, entropy, console, _virtioConsole })
        {
            _stateParts.Add(part);
            _optionalStateParts.Add(part.StateName);
        }

        return [_rtc, new VirtioConsolePoller(console, _virtioConsole)];
    }

    /// <summary>
    /// Loads the kernel (and initrd) and the device tree describing them, and starts the boot hart in S-mode at the
    /// kernel with a0 = hart id 0 and a1 = the device tree. Returns the description the device tree was built from.
    /// </summary>
    /// <exception cref="ArgumentException">A part does not fit in RAM (the message names the file).</exception>
    private MachineDescription LoadLinux(MachineDescription description, string kernelPath, string? initrdPath)
    {
        byte[] image = File.ReadAllBytes(kernelPath);
        LinuxImageHeader? header = LinuxImageHeader.TryParse(image, out var parsed) ? parsed : null;
        long? initrdLength = initrdPath is null ? null : new FileInfo(initrdPath).Length;

        // The initrd's addresses are fixed-size properties: a tree with placeholders has the final size.
        var sized = initrdPath is null ? description : description with { InitrdStart = _ram.Base, InitrdEnd = _ram.Base };
        int dtbLength = MachineDeviceTree.Build(sized).Length;
        var layout = LinuxBootLayout.Plan(_ram.Base, _ram.Size, kernelPath, image.Length, header, dtbLength, initrdPath, initrdLength);
        var final = description with { InitrdStart = layout.InitrdStart, InitrdEnd = layout.InitrdEnd };
        byte[] dtb = MachineDeviceTree.Build(final);
        if (dtb.Length != dtbLength)
        {
            throw new InvalidOperationException($"the device tree changed size ({dtbLength} -> {dtb.Length} bytes) when the initrd was placed");
        }

        _ram.Write(layout.KernelAddress, image);
        if (initrdPath is not null)
        {
            byte[] initrd = File.ReadAllBytes(initrdPath);
            if (initrd.LongLength != initrdLength)
            {
                throw new ArgumentException($"initrd '{initrdPath}' changed size while it was loaded ({initrdLength} -> {initrd.LongLength} bytes)");
            }

            _ram.Write(layout.InitrdStart!.Value, initrd);
        }

        _ram.Write(layout.DeviceTreeAddress, dtb);
        foreach (var hart in _harts)
        {
            hart.ConfigureHostFirmware();
            hart.State = HartState.Stopped;
        }

        _harts[0].Start(layout.KernelAddress, PrivilegeMode.Supervisor, 0, layout.DeviceTreeAddress);
        return final;
    }
}
