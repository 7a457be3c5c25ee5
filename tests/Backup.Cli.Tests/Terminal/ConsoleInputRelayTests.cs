using Backup.Cli.Terminal;

namespace Backup.Cli.Tests.Terminal;

public sealed class ConsoleInputRelayTests
{
    [Fact]
    public void Input_before_a_vm_is_attached_waits_for_it_and_arrives_in_order()
    {
        var relay = new ConsoleInputRelay();
        var received = new List<byte>();
        relay.Send("ab"u8.ToArray());
        relay.Send("c"u8.ToArray());
        relay.Attach(received.AddRange);
        relay.Send("d"u8.ToArray());
        Assert.Equal("abcd"u8.ToArray(), received);
    }

    [Fact]
    public void Input_after_a_vm_stopped_goes_to_the_next_one_not_the_stopped_one()
    {
        var relay = new ConsoleInputRelay();
        var first = new List<byte>();
        var second = new List<byte>();
        relay.Attach(first.AddRange);
        relay.Send("r"u8.ToArray());
        relay.Detach();
        relay.Send("q"u8.ToArray());
        relay.Attach(second.AddRange);
        Assert.Equal("r"u8.ToArray(), first);
        Assert.Equal("q"u8.ToArray(), second);
    }

    [Fact]
    public void Waiting_input_is_bounded_and_what_is_dropped_is_counted()
    {
        var relay = new ConsoleInputRelay();
        relay.Send(new byte[ConsoleInputRelay.PendingLimit - 10]);
        relay.Send(new byte[25]);
        relay.Send(new byte[5]);
        var received = new List<byte>();
        relay.Attach(received.AddRange);
        Assert.Equal(ConsoleInputRelay.PendingLimit, received.Count);
        Assert.Equal(20, relay.Dropped);
    }
}
