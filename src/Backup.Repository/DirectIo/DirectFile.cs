using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Backup.Repository.DirectIo;

/// <summary>
/// Direct I/O (<c>O_DIRECT</c>, Linux): writes that go from the caller's buffer to the device without a copy through the
/// page cache. Used for bulk data that is written once and flushed anyway (packs of a local repository, restored disks).
/// Buffers, file offsets and lengths must be <see cref="Alignment"/>-aligned; a file system that refuses direct I/O is
/// detected by the caller (open returns null, or a write fails) and written through the page cache instead.
/// </summary>
internal static partial class DirectFile
{
    /// <summary>Alignment direct writes need (memory address, file offset and length).</summary>
    public const int Alignment = 4096;

    private const int OpenReadOnly = 0;
    private const int OpenWriteOnly = 1;
    private const int OpenCloseOnExec = 0x80000;

    /// <summary>Opens an existing file for direct writes; null where direct I/O is unavailable.</summary>
    public static SafeFileHandle? TryOpenForWrite(string path)
    {
        if (DirectFlag() is not { } flag)
        {
            return null;
        }

        var descriptor = Open(path, OpenWriteOnly | OpenCloseOnExec | flag);
        return descriptor >= 0 ? new SafeFileHandle(descriptor, ownsHandle: true) : null;
    }

    /// <summary>Opens an existing file for direct reads; null where direct I/O is unavailable (the caller reads through the page cache).</summary>
    public static SafeFileHandle? TryOpenForRead(string path)
    {
        if (DirectFlag() is not { } flag)
        {
            return null;
        }

        var descriptor = Open(path, OpenReadOnly | OpenCloseOnExec | flag);
        return descriptor >= 0 ? new SafeFileHandle(descriptor, ownsHandle: true) : null;
    }

    /// <summary>True when <paramref name="data"/> at <paramref name="offset"/> satisfies direct I/O's alignment.</summary>
    public static bool IsAligned(ReadOnlySpan<byte> data, long offset) =>
        offset % Alignment == 0 && data.Length % Alignment == 0 && AddressOf(data) % Alignment == 0;

    /// <summary><paramref name="length"/> rounded up to the alignment.</summary>
    public static long RoundUp(long length) => (length + Alignment - 1) / Alignment * Alignment;

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
