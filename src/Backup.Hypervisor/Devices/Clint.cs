using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Timing;
using Backup.Hypervisor.Snapshots;

namespace Backup.Hypervisor.Devices;

/// <summary>
/// The SiFive CLINT (the ACLINT MSWI + MTIMER pair in the classic combined layout, "sifive,clint0" /
/// "riscv,clint0", QEMU virt at 0x2000000, size 0x10000):
/// <list type="bullet">
/// <item><c>0x0000 + 4*hart</c>: msip, bit 0 drives the hart's MSIP.</item>
/// <item><c>0x4000 + 8*hart</c>: mtimecmp (64-bit; the 32-bit halves at +0 and +4 are accessible too). Resets to
/// <see cref="ulong.MaxValue"/>. MTIP = <c>mtime &gt;= mtimecmp</c>.</item>
/// <item><c>0xBFF8</c>: mtime, read from <see cref="MachineClock.Now"/>. Writes to mtime are ignored: time belongs to
/// the machine clock, which must stay a pure function of retired instructions in deterministic mode.</item>
/// </list>
/// MTIP is re-evaluated when mtimecmp is written and in <see cref="Poll"/>; <see cref="NextDeadline"/> tells the
/// machine how far it may skip or sleep while every hart idles. Hart <c>i</c> is <c>harts[i]</c>.
/// </summary>
public sealed class Clint : IMmioDevice, IPolledDevice, IDeviceState
{
    /// <summary>QEMU virt's CLINT address.</summary>
    public const ulong DefaultBase = 0x2000000;

    /// <summary>Size of the register window.</summary>
    public const ulong DefaultSize = 0x10000;

    private const ulong MsipBase = 0x0000;
    private const ulong MtimecmpBase = 0x4000;
    private const ulong MtimeOffset = 0xBFF8;

    private readonly IInterruptTarget[] _harts;
    private readonly MachineClock _clock;
    private readonly bool[] _msip;
    private readonly ulong[] _mtimecmp;
    private readonly bool[] _mtip;

    public Clint(IReadOnlyList<IInterruptTarget> harts, MachineClock clock, ulong baseAddress = DefaultBase, string name = "clint")
    {
        ArgumentNullException.ThrowIfNull(harts);
        ArgumentNullException.ThrowIfNull(clock);
        if (harts.Count == 0 || harts.Count > 4095)
        {
            throw new ArgumentOutOfRangeException(nameof(harts), harts.Count, "the CLINT layout holds 1 to 4095 harts");
        }

        _harts = [.. harts];
        _clock = clock;
        _msip = new bool[_harts.Length];
        _mtimecmp = new ulong[_harts.Length];
        _mtip = new bool[_harts.Length];
        Array.Fill(_mtimecmp, ulong.MaxValue);
        Base = baseAddress;
        Name = name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public ulong Base { get; }

    /// <inheritdoc />
    public ulong Size => DefaultSize;

    /// <summary>The smallest mtimecmp that has not fired yet (above the current time), or <see cref="ulong.MaxValue"/>.</summary>
    public ulong NextDeadline
    {
        get
        {
            ulong now = _clock.Now;
            ulong next = ulong.MaxValue;
            foreach (ulong compare in _mtimecmp)
            {
                if (compare > now && compare < next)
                {
                    next = compare;
                }
            }

            return next;
        }
    }

    /// <summary>The current mtimecmp of a hart (for tests and diagnostics).</summary>
    public ulong GetTimeCompare(int hart) => _mtimecmp[hart];

    /// <summary>Re-evaluates MTIP on every hart against <paramref name="timeTicks"/> (the machine passes <see cref="MachineClock.Now"/>).</summary>
    public void Poll(ulong timeTicks)
    {
        for (int hart = 0; hart < _harts.Length; hart++)
        {
            UpdateTimer(hart, timeTicks, force: false);
        }
    }

    /// <inheritdoc />
    public ulong Read(ulong offset, int size)
    {
        if (offset < MtimecmpBase)
        {
            ulong hart = (offset - MsipBase) / 4;
            return size == 4 && offset % 4 == 0 && hart < (ulong)_harts.Length && _msip[hart] ? 1UL : 0UL;
        }

        if (offset >= MtimeOffset && offset < MtimeOffset + 8)
        {
            return ReadPart(_clock.Now, offset - MtimeOffset, size);
        }

        if (offset < MtimecmpBase + (8 * (ulong)_harts.Length))
        {
            ulong relative = offset - MtimecmpBase;
            return ReadPart(_mtimecmp[relative / 8], relative % 8, size);
        }

        return 0;
    }

    /// <inheritdoc />
    public void Write(ulong offset, int size, ulong value)
    {
        if (offset < MtimecmpBase)
        {
            ulong hart = (offset - MsipBase) / 4;
            if (size == 4 && offset % 4 == 0 && hart < (ulong)_harts.Length)
            {
                bool level = (value & 1) != 0;
                _msip[hart] = level;
                _harts[hart].SetInterruptPending(InterruptBits.MSIP, level);
            }

            return;
        }

        if (offset >= MtimecmpBase && offset < MtimecmpBase + (8 * (ulong)_harts.Length))
        {
            ulong relative = offset - MtimecmpBase;
            int hart = (int)(relative / 8);
            ulong within = relative % 8;
            if (size == 8 && within == 0)
            {
                _mtimecmp[hart] = value;
            }
            else if (size == 4 && within == 0)
            {
                _mtimecmp[hart] = (_mtimecmp[hart] & 0xFFFF_FFFF_0000_0000UL) | (uint)value;
            }
            else if (size == 4 && within == 4)
            {
                _mtimecmp[hart] = (_mtimecmp[hart] & 0xFFFF_FFFFUL) | ((ulong)(uint)value << 32);
            }
            else
            {
                return;
            }

            UpdateTimer(hart, _clock.Now, force: true);
        }

        // mtime writes (0xBFF8) are deliberately ignored; see the class remarks.
    }

    private static ulong ReadPart(ulong register, ulong within, int size) => (size, within) switch
    {
        (8, 0) => register,
        (4, 0) => register & 0xFFFF_FFFFUL,
        (4, 4) => register >> 32,
        _ => 0,
    };

    private void UpdateTimer(int hart, ulong now, bool force)
    {
        bool level = now >= _mtimecmp[hart];
        if (force || level != _mtip[hart])
        {
            _mtip[hart] = level;
            _harts[hart].SetInterruptPending(InterruptBits.MTIP, level);
        }
    }

    /// <inheritdoc />
    public string StateName => Name;

    /// <inheritdoc />
    public int StateVersion => 1;

    /// <inheritdoc />
    public void SaveState(StateWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteBoolArray(_msip);
        writer.WriteU64Array(_mtimecmp);
        writer.WriteBoolArray(_mtip);
    }

    /// <inheritdoc />
    public void RestoreState(StateReader reader, int version)
    {
        ArgumentNullException.ThrowIfNull(reader);
        reader.RequireVersion(version, 1);

        reader.ReadBoolArray(_msip);
        reader.ReadU64Array(_mtimecmp);
        reader.ReadBoolArray(_mtip);
        reader.ExpectEnd();
        for (int h = 0; h < _harts.Length; h++)
        {
            _harts[h].SetInterruptPending(InterruptBits.MSIP, _msip[h]);
            _harts[h].SetInterruptPending(InterruptBits.MTIP, _mtip[h]);
        }
    }
}
