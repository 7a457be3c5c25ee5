using Backup.Hypervisor.Boot;
using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.DeviceTree;

namespace Backup.Hypervisor.Machine;

/// <summary>Booting through M-mode firmware (<see cref="VmConfiguration.Firmware"/>): OpenSBI fw_dynamic, then U-Boot.</summary>
public sealed partial class VirtualMachine
{
    private BootTargetWatcher? _bootWatcher;

    /// <summary>Wraps the console sink with the U-Boot "nothing to boot" watcher when the configuration asks for it.</summary>
    private Action<byte> WatchFirmwareConsole(VmConfiguration config, Action<byte> consoleOutput)
    {
        if (config.Firmware is not { StopWhenNothingToBoot: true })
        {
            return consoleOutput;
        }

        var watcher = _bootWatcher = new BootTargetWatcher(() =>
        {
            _exitRequest ??= new VmExit(VmExitKind.Error, 2, BootTargetWatcher.Message);
            _wake.Set();
        });
        return b =>
        {
            consoleOutput(b);
            watcher.Observe(b);
        };
    }

    /// <summary>
    /// Loads the firmware at 0x80000000 and its payload at 0x80200000, the device tree at the top of RAM (below
    /// 3 GiB, 2 MiB aligned, as QEMU places it) followed by the fw_dynamic info, and starts every hart in M-mode
    /// at the firmware's entry with a0 = hart id, a1 = device tree, a2 = fw_dynamic info (QEMU's reset vector).
    /// </summary>
    private void LoadFirmware(FirmwareBoot firmware)
    {
        byte[] dtb = MachineDeviceTree.Build(Description);
        ulong span = Math.Min(_ram.Size, 3UL << 30);
        ulong dtbAddress = (_ram.Base + span - (ulong)dtb.Length - FwDynamicInfo.Size - 8) & ~((2UL << 20) - 1);
        ulong payloadAddress = FirmwareBoot.PayloadAddress;
        if (dtbAddress <= payloadAddress)
        {
            throw new ArgumentException($"{_ram.Size >> 20} MiB of RAM leaves no room for the firmware, its payload and the device tree");
        }

        ulong entry = FirmwareImageLoader.Load(_ram, firmware.FirmwarePath, "firmware", FirmwareBoot.FirmwareAddress, payloadAddress, linuxImageAllowed: false);
        ulong next = FirmwareImageLoader.Load(_ram, firmware.PayloadPath, "firmware payload", payloadAddress, dtbAddress, linuxImageAllowed: true);
        ulong infoAddress = (dtbAddress + (ulong)dtb.Length + 7) & ~7UL;
        _ram.Write(dtbAddress, dtb);
        _ram.Write(infoAddress, FwDynamicInfo.Build(next, Description.BootHartId));
        foreach (var hart in _harts)
        {
            hart.Start(entry, PrivilegeMode.Machine, (ulong)hart.HartId, dtbAddress);
            hart.SetRegister(12, infoAddress);
        }
    }
}
