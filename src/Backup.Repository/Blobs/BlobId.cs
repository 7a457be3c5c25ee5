using System.Buffers.Binary;

namespace Backup.Repository.Blobs;

/// <summary>
/// A 32-byte content id: HMAC-SHA256 of a chunk under the repository's id key, or SHA-256 of a pack or index object.
/// The all-zero id stands for "a chunk of zeros" and is never stored.
/// </summary>
public readonly struct BlobId : IEquatable<BlobId>
{
    /// <summary>Length of an id in bytes.</summary>
    public const int Length = 32;

    private readonly ulong _a;
    private readonly ulong _b;
    private readonly ulong _c;
    private readonly ulong _d;

    /// <summary>Reads an id from exactly 32 bytes.</summary>
    public BlobId(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new ArgumentException($"a blob id is {Length} bytes, not {bytes.Length}", nameof(bytes));
        }

        _a = BinaryPrimitives.ReadUInt64BigEndian(bytes);
        _b = BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]);
        _c = BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]);
        _d = BinaryPrimitives.ReadUInt64BigEndian(bytes[24..]);
    }

    /// <summary>The all-zero id: a chunk of zeros.</summary>
    public static BlobId Zero => default;

    /// <summary>True for the all-zero id.</summary>
    public bool IsZero => (_a | _b | _c | _d) == 0;

    /// <summary>Parses 64 hexadecimal digits.</summary>
    public static BlobId Parse(string hex)
    {
        ArgumentNullException.ThrowIfNull(hex);
        if (hex.Length != Length * 2)
        {
            throw new FormatException($"'{hex}' is not a 64-digit hexadecimal blob id");
        }

        return new BlobId(Convert.FromHexString(hex));
    }

    /// <summary>Parses 64 lowercase hexadecimal digits (the form <see cref="ToString"/> writes); false for anything else.</summary>
    public static bool TryParse(string? hex, out BlobId id)
    {
        id = default;
        if (hex is not { Length: Length * 2 } || !hex.All(char.IsAsciiHexDigitLower))
        {
            return false;
        }

        id = new BlobId(Convert.FromHexString(hex));
        return true;
    }

    /// <summary>Writes the 32 bytes of the id.</summary>
    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _a);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _b);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _c);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _d);
    }

    /// <summary>The 32 bytes of the id.</summary>
    public byte[] ToBytes()
    {
        var bytes = new byte[Length];
        WriteTo(bytes);
        return bytes;
    }

    /// <summary>Lower-case hexadecimal.</summary>
    public override string ToString() => Convert.ToHexStringLower(ToBytes());

    /// <summary>The first 12 hex digits, for messages.</summary>
    public string ToShortString() => ToString()[..12];

    public bool Equals(BlobId other) => _a == other._a && _b == other._b && _c == other._c && _d == other._d;

    public override bool Equals(object? obj) => obj is BlobId other && Equals(other);

    public override int GetHashCode() => (int)_a ^ (int)(_a >> 32);

    public static bool operator ==(BlobId left, BlobId right) => left.Equals(right);

    public static bool operator !=(BlobId left, BlobId right) => !left.Equals(right);
}
