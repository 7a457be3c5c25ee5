namespace Backup.Hypervisor.Devices;

/// <summary>One PLIC interrupt source as seen by a device: driving it sets the level of its gateway.</summary>
internal sealed class PlicInterruptLine(Plic plic, int source) : IInterruptLine
{
    public int Source { get; } = source;

    public void Set(bool level) => plic.SetSourceLevel(Source, level);
}
