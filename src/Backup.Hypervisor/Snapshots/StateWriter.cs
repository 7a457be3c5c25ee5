using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Backup.Hypervisor.Snapshots;

/// <summary>Little-endian writer for one state section.</summary>
public sealed class StateWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new();

    public void WriteU8(byte value) => _buffer.Write([value]);

    public void WriteBool(bool value) => WriteU8(value ? (byte)1 : (byte)0);

    public void WriteU16(ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        _buffer.Write(b);
    }

    public void WriteU32(uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        _buffer.Write(b);
    }

    public void WriteI32(int value) => WriteU32((uint)value);

    public void WriteU64(ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        _buffer.Write(b);
    }

    /// <summary>A length-prefixed byte array.</summary>
    public void WriteBytes(ReadOnlySpan<byte> value)
    {
        WriteU32((uint)value.Length);
        _buffer.Write(value);
    }

    public void WriteString(string value) => WriteBytes(Encoding.UTF8.GetBytes(value));

    public void WriteU64Array(ReadOnlySpan<ulong> values)
    {
        WriteU32((uint)values.Length);
        foreach (ulong v in values)
        {
            WriteU64(v);
        }
    }

    public void WriteU32Array(ReadOnlySpan<uint> values)
    {
        WriteU32((uint)values.Length);
        foreach (uint v in values)
        {
            WriteU32(v);
        }
    }

    public void WriteBoolArray(ReadOnlySpan<bool> values)
    {
        WriteU32((uint)values.Length);
        foreach (bool v in values)
        {
            WriteBool(v);
        }
    }

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

}
