using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Snapshots;
using Backup.Network.Ethernet;
using Backup.TestSupport;
using Xunit.Abstractions;

namespace Backup.Hypervisor.Tests.Linux;

/// <summary>
/// Two stock Debian guests (Debian's own kernel and virtio_net driver, busybox) on our core, their NICs joined by an
/// <see cref="InMemoryLinkPair"/>: static addresses, ping both ways, a 4 MiB TCP transfer checked by SHA-256 — with
/// checksum and segmentation offloads negotiated (super-frames cross the link) and with none offered (the guests
/// finish every frame) — and networking that carries on after a guest is checkpointed, stopped and resumed.
/// </summary>
[Collection(SoloGroup.Name)]
public sealed class VirtioNetLinuxTests(ITestOutputHelper output)
{
    private static readonly MacAddress MacA = MacAddress.Parse("52:54:00:00:0a:01");
    private static readonly MacAddress MacB = MacAddress.Parse("52:54:00:00:0a:02");
    private static readonly TimeSpan Command = TimeSpan.FromMinutes(2);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Two_guests_ping_each_other_and_move_4_MiB_over_tcp(bool offloads)
    {
        var stock = DebianStockGuest.Locate();
        using var pair = new InMemoryLinkPair();
        using var a = NetworkedGuest.Boot("A", NetworkedGuest.Config(stock, "10.0.0.1/24", new VmNic(MacA, pair.A) { Offloads = offloads }));
        using var b = NetworkedGuest.Boot("B", NetworkedGuest.Config(stock, "10.0.0.2/24", new VmNic(MacB, pair.B) { Offloads = offloads }));

        Assert.Contains("3 packets received", a.Run("ping -c 3 -W 5 10.0.0.2", Command), StringComparison.Ordinal);
        Assert.Contains("3 packets received", b.Run("ping -c 3 -W 5 10.0.0.1", Command), StringComparison.Ordinal);

        var expected = OffloadCapabilities.Checksum | OffloadCapabilities.TcpV4Segmentation | OffloadCapabilities.TcpV6Segmentation;
        Assert.Equal(offloads ? expected : OffloadCapabilities.None, pair.A.AcceptedOffloads);
        Assert.Equal(offloads ? expected : OffloadCapabilities.None, pair.B.AcceptedOffloads);

        var (seconds, megabytes) = Transfer(a, b, "10.0.0.2", 4);
        var sender = a.Vm.Nics[0];
        double averageFrame = (double)sender.BytesTransmitted / sender.FramesTransmitted;
        output.WriteLine($"offloads {(offloads ? "on" : "off")}: {megabytes} MiB A->B in {seconds:F2} s = {megabytes / seconds:F2} MiB/s; " +
            $"A sent {sender.FramesTransmitted} frames ({sender.SuperFramesTransmitted} super-frames), {averageFrame:F0} bytes on average; B received {b.Vm.Nics[0].FramesReceived}");
        // How large the super-frames are depends on the sender's TCP pacing; that some crossed does not.
        Assert.True(offloads ? sender.SuperFramesTransmitted > 0 : sender.SuperFramesTransmitted == 0,
            $"offloads {offloads}: {sender.SuperFramesTransmitted} super-frames sent");
        Assert.True(offloads || averageFrame <= FrameLimits.MaximumLength);

        foreach (var nic in new[] { a.Vm.Nics[0], b.Vm.Nics[0] })
        {
            Assert.Equal(0, nic.TransmitDroppedMalformed + nic.TransmitDroppedOversized + nic.ReceiveDroppedMalformedBuffers + nic.ReceiveDroppedNotNegotiated);
        }

        Assert.Empty(a.DeviceErrors);
        Assert.Empty(b.DeviceErrors);
        a.Start("poweroff -f");
        b.Start("poweroff -f");
    }

    [Fact]
    public async Task A_guest_checkpointed_stopped_and_resumed_keeps_networking_and_a_wrong_mac_is_refused()
    {
        var stock = DebianStockGuest.Locate();
        string state = Path.Combine(Path.GetTempPath(), $"virtio-net-{Guid.NewGuid():N}.vmstate");
        using var pair = new InMemoryLinkPair();
        var configB = NetworkedGuest.Config(stock, "10.0.0.2/24", new VmNic(MacB, pair.B));
        try
        {
            using var a = NetworkedGuest.Boot("A", NetworkedGuest.Config(stock, "10.0.0.1/24", new VmNic(MacA, pair.A)));
            using (var b = NetworkedGuest.Boot("B", configB))
            {
                b.Run("ping -c 2 -W 5 10.0.0.1", Command);
                var cut = b.Vm.Checkpoint(state, incremental: false);
                await cut.Completion.WaitAsync(TimeSpan.FromMinutes(2));
            }

            // B is gone: A's pings go unanswered (the link is up, nothing is plugged into its other end).
            var (status, _) = RunStatus(a, "ping -c 1 -W 2 10.0.0.2");
            Assert.NotEqual(0, status);

            var wrong = configB with { Nics = [new VmNic(MacAddress.Parse("52:54:00:00:0a:99"), pair.B)] };
            var e = Assert.Throws<VmStateFormatException>(() => VirtualMachine.Restore(wrong, [state], _ => { }));
            Assert.Contains("52:54:00:00:0a:02", e.Message, StringComparison.Ordinal);
            Assert.Contains("52:54:00:00:0a:99", e.Message, StringComparison.Ordinal);

            using var resumed = NetworkedGuest.Resume("B (resumed)", configB, state);
            Assert.Contains("3 packets received", resumed.Run("ping -c 3 -W 5 10.0.0.1", Command), StringComparison.Ordinal);
            Assert.Contains("3 packets received", a.Run("ping -c 3 -W 5 10.0.0.2", Command), StringComparison.Ordinal);
            var (seconds, megabytes) = Transfer(a, resumed, "10.0.0.2", 1);
            output.WriteLine($"after the resume: {megabytes} MiB A->B in {seconds:F2} s");
            a.Start("poweroff -f");
            resumed.Start("poweroff -f");
        }
        finally
        {
            File.Delete(state);
        }
    }

    [Fact]
    public void A_guest_gets_its_address_by_dhcp_from_the_other_and_fetches_its_web_page()
    {
        var stock = DebianStockGuest.Locate();
        using var pair = new InMemoryLinkPair();
        using var a = NetworkedGuest.Boot("A", NetworkedGuest.Config(stock, "10.0.0.1/24", new VmNic(MacA, pair.A), "net.httpd=1"));
        AssertConsole(a, "debian-stock: httpd on port 80");
        a.Run("printf 'start 10.0.0.100\\nend 10.0.0.120\\ninterface eth0\\noption subnet 255.255.255.0\\noption router 10.0.0.1\\n" +
            "option dns 10.0.0.53\\nlease_file /tmp/leases\\n' > /tmp/udhcpd.conf && touch /tmp/leases && udhcpd /tmp/udhcpd.conf", Command);

        using var b = NetworkedGuest.Boot("B", NetworkedGuest.Config(stock, "dhcp", new VmNic(MacB, pair.B)));
        // udhcpd picks the address within its range from the client's MAC.
        var lease = System.Text.RegularExpressions.Regex.Match(b.ConsoleText, @"debian-stock: dhcp eth0 (10\.0\.0\.1[01][0-9]|10\.0\.0\.120)/24 router 10\.0\.0\.1 dns 10\.0\.0\.53");
        Assert.True(lease.Success, $"B applied no lease from A:\n{b.ConsoleText[^Math.Min(3000, b.ConsoleText.Length)..]}");
        AssertConsole(b, $"debian-stock: net eth0 52:54:00:00:0a:02 {lease.Groups[1].Value}/24");
        Assert.Contains("default via 10.0.0.1 dev eth0", b.Run("ip route", Command), StringComparison.Ordinal);
        Assert.Contains("nameserver 10.0.0.53", b.Run("cat /etc/resolv.conf", Command), StringComparison.Ordinal);
        Assert.Contains("served by the stock Debian guest", b.Run("wget -q -O - http://10.0.0.1/", Command), StringComparison.Ordinal);
        a.Start("poweroff -f");
        b.Start("poweroff -f");
    }

    private static void AssertConsole(ConsoleDrivenGuest guest, string line)
    {
        string text = guest.ConsoleText;
        Assert.True(text.Contains(line, StringComparison.Ordinal), $"{guest.Name}: no '{line}' on the console\n--- console (end) ---\n{(text.Length > 3000 ? text[^3000..] : text)}");
    }

    private static (double Seconds, int Mebibytes) Transfer(ConsoleDrivenGuest sender, ConsoleDrivenGuest receiver, string address, int mebibytes) =>
        (ConsoleDrivenGuest.SendOverTcp(sender, receiver, address, mebibytes, Command), mebibytes);

    private static (int Status, string Output) RunStatus(ConsoleDrivenGuest guest, string command)
    {
        guest.Start(command);
        return guest.Finish(Command);
    }
}
