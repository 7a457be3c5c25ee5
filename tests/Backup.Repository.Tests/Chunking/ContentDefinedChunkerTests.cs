using Backup.Repository.Chunking;

namespace Backup.Repository.Tests.Chunking;

public sealed class ContentDefinedChunkerTests
{
    private static readonly byte[] Key = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();

    private static List<int> Cut(ContentDefinedChunker chunker, byte[] data)
    {
        var lengths = new List<int>();
        var position = 0;
        while (position < data.Length)
        {
            var length = chunker.NextChunkLength(data.AsSpan(position));
            lengths.Add(length);
            position += length;
        }

        return lengths;
    }

    [Fact]
    public void Chunks_respect_the_bounds_and_average_near_the_target()
    {
        var chunker = new ContentDefinedChunker(Key, 16 * 1024, 64 * 1024, 256 * 1024);
        var data = new byte[32 * 1024 * 1024];
        new Random(1).NextBytes(data);
        var lengths = Cut(chunker, data);
        Assert.All(lengths.SkipLast(1), length => Assert.InRange(length, 16 * 1024, 256 * 1024));
        Assert.Equal(data.Length, lengths.Sum());
        Assert.InRange(lengths.Average(), 48 * 1024, 96 * 1024);
    }

    [Fact]
    public void An_insertion_changes_only_the_chunks_around_it()
    {
        var chunker = new ContentDefinedChunker(Key, 16 * 1024, 64 * 1024, 256 * 1024);
        var original = new byte[8 * 1024 * 1024];
        new Random(2).NextBytes(original);
        var edited = original[..(3 * 1024 * 1024)].Concat(new byte[] { 1, 2, 3, 4, 5 }).Concat(original[(3 * 1024 * 1024)..]).ToArray();

        static HashSet<string> Chunks(byte[] data, List<int> lengths)
        {
            var set = new HashSet<string>();
            var position = 0;
            foreach (var length in lengths)
            {
                set.Add(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(data.AsSpan(position, length))));
                position += length;
            }

            return set;
        }

        var before = Chunks(original, Cut(chunker, original));
        var after = Chunks(edited, Cut(chunker, edited));
        var changed = after.Count(chunk => !before.Contains(chunk));
        Assert.InRange(changed, 1, 3);
    }

    [Fact]
    public void Boundaries_depend_on_the_chunker_key()
    {
        var data = new byte[4 * 1024 * 1024];
        new Random(3).NextBytes(data);
        var a = Cut(new ContentDefinedChunker(Key, 16 * 1024, 64 * 1024, 256 * 1024), data);
        var b = Cut(new ContentDefinedChunker(Key.Reverse().ToArray(), 16 * 1024, 64 * 1024, 256 * 1024), data);
        Assert.Equal(a, Cut(new ContentDefinedChunker(Key, 16 * 1024, 64 * 1024, 256 * 1024), data));
        Assert.NotEqual(a, b);
    }
}
