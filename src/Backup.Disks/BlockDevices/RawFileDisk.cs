using Microsoft.Win32.SafeHandles;

namespace Backup.Disks.BlockDevices;

/// <summary>A raw disk image file: byte N of the disk is byte N of the file.</summary>
public sealed class RawFileDisk : IBlockDevice
{
    private readonly SafeFileHandle _handle;

    private RawFileDisk(SafeFileHandle handle, long length, bool readOnly, string path)
    {
        _handle = handle;
        Length = length;
        IsReadOnly = readOnly;
        Path = path;
    }

    /// <summary>The image file's path.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public long Length { get; }

    /// <inheritdoc />
    public bool IsReadOnly { get; }

    /// <summary>Opens an existing raw image. Throws <see cref="DiskImageException"/> naming the file when it cannot be used.</summary>
    public static RawFileDisk Open(string path, bool readOnly = false)
    {
        if (!File.Exists(path))
        {
            throw new DiskImageException(path, "the file does not exist");
        }

        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite,
                readOnly ? FileShare.ReadWrite : FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DiskImageException(path, e.Message, e);
        }

        long length = RandomAccess.GetLength(handle);
        if (length % 512 != 0)
        {
            handle.Dispose();
            throw new DiskImageException(path, $"its size ({length} bytes) is not a multiple of 512-byte sectors");
        }

        return new RawFileDisk(handle, length, readOnly, path);
    }

    /// <summary>Creates (or truncates) a sparse raw image of <paramref name="length"/> bytes.</summary>
    public static RawFileDisk Create(string path, long length)
    {
        if (length <= 0 || length % 512 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "disk size must be a positive multiple of 512 bytes");
        }

        using (var fs = new FileStream(path, FileMode.Create, FileAccess.ReadWrite))
        {
            fs.SetLength(length);
        }

        return Open(path);
    }

    /// <inheritdoc />
    public void Read(long offset, Span<byte> buffer)
    {
        CheckRange(offset, buffer.Length);
        int done = 0;
        while (done < buffer.Length)
        {
            int n = RandomAccess.Read(_handle, buffer[done..], offset + done);
            if (n == 0)
            {
                buffer[done..].Clear(); // the file shrank underneath us: read as zeros rather than stale memory
                return;
            }

            done += n;
        }
    }

    /// <inheritdoc />
    public void Write(long offset, ReadOnlySpan<byte> buffer)
    {
        if (IsReadOnly)
        {
            throw new InvalidOperationException($"disk image '{Path}' is read-only");
        }

        CheckRange(offset, buffer.Length);
        RandomAccess.Write(_handle, buffer, offset);
    }

    /// <inheritdoc />
    public void Flush()
    {
        if (!IsReadOnly)
        {
            RandomAccess.FlushToDisk(_handle);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _handle.Dispose();

    private void CheckRange(long offset, int count)
    {
        if (offset < 0 || count < 0 || offset > Length - count)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"request [{offset}, +{count}) is outside disk '{Path}' of {Length} bytes");
        }
    }
}
