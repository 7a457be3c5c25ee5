using System.Net;
using Backup.Engine.Networks;
using Backup.Engine.Vms;

namespace Backup.Engine.Tests.Networks;

/// <summary>Network definitions, NIC and port-forward syntax, and the checks a VM definition makes of them.</summary>
public sealed class NetworkDefinitionTests
{
    private static readonly VmDefinition Vm = new() { Name = "db", Kernel = "/k" };

    [Fact]
    public void A_nic_is_parsed_from_the_command_line_syntax()
    {
        Assert.Equal(new VmNicDefinition { Network = "lab", Mac = string.Empty }, VmNicDefinition.Parse("network=lab"));
        Assert.Equal(new VmNicDefinition { Network = "lab", Mac = "52:54:00:01:02:03" }, VmNicDefinition.Parse("network=lab,mac=52:54:00:01:02:03"));
        Assert.Contains("names no network", Assert.Throws<ArgumentException>(() => VmNicDefinition.Parse("mac=52:54:00:01:02:03")).Message, StringComparison.Ordinal);
        Assert.Contains("'model=e1000' is not understood", Assert.Throws<ArgumentException>(() => VmNicDefinition.Parse("network=lab,model=e1000")).Message, StringComparison.Ordinal);
        Assert.Contains("each once", Assert.Throws<ArgumentException>(() => VmNicDefinition.Parse("network=a,network=b")).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tcp:127.0.0.1:15432-:5432", "127.0.0.1", 15432, 5432, 0)]
    [InlineData("tcp::8080-:80", "127.0.0.1", 8080, 80, 0)]
    [InlineData("tcp:8080-:80,nic=1", "127.0.0.1", 8080, 80, 1)]
    [InlineData("tcp:[::1]:2222-:22", "[::1]", 2222, 22, 0)]
    public void A_forward_is_parsed_in_qemus_hostfwd_syntax(string text, string address, int host, int guest, int nic)
    {
        var forward = PortForwardDefinition.Parse(text);
        Assert.Equal(address, forward.HostAddress);
        Assert.Equal((host, guest, nic), (forward.HostPort, forward.GuestPort, forward.Nic));
    }

    [Theory]
    [InlineData("udp:127.0.0.1:53-:53", "only tcp forwards")]
    [InlineData("tcp:0.0.0.0:8080-:80", "not a loopback address")]
    [InlineData("tcp:192.168.1.5:8080-:80", "not a loopback address")]
    [InlineData("tcp:127.0.0.1:8080-10.0.0.5:80", "comes from the VM's DHCP lease")]
    [InlineData("tcp:127.0.0.1:70000-:80", "ports are 1..65535")]
    [InlineData("tcp:127.0.0.1:x-:80", "is not tcp:")]
    [InlineData("tcp:127.0.0.1:80", "is not tcp:")]
    [InlineData("tcp:8080-:80,nic=9", "NIC 9 does not exist")]
    public void A_malformed_or_unsafe_forward_is_refused_naming_it(string text, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => PortForwardDefinition.Parse(text));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Contains(text.Split(',')[0], e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_vm_checks_its_nics_and_forwards()
    {
        var nic = new VmNicDefinition { Network = "lab", Mac = "52:54:00:00:00:01" };
        (Vm with { Nics = [nic], Forwards = [PortForwardDefinition.Parse("tcp:5432-:5432")] }).Validate();
        Assert.Contains("needs a network card", Assert.Throws<ArgumentException>(() => (Vm with { Forwards = [PortForwardDefinition.Parse("tcp:5432-:5432")] }).Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("given to two NICs", Assert.Throws<ArgumentException>(() => (Vm with { Nics = [nic, nic] }).Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("group or zero address", Assert.Throws<ArgumentException>(() => (Vm with { Nics = [nic with { Mac = "01:00:5e:00:00:01" }] }).Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("not a MAC address", Assert.Throws<ArgumentException>(() => (Vm with { Nics = [nic with { Mac = "52:54:00" }] }).Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("not a valid network name", Assert.Throws<ArgumentException>(() => (Vm with { Nics = [nic with { Network = "Lab!" }] }).Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("at most 4", Assert.Throws<ArgumentException>(() => (Vm with { Nics = Enumerable.Range(1, 5).Select(i => nic with { Mac = $"52:54:00:00:00:0{i}" }).ToArray() }).Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("forwarded twice", Assert.Throws<ArgumentException>(() => (Vm with
        {
            Nics = [nic],
            Forwards = [PortForwardDefinition.Parse("tcp:5432-:5432"), PortForwardDefinition.Parse("tcp:5432-:22")],
        }).Validate()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_macs_are_chosen_unique_and_given_ones_are_normalised()
    {
        var vm = Vm with { Nics = [new VmNicDefinition { Network = "a" }, new VmNicDefinition { Network = "b", Mac = "52-54-00-AA-BB-CC" }] };
        var complete = vm.WithMacAddresses(new HashSet<string>(StringComparer.Ordinal));
        Assert.Equal("52:54:00:aa:bb:cc", complete.Nics[1].Mac);
        Assert.StartsWith("52:54:00:", complete.Nics[0].Mac, StringComparison.Ordinal);
        Assert.NotEqual(complete.Nics[0].Mac, complete.Nics[1].Mac);
        complete.Validate();
        var roundTrip = VmDefinition.FromJson(complete.ToJson(), "test");
        Assert.Equal(complete.Nics, roundTrip.Nics);
    }

    [Fact]
    public void A_definition_without_networking_written_before_it_existed_still_loads()
    {
        string old = """{ "name": "db", "kernel": "/k", "disks": [], "memoryBytes": 268435456, "cpus": 1, "commandLine": "console=ttyS0", "agentChannel": false, "autostart": false }""";
        var definition = VmDefinition.FromJson(old, "old.json");
        Assert.Empty(definition.Nics);
        Assert.Empty(definition.Forwards);
    }

    [Fact]
    public void Networks_get_the_first_free_default_subnet_and_bad_subnets_are_named()
    {
        Assert.Equal("10.100.0.0/24", NetworkDefinition.FreeSubnet([]));
        Assert.Equal("10.102.0.0/24", NetworkDefinition.FreeSubnet([IPNetwork.Parse("10.100.0.0/24"), IPNetwork.Parse("10.101.0.0/16")]));
        new NetworkDefinition { Name = "lab", Subnet = "192.168.50.0/24" }.Validate();
        Assert.Contains("not an IPv4 network", Assert.Throws<ArgumentException>(() => new NetworkDefinition { Name = "lab", Subnet = "fd00::/64" }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("/30 prefix", Assert.Throws<ArgumentException>(() => new NetworkDefinition { Name = "lab", Subnet = "10.0.0.0/30" }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("not a valid network name", Assert.Throws<ArgumentException>(() => new NetworkDefinition { Name = "9lab", Subnet = "10.0.0.0/24" }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("not a DNS domain", Assert.Throws<ArgumentException>(() => new NetworkDefinition { Name = "lab", Subnet = "10.0.0.0/24", Domain = "a..b" }.Validate()).Message, StringComparison.Ordinal);
        Assert.Equal("lab.lab", new NetworkDefinition { Name = "lab" }.EffectiveDomain);
        var damaged = Assert.Throws<FormatException>(() => NetworkDefinition.FromJson("""{ "name": "lab", "subnet": "10.0.0.0/33" }""", "/data/networks/lab/network.json"));
        Assert.Contains("/data/networks/lab/network.json: network 'lab'", damaged.Message, StringComparison.Ordinal);
    }
}
