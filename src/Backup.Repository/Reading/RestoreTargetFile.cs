using Backup.Repository.DirectIo;
using Microsoft.Win32.SafeHandles;

namespace Backup.Repository.Reading;

/// <summary>
/// The file a full restore writes a disk into. Chunks are written at their offsets by positioned writes from several
/// threads; never-written ranges stay holes (read back as zeros). On Linux the file is written with direct I/O
/// (<see cref="DirectFile"/>) when the file system supports it, so a multi-GiB restore neither copies every byte into the
/// page cache nor evicts the host's cache; writes must then be aligned (<see cref="DirectFile.IsAligned"/>). Other
/// writes, and every write once direct I/O was refused, go through an ordinary buffered handle.
/// </summary>
internal sealed class RestoreTargetFile : IDisposable
{
    private readonly string _path;
    private readonly SafeFileHandle _buffered;
    private SafeFileHandle? _direct;

    private RestoreTargetFile(string path, SafeFileHandle buffered, SafeFileHandle? direct)
    {
        _path = path;
        _buffered = buffered;
        _direct = direct;
    }

    /// <summary>True while writes go to the device directly (false when the file system refused direct I/O).</summary>
    public bool Direct => Volatile.Read(ref _direct) is not null;

    /// <summary>Creates (or truncates) <paramref name="path"/>; <paramref name="allowDirect"/> false forces buffered writes.</summary>
    public static RestoreTargetFile Create(string path, bool allowDirect = true)
    {
        var buffered = File.OpenHandle(path, FileMode.Create, FileAccess.Write, FileShare.None);
        return new RestoreTargetFile(path, buffered, allowDirect ? DirectFile.TryOpenForWrite(path) : null);
    }

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/> (safe from several threads at once).</summary>
    public void Write(ReadOnlySpan<byte> data, long offset)
    {
        var direct = Volatile.Read(ref _direct);
        if (direct is not null && DirectFile.IsAligned(data, offset))
        {
            try
            {
                RandomAccess.Write(direct, data, offset);
                return;
            }
            catch (IOException)
            {
                // Some file systems accept O_DIRECT at open and refuse the writes (EINVAL): from now on write through
                // the page cache. A real I/O error (a full disk) fails again below and is reported from there.
                Volatile.Write(ref _direct, null);
            }
        }

        RandomAccess.Write(_buffered, data, offset);
    }

    /// <summary>Sets the file's length to <paramref name="length"/> (ranges never written stay holes) and flushes it to the device.</summary>
    public void Complete(long length)
    {
        RandomAccess.SetLength(_buffered, length);
        using var stream = new FileStream(_buffered, FileAccess.Write, 0);
        stream.Flush(flushToDisk: true);
    }

    public void Dispose()
    {
        _direct?.Dispose();
        _buffered.Dispose();
    }

    public override string ToString() => _path;
}
