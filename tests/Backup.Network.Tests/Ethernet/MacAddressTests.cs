using Backup.Network.Ethernet;

namespace Backup.Network.Tests.Ethernet;

public sealed class MacAddressTests
{
    [Fact]
    public void ParsesPrintsAndRoundTripsOctets()
    {
        var mac = MacAddress.Parse("52:54:00:AB:cd:01");
        Assert.Equal("52:54:00:ab:cd:01", mac.ToString());
        Span<byte> octets = stackalloc byte[6];
        mac.Write(octets);
        Assert.Equal(mac, MacAddress.Read(octets));
        Assert.False(mac.IsMulticast);
        Assert.True(MacAddress.Broadcast.IsMulticast);
        Assert.True(MacAddress.Parse("01-00-5e-00-00-01").IsMulticast);
    }

    [Theory]
    [InlineData("")]
    [InlineData("52:54:00:ab:cd")]
    [InlineData("52:54:00:ab:cd:0g")]
    [InlineData("525:4:00:ab:cd:01")]
    public void RefusesMalformedText(string text)
    {
        var e = Assert.Throws<FormatException>(() => MacAddress.Parse(text));
        Assert.Contains($"'{text}'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RandomAddressesAreLocalUnicast()
    {
        var mac = MacAddress.NewRandom();
        Assert.Equal(0x525400UL, mac.Value >> 24);
        Assert.False(mac.IsMulticast);
    }
}
