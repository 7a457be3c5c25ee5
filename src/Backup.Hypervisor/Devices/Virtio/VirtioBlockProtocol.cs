namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>Constants of the virtio block device (virtio 1.x, section 5.2).</summary>
public static class VirtioBlockProtocol
{
    /// <summary>Virtio device ID of a block device.</summary>
    public const uint DeviceId = 2;

    public const ulong FeatureSizeMax = 1UL << 1;
    public const ulong FeatureSegMax = 1UL << 2;
    public const ulong FeatureReadOnly = 1UL << 5;
    public const ulong FeatureBlockSize = 1UL << 6;
    public const ulong FeatureFlush = 1UL << 9;

    public const uint RequestIn = 0;
    public const uint RequestOut = 1;
    public const uint RequestFlush = 4;
    public const uint RequestGetId = 8;

    public const byte StatusOk = 0;
    public const byte StatusIoError = 1;
    public const byte StatusUnsupported = 2;

    /// <summary>Size of the request header (type, reserved, sector).</summary>
    public const int HeaderSize = 16;

    /// <summary>Length of the device ID string returned by GET_ID.</summary>
    public const int IdLength = 20;

    /// <summary>Virtio block sectors are always 512 bytes, whatever the device's block size.</summary>
    public const int SectorSize = 512;
}
