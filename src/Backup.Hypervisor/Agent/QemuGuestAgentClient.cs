using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Backup.Hypervisor.Agent;

/// <summary>
/// Host side of the standard QEMU guest agent (qemu-ga) on the virtio-serial port <c>org.qemu.guest_agent.0</c>:
/// one JSON request <c>{"execute":..., "arguments":...}</c> at a time, answered by one line, <c>{"return":...}</c> or
/// <c>{"error":{"class":...,"desc":...}}</c>. Before the first command, and after any timeout, garbage or oversize
/// answer, or a reconnection of the guest's end, the client resynchronises as the protocol prescribes: it sends the
/// 0xFF byte (the agent drops any partial request), then guest-sync-delimited with a fresh random id, and ignores
/// everything until the answer carrying that id; the agent puts 0xFF before that answer, and a 0xFF from the guest
/// always resets the client's parser. Answers are bounded by <see cref="MaxResponseBytes"/>; every failure is a
/// <see cref="QemuGuestAgentException"/> naming the command, never a crash. Bytes from the guest arrive on the VM
/// thread through <see cref="Receive"/>; commands may be issued from any thread (they queue).
/// </summary>
public sealed partial class QemuGuestAgentClient : IDisposable
{
    /// <summary>Largest answer accepted (guest-exec-status output is base64 in it); longer ones fail as oversize.</summary>
    public const int MaxResponseBytes = 4 << 20;

    /// <summary>The sentinel byte of guest-sync-delimited.</summary>
    public const byte Sentinel = 0xFF;

    private readonly Action<byte[]> _send;
    private readonly Action? _discardUnsent;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Lock _lock = new();
    private readonly MemoryStream _line = new();
    private bool _discarding;
    private TaskCompletionSource<JsonElement>? _pending;
    private string _pendingCommand = string.Empty;
    private long? _syncId;
    private int _ignoredWhileSyncing;
    private string? _lastIgnored;
    private volatile bool _needsSync = true;

    /// <param name="send">Delivers request bytes to the guest's end of the port.</param>
    /// <param name="discardUnsent">Drops request bytes not yet taken by the guest (stale ones, before a resync); optional.</param>
    public QemuGuestAgentClient(Action<byte[]> send, Action? discardUnsent = null)
    {
        ArgumentNullException.ThrowIfNull(send);
        _send = send;
        _discardUnsent = discardUnsent;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _gate.Dispose();
        _line.Dispose();
    }

    /// <summary>Complete lines from the guest that answered nothing pending (stale answers, noise).</summary>
    public long UnsolicitedLines { get; private set; }

    /// <summary>Times the client resynchronised with guest-sync-delimited.</summary>
    public long Resyncs { get; private set; }

    /// <summary>
    /// The guest's end of the port was opened or closed (the agent started, exited or restarted): whatever was in
    /// flight is lost, so the next command resynchronises first.
    /// </summary>
    public void ConnectionChanged() => _needsSync = true;

    /// <summary>Feeds bytes the guest wrote to the port (VM thread).</summary>
    public void Receive(ReadOnlySpan<byte> data)
    {
        List<byte[]> complete = [];
        lock (_lock)
        {
            foreach (byte b in data)
            {
                if (b == Sentinel)
                {
                    _line.SetLength(0);
                    _discarding = false;
                }
                else if (b == (byte)'\n')
                {
                    if (!_discarding && _line.Length > 0)
                    {
                        complete.Add(_line.ToArray());
                    }

                    _line.SetLength(0);
                    _discarding = false;
                }
                else if (!_discarding)
                {
                    if (_line.Length >= MaxResponseBytes)
                    {
                        _line.SetLength(0);
                        _discarding = true;
                        Fail(QemuGuestAgentErrorKind.Oversize, $"the answer exceeded {MaxResponseBytes} bytes before its end");
                    }
                    else
                    {
                        _line.WriteByte(b);
                    }
                }
            }

            foreach (byte[] line in complete)
            {
                Dispatch(line);
            }
        }
    }

    /// <summary>
    /// Runs one command and returns its "return" value. <paramref name="arguments"/> is serialised as the
    /// "arguments" object (null: none). Resynchronises first when needed; the whole exchange gets <paramref name="timeout"/>.
    /// </summary>
    public async Task<JsonElement> ExecuteAsync(string command, JsonObject? arguments, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(command);
        var deadline = DateTime.UtcNow + timeout;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_needsSync)
            {
                await SyncLockedAsync(Remaining(deadline, command), cancellationToken).ConfigureAwait(false);
            }

            var request = new JsonObject { ["execute"] = command };
            if (arguments is not null)
            {
                request["arguments"] = arguments;
            }

            return await ExchangeAsync(command, Encoding.UTF8.GetBytes(request.ToJsonString() + "\n"), null, Remaining(deadline, command), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>guest-sync-delimited: puts the stream in step with the agent (the client also does it by itself when needed).</summary>
    public async Task SyncAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await SyncLockedAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private static TimeSpan Remaining(DateTime deadline, string command)
    {
        var left = deadline - DateTime.UtcNow;
        return left > TimeSpan.Zero ? left : throw new QemuGuestAgentException(command, QemuGuestAgentErrorKind.Timeout, "no time left for the command after resynchronising");
    }

    private async Task SyncLockedAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        const string command = "guest-sync-delimited";
        _discardUnsent?.Invoke();
        long id = Random.Shared.NextInt64(1, 1L << 52);
        byte[] request = Encoding.UTF8.GetBytes($"{{\"execute\":\"{command}\",\"arguments\":{{\"id\":{id}}}}}\n");
        var payload = new byte[request.Length + 1];
        payload[0] = Sentinel;
        request.CopyTo(payload, 1);
        Resyncs++;
        await ExchangeAsync(command, payload, id, timeout, cancellationToken).ConfigureAwait(false);
        _needsSync = false;
    }

    private async Task<JsonElement> ExchangeAsync(string command, byte[] payload, long? syncId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var answer = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            _pending = answer;
            _pendingCommand = command;
            _syncId = syncId;
            _ignoredWhileSyncing = 0;
            _lastIgnored = null;
        }

        try
        {
            _send(payload);
            return await answer.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            _needsSync = true;
            string ignored;
            lock (_lock)
            {
                ignored = _ignoredWhileSyncing == 0 ? string.Empty
                    : $" ({_ignoredWhileSyncing} line(s) that were not the answer were ignored, the last: {_lastIgnored})";
            }

            throw new QemuGuestAgentException(command, QemuGuestAgentErrorKind.Timeout, $"no answer within {timeout.TotalSeconds:0.###} s{ignored}", e);
        }
        catch (QemuGuestAgentException e) when (e.Kind != QemuGuestAgentErrorKind.GuestError)
        {
            _needsSync = true;
            throw;
        }
        catch (OperationCanceledException)
        {
            _needsSync = true;
            throw;
        }
        finally
        {
            lock (_lock)
            {
                if (ReferenceEquals(_pending, answer))
                {
                    _pending = null;
                    _syncId = null;
                }
            }
        }
    }

    /// <summary>Fails the pending command (under the lock).</summary>
    private void Fail(QemuGuestAgentErrorKind kind, string message)
    {
        if (_pending is { } pending && _syncId is null)
        {
            pending.TrySetException(new QemuGuestAgentException(_pendingCommand, kind, message));
        }
    }

    /// <summary>One complete line from the guest (under the lock).</summary>
    private void Dispatch(byte[] line)
    {
        if (line.AsSpan().Trim(" \t\r"u8).IsEmpty)
        {
            return;
        }

        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(line, new JsonDocumentOptions { MaxDepth = 32 });
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            if (_pending is null || _syncId is not null)
            {
                Ignore(line); // while resynchronising, anything but the sync answer is stale
                return;
            }

            Fail(QemuGuestAgentErrorKind.Garbage, $"the answer is not JSON ({e.Message}): {Preview(line)}");
            return;
        }

        if (_pending is not { } pending)
        {
            Ignore(line);
            return;
        }

        if (_syncId is { } id)
        {
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("return", out var value)
                && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long echoed) && echoed == id)
            {
                pending.TrySetResult(value);
            }
            else
            {
                Ignore(line);
            }

            return;
        }

        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("return", out var result))
        {
            pending.TrySetResult(result);
        }
        else if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
        {
            string? errorClass = error.TryGetProperty("class", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
            string? desc = error.TryGetProperty("desc", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
            pending.TrySetException(new QemuGuestAgentException(_pendingCommand, QemuGuestAgentErrorKind.GuestError,
                $"the guest refused: {desc ?? "(no desc)"} ({errorClass ?? "no class"})") { ErrorClass = errorClass, GuestDescription = desc });
        }
        else
        {
            Fail(QemuGuestAgentErrorKind.Garbage, $"the answer has neither \"return\" nor \"error\": {Preview(line)}");
        }
    }

    private void Ignore(byte[] line)
    {
        UnsolicitedLines++;
        _ignoredWhileSyncing++;
        _lastIgnored = Preview(line);
    }

    private static string Preview(byte[] line)
    {
        string text = Encoding.UTF8.GetString(line, 0, Math.Min(line.Length, 120));
        var printable = new StringBuilder(text.Length);
        foreach (char ch in text)
        {
            printable.Append(char.IsControl(ch) ? '?' : ch);
        }

        return line.Length > 120 ? printable + "..." : printable.ToString();
    }
}
