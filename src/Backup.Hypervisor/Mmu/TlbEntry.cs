using System.Runtime.InteropServices;

namespace Backup.Hypervisor.Mmu;

/// <summary>
/// One software-TLB entry: a virtual page number and the addend that turns a virtual address of that page into
/// a host pointer into guest RAM (host = va + Addend). Only RAM pages are cached; MMIO always takes the slow path.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct TlbEntry
{
    public const ulong InvalidTag = ulong.MaxValue;

    /// <summary>va &gt;&gt; 12, or <see cref="InvalidTag"/>.</summary>
    public ulong Tag;

    public long Addend;
}
