namespace Backup.Hypervisor.Devices;

/// <summary>
/// A memory-mapped device on the system bus. Offsets are relative to <see cref="Base"/>; sizes are 1, 2, 4 or 8.
/// A device must never throw on guest input: a bad register access reads as zero / is ignored, a bad request is
/// reported to the guest through the device's own error status.
/// </summary>
public interface IMmioDevice
{
    /// <summary>Human-readable name, used in logs and stop reasons.</summary>
    string Name { get; }

    /// <summary>Guest-physical base address.</summary>
    ulong Base { get; }

    /// <summary>Size of the register window in bytes.</summary>
    ulong Size { get; }

    ulong Read(ulong offset, int size);

    void Write(ulong offset, int size, ulong value);
}
