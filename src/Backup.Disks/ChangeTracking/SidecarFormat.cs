using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Backup.Disks.ChangeTracking;

/// <summary>
/// Encodes and decodes change-tracking sidecars, version 1. Little-endian throughout; layout in docs/disk-state.md.
/// Decoding checks the magic and then the version before anything else, so a file of another version is never misread.
/// </summary>
internal static class SidecarFormat
{
    public const int Version = 1;
    public const int HeaderLength = 128;
    public const int ChecksumLength = 32;
    public const int MaxReasonBytes = 4096;
    public const uint StateClean = 1;
    public const uint StateInUse = 2;
    public const uint FlagUntrusted = 1;

    /// <summary>"BDCBTMAP": Backup.Disks changed-block-tracking map.</summary>
    public static ReadOnlySpan<byte> Magic => "BDCBTMAP"u8;

    public static byte[] Encode(SidecarContents c)
    {
        byte[] reason = c.State.Trusted ? [] : Encoding.UTF8.GetBytes(c.State.Reason);
        if (reason.Length > MaxReasonBytes)
        {
            reason = reason[..MaxReasonBytes];
            // Do not cut a UTF-8 sequence in half: back off to a character boundary.
            int end = MaxReasonBytes;
            while (end > 0 && (reason[end - 1] & 0xC0) == 0x80)
            {
                end--;
            }

            if (end > 0 && reason[end - 1] >= 0xC0)
            {
                end--;
            }

            reason = reason[..end];
        }

        long bitmapBytes = c.Bits.ByteLength;
        long total = HeaderLength + reason.Length + bitmapBytes + ChecksumLength;
        if (total > Array.MaxLength)
        {
            throw new InvalidOperationException($"a change-tracking bitmap of {bitmapBytes} bytes is too large for one sidecar");
        }

        var file = new byte[total];
        Span<byte> h = file.AsSpan(0, HeaderLength);
        Magic.CopyTo(h);
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], HeaderLength);
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], c.InUse ? StateInUse : StateClean);
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], (uint)c.Granularity);
        BinaryPrimitives.WriteInt64LittleEndian(h[24..], c.DiskLength);
        c.TrackingId.TryWriteBytes(h.Slice(32, 16), bigEndian: true, out _);
        BinaryPrimitives.WriteInt64LittleEndian(h[48..], c.LastIssuedGeneration);
        BinaryPrimitives.WriteInt64LittleEndian(h[56..], c.LastCompletedGeneration);
        BinaryPrimitives.WriteInt64LittleEndian(h[64..], c.ImageLength);
        BinaryPrimitives.WriteInt64LittleEndian(h[72..], c.ImageMtimeTicks);
        BinaryPrimitives.WriteUInt32LittleEndian(h[80..], c.State.Trusted ? 0 : FlagUntrusted);
        BinaryPrimitives.WriteUInt32LittleEndian(h[84..], (uint)c.State.Cause);
        BinaryPrimitives.WriteUInt32LittleEndian(h[88..], (uint)reason.Length);
        BinaryPrimitives.WriteInt64LittleEndian(h[96..], bitmapBytes);
        reason.CopyTo(file, HeaderLength);
        c.Bits.WriteTo(file.AsSpan(HeaderLength + reason.Length, (int)bitmapBytes));
        SHA256.HashData(file.AsSpan(0, file.Length - ChecksumLength), file.AsSpan(file.Length - ChecksumLength));
        return file;
    }

    /// <summary>
    /// Decodes a sidecar. On failure returns null and sets <paramref name="cause"/>
    /// (<see cref="DistrustCause.SidecarCorrupt"/> or <see cref="DistrustCause.UnsupportedVersion"/>) and <paramref name="problem"/>.
    /// </summary>
    public static SidecarContents? TryDecode(ReadOnlySpan<byte> file, out DistrustCause cause, out string problem)
    {
        cause = DistrustCause.SidecarCorrupt;
        if (file.Length < Magic.Length || !file[..Magic.Length].SequenceEqual(Magic))
        {
            problem = "it is not a change-tracking sidecar (bad magic)";
            return null;
        }

        if (file.Length < 12)
        {
            problem = $"it is truncated ({file.Length} bytes)";
            return null;
        }

        uint version = BinaryPrimitives.ReadUInt32LittleEndian(file[8..]);
        if (version != Version)
        {
            cause = DistrustCause.UnsupportedVersion;
            problem = $"it has format version {version}, and this build only reads version {Version}";
            return null;
        }

        if (file.Length < HeaderLength + ChecksumLength)
        {
            problem = $"it is truncated ({file.Length} bytes)";
            return null;
        }

        Span<byte> sum = stackalloc byte[ChecksumLength];
        SHA256.HashData(file[..^ChecksumLength], sum);
        if (!sum.SequenceEqual(file[^ChecksumLength..]))
        {
            problem = "its checksum does not match (torn write or damage)";
            return null;
        }

        ReadOnlySpan<byte> h = file[..HeaderLength];
        uint headerLength = BinaryPrimitives.ReadUInt32LittleEndian(h[12..]);
        uint state = BinaryPrimitives.ReadUInt32LittleEndian(h[16..]);
        uint granularity = BinaryPrimitives.ReadUInt32LittleEndian(h[20..]);
        long diskLength = BinaryPrimitives.ReadInt64LittleEndian(h[24..]);
        var trackingId = new Guid(h.Slice(32, 16), bigEndian: true);
        long issued = BinaryPrimitives.ReadInt64LittleEndian(h[48..]);
        long completed = BinaryPrimitives.ReadInt64LittleEndian(h[56..]);
        long imageLength = BinaryPrimitives.ReadInt64LittleEndian(h[64..]);
        long imageMtime = BinaryPrimitives.ReadInt64LittleEndian(h[72..]);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(h[80..]);
        uint causeCode = BinaryPrimitives.ReadUInt32LittleEndian(h[84..]);
        uint reasonLength = BinaryPrimitives.ReadUInt32LittleEndian(h[88..]);
        long bitmapBytes = BinaryPrimitives.ReadInt64LittleEndian(h[96..]);

        string? bad = null;
        if (headerLength != HeaderLength) bad = $"header length {headerLength}";
        else if (state is not (StateClean or StateInUse)) bad = $"state {state}";
        else if (granularity == 0 || !uint.IsPow2(granularity)) bad = $"granularity {granularity}";
        else if (diskLength < 0) bad = $"disk length {diskLength}";
        else if (issued < 0 || completed < 0 || completed > issued) bad = $"generations {completed}/{issued}";
        else if ((flags & ~FlagUntrusted) != 0) bad = $"flags 0x{flags:x}";
        else if (reasonLength > MaxReasonBytes) bad = $"reason length {reasonLength}";
        else if ((flags & FlagUntrusted) != 0 && (causeCode == 0 || !Enum.IsDefined((DistrustCause)causeCode))) bad = $"distrust cause {causeCode}";
        else if ((flags & FlagUntrusted) == 0 && (causeCode != 0 || reasonLength != 0)) bad = "a cause on a trusted map";

        long blockCount = bad is null ? (diskLength + granularity - 1) / granularity : 0;
        if (bad is null && (bitmapBytes != BlockBitmap.ByteLengthFor(blockCount)
                            || HeaderLength + reasonLength + bitmapBytes + ChecksumLength != file.Length))
        {
            bad = $"bitmap length {bitmapBytes} for {blockCount} blocks in a {file.Length}-byte file";
        }

        if (bad is not null)
        {
            problem = $"it has an impossible {bad}";
            return null;
        }

        BlockBitmap? bits = BlockBitmap.TryRead(file.Slice(HeaderLength + (int)reasonLength, (int)bitmapBytes), blockCount);
        if (bits is null)
        {
            problem = "its bitmap has bits set beyond the end of the disk";
            return null;
        }

        ChangeTrackingState trust = (flags & FlagUntrusted) == 0
            ? ChangeTrackingState.TrustedState
            : ChangeTrackingState.Untrusted((DistrustCause)causeCode,
                Encoding.UTF8.GetString(file.Slice(HeaderLength, (int)reasonLength)));

        cause = DistrustCause.None;
        problem = "";
        return new SidecarContents(state == StateInUse, (int)granularity, diskLength, trackingId, issued, completed,
            imageLength, imageMtime, trust, bits);
    }
}
