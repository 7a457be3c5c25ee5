using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Backup.Hypervisor.Snapshots;

/// <summary>
/// The checkpoint file format (docs/vm-state-format.md): a header, one section per <see cref="IDeviceState"/>,
/// RAM page records, an end record, and a SHA-256 of everything before it. Written front to back by one thread;
/// read back with every length bounded and the checksum verified before the caller may use what was read.
/// </summary>
public static class VmStateFile
{
    public const int FormatVersion = 1;
    public const int PageSize = 4096;
    public static ReadOnlySpan<byte> Magic => "BKVMSTAT"u8;

    internal const byte RecordEnd = 0, RecordSection = 1, RecordPage = 2, RecordZeroPage = 3;
    internal const int MaxSectionLength = 64 << 20;

    /// <summary>Sequential writer of one state file, hashing as it goes.</summary>
    public sealed class Writer : IDisposable
    {
        private readonly Stream _stream;
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private bool _finished;

        public Writer(Stream stream, VmStateHeader header)
        {
            ArgumentNullException.ThrowIfNull(stream);
            ArgumentNullException.ThrowIfNull(header);
            _stream = stream;
            Span<byte> h = stackalloc byte[8 + 4 + 16 + 16 + 8 + 8 + 4 + 4 + 1];
            Magic.CopyTo(h);
            BinaryPrimitives.WriteInt32LittleEndian(h[8..], FormatVersion);
            header.Id.TryWriteBytes(h[12..]);
            header.ParentId.TryWriteBytes(h[28..]);
            BinaryPrimitives.WriteInt64LittleEndian(h[44..], header.Created.ToUnixTimeMilliseconds());
            BinaryPrimitives.WriteUInt64LittleEndian(h[52..], header.RamSize);
            BinaryPrimitives.WriteInt32LittleEndian(h[60..], header.HartCount);
            BinaryPrimitives.WriteInt32LittleEndian(h[64..], header.DiskCount);
            h[68] = header.AgentChannel ? (byte)1 : (byte)0;
            Emit(h);
        }

        public long PagesWritten { get; private set; }

        public void WriteSection(string name, int version, ReadOnlySpan<byte> payload)
        {
            byte[] nameBytes = Encoding.UTF8.GetBytes(name);
            Span<byte> head = stackalloc byte[1 + 2 + 4 + 4];
            head[0] = RecordSection;
            BinaryPrimitives.WriteUInt16LittleEndian(head[1..], (ushort)nameBytes.Length);
            BinaryPrimitives.WriteInt32LittleEndian(head[3..], version);
            BinaryPrimitives.WriteInt32LittleEndian(head[7..], payload.Length);
            Emit(head[..3]);
            Emit(nameBytes);
            Emit(head[3..]);
            Emit(payload);
        }

        /// <summary>A RAM page (index relative to the RAM base); an all-zero page is stored as a zero record.</summary>
        public void WritePage(ulong pageIndex, ReadOnlySpan<byte> content)
        {
            bool zero = !content.ContainsAnyExcept((byte)0);
            Span<byte> head = stackalloc byte[9];
            head[0] = zero ? RecordZeroPage : RecordPage;
            BinaryPrimitives.WriteUInt64LittleEndian(head[1..], pageIndex);
            Emit(head);
            if (!zero)
            {
                Emit(content);
            }

            PagesWritten++;
        }

        /// <summary>Writes the end record and the checksum; the file is complete.</summary>
        public void Finish()
        {
            Emit([RecordEnd]);
            _stream.Write(_hash.GetHashAndReset());
            _stream.Flush();
            _finished = true;
        }

        public void Dispose()
        {
            _hash.Dispose();
            if (!_finished)
            {
                _stream.Flush();
            }
        }

        private void Emit(ReadOnlySpan<byte> bytes)
        {
            _hash.AppendData(bytes);
            _stream.Write(bytes);
        }
    }

    /// <summary>Reads the header only (to order a chain before applying it).</summary>
    public static VmStateHeader ReadHeader(string path)
    {
        using var stream = File.OpenRead(path);
        using var reader = new Reader(stream, path);
        return reader.Header;
    }

    /// <summary>Sequential reader; <see cref="Next"/> returns records until the end record, then checks the checksum.</summary>
    public sealed class Reader : IDisposable
    {
        private const int WindowBytes = 1 << 20;
        private readonly Stream _stream;
        private readonly string _source;
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        // Records are read through a window over the stream and hashed a window at a time: a state file holds tens of
        // thousands of 9-byte page records, and hashing or reading each separately cost more than the data itself.
        private readonly byte[] _window = new byte[WindowBytes];
        private readonly byte[] _page = new byte[PageSize];
        private int _head;
        private int _tail;
        private int _hashed;
        private bool _refilled;

        public Reader(Stream stream, string source)
        {
            _stream = stream;
            _source = source;
            Span<byte> h = stackalloc byte[69];
            Read(h);
            if (!h.Slice(0, 8).SequenceEqual(Magic))
            {
                throw Fail("not a VM state file (bad magic)");
            }

            int version = BinaryPrimitives.ReadInt32LittleEndian(h[8..]);
            if (version != FormatVersion)
            {
                throw Fail($"state format version {version} is not supported (this build reads version {FormatVersion})");
            }

            Header = new VmStateHeader(
                new Guid(h.Slice(12, 16)),
                new Guid(h.Slice(28, 16)),
                DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64LittleEndian(h[44..])),
                BinaryPrimitives.ReadUInt64LittleEndian(h[52..]),
                BinaryPrimitives.ReadInt32LittleEndian(h[60..]),
                BinaryPrimitives.ReadInt32LittleEndian(h[64..]),
                h[68] switch { 0 => false, 1 => true, _ => throw Fail("invalid agent-channel flag") });
        }

        public VmStateHeader Header { get; }

        /// <summary>
        /// The next record: a section (name, version, payload) or a page (index, content — null for a zero page). A page's
        /// content is one buffer reused by every page record: valid until the next call.
        /// Returns false at the end record, after verifying the checksum.
        /// </summary>
        public bool Next(out string? sectionName, out int sectionVersion, out byte[]? payload, out ulong pageIndex)
        {
            sectionName = null;
            sectionVersion = 0;
            payload = null;
            pageIndex = 0;
            Span<byte> kind = stackalloc byte[1];
            Read(kind);
            switch (kind[0])
            {
                case RecordEnd:
                    _hash.AppendData(_window, _hashed, _head - _hashed);
                    _hashed = _head;
                    var expected = _hash.GetHashAndReset();
                    var actual = new byte[expected.Length];
                    if (!TryReadUnhashed(actual))
                    {
                        throw Fail("truncated: the checksum is missing");
                    }

                    if (!actual.AsSpan().SequenceEqual(expected))
                    {
                        throw Fail("checksum mismatch: the file is damaged");
                    }

                    if (_head < _tail || _stream.ReadByte() != -1)
                    {
                        throw Fail("unexpected bytes after the checksum");
                    }

                    return false;
                case RecordSection:
                {
                    Span<byte> len = stackalloc byte[2];
                    Read(len);
                    var name = new byte[BinaryPrimitives.ReadUInt16LittleEndian(len)];
                    Read(name);
                    Span<byte> vl = stackalloc byte[8];
                    Read(vl);
                    sectionName = Encoding.UTF8.GetString(name);
                    sectionVersion = BinaryPrimitives.ReadInt32LittleEndian(vl);
                    int length = BinaryPrimitives.ReadInt32LittleEndian(vl[4..]);
                    if (length < 0 || length > MaxSectionLength)
                    {
                        throw Fail($"section '{sectionName}' claims {length} bytes");
                    }

                    payload = new byte[length];
                    Read(payload);
                    return true;
                }

                case RecordPage or RecordZeroPage:
                {
                    Span<byte> index = stackalloc byte[8];
                    Read(index);
                    pageIndex = BinaryPrimitives.ReadUInt64LittleEndian(index);
                    if (pageIndex >= Header.RamSize / PageSize)
                    {
                        throw Fail($"page {pageIndex} is outside the {Header.RamSize >> 20} MiB of RAM the header declares");
                    }

                    if (kind[0] == RecordPage)
                    {
                        payload = _page;
                        Read(payload);
                    }

                    return true;
                }

                default:
                    throw Fail($"unknown record type {kind[0]}");
            }
        }

        public void Dispose() => _hash.Dispose();

        private void Read(Span<byte> into)
        {
            if (!TryReadUnhashed(into))
            {
                throw Fail("truncated");
            }
        }

        /// <summary>Copies the next bytes out of the window, refilling it (and hashing what was consumed) as needed.</summary>
        private bool TryReadUnhashed(Span<byte> into)
        {
            int done = 0;
            while (done < into.Length)
            {
                if (_head == _tail && !Refill())
                {
                    return false;
                }

                int take = Math.Min(into.Length - done, _tail - _head);
                _window.AsSpan(_head, take).CopyTo(into[done..]);
                _head += take;
                done += take;
            }

            return true;
        }

        private bool Refill()
        {
            _hash.AppendData(_window, _hashed, _head - _hashed);
            _head = _tail = _hashed = 0;

            // The first read is small: reading a header alone (to order a chain) should not pull in a megabyte.
            int want = _refilled ? _window.Length : 4096;
            _refilled = true;
            _tail = _stream.Read(_window, 0, want);
            return _tail > 0;
        }

        private VmStateFormatException Fail(string what) => new($"state file '{_source}': {what}");
    }
}
