using System.Text.Json;
using System.Text.Json.Nodes;

namespace Backup.Hypervisor.Agent;

/// <summary>The typed QGA commands (qga/qapi-schema.json); each answer's shape is checked.</summary>
public sealed partial class QemuGuestAgentClient
{
    /// <summary>How often <see cref="RunAsync"/> polls guest-exec-status.</summary>
    public static readonly TimeSpan ExecPollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>guest-ping: the agent is alive.</summary>
    public async Task PingAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        await ExecuteAsync("guest-ping", null, timeout, cancellationToken).ConfigureAwait(false);

    /// <summary>Pings until the agent answers or <paramref name="timeout"/> passes (the agent starts with the guest).</summary>
    public async Task WaitUntilReadyAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new QemuGuestAgentException("guest-ping", QemuGuestAgentErrorKind.Timeout, $"the agent did not come up within {timeout.TotalSeconds:0.###} s");
            }

            try
            {
                await PingAsync(left < TimeSpan.FromSeconds(2) ? left : TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (QemuGuestAgentException e) when (e.Kind != QemuGuestAgentErrorKind.GuestError)
            {
                // not up yet (or a stale stream): the next try resynchronises
            }
        }
    }

    /// <summary>guest-info: version and supported commands.</summary>
    public async Task<QgaAgentInfo> GetInfoAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        const string command = "guest-info";
        var value = await ExecuteAsync(command, null, timeout, cancellationToken).ConfigureAwait(false);
        var commands = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var entry in Array(command, Property(command, value, "supported_commands")))
        {
            commands[Text(command, entry, "name")!] = Property(command, entry, "enabled").ValueKind == JsonValueKind.True;
        }

        return new QgaAgentInfo(Text(command, value, "version")!, commands);
    }

    /// <summary>guest-fsfreeze-freeze (hooks run first): returns how many file systems were frozen.</summary>
    public async Task<int> FreezeAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Int("guest-fsfreeze-freeze", await ExecuteAsync("guest-fsfreeze-freeze", null, timeout, cancellationToken).ConfigureAwait(false));

    /// <summary>guest-fsfreeze-thaw (hooks run after): returns how many file systems were thawed.</summary>
    public async Task<int> ThawAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Int("guest-fsfreeze-thaw", await ExecuteAsync("guest-fsfreeze-thaw", null, timeout, cancellationToken).ConfigureAwait(false));

    /// <summary>guest-fsfreeze-status.</summary>
    public async Task<QgaFreezeStatus> GetFreezeStatusAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        const string command = "guest-fsfreeze-status";
        var value = await ExecuteAsync(command, null, timeout, cancellationToken).ConfigureAwait(false);
        return value.ValueKind == JsonValueKind.String ? value.GetString() switch
        {
            "thawed" => QgaFreezeStatus.Thawed,
            "frozen" => QgaFreezeStatus.Frozen,
            var other => throw Unexpected(command, $"status '{other}'"),
        } : throw Unexpected(command, $"a {value.ValueKind} instead of a status string");
    }

    /// <summary>guest-exec: starts <paramref name="path"/> with <paramref name="args"/> (and standard input) and returns its pid.</summary>
    public async Task<long> ExecAsync(string path, IReadOnlyList<string> args, byte[]? input, bool captureOutput, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        const string command = "guest-exec";
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(args);
        var arguments = new JsonObject
        {
            ["path"] = path,
            ["arg"] = new JsonArray([.. args.Select(a => JsonValue.Create(a))]),
            ["capture-output"] = captureOutput,
        };
        if (input is not null)
        {
            arguments["input-data"] = Convert.ToBase64String(input);
        }

        var value = await ExecuteAsync(command, arguments, timeout, cancellationToken).ConfigureAwait(false);
        return Long(command, Property(command, value, "pid"));
    }

    /// <summary>guest-exec-status of <paramref name="pid"/>.</summary>
    public async Task<QgaExecStatus> GetExecStatusAsync(long pid, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        const string command = "guest-exec-status";
        var value = await ExecuteAsync(command, new JsonObject { ["pid"] = pid }, timeout, cancellationToken).ConfigureAwait(false);
        return new QgaExecStatus(
            Property(command, value, "exited").ValueKind == JsonValueKind.True,
            OptionalInt(command, value, "exitcode"),
            OptionalInt(command, value, "signal"),
            Base64(command, value, "out-data"),
            Base64(command, value, "err-data"),
            value.TryGetProperty("out-truncated", out var ot) && ot.ValueKind == JsonValueKind.True,
            value.TryGetProperty("err-truncated", out var et) && et.ValueKind == JsonValueKind.True);
    }

    /// <summary>
    /// guest-exec, then guest-exec-status every <see cref="ExecPollInterval"/> until the process exits; the whole run
    /// gets <paramref name="timeout"/> (a process still running then is a timeout error naming its pid).
    /// </summary>
    public async Task<QgaExecStatus> RunAsync(string path, IReadOnlyList<string> args, byte[]? input, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        long pid = await ExecAsync(path, args, input, captureOutput: true, timeout, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var status = await GetExecStatusAsync(pid, Remaining(deadline, "guest-exec-status"), cancellationToken).ConfigureAwait(false);
            if (status.Exited)
            {
                return status;
            }

            if (DateTime.UtcNow + ExecPollInterval >= deadline)
            {
                throw new QemuGuestAgentException("guest-exec-status", QemuGuestAgentErrorKind.Timeout, $"'{path}' (pid {pid}) still runs after {timeout.TotalSeconds:0.###} s");
            }

            await Task.Delay(ExecPollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>guest-get-osinfo.</summary>
    public async Task<QgaOsInfo> GetOsInfoAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        const string command = "guest-get-osinfo";
        var v = await ExecuteAsync(command, null, timeout, cancellationToken).ConfigureAwait(false);
        _ = Object(command, v);
        return new QgaOsInfo(Text(command, v, "id", true), Text(command, v, "name", true), Text(command, v, "pretty-name", true),
            Text(command, v, "version", true), Text(command, v, "version-id", true), Text(command, v, "kernel-release", true),
            Text(command, v, "kernel-version", true), Text(command, v, "machine", true));
    }

    /// <summary>guest-network-get-interfaces.</summary>
    public async Task<IReadOnlyList<QgaNetworkInterface>> GetNetworkInterfacesAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        const string command = "guest-network-get-interfaces";
        var value = await ExecuteAsync(command, null, timeout, cancellationToken).ConfigureAwait(false);
        var interfaces = new List<QgaNetworkInterface>();
        foreach (var nic in Array(command, value))
        {
            var addresses = new List<QgaIpAddress>();
            if (nic.TryGetProperty("ip-addresses", out var list))
            {
                foreach (var a in Array(command, list))
                {
                    addresses.Add(new QgaIpAddress(Text(command, a, "ip-address-type")!, Text(command, a, "ip-address")!, Int(command, Property(command, a, "prefix"))));
                }
            }

            interfaces.Add(new QgaNetworkInterface(Text(command, nic, "name")!, Text(command, nic, "hardware-address", true), addresses));
        }

        return interfaces;
    }

    private static QemuGuestAgentException Unexpected(string command, string what) =>
        new(command, QemuGuestAgentErrorKind.UnexpectedAnswer, $"unexpected answer: {what}");

    private static JsonElement Object(string command, JsonElement value) =>
        value.ValueKind == JsonValueKind.Object ? value : throw Unexpected(command, $"a {value.ValueKind} instead of an object");

    private static JsonElement.ArrayEnumerator Array(string command, JsonElement value) =>
        value.ValueKind == JsonValueKind.Array ? value.EnumerateArray() : throw Unexpected(command, $"a {value.ValueKind} instead of an array");

    private static JsonElement Property(string command, JsonElement value, string name) =>
        Object(command, value).TryGetProperty(name, out var p) ? p : throw Unexpected(command, $"no \"{name}\"");

    private static string? Text(string command, JsonElement value, string name, bool optional = false)
    {
        if (optional && !Object(command, value).TryGetProperty(name, out _))
        {
            return null;
        }

        var p = Property(command, value, name);
        return p.ValueKind == JsonValueKind.String ? p.GetString() : throw Unexpected(command, $"\"{name}\" is a {p.ValueKind}, not a string");
    }

    private static long Long(string command, JsonElement value) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long n) ? n : throw Unexpected(command, $"{value.GetRawText()} is not an integer");

    private static int Int(string command, JsonElement value)
    {
        long n = Long(command, value);
        return n is >= int.MinValue and <= int.MaxValue ? (int)n : throw Unexpected(command, $"{n} is out of range");
    }

    private static int? OptionalInt(string command, JsonElement value, string name) =>
        value.TryGetProperty(name, out var p) ? Int(command, p) : null;

    private static byte[] Base64(string command, JsonElement value, string name)
    {
        string? text = Text(command, value, name, optional: true);
        try
        {
            return text is null ? [] : Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            throw Unexpected(command, $"\"{name}\" is not base64");
        }
    }
}
