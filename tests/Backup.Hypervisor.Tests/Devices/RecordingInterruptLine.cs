using Backup.Hypervisor.Devices;

namespace Backup.Hypervisor.Tests.Devices;

/// <summary>Test double for an interrupt line: remembers the level and counts rising edges.</summary>
public sealed class RecordingInterruptLine : IInterruptLine
{
    private int _level;

    public bool Level => Volatile.Read(ref _level) != 0;

    public int RisingEdges { get; private set; }

    public void Set(bool level)
    {
        if (level && !Level)
        {
            RisingEdges++;
        }

        Volatile.Write(ref _level, level ? 1 : 0);
    }
}
