using System.Buffers.Binary;
using System.Text;

namespace Backup.Hypervisor.Snapshots;

/// <summary>
/// Bounds-checked little-endian reader for one state section: running past the end or reading an array of an
/// unexpected size throws <see cref="VmStateFormatException"/> naming the section, never misreads.
/// </summary>
public sealed class StateReader
{
    private readonly byte[] _data;
    private readonly string _section;
    private int _offset;

    public StateReader(byte[] data, string section)
    {
        _data = data;
        _section = section;
    }

    public bool AtEnd => _offset == _data.Length;

    /// <summary>Refuses a section layout version this build does not read.</summary>
    public void RequireVersion(int version, int supported)
    {
        if (version != supported)
        {
            throw Fail($"layout version {version} is not supported (this build reads version {supported})");
        }
    }

    /// <summary>Accepts any layout version from <paramref name="oldest"/> to <paramref name="newest"/> (older ones still load).</summary>
    public void RequireVersion(int version, int oldest, int newest)
    {
        if (version < oldest || version > newest)
        {
            throw Fail($"layout version {version} is not supported (this build reads versions {oldest} to {newest})");
        }
    }

    public byte ReadU8() => Take(1)[0];

    public bool ReadBool()
    {
        byte b = ReadU8();
        return b switch
        {
            0 => false,
            1 => true,
            _ => throw Fail($"invalid boolean {b}"),
        };
    }

    public ushort ReadU16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

    public uint ReadU32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    public int ReadI32() => (int)ReadU32();

    public ulong ReadU64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    public byte[] ReadBytes() => Take(ReadLength(1)).ToArray();

    public string ReadString() => Encoding.UTF8.GetString(Take(ReadLength(1)));

    /// <summary>Reads an array that must have exactly <paramref name="expected"/> elements (the machine's shape).</summary>
    public void ReadU64Array(Span<ulong> into)
    {
        ExpectLength(into.Length, 8);
        for (int i = 0; i < into.Length; i++)
        {
            into[i] = ReadU64();
        }
    }

    public void ReadU32Array(Span<uint> into)
    {
        ExpectLength(into.Length, 4);
        for (int i = 0; i < into.Length; i++)
        {
            into[i] = ReadU32();
        }
    }

    public void ReadBoolArray(Span<bool> into)
    {
        ExpectLength(into.Length, 1);
        for (int i = 0; i < into.Length; i++)
        {
            into[i] = ReadBool();
        }
    }

    /// <summary>Throws unless the whole section was consumed (a section longer than its reader expects is not trusted).</summary>
    public void ExpectEnd()
    {
        if (!AtEnd)
        {
            throw Fail($"{_data.Length - _offset} unexpected trailing bytes");
        }
    }

    public VmStateFormatException Fail(string what) => new($"state section '{_section}': {what} (at byte {_offset} of {_data.Length})");

    private void ExpectLength(int expected, int elementSize)
    {
        int length = ReadLength(elementSize);
        if (length != expected)
        {
            throw Fail($"holds {length} elements where this machine has {expected}");
        }
    }

    private int ReadLength(int elementSize)
    {
        uint length = ReadU32();
        if ((ulong)length * (ulong)elementSize > (ulong)(_data.Length - _offset))
        {
            throw Fail($"length {length} runs past the end of the section");
        }

        return (int)length;
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _data.Length - _offset)
        {
            throw Fail($"truncated: needs {count} more bytes");
        }

        var span = new ReadOnlySpan<byte>(_data, _offset, count);
        _offset += count;
        return span;
    }
}
