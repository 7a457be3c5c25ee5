namespace Backup.Network.Ethernet;

/// <summary>Frame sizes every part of the network agrees on.</summary>
public static class FrameLimits
{
    /// <summary>Smallest frame accepted: destination, source and EtherType (no FCS is carried anywhere).</summary>
    public const int MinimumLength = 14;

    /// <summary>Largest ordinary frame: a 1500-byte MTU, the 14-byte header and one 802.1Q tag.</summary>
    public const int MaximumLength = 1518;

    /// <summary>Largest super-frame (<see cref="FrameOffload.Segmentation"/> set): a 64 KiB IP packet and its header.</summary>
    public const int MaximumSuperFrameLength = 65535 + 18;
}
