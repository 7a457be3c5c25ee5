using System.Security.Cryptography;
using System.Text;
using Backup.Repository.Backends;
using Backup.Repository.Backends.Local;
using Backup.Repository.Blobs;
using Backup.Repository.Crypto;
using Backup.Repository.Packs;
using Backup.Repository.Tests.Support;

namespace Backup.Repository.Tests.Packs;

/// <summary>Sealing in place, packs assembled in pooled aligned buffers, and their direct upload to a local folder.</summary>
public sealed class PackAssemblyTests : IDisposable
{
    private readonly BlobSealer _sealer = new(RandomNumberGenerator.GetBytes(32));

    public void Dispose() => _sealer.Dispose();

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(256 * 1024)]
    public void SealInto_into_a_dirty_buffer_opens_to_the_payload_for_text_random_and_zero_payloads(int length)
    {
        var text = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 20000).Select(i => $"line {i} of a log\n")));
        foreach (var payload in new[] { text.AsSpan(0, Math.Min(length, text.Length)).ToArray(), RandomNumberGenerator.GetBytes(length), new byte[length] })
        {
            var destination = new byte[BlobSealer.MaxSealedLength(payload.Length) + 50];
            Array.Fill(destination, (byte)0xA5);
            var aad = "blob"u8.ToArray();

            var sealedLength = _sealer.SealInto(payload, aad, destination);

            Assert.InRange(sealedLength, BlobSealer.Overhead, BlobSealer.MaxSealedLength(payload.Length));
            Assert.Equal(payload, _sealer.Open(destination.AsSpan(0, sealedLength), aad, "packs/x", "chunk", payload.Length));
            Assert.Throws<ArgumentException>(() => _sealer.SealInto(payload, aad, new byte[BlobSealer.MaxSealedLength(payload.Length) - 1]));
        }
    }

    [Fact]
    public void Packs_assembled_in_reused_buffers_and_grown_past_their_first_size_read_back_blob_for_blob()
    {
        var random = new Random(7);
        for (var round = 0; round < 3; round++)
        {
            using var writer = new PackWriter();
            var blobs = new List<(BlobId Id, byte[] Payload)>();
            // Round 1 grows the buffer past its initial 17 MiB while blobs are added; rounds 2 and 3 reuse pooled buffers.
            var count = round == 1 ? 80 : 9;
            for (var i = 0; i < count; i++)
            {
                var payload = new byte[256 * 1024];
                random.NextBytes(payload);
                var id = new BlobId(SHA256.HashData(payload));
                writer.Add(BlobType.Data, id, _sealer.Seal(payload, AssociatedData.ForBlob(BlobType.Data, id)), payload.Length);
                blobs.Add((id, payload));
            }

            using var pack = writer.Finish(_sealer);
            Assert.Equal(0, writer.Count);
            var bytes = pack.Bytes.ToArray();
            Assert.Equal(pack.Id, new BlobId(SHA256.HashData(bytes)));
            var entries = PackReader.ReadEntries(bytes, "packs/p", _sealer);
            Assert.Equal(blobs.Select(b => b.Id), entries.Select(e => e.Id));
            foreach (var (entry, (id, payload)) in entries.Zip(blobs))
            {
                var opened = _sealer.Open(bytes.AsSpan((int)entry.Offset, (int)entry.SealedLength), AssociatedData.ForBlob(BlobType.Data, id), "packs/p", "blob", payload.Length);
                Assert.Equal(payload, opened);
            }
        }
    }

    [Fact]
    public async Task A_pack_buffer_of_any_length_is_written_to_a_local_folder_exactly()
    {
        using var folder = new TemporaryFolder();
        var backend = new LocalFolderBackend(folder.Path);
        var random = new Random(11);
        foreach (var length in new[] { 1 << 20, (1 << 20) + 1, (3 << 20) - 4095, 5 << 20 })
        {
            using var writer = new PackWriter();
            var payload = new byte[length];
            random.NextBytes(payload);
            var id = new BlobId(SHA256.HashData(payload));
            writer.Add(BlobType.Data, id, payload, payload.Length);
            using var pack = writer.Finish(_sealer);

            await backend.PutAsync($"packs/{length}", pack.Bytes, PutMode.Overwrite);

            Assert.Equal(pack.Bytes.ToArray(), await backend.GetAsync($"packs/{length}"));
        }
    }
}
