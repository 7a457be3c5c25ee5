using System.Text;
using Backup.Hypervisor.Agent;

namespace Backup.Hypervisor.Tests.Agent;

/// <summary>
/// The QGA client against scripted byte streams from the guest's end: resynchronisation with guest-sync-delimited
/// and its 0xFF sentinel, partial lines, garbage, silence, oversize answers, guest errors and typed answers.
/// </summary>
public sealed class QemuGuestAgentClientTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);
    private readonly ScriptedQgaPeer _peer = new();

    public void Dispose() => _peer.Client.Dispose();

    [Fact]
    public async Task The_first_command_resynchronises_with_the_sentinel_and_stale_output_before_the_answer_is_ignored()
    {
        _peer.BeforeSyncAnswer = [.. "{\"return\": 5}\n{\"return\": {}}\nhalf a li"u8]; // an old session's answers and a cut-off line
        _peer.Reply = (_, _) => ScriptedQgaPeer.Line("{\"return\": {}}");
        await _peer.Client.PingAsync(Timeout);
        await _peer.Client.PingAsync(Timeout);
        Assert.Equal(1, _peer.Client.Resyncs);
        Assert.Equal(1, _peer.SentinelsSent);
        Assert.StartsWith("{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":", _peer.Requests[0], StringComparison.Ordinal);
        Assert.Equal(["{\"execute\":\"guest-ping\"}", "{\"execute\":\"guest-ping\"}"], _peer.Requests[1..]);
        Assert.Equal(2, _peer.Client.UnsolicitedLines); // the two stale answers; the cut-off line was dropped by the sentinel
    }

    [Fact]
    public async Task An_answer_split_into_single_bytes_is_reassembled()
    {
        _peer.Reply = (_, _) =>
        {
            foreach (byte b in ScriptedQgaPeer.Line("{\"return\": 2}"))
            {
                _peer.Client.Receive([b]);
            }

            return null;
        };
        Assert.Equal(2, await _peer.Client.FreezeAsync(Timeout));
    }

    [Fact]
    public async Task Garbage_is_a_typed_error_naming_the_command_and_the_next_command_resynchronises()
    {
        _peer.Reply = (command, _) => command == "guest-fsfreeze-freeze" ? [0x01, .. "not json at all\n"u8] : ScriptedQgaPeer.Line("{\"return\": 1}");
        var e = await Assert.ThrowsAsync<QemuGuestAgentException>(() => _peer.Client.FreezeAsync(Timeout));
        Assert.Equal((QemuGuestAgentErrorKind.Garbage, "guest-fsfreeze-freeze"), (e.Kind, e.Command));
        Assert.Contains("not JSON", e.Message, StringComparison.Ordinal);
        Assert.Contains("not json at all", e.Message, StringComparison.Ordinal);

        Assert.Equal(1, await _peer.Client.ThawAsync(Timeout));
        Assert.Equal(2, _peer.Client.Resyncs);

        _peer.Reply = (_, _) => ScriptedQgaPeer.Line("[1, 2]");
        var shape = await Assert.ThrowsAsync<QemuGuestAgentException>(() => _peer.Client.ThawAsync(Timeout));
        Assert.Equal(QemuGuestAgentErrorKind.Garbage, shape.Kind);
        Assert.Contains("neither \"return\" nor \"error\"", shape.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Silence_times_out_and_a_late_answer_cannot_be_taken_for_the_next_commands()
    {
        _peer.Reply = (_, _) => null;
        var e = await Assert.ThrowsAsync<QemuGuestAgentException>(() => _peer.Client.FreezeAsync(TimeSpan.FromMilliseconds(200)));
        Assert.Equal((QemuGuestAgentErrorKind.Timeout, "guest-fsfreeze-freeze"), (e.Kind, e.Command));
        Assert.Contains("no answer within 0.2 s", e.Message, StringComparison.Ordinal);

        // The freeze's answer arrives late, just before the next exchange's sync answer: it must be ignored.
        _peer.BeforeSyncAnswer = ScriptedQgaPeer.Line("{\"return\": 7}");
        _peer.Reply = (_, _) => ScriptedQgaPeer.Line("{\"return\": \"thawed\"}");
        Assert.Equal(QgaFreezeStatus.Thawed, await _peer.Client.GetFreezeStatusAsync(Timeout));
        Assert.Equal(2, _peer.Client.Resyncs);

        _peer.AnswerSync = false;
        _peer.Client.ConnectionChanged(); // the agent restarted: the next command syncs first, and nobody answers
        var sync = await Assert.ThrowsAsync<QemuGuestAgentException>(() => _peer.Client.PingAsync(TimeSpan.FromMilliseconds(200)));
        Assert.Equal((QemuGuestAgentErrorKind.Timeout, "guest-sync-delimited"), (sync.Kind, sync.Command));
    }

    [Fact]
    public async Task An_oversize_answer_fails_without_growing_and_the_stream_recovers()
    {
        _peer.Reply = (_, _) =>
        {
            var chunk = Enumerable.Repeat((byte)'x', 1 << 20).ToArray();
            for (int i = 0; i < 5; i++)
            {
                _peer.Client.Receive(chunk);
            }

            _peer.Client.Receive("\n"u8);
            return null;
        };
        var e = await Assert.ThrowsAsync<QemuGuestAgentException>(() => _peer.Client.GetOsInfoAsync(Timeout));
        Assert.Equal(QemuGuestAgentErrorKind.Oversize, e.Kind);
        Assert.Contains($"exceeded {QemuGuestAgentClient.MaxResponseBytes} bytes", e.Message, StringComparison.Ordinal);

        _peer.Reply = (_, _) => ScriptedQgaPeer.Line("{\"return\": {}}");
        await _peer.Client.PingAsync(Timeout);
    }

    [Fact]
    public async Task A_guest_error_names_the_command_class_and_desc_and_needs_no_resync()
    {
        _peer.Reply = (_, _) => ScriptedQgaPeer.Line("{\"error\": {\"class\": \"GenericError\", \"desc\": \"fsfreeze hook failed\"}}");
        var e = await Assert.ThrowsAsync<QemuGuestAgentException>(() => _peer.Client.FreezeAsync(Timeout));
        Assert.Equal((QemuGuestAgentErrorKind.GuestError, "guest-fsfreeze-freeze", "GenericError", "fsfreeze hook failed"), (e.Kind, e.Command, e.ErrorClass, e.GuestDescription));
        Assert.Contains("qemu-ga 'guest-fsfreeze-freeze': the guest refused: fsfreeze hook failed", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<QemuGuestAgentException>(() => _peer.Client.FreezeAsync(Timeout));
        Assert.Equal(1, _peer.Client.Resyncs);
    }

    [Fact]
    public async Task Exec_sends_base64_input_and_polls_the_status_until_the_process_exits()
    {
        int polls = 0;
        string? sentInput = null;
        _peer.Reply = (command, args) => command switch
        {
            "guest-exec" => Capture(args.GetProperty("input-data").GetString(), ScriptedQgaPeer.Line("{\"return\": {\"pid\": 42}}")),
            "guest-exec-status" when ++polls < 3 => ScriptedQgaPeer.Line("{\"return\": {\"exited\": false}}"),
            "guest-exec-status" => ScriptedQgaPeer.Line($"{{\"return\": {{\"exited\": true, \"exitcode\": 3, \"out-data\": \"{Convert.ToBase64String("hi\n"u8)}\", \"err-data\": \"\"}}}}"),
            _ => null,
        };
        var status = await _peer.Client.RunAsync("/bin/busybox", ["echo", "hi"], "in"u8.ToArray(), Timeout);
        Assert.Equal((true, 3, "hi\n", 3), (status.Exited, status.ExitCode, status.OutputText, polls));
        Assert.Equal("in", Encoding.UTF8.GetString(Convert.FromBase64String(sentInput!)));
        Assert.Contains("\"arg\":[\"echo\",\"hi\"]", _peer.Requests[1], StringComparison.Ordinal);

        _peer.Reply = (_, _) => ScriptedQgaPeer.Line("{\"return\": {\"exited\": true, \"out-data\": \"%%%\"}}");
        var bad = await Assert.ThrowsAsync<QemuGuestAgentException>(() => _peer.Client.GetExecStatusAsync(42, Timeout));
        Assert.Equal(QemuGuestAgentErrorKind.UnexpectedAnswer, bad.Kind);
        Assert.Contains("\"out-data\" is not base64", bad.Message, StringComparison.Ordinal);

        byte[] Capture(string? input, byte[] answer)
        {
            sentInput = input;
            return answer;
        }
    }

    [Fact]
    public async Task Os_info_and_interfaces_are_typed_and_a_wrong_shape_is_named()
    {
        _peer.Reply = (command, _) => command == "guest-get-osinfo"
            ? ScriptedQgaPeer.Line("{\"return\": {\"id\": \"debian\", \"pretty-name\": \"Debian GNU/Linux 13 (trixie)\", \"machine\": \"riscv64\", \"kernel-release\": \"6.12\"}}")
            : ScriptedQgaPeer.Line("{\"return\": [{\"name\": \"lo\", \"hardware-address\": \"00:00:00:00:00:00\", \"ip-addresses\": [{\"ip-address-type\": \"ipv4\", \"ip-address\": \"127.0.0.1\", \"prefix\": 8}]}, {\"name\": \"eth0\"}]}");
        var os = await _peer.Client.GetOsInfoAsync(Timeout);
        Assert.Equal(("debian", "riscv64", null), (os.Id, os.Machine, os.Version));
        var nics = await _peer.Client.GetNetworkInterfacesAsync(Timeout);
        Assert.Equal(["lo", "eth0"], nics.Select(n => n.Name));
        Assert.Equal(new QgaIpAddress("ipv4", "127.0.0.1", 8), Assert.Single(nics[0].Addresses));
        Assert.Empty(nics[1].Addresses);

        _peer.Reply = (_, _) => ScriptedQgaPeer.Line("{\"return\": {\"name\": \"lo\"}}");
        var e = await Assert.ThrowsAsync<QemuGuestAgentException>(() => _peer.Client.GetNetworkInterfacesAsync(Timeout));
        Assert.Equal(QemuGuestAgentErrorKind.UnexpectedAnswer, e.Kind);
        Assert.Contains("instead of an array", e.Message, StringComparison.Ordinal);
    }
}
