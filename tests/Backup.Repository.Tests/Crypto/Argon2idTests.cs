using System.Text;
using Backup.Repository.Crypto;

namespace Backup.Repository.Tests.Crypto;

public sealed class Argon2idTests
{
    [Fact]
    public void Blake2b_matches_the_RFC_7693_example()
    {
        var output = new byte[64];
        Blake2b.Hash("abc"u8, output);
        Assert.Equal(
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923",
            Convert.ToHexStringLower(output));
    }

    [Fact]
    public void Blake2b_hashes_input_given_in_pieces_like_the_whole()
    {
        var data = Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray();
        var whole = new byte[64];
        Blake2b.Hash(data, whole);
        var pieces = new Blake2b(64);
        pieces.Update(data.AsSpan(0, 128));
        pieces.Update(data.AsSpan(128, 1));
        pieces.Update(data.AsSpan(129, 383));
        pieces.Update(data.AsSpan(512));
        var split = new byte[64];
        pieces.Finish(split);
        Assert.Equal(whole, split);
    }

    [Fact]
    public void Argon2id_matches_the_RFC_9106_test_vector()
    {
        var output = new byte[32];
        Argon2id.Derive(
            Enumerable.Repeat((byte)1, 32).ToArray(),
            Enumerable.Repeat((byte)2, 16).ToArray(),
            Enumerable.Repeat((byte)3, 8).ToArray(),
            Enumerable.Repeat((byte)4, 12).ToArray(),
            memoryKiB: 32,
            iterations: 3,
            parallelism: 4,
            output);
        Assert.Equal("0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659", Convert.ToHexStringLower(output));
    }

    [Theory]
    [InlineData(64 * 1024, 3, 2, 32)]
    [InlineData(8 * 1024, 1, 1, 32)]
    [InlineData(1000, 2, 3, 64)]
    [InlineData(4 * 1024, 4, 4, 100)]
    [InlineData(16, 1, 2, 4)]
    public void Argon2id_derives_what_an_independent_implementation_derives(int memoryKiB, int iterations, int parallelism, int length)
    {
        var password = Encoding.UTF8.GetBytes($"correct horse battery staple {memoryKiB}");
        var salt = Enumerable.Range(0, 32).Select(i => (byte)(i * 31 + memoryKiB)).ToArray();
        var ours = new byte[length];
        Argon2id.Derive(password, salt, memoryKiB, iterations, parallelism, ours);
        using var reference = new Konscious.Security.Cryptography.Argon2id(password)
        {
            Salt = salt,
            MemorySize = memoryKiB,
            Iterations = iterations,
            DegreeOfParallelism = parallelism,
        };
        Assert.Equal(reference.GetBytes(length), ours);
    }
}
