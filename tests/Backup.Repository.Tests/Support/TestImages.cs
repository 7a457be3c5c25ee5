namespace Backup.Repository.Tests.Support;

/// <summary>Deterministic disk images: pseudo-random extents, text-like extents and zero gaps.</summary>
public static class TestImages
{
    public static byte[] Create(int length, int seed)
    {
        var image = new byte[length];
        var random = new Random(seed);
        var position = 0;
        while (position < length)
        {
            var extent = Math.Min(length - position, random.Next(1, 64) * 4096);
            switch (random.Next(3))
            {
                case 0:
                    random.NextBytes(image.AsSpan(position, extent));
                    break;
                case 1:
                    for (var i = 0; i < extent; i++)
                    {
                        image[position + i] = (byte)"the quick brown fox jumps over a lazy dog "[(i + seed) % 42];
                    }

                    break;
                default:
                    break;
            }

            position += extent;
        }

        return image;
    }

    /// <summary>Overwrites <paramref name="count"/> random 4 KiB blocks; returns the distinct block indexes touched.</summary>
    public static SortedSet<int> ScatterWrites(byte[] image, int count, int seed)
    {
        var random = new Random(seed);
        var touched = new SortedSet<int>();
        for (var i = 0; i < count; i++)
        {
            var block = random.Next(image.Length / 4096);
            random.NextBytes(image.AsSpan(block * 4096, 4096));
            touched.Add(block);
        }

        return touched;
    }
}
