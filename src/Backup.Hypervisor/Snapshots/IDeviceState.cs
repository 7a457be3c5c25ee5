namespace Backup.Hypervisor.Snapshots;

/// <summary>
/// The one save/restore contract of every stateful part of a machine (harts, devices, clock): each writes its
/// own section of the state file and reads it back. A section carries its own version so a part can evolve;
/// <see cref="RestoreState"/> refuses versions it does not know with <see cref="VmStateFormatException"/>.
/// Both run on the VM thread with the machine paused at an instruction boundary.
/// </summary>
public interface IDeviceState
{
    /// <summary>Unique, stable section name within a machine (e.g. "hart0", "plic", "virtio-blk0").</summary>
    string StateName { get; }

    /// <summary>Version of the section layout <see cref="SaveState"/> writes.</summary>
    int StateVersion { get; }

    void SaveState(StateWriter writer);

    /// <summary>Restores from a section written by <see cref="SaveState"/> with the given layout version.</summary>
    void RestoreState(StateReader reader, int version);
}
