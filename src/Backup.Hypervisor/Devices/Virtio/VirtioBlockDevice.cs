using System.Buffers.Binary;
using System.Text;
using Backup.Disks.BlockDevices;
using static Backup.Hypervisor.Devices.Virtio.VirtioBlockProtocol;

namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>
/// A virtio block device (device ID 2) over an <see cref="IBlockDevice"/>, with one request queue. Offers
/// VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE (512), VIRTIO_BLK_F_FLUSH and, for a read-only disk, VIRTIO_BLK_F_RO.
/// Handles IN, OUT, FLUSH and GET_ID synchronously; other request types complete with VIRTIO_BLK_S_UNSUPP.
/// Requests it can answer but not honour (short header, data not a multiple of 512 bytes, sectors past the end,
/// buffers outside guest RAM, a write to a read-only disk, a failing disk) complete with VIRTIO_BLK_S_IOERR; a chain
/// without a usable status byte cannot be answered and marks the queue broken (DEVICE_NEEDS_RESET).
/// The device does not own the disk: its creator disposes it.
/// </summary>
public sealed class VirtioBlockDevice : IVirtioDeviceBackend
{
    /// <summary>Default size of the request queue.</summary>
    public const ushort DefaultQueueSize = 128;

    private const int ConfigLength = 64;
    private const int ConfigCapacity = 0;
    private const int ConfigSegMax = 12;
    private const int ConfigBlockSize = 20;

    private readonly IBlockDevice _disk;
    private readonly byte[] _config = new byte[ConfigLength];
    private readonly byte[] _id = new byte[IdLength];
    private readonly ushort _queueSize;

    /// <param name="disk">The backing disk; its length is rounded down to whole 512-byte sectors.</param>
    /// <param name="serial">Device ID string for GET_ID (ASCII, at most 20 bytes are used).</param>
    /// <param name="readOnly">Present the disk read-only even if it is writable.</param>
    /// <param name="queueSize">QueueNumMax of the request queue (a power of two, at least 4).</param>
    public VirtioBlockDevice(IBlockDevice disk, string serial = "", bool readOnly = false, ushort queueSize = DefaultQueueSize)
    {
        ArgumentNullException.ThrowIfNull(disk);
        ArgumentNullException.ThrowIfNull(serial);
        if (queueSize < 4 || queueSize > 32768 || (queueSize & (queueSize - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(queueSize), queueSize, "queue size must be a power of two in 4..32768");
        }

        _disk = disk;
        _queueSize = queueSize;
        IsReadOnly = readOnly || disk.IsReadOnly;
        CapacitySectors = (ulong)disk.Length / SectorSize;
        Encoding.ASCII.GetBytes(serial.AsSpan(0, Math.Min(serial.Length, IdLength)), _id);

        BinaryPrimitives.WriteUInt64LittleEndian(_config.AsSpan(ConfigCapacity), CapacitySectors);
        BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(ConfigSegMax), (uint)(queueSize - 2));
        BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(ConfigBlockSize), SectorSize);

        DeviceFeatures = FeatureSegMax | FeatureBlockSize | FeatureFlush | (IsReadOnly ? FeatureReadOnly : 0);
    }

    /// <summary>True when writes complete with VIRTIO_BLK_S_IOERR (VIRTIO_BLK_F_RO is offered).</summary>
    public bool IsReadOnly { get; }

    /// <summary>Capacity in 512-byte sectors, as in the configuration space.</summary>
    public ulong CapacitySectors { get; }

    /// <inheritdoc />
    public uint DeviceId => VirtioBlockProtocol.DeviceId;

    /// <inheritdoc />
    public ulong DeviceFeatures { get; }

    /// <inheritdoc />
    public int QueueCount => 1;

    /// <inheritdoc />
    public int ConfigSize => ConfigLength;

    /// <inheritdoc />
    public ushort GetQueueMaxSize(int queueIndex) => _queueSize;

    /// <inheritdoc />
    public void ReadConfig(int offset, Span<byte> destination) => _config.AsSpan(offset, destination.Length).CopyTo(destination);

    /// <inheritdoc />
    public void WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
        // The block configuration is read-only (writeback is only writable with VIRTIO_BLK_F_CONFIG_WCE, not offered).
    }

    /// <inheritdoc />
    public void Activate(ulong negotiatedFeatures)
    {
    }

    /// <inheritdoc />
    public void Reset()
    {
    }

    /// <inheritdoc />
    public void ProcessQueue(Virtqueue queue)
    {
        ArgumentNullException.ThrowIfNull(queue);
        while (queue.TryPop(out var chain))
        {
            // The status byte is the last byte of the device-writable part of the chain.
            long statusOffset = chain.WritableLength - 1;
            if (statusOffset < 0)
            {
                queue.MarkBroken($"request at head {chain.HeadIndex} has no device-writable status byte");
                return;
            }

            if (!chain.TryGetStreamSpan(writable: true, statusOffset, 1, out _))
            {
                queue.MarkBroken($"request at head {chain.HeadIndex} has its status byte outside guest RAM");
                return;
            }

            (byte status, long written) = Execute(queue, chain, statusOffset);
            chain.TryGetStreamSpan(writable: true, statusOffset, 1, out var statusByte);
            statusByte[0] = status;
            queue.Complete(chain, (uint)Math.Min(written + 1, uint.MaxValue));
        }
    }

    private (byte Status, long Written) Execute(Virtqueue queue, VirtqueueChain chain, long dataWritable)
    {
        if (chain.Defect is { } defect)
        {
            return Fail(queue, chain, defect);
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        if (chain.ReadableLength < HeaderSize || !chain.TryCopyFromReadable(0, header))
        {
            return Fail(queue, chain, $"request header is {chain.ReadableLength} bytes, shorter than {HeaderSize}");
        }

        uint type = BinaryPrimitives.ReadUInt32LittleEndian(header);
        ulong sector = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
        return type switch
        {
            RequestIn => Read(queue, chain, sector, dataWritable),
            RequestOut => Write(queue, chain, sector, chain.ReadableLength - HeaderSize),
            RequestFlush => Flush(queue, chain),
            RequestGetId => GetId(chain, dataWritable),
            _ => (StatusUnsupported, 0),
        };
    }

    private (byte Status, long Written) Read(Virtqueue queue, VirtqueueChain chain, ulong sector, long length)
    {
        if (CheckRange(sector, length) is { } problem)
        {
            return Fail(queue, chain, $"read: {problem}");
        }

        long diskOffset = (long)sector * SectorSize;
        long done = 0;
        try
        {
            while (done < length)
            {
                if (!chain.TryGetStreamSpan(writable: true, done, length - done, out var span))
                {
                    return Fail(queue, chain, "read: data buffer outside guest RAM", done);
                }

                _disk.Read(diskOffset + done, span);
                done += span.Length;
            }
        }
        catch (Exception e) when (IsDiskFailure(e))
        {
            return Fail(queue, chain, $"read at sector {sector} failed: {e.Message}", done);
        }

        return (StatusOk, length);
    }

    private (byte Status, long Written) Write(Virtqueue queue, VirtqueueChain chain, ulong sector, long length)
    {
        if (IsReadOnly)
        {
            return Fail(queue, chain, $"write to sector {sector} of a read-only disk");
        }

        if (CheckRange(sector, length) is { } problem)
        {
            return Fail(queue, chain, $"write: {problem}");
        }

        long diskOffset = (long)sector * SectorSize;
        long done = 0;
        try
        {
            while (done < length)
            {
                if (!chain.TryGetStreamSpan(writable: false, HeaderSize + done, length - done, out var span))
                {
                    return Fail(queue, chain, "write: data buffer outside guest RAM");
                }

                _disk.Write(diskOffset + done, span);
                done += span.Length;
            }
        }
        catch (Exception e) when (IsDiskFailure(e))
        {
            return Fail(queue, chain, $"write at sector {sector} failed: {e.Message}");
        }

        return (StatusOk, 0);
    }

    private (byte Status, long Written) Flush(Virtqueue queue, VirtqueueChain chain)
    {
        try
        {
            _disk.Flush();
        }
        catch (Exception e) when (IsDiskFailure(e))
        {
            return Fail(queue, chain, $"flush failed: {e.Message}");
        }

        return (StatusOk, 0);
    }

    private (byte Status, long Written) GetId(VirtqueueChain chain, long dataWritable)
    {
        int length = (int)Math.Min(dataWritable, IdLength);
        chain.TryCopyToWritable(0, _id.AsSpan(0, length));
        return (StatusOk, length);
    }

    private string? CheckRange(ulong sector, long length)
    {
        if (length % SectorSize != 0)
        {
            return $"data length {length} is not a multiple of {SectorSize}";
        }

        ulong sectors = (ulong)length / SectorSize;
        if (sector > CapacitySectors || sectors > CapacitySectors - sector)
        {
            return $"sectors [{sector}, +{sectors}) extend past the end of the disk ({CapacitySectors} sectors)";
        }

        return null;
    }

    private static (byte Status, long Written) Fail(Virtqueue queue, VirtqueueChain chain, string message, long written = 0)
    {
        queue.ReportError($"request at head {chain.HeadIndex}: {message}; completed with VIRTIO_BLK_S_IOERR");
        return (StatusIoError, written);
    }

    private static bool IsDiskFailure(Exception e) =>
        e is IOException or InvalidOperationException or ArgumentException or UnauthorizedAccessException or NotSupportedException;
}
