using Backup.Hypervisor.Boot;
using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Devices;
using Backup.Hypervisor.Devices.Virtio;
using Backup.Hypervisor.DeviceTree;

namespace Backup.Hypervisor.Machine;

/// <summary>
/// The devices a distribution kernel expects beyond the console and disks (an RTC, an entropy source), and the
/// Linux boot: kernel, initial ramdisk and device tree placed in RAM by <see cref="LinuxBootLayout"/>.
/// </summary>
public sealed partial class VirtualMachine
{
    /// <summary>Where the virtio entropy device sits: past QEMU virt's eight virtio-mmio slots, so disks keep them all.</summary>
    public const ulong EntropyBase = 0x1000_9000;

    /// <summary>The entropy device's PLIC source (unused on QEMU virt, between the virtio slots' 1-8 and the UART's 10).</summary>
    public const uint EntropyIrq = 9;

    /// <summary>Sections a checkpoint written before these devices existed lacks; their devices then stay as at power-on.</summary>
    private readonly HashSet<string> _optionalStateParts = new(StringComparer.Ordinal);

    private GoldfishRtc? _rtc;
    private VirtioMmioTransport? _entropy;

    /// <summary>The real-time clock.</summary>
    public GoldfishRtc Rtc => _rtc!;

    /// <summary>The virtio entropy device.</summary>
    public VirtioEntropyDevice Entropy => (VirtioEntropyDevice)_entropy!.Backend;

    /// <summary>Adds the RTC and the entropy device's slot to <paramref name="description"/>.</summary>
    private static MachineDescription WithPlatformDevices(MachineDescription description) => description with
    {
        Rtc = new RtcDescription { Base = GoldfishRtc.DefaultBase },
        VirtioSlots = [.. description.VirtioSlots, new VirtioMmioSlot(EntropyBase, EntropyIrq)],
    };

    /// <summary>
    /// Creates and attaches the RTC and the entropy device. Their state sections are optional on restore: a checkpoint
    /// from a build without them comes from a guest whose device tree (in its saved RAM) never described them, so it
    /// never touches them and their power-on state is exact.
    /// </summary>
    private void AttachPlatformDevices(Plic plic)
    {
        var rtc = Description.Rtc!;
        _rtc = new GoldfishRtc(_clock, plic.GetLine((int)rtc.Irq), rtc.Base);
        var slot = Description.VirtioSlots[^1];
        _entropy = new VirtioMmioTransport(slot.Base, _ram, new VirtioEntropyDevice(), plic.GetLine((int)slot.Irq), OnDeviceError, "virtio-rng");
        _bus.Attach(_rtc);
        _bus.Attach(_entropy);
        _stateParts.Add(_rtc);
        _stateParts.Add(_entropy);
        _optionalStateParts.Add(_rtc.StateName);
        _optionalStateParts.Add(_entropy.StateName);
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
