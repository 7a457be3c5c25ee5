using System.Security.Cryptography;
using System.Text;
using Backup.Repository.Crypto;
using Backup.Repository.Errors;

namespace Backup.Repository.Tests.Crypto;

public sealed class BlobSealerCompressionTests : IDisposable
{
    private const int Chunk = 256 * 1024;
    private readonly BlobSealer _sealer = new(RandomNumberGenerator.GetBytes(32));

    public void Dispose() => _sealer.Dispose();

    [Fact]
    public void Incompressible_chunks_are_stored_raw_round_trip_and_are_detected_as_corrupt_when_damaged()
    {
        var payload = RandomNumberGenerator.GetBytes(Chunk);
        var aad = "blob-test"u8.ToArray();
        var sealedBlob = _sealer.Seal(payload, aad);

        Assert.Equal(payload.Length + BlobSealer.Overhead, sealedBlob.Length);
        Assert.Equal(payload, _sealer.Open(sealedBlob, aad, "packs/x", "chunk", payload.Length));

        var damaged = sealedBlob.ToArray();
        damaged[1000] ^= 1;
        Assert.Throws<RepositoryCorruptException>(() => _sealer.Open(damaged, aad, "packs/x", "chunk", payload.Length));
        Assert.Throws<RepositoryCorruptException>(() => _sealer.Open(sealedBlob, "other"u8, "packs/x", "chunk", payload.Length));
    }

    [Fact]
    public void Random_chunks_with_a_compressible_stretch_are_still_compressed()
    {
        var payload = RandomNumberGenerator.GetBytes(Chunk);
        payload.AsSpan(100_000, 40 * 1024).Clear();
        var text = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 2000).Select(i => $"INFO request {i} completed\n")));
        text.AsSpan(0, 36 * 1024).CopyTo(payload.AsSpan(190_000));
        var aad = "blob-test"u8.ToArray();

        var sealedBlob = _sealer.Seal(payload, aad);

        Assert.True(sealedBlob.Length < payload.Length - (60 * 1024), $"sealed {sealedBlob.Length} bytes of {payload.Length}");
        Assert.Equal(payload, _sealer.Open(sealedBlob, aad, "packs/x", "chunk", payload.Length));
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void The_system_zstd_library_and_the_managed_port_read_each_others_chunks(bool sealNative, bool openNative)
    {
        if (OperatingSystem.IsLinux())
        {
            Assert.True(NativeZstd.Available, "libzstd.so.1 (Debian package libzstd1) should be loadable");
        }

        var key = RandomNumberGenerator.GetBytes(32);
        using var sealer = new BlobSealer(key, useNativeZstd: sealNative);
        using var opener = new BlobSealer(key, useNativeZstd: openNative);
        Assert.Equal(sealNative && NativeZstd.Available, sealer.UsesNativeZstd);
        var payload = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 20000).Select(i => $"GET /api/items/{i % 97} 200 {i}\n")))[..Chunk];
        var sealedBlob = sealer.Seal(payload, "a"u8);
        Assert.True(sealedBlob.Length < payload.Length / 3);

        var output = new byte[Chunk];
        opener.OpenInto(sealedBlob, "a"u8, "packs/x", "chunk", output);
        Assert.Equal(payload, output);
        Assert.Equal(payload, opener.Open(sealedBlob, "a"u8, "packs/x", "chunk"));

        // A chunk indexed with another length is reported, whichever decoder reads it.
        Assert.Throws<RepositoryCorruptException>(() => opener.OpenInto(sealedBlob, "a"u8, "packs/x", "chunk", new byte[Chunk - 1]));
        Assert.Throws<RepositoryCorruptException>(() => opener.OpenInto(sealedBlob, "a"u8, "packs/x", "chunk", new byte[Chunk + 1]));
    }

    [Fact]
    public void Compressible_chunks_are_compressed()
    {
        var payload = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 20000).Select(i => $"GET /api/items/{i % 97} 200 {i}\n")))[..Chunk];
        var sealedBlob = _sealer.Seal(payload, "a"u8);
        Assert.True(sealedBlob.Length < payload.Length / 3);
        Assert.Equal(payload, _sealer.Open(sealedBlob, "a"u8, "packs/x", "chunk", payload.Length));
    }
}
