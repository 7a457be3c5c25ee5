using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Snapshots;

namespace Backup.Hypervisor.Devices;

/// <summary>
/// The SiFive platform-level interrupt controller ("sifive,plic-1.0.0" / "riscv,plic0"), laid out as on QEMU's virt
/// machine. Registers are 32-bit (other access sizes and unaligned offsets read 0 / are ignored, as are offsets
/// outside the implemented sources and contexts):
/// <list type="bullet">
/// <item><c>0x000000 + 4*id</c>: source priority, 0..7 (0 = never interrupts). Source 0 does not exist.</item>
/// <item><c>0x001000 + 4*word</c>: pending bits (read-only).</item>
/// <item><c>0x002000 + 0x80*ctx + 4*word</c>: per-context enable bits.</item>
/// <item><c>0x200000 + 0x1000*ctx</c>: per-context priority threshold; <c>+4</c>: claim (read) / complete (write).</item>
/// </list>
/// Context <c>2h</c> is hart <c>h</c>'s M mode and drives <see cref="InterruptBits.MEIP"/>; context <c>2h+1</c> is its
/// S mode and drives <see cref="InterruptBits.SEIP"/>; hart <c>h</c> is <c>harts[h]</c>.
/// Gateways are level-triggered: a source is pending while its line is high and it is not claimed; completing it
/// re-arms the gateway, so a line still high becomes pending again.
/// </summary>
public sealed class Plic : IMmioDevice, IDeviceState
{
    /// <summary>QEMU virt's PLIC address.</summary>
    public const ulong DefaultBase = 0xC000000;

    /// <summary>QEMU virt's PLIC window size.</summary>
    public const ulong DefaultSize = 0x600000;

    /// <summary>Highest priority value (3 priority bits, as QEMU virt).</summary>
    public const uint MaxPriority = 7;

    private const ulong PendingBase = 0x1000;
    private const ulong EnableBase = 0x2000;
    private const ulong EnableStride = 0x80;
    private const ulong ContextBase = 0x200000;
    private const ulong ContextStride = 0x1000;

    private readonly IInterruptTarget[] _harts;
    private readonly uint[] _priority;
    private readonly bool[] _level;
    private readonly bool[] _pending;
    private readonly bool[] _claimed;
    private readonly uint[][] _enable;
    private readonly uint[] _threshold;
    private readonly PlicInterruptLine[] _lines;
    private readonly int _words;

    /// <param name="harts">The harts, in hart-id order (hart h owns contexts 2h and 2h+1).</param>
    /// <param name="sourceCount">Number of interrupt sources (ndev), sources 1..sourceCount exist; at most 1023.</param>
    public Plic(IReadOnlyList<IInterruptTarget> harts, int sourceCount, ulong baseAddress = DefaultBase, ulong size = DefaultSize, string name = "plic")
    {
        ArgumentNullException.ThrowIfNull(harts);
        ArgumentOutOfRangeException.ThrowIfLessThan(sourceCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sourceCount, 1023);
        if (harts.Count == 0 || ContextBase + (ContextStride * 2 * (ulong)harts.Count) > size)
        {
            throw new ArgumentOutOfRangeException(nameof(harts), harts.Count, $"{harts.Count} harts' contexts do not fit a PLIC window of 0x{size:x} bytes");
        }

        _harts = [.. harts];
        SourceCount = sourceCount;
        ContextCount = 2 * _harts.Length;
        _words = (sourceCount + 1 + 31) / 32;
        _priority = new uint[sourceCount + 1];
        _level = new bool[sourceCount + 1];
        _pending = new bool[sourceCount + 1];
        _claimed = new bool[sourceCount + 1];
        _enable = new uint[ContextCount][];
        for (int ctx = 0; ctx < ContextCount; ctx++)
        {
            _enable[ctx] = new uint[_words];
        }

        _threshold = new uint[ContextCount];
        _lines = new PlicInterruptLine[sourceCount + 1];
        for (int source = 1; source <= sourceCount; source++)
        {
            _lines[source] = new PlicInterruptLine(this, source);
        }

        Base = baseAddress;
        Size = size;
        Name = name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public ulong Base { get; }

    /// <inheritdoc />
    public ulong Size { get; }

    /// <summary>Number of sources (the device tree's riscv,ndev).</summary>
    public int SourceCount { get; }

    /// <summary>Number of contexts (two per hart).</summary>
    public int ContextCount { get; }

    /// <summary>The line a device drives to raise source <paramref name="source"/> (1..<see cref="SourceCount"/>).</summary>
    public IInterruptLine GetLine(int source)
    {
        if (source < 1 || source > SourceCount)
        {
            throw new ArgumentOutOfRangeException(nameof(source), source, $"PLIC sources are 1..{SourceCount}");
        }

        return _lines[source];
    }

    /// <summary>True when the source is pending (for tests and diagnostics).</summary>
    public bool IsPending(int source) => source >= 1 && source <= SourceCount && _pending[source];

    /// <inheritdoc />
    public ulong Read(ulong offset, int size)
    {
        if (size != 4 || offset % 4 != 0)
        {
            return 0;
        }

        if (offset < PendingBase)
        {
            ulong source = offset / 4;
            return source >= 1 && source <= (ulong)SourceCount ? _priority[source] : 0;
        }

        if (offset < EnableBase)
        {
            ulong word = (offset - PendingBase) / 4;
            return word < (ulong)_words ? PendingWord((int)word) : 0;
        }

        if (offset < ContextBase)
        {
            ulong ctx = (offset - EnableBase) / EnableStride;
            ulong word = (offset - EnableBase) % EnableStride / 4;
            return ctx < (ulong)ContextCount && word < (ulong)_words ? _enable[ctx][word] : 0;
        }

        ulong context = (offset - ContextBase) / ContextStride;
        ulong register = (offset - ContextBase) % ContextStride;
        if (context >= (ulong)ContextCount)
        {
            return 0;
        }

        return register switch
        {
            0 => _threshold[context],
            4 => Claim((int)context),
            _ => 0,
        };
    }

    /// <inheritdoc />
    public void Write(ulong offset, int size, ulong value)
    {
        if (size != 4 || offset % 4 != 0)
        {
            return;
        }

        uint word32 = (uint)value;
        if (offset < PendingBase)
        {
            ulong source = offset / 4;
            if (source >= 1 && source <= (ulong)SourceCount)
            {
                _priority[source] = word32 & MaxPriority;
                UpdateTargets();
            }

            return;
        }

        if (offset < EnableBase)
        {
            return; // pending bits are read-only
        }

        if (offset < ContextBase)
        {
            ulong ctx = (offset - EnableBase) / EnableStride;
            ulong word = (offset - EnableBase) % EnableStride / 4;
            if (ctx < (ulong)ContextCount && word < (ulong)_words)
            {
                _enable[ctx][word] = word32 & ValidSourceMask((int)word);
                UpdateTargets();
            }

            return;
        }

        ulong context = (offset - ContextBase) / ContextStride;
        ulong register = (offset - ContextBase) % ContextStride;
        if (context >= (ulong)ContextCount)
        {
            return;
        }

        if (register == 0)
        {
            _threshold[context] = word32 & MaxPriority;
            UpdateTargets();
        }
        else if (register == 4)
        {
            Complete((int)context, word32);
        }
    }

    internal void SetSourceLevel(int source, bool level)
    {
        if (_level[source] == level)
        {
            return;
        }

        _level[source] = level;
        bool pending = level && !_claimed[source];
        if (_pending[source] != pending)
        {
            _pending[source] = pending;
            UpdateTargets();
        }
    }

    private uint ValidSourceMask(int word)
    {
        uint mask = uint.MaxValue;
        if (word == 0)
        {
            mask &= ~1u; // source 0 does not exist
        }

        int firstSource = word * 32;
        int validInWord = SourceCount + 1 - firstSource;
        if (validInWord < 32)
        {
            mask &= (1u << validInWord) - 1;
        }

        return mask;
    }

    private uint PendingWord(int word)
    {
        uint bits = 0;
        int first = word * 32;
        for (int bit = 0; bit < 32; bit++)
        {
            int source = first + bit;
            if (source > SourceCount)
            {
                break;
            }

            if (_pending[source])
            {
                bits |= 1u << bit;
            }
        }

        return bits;
    }

    private bool IsEnabled(int context, int source) => (_enable[context][source / 32] & (1u << (source % 32))) != 0;

    /// <summary>The highest-priority pending enabled source above the context's threshold (ties: lowest id), or 0.</summary>
    private int BestSource(int context)
    {
        int best = 0;
        uint bestPriority = _threshold[context];
        for (int source = 1; source <= SourceCount; source++)
        {
            if (_pending[source] && _priority[source] > bestPriority && IsEnabled(context, source))
            {
                best = source;
                bestPriority = _priority[source];
            }
        }

        return best;
    }

    private uint Claim(int context)
    {
        int source = BestSource(context);
        if (source != 0)
        {
            _pending[source] = false;
            _claimed[source] = true;
            UpdateTargets();
        }

        return (uint)source;
    }

    private void Complete(int context, uint source)
    {
        // A completion for a source not enabled on this context is ignored, as the specification requires.
        if (source < 1 || source > (uint)SourceCount || !IsEnabled(context, (int)source) || !_claimed[source])
        {
            return;
        }

        _claimed[source] = false;
        _pending[source] = _level[source];
        UpdateTargets();
    }

    private void UpdateTargets()
    {
        for (int hart = 0; hart < _harts.Length; hart++)
        {
            _harts[hart].SetInterruptPending(InterruptBits.MEIP, BestSource(2 * hart) != 0);
            _harts[hart].SetInterruptPending(InterruptBits.SEIP, BestSource((2 * hart) + 1) != 0);
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
        writer.WriteU32Array(_priority);
        writer.WriteBoolArray(_level);
        writer.WriteBoolArray(_pending);
        writer.WriteBoolArray(_claimed);
        writer.WriteU32((uint)_enable.Length);
        foreach (uint[] words in _enable)
        {
            writer.WriteU32Array(words);
        }

        writer.WriteU32Array(_threshold);
    }

    /// <inheritdoc />
    public void RestoreState(StateReader reader, int version)
    {
        ArgumentNullException.ThrowIfNull(reader);
        reader.RequireVersion(version, 1);

        reader.ReadU32Array(_priority);
        reader.ReadBoolArray(_level);
        reader.ReadBoolArray(_pending);
        reader.ReadBoolArray(_claimed);
        if (reader.ReadU32() != (uint)_enable.Length)
        {
            throw reader.Fail($"the saved PLIC has a different number of contexts than this machine ({_enable.Length})");
        }

        foreach (uint[] words in _enable)
        {
            reader.ReadU32Array(words);
        }

        reader.ReadU32Array(_threshold);
        reader.ExpectEnd();
        UpdateTargets();
    }
}
