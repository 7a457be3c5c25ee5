using System.Runtime.InteropServices;

namespace Backup.Hypervisor.Memory;

/// <summary>
/// Fills a fresh <see cref="GuestRam"/> with many pages at once (restoring a checkpoint). On Linux the bytes are
/// written through the kernel (pwrite to /proc/self/mem), so the kernel allocates and fills each page itself and this
/// thread takes no page fault per page; the guest maps a page when it first touches it. On hosts where a first-touch
/// fault is expensive (nested or paravirtualised paging: about 20 µs per page on the project's Firecracker machines,
/// against 3 µs per page written this way) this takes most of the RAM fill off the path to the guest's first
/// instruction. Elsewhere, or when /proc/self/mem cannot be opened, it copies as <see cref="GuestRam.Write"/> does.
/// Every page written is reported to the RAM's <see cref="PageWriteTracker"/> either way.
/// </summary>
internal sealed unsafe partial class RamLoader : IDisposable
{
    private const int OpenWriteOnly = 1;
    private const int OpenCloseOnExec = 0x80000;
    private readonly GuestRam _ram;
    private int _descriptor = -1;

    public RamLoader(GuestRam ram)
    {
        _ram = ram ?? throw new ArgumentNullException(nameof(ram));
        if (OperatingSystem.IsLinux() && !string.Equals(Environment.GetEnvironmentVariable("BACKUP_RAM_LOAD"), "copy", StringComparison.OrdinalIgnoreCase))
        {
            _descriptor = Open("/proc/self/mem", OpenWriteOnly | OpenCloseOnExec);
        }
    }

    /// <summary>True when pages go through the kernel rather than being copied by this thread.</summary>
    public bool ThroughKernel => _descriptor >= 0;

    /// <summary>Writes <paramref name="data"/> at guest-physical <paramref name="pa"/>. Throws when out of range.</summary>
    public void Write(ulong pa, ReadOnlySpan<byte> data)
    {
        if (_descriptor < 0)
        {
            _ram.Write(pa, data);
            return;
        }

        if (!_ram.TryGetSpan(pa, data.Length, out var span))
        {
            throw new ArgumentOutOfRangeException(nameof(pa), $"[0x{pa:x}, +0x{data.Length:x}) is outside guest RAM [0x{_ram.Base:x}, +0x{_ram.Size:x})");
        }

        _ram.Tracker.NotifyWrite(pa, (ulong)data.Length);
        fixed (byte* source = data)
        {
            long target = (long)(nint)(_ram.Pointer + (pa - _ram.Base));
            int done = 0;
            while (done < data.Length)
            {
                nint written = PositionalWrite(_descriptor, source + done, data.Length - done, target + done);
                if (written <= 0)
                {
                    // The kernel refused (a sandbox forbidding it, say): copy the rest here, and everything after it.
                    data[done..].CopyTo(span[done..]);
                    _ = Close(_descriptor); // nothing was written through it that a close error could lose
                    _descriptor = -1;
                    return;
                }

                done += (int)written;
            }
        }
    }

    public void Dispose()
    {
        if (_descriptor >= 0)
        {
            _ = Close(_descriptor); // nothing was written through it that a close error could lose
            _descriptor = -1;
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "pwrite")]
    private static partial nint PositionalWrite(int descriptor, byte* buffer, nint count, long offset);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int descriptor);
}
