using System.Buffers.Binary;
using System.Collections;
using System.Security.Cryptography;
using System.Text;
using Backup.Disks.BlockDevices;
using Microsoft.Win32.SafeHandles;

namespace Backup.Disks.Overlays;

/// <summary>
/// A writable disk layered over a read-only base (for instant recovery: the base is a restore point read lazily
/// from the repository). Writes go to a sparse local overlay file in <see cref="BlockSize"/> units; reads come from
/// the overlay where a block has been written and from the base elsewhere. The allocation map lives in a sidecar
/// (<c>overlay path + .map</c>), rewritten atomically (temp file, fsync, rename) at every <see cref="Flush"/> after
/// the data is durable, so after a crash the overlay holds at least everything the guest flushed.
/// The sidecar records the base's identity and length; reopening over a different base is refused.
/// </summary>
public sealed class OverlayDisk : IBlockDevice
{
    /// <summary>Allocation unit of the overlay: one guest page / ext4 block.</summary>
    public const int BlockSize = 4096;

    private const string Magic = "BKOVRLY1";
    private const int HashSize = 32;
    private readonly IBlockDevice _base;
    private readonly SafeFileHandle _overlay;
    private readonly BitArray _allocated;
    private readonly string _mapPath;
    private readonly string _baseIdentity;
    private readonly bool _leaveBaseOpen;
    private readonly Lock _gate = new();
    private bool _mapDirty;
    private long _allocatedBlocks;

    private OverlayDisk(IBlockDevice baseDisk, SafeFileHandle overlay, BitArray allocated, string path, string baseIdentity, bool leaveBaseOpen)
    {
        _base = baseDisk;
        _overlay = overlay;
        _allocated = allocated;
        OverlayPath = path;
        _mapPath = path + ".map";
        _baseIdentity = baseIdentity;
        _leaveBaseOpen = leaveBaseOpen;
        for (int i = 0; i < allocated.Length; i++)
        {
            if (allocated[i])
            {
                _allocatedBlocks++;
            }
        }
    }

    /// <summary>The overlay data file.</summary>
    public string OverlayPath { get; }

    /// <inheritdoc />
    public long Length => _base.Length;

    /// <inheritdoc />
    public bool IsReadOnly => false;

    /// <summary>Bytes the guest has written into the overlay (whole blocks).</summary>
    public long OverlayBytes => Interlocked.Read(ref _allocatedBlocks) * BlockSize;

    /// <summary>
    /// Opens the overlay at <paramref name="path"/> over <paramref name="baseDisk"/>, creating it when missing.
    /// <paramref name="baseIdentity"/> names the base (e.g. restore point and disk); an existing overlay made over
    /// another base is refused with <see cref="DiskImageException"/>.
    /// </summary>
    public static OverlayDisk Open(IBlockDevice baseDisk, string path, string baseIdentity, bool leaveBaseOpen = false)
    {
        ArgumentNullException.ThrowIfNull(baseDisk);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentException.ThrowIfNullOrEmpty(baseIdentity);
        if (baseDisk.Length % BlockSize != 0)
        {
            throw new DiskImageException(path, $"the base disk's length ({baseDisk.Length} bytes) is not a multiple of {BlockSize}");
        }

        long blocks = baseDisk.Length / BlockSize;
        if (blocks > int.MaxValue)
        {
            throw new DiskImageException(path, "the base disk is too large for an overlay map");
        }

        string mapPath = path + ".map";
        BitArray allocated;
        bool exists = File.Exists(path) && File.Exists(mapPath);
        if (exists)
        {
            allocated = ReadMap(mapPath, baseDisk.Length, baseIdentity);
        }
        else
        {
            allocated = new BitArray((int)blocks);
        }

        SafeFileHandle handle;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            handle = File.OpenHandle(path, exists ? FileMode.Open : FileMode.Create, FileAccess.ReadWrite, FileShare.Read);
            if (RandomAccess.GetLength(handle) != baseDisk.Length)
            {
                RandomAccess.SetLength(handle, baseDisk.Length);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DiskImageException(path, e.Message, e);
        }

        var disk = new OverlayDisk(baseDisk, handle, allocated, path, baseIdentity, leaveBaseOpen);
        if (!exists)
        {
            disk.WriteMap();
        }

        return disk;
    }

    /// <inheritdoc />
    public void Read(long offset, Span<byte> buffer)
    {
        CheckRange(offset, buffer.Length);
        lock (_gate)
        {
            int done = 0;
            while (done < buffer.Length)
            {
                long position = offset + done;
                int block = (int)(position / BlockSize);
                bool inOverlay = _allocated[block];

                // Extend the run while blocks come from the same layer.
                long runEnd = ((long)block + 1) * BlockSize;
                while (runEnd < offset + buffer.Length && _allocated[(int)(runEnd / BlockSize)] == inOverlay)
                {
                    runEnd += BlockSize;
                }

                int length = (int)(Math.Min(runEnd, offset + buffer.Length) - position);
                var target = buffer.Slice(done, length);
                if (inOverlay)
                {
                    ReadOverlay(position, target);
                }
                else
                {
                    _base.Read(position, target);
                }

                done += length;
            }
        }
    }

    /// <inheritdoc />
    public void Write(long offset, ReadOnlySpan<byte> buffer)
    {
        CheckRange(offset, buffer.Length);
        lock (_gate)
        {
            byte[]? scratch = null;
            int done = 0;
            while (done < buffer.Length)
            {
                long position = offset + done;
                int block = (int)(position / BlockSize);
                long blockStart = (long)block * BlockSize;
                int within = (int)(position - blockStart);
                int length = Math.Min(BlockSize - within, buffer.Length - done);
                var piece = buffer.Slice(done, length);
                if (_allocated[block] || length == BlockSize)
                {
                    RandomAccess.Write(_overlay, piece, position);
                }
                else
                {
                    // First write to a block, partially: bring the rest of the block over from the base.
                    scratch ??= new byte[BlockSize];
                    _base.Read(blockStart, scratch);
                    piece.CopyTo(scratch.AsSpan(within));
                    RandomAccess.Write(_overlay, scratch, blockStart);
                }

                if (!_allocated[block])
                {
                    _allocated[block] = true;
                    _allocatedBlocks++;
                    _mapDirty = true;
                }

                done += length;
            }

        }
    }

    /// <inheritdoc />
    public void Flush()
    {
        lock (_gate)
        {
            RandomAccess.FlushToDisk(_overlay);
            if (_mapDirty)
            {
                WriteMap();
                _mapDirty = false;
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            Flush();
        }
        catch (IOException)
        {
            // Disposal must not throw; unflushed writes are the guest's unflushed writes.
        }

        _overlay.Dispose();
        if (!_leaveBaseOpen)
        {
            _base.Dispose();
        }
    }

    private void ReadOverlay(long position, Span<byte> target)
    {
        int done = 0;
        while (done < target.Length)
        {
            int n = RandomAccess.Read(_overlay, target[done..], position + done);
            if (n == 0)
            {
                throw new DiskImageException(OverlayPath, "the overlay file is shorter than its map says");
            }

            done += n;
        }
    }

    private void WriteMap()
    {
        byte[] identity = Encoding.UTF8.GetBytes(_baseIdentity);
        byte[] bits = new byte[(_allocated.Length + 7) / 8];
        _allocated.CopyTo(bits, 0);
        using var content = new MemoryStream();
        content.Write(Encoding.ASCII.GetBytes(Magic));
        Span<byte> field = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(field, Length);
        content.Write(field);
        BinaryPrimitives.WriteInt32LittleEndian(field, identity.Length);
        content.Write(field[..4]);
        content.Write(identity);
        content.Write(bits);
        content.Write(SHA256.HashData(content.GetBuffer().AsSpan(0, (int)content.Length)));

        string temp = _mapPath + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(content.GetBuffer(), 0, (int)content.Length);
            file.Flush(flushToDisk: true);
        }

        File.Move(temp, _mapPath, overwrite: true);
    }

    private static BitArray ReadMap(string mapPath, long length, string baseIdentity)
    {
        byte[] data;
        try
        {
            data = File.ReadAllBytes(mapPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DiskImageException(mapPath, e.Message, e);
        }

        if (data.Length < Magic.Length + 12 + HashSize || Encoding.ASCII.GetString(data, 0, Magic.Length) != Magic)
        {
            throw new DiskImageException(mapPath, "not an overlay map (bad magic or too short)");
        }

        if (!SHA256.HashData(data.AsSpan(0, data.Length - HashSize)).AsSpan().SequenceEqual(data.AsSpan(data.Length - HashSize)))
        {
            throw new DiskImageException(mapPath, "the overlay map is damaged (checksum mismatch)");
        }

        int at = Magic.Length;
        long mapLength = BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(at));
        at += 8;
        int identityLength = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(at));
        at += 4;
        if (identityLength < 0 || at + identityLength > data.Length - HashSize)
        {
            throw new DiskImageException(mapPath, "the overlay map is damaged (identity length)");
        }

        string identity = Encoding.UTF8.GetString(data, at, identityLength);
        at += identityLength;
        if (identity != baseIdentity)
        {
            throw new DiskImageException(mapPath, $"the overlay was made over '{identity}', not '{baseIdentity}'");
        }

        if (mapLength != length)
        {
            throw new DiskImageException(mapPath, $"the overlay map is for a {mapLength}-byte disk, the base has {length} bytes");
        }

        int blocks = (int)(length / BlockSize);
        int bytes = (blocks + 7) / 8;
        if (data.Length - HashSize - at != bytes)
        {
            throw new DiskImageException(mapPath, "the overlay map is damaged (bitmap size)");
        }

        return new BitArray(data.AsSpan(at, bytes).ToArray()) { Length = blocks };
    }

    private void CheckRange(long offset, int count)
    {
        if (offset < 0 || count < 0 || offset > Length - count)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"request [{offset}, +{count}) is outside overlay disk '{OverlayPath}' of {Length} bytes");
        }
    }
}
