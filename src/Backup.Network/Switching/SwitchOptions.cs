namespace Backup.Network.Switching;

/// <summary>Limits of a <see cref="VirtualSwitch"/> and of each of its ports. Defaults suit a lab of a few VMs.</summary>
public sealed record SwitchOptions
{
    /// <summary>Most MAC addresses the switch remembers; beyond it, unknown destinations are flooded.</summary>
    public int MacTableCapacity { get; init; } = 1024;

    /// <summary>Most MAC addresses learned behind one port (a guest inventing addresses cannot fill the table).</summary>
    public int MaxMacsPerPort { get; init; } = 16;

    /// <summary>How long a learned address lives without traffic from it.</summary>
    public TimeSpan MacAging { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Most frames waiting in one port's queue.</summary>
    public int QueueFrames { get; init; } = 4096;

    /// <summary>Most bytes waiting in one port's queue.</summary>
    public int QueueBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>Broadcast and multicast frames a port may send per second (sustained).</summary>
    public double BroadcastPerSecond { get; init; } = 500;

    /// <summary>Broadcast and multicast frames a port may send in a burst.</summary>
    public double BroadcastBurst { get; init; } = 200;

    /// <summary>ARP frames a port may send per second (sustained).</summary>
    public double ArpPerSecond { get; init; } = 200;

    /// <summary>ARP frames a port may send in a burst.</summary>
    public double ArpBurst { get; init; } = 100;

    /// <summary>Checks the values; throws naming the first bad one.</summary>
    public void Validate()
    {
        Positive(MacTableCapacity, nameof(MacTableCapacity));
        Positive(MaxMacsPerPort, nameof(MaxMacsPerPort));
        Positive(QueueFrames, nameof(QueueFrames));
        Positive(QueueBytes, nameof(QueueBytes));
        if (MacAging <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(MacAging), MacAging, "MAC aging must be positive");
        }

        if (!(BroadcastPerSecond > 0 && BroadcastBurst >= 1 && ArpPerSecond > 0 && ArpBurst >= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(BroadcastPerSecond), "rate limits must be positive with bursts of at least 1 frame");
        }
    }

    private static void Positive(int value, string name)
    {
        if (value <= 0)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive");
        }
    }
}
