using System.Text;
using Backup.Hypervisor.Agent;

namespace Backup.Hypervisor.Tests.Agent;

/// <summary>The host side of the agent protocol against a scripted guest end of the channel.</summary>
public sealed class GuestAgentClientTests
{
    private static readonly TimeSpan Short = TimeSpan.FromSeconds(5);

    /// <summary>A guest end that answers each request line through <paramref name="answer"/> (null = stay silent).</summary>
    private static GuestAgentClient Connect(Func<string, string, string?> answer)
    {
        GuestAgentClient? client = null;
        client = new GuestAgentClient(bytes =>
        {
            string line = Encoding.ASCII.GetString(bytes).TrimEnd('\n');
            string[] parts = line.Split(' ', 2);
            string? reply = answer(parts[0], parts[1]);
            if (reply is not null)
            {
                // Answer from another thread, as the VM thread would.
                Task.Run(() =>
                {
                    foreach (byte b in Encoding.ASCII.GetBytes(reply + "\n"))
                    {
                        client!.Receive(b);
                    }
                });
            }
        });
        return client;
    }

    [Fact]
    public async Task Ping_freeze_thaw_uptime_and_check_round_trip()
    {
        var client = Connect((id, command) => command switch
        {
            "ping" => $"{id} ok pong",
            "freeze" => $"{id} ok frozen",
            "thaw" => $"{id} ok thawed",
            "uptime" => $"{id} ok 12.50",
            "check db" => $"{id} ok integrity=ok maxseq=40 count=40 badsum=0",
            _ => $"{id} err unknown command",
        });

        await client.PingAsync(Short);
        await client.FreezeAsync(Short);
        await client.ThawAsync(Short);
        Assert.Equal(TimeSpan.FromSeconds(12.5), await client.UptimeAsync(Short));
        var check = await client.CheckAsync("db", Short);
        Assert.Equal("ok", check.Integrity);
        Assert.Equal(40, check.MaxSequence);
        Assert.True(check.Healthy);
    }

    [Fact]
    public async Task An_err_answer_is_an_exception_carrying_the_guest_message()
    {
        var client = Connect((id, _) => $"{id} err Device or resource busy");
        var e = await Assert.ThrowsAsync<GuestAgentException>(() => client.FreezeAsync(Short));
        Assert.False(e.TimedOut);
        Assert.Contains("Device or resource busy", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_silent_agent_times_out_and_its_late_answer_is_ignored()
    {
        string? lastId = null;
        var client = Connect((id, _) =>
        {
            lastId = id;
            return null;
        });
        var e = await Assert.ThrowsAsync<GuestAgentException>(() => client.PingAsync(TimeSpan.FromMilliseconds(100)));
        Assert.True(e.TimedOut);
        foreach (byte b in Encoding.ASCII.GetBytes($"{lastId} ok pong\n"))
        {
            client.Receive(b);
        }

        Assert.Equal(1, client.UnmatchedLines);
    }

    [Fact]
    public async Task Garbage_and_overlong_lines_from_the_guest_do_not_disturb_answers()
    {
        var client = Connect((id, _) => new string('x', GuestAgentClient.MaxLineLength + 10) + "\n\u0001\u00ff junk\n" + $"{id} ok pong");
        await client.PingAsync(Short);
        Assert.True(client.UnmatchedLines >= 1);
    }

    [Fact]
    public void The_ready_announcement_is_recognised()
    {
        var client = Connect((_, _) => null);
        foreach (byte b in "<none> ok agent-ready\n"u8)
        {
            client.Receive(b);
        }

        Assert.True(client.AnnouncedReady);
    }

    [Fact]
    public void A_check_with_gaps_or_bad_checksums_is_not_healthy()
    {
        Assert.False(GuestCheckResult.Parse("db", "integrity=ok maxseq=41 count=40 badsum=0").Healthy);
        Assert.False(GuestCheckResult.Parse("db", "integrity=ok maxseq=40 count=40 badsum=1").Healthy);
        Assert.False(GuestCheckResult.Parse("db", "integrity=row_12_missing_from_index maxseq=40 count=40 badsum=0").Healthy);
    }
}
