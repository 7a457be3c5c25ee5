using Backup.Cli.Commands;

namespace Backup.Cli.Tests.Commands;

public sealed class SizeParserTests
{
    [Theory]
    [InlineData("256M", 0, 256UL << 20)]
    [InlineData("2G", 0, 2UL << 30)]
    [InlineData("1GiB", 0, 1UL << 30)]
    [InlineData("64MB", 0, 64UL << 20)]
    [InlineData("4096", 0, 4096UL)]
    [InlineData("128", 20, 128UL << 20)]
    [InlineData("4096B", 20, 4096UL)]
    [InlineData(" 8k ", 0, 8192UL)]
    public void Parses_sizes(string text, int defaultShift, ulong expected)
    {
        Assert.True(SizeParser.TryParse(text, out ulong bytes, defaultShift));
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("")]
    [InlineData("lots")]
    [InlineData("12X")]
    [InlineData("-1M")]
    [InlineData("99999999999999999999T")]
    public void Rejects_what_is_not_a_size(string text)
    {
        Assert.False(SizeParser.TryParse(text, out _));
    }
}
