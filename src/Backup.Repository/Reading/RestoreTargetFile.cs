using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Backup.Repository.Reading;

/// <summary>
/// The file a full restore writes a disk into. Chunks are written at their offsets by positioned writes from several
/// threads; never-written ranges stay holes (read back as zeros). On Linux the file is written with direct I/O
/// (<c>O_DIRECT</c>) when the file system supports it, so a multi-GiB restore neither copies every byte into the page
/// cache nor evicts the host's cache, and the bytes are on the device when <see cref="Complete"/> returns; writes must
/// then be <see cref="Alignment"/>-aligned in memory, offset and length (<see cref="CanWriteDirect"/>). Other writes,
/// and every write where direct I/O is refused, go through an ordinary buffered handle.
/// </summary>
internal sealed partial class RestoreTargetFile : IDisposable
{
    /// <summary>Alignment direct writes need (memory address, file offset and length).</summary>
    public const int Alignment = 4096;

    private const int OpenWriteOnly = 1;
    private const int OpenCloseOnExec = 0x80000;
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
        SafeFileHandle? direct = null;
        if (allowDirect && DirectFlag() is { } flag)
        {
            var descriptor = Open(path, OpenWriteOnly | OpenCloseOnExec | flag);
            if (descriptor >= 0)
            {
                direct = new SafeFileHandle(descriptor, ownsHandle: true);
            }
        }

        return new RestoreTargetFile(path, buffered, direct);
    }

    /// <summary>True when <paramref name="data"/> at <paramref name="offset"/> satisfies direct I/O's alignment.</summary>
    public static bool CanWriteDirect(ReadOnlySpan<byte> data, long offset) =>
        offset % Alignment == 0 && data.Length % Alignment == 0 && AddressOf(data) % Alignment == 0;

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/> (safe from several threads at once).</summary>
    public void Write(ReadOnlySpan<byte> data, long offset)
    {
        var direct = Volatile.Read(ref _direct);
        if (direct is not null && CanWriteDirect(data, offset))
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

    private static unsafe long AddressOf(ReadOnlySpan<byte> data)
    {
        fixed (byte* pointer = data)
        {
            return (long)pointer;
        }
    }

    /// <summary>O_DIRECT on the architectures whose value is known; null elsewhere (no direct I/O).</summary>
    private static int? DirectFlag() =>
        !OperatingSystem.IsLinux() ? null : RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 or Architecture.X86 => 0x4000,
            Architecture.Arm64 or Architecture.Arm => 0x10000,
            _ => null,
        };

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);
}
