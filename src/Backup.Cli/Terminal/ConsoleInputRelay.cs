namespace Backup.Cli.Terminal;

/// <summary>
/// Keyboard (or piped stdin) bytes to whichever VM is running in the foreground. Bytes that arrive while no VM is
/// attached (before the first one is built, or between the two machines of a guest reboot) wait, up to
/// <see cref="PendingLimit"/> bytes, and go to the next VM attached; a piped script is not lost to a race with boot.
/// </summary>
public sealed class ConsoleInputRelay
{
    /// <summary>How many bytes wait for a VM at most; more are dropped (a terminal never gets near this).</summary>
    public const int PendingLimit = 64 * 1024;

    private readonly Lock _lock = new();
    private readonly List<byte> _pending = [];
    private Action<byte[]>? _target;

    /// <summary>Bytes dropped because nothing took them and <see cref="PendingLimit"/> was reached.</summary>
    public long Dropped { get; private set; }

    /// <summary>Delivers <paramref name="bytes"/> to the attached VM, or keeps them for the next one (any thread).</summary>
    public void Send(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        lock (_lock)
        {
            if (_target is { } target)
            {
                target(bytes);
                return;
            }

            int room = PendingLimit - _pending.Count;
            _pending.AddRange(room >= bytes.Length ? bytes : bytes[..Math.Max(room, 0)]);
            Dropped += Math.Max(bytes.Length - Math.Max(room, 0), 0);
        }
    }

    /// <summary>Makes <paramref name="target"/> the receiver, first handing it whatever waited.</summary>
    public void Attach(Action<byte[]> target)
    {
        ArgumentNullException.ThrowIfNull(target);
        lock (_lock)
        {
            if (_pending.Count > 0)
            {
                target([.. _pending]);
                _pending.Clear();
            }

            _target = target;
        }
    }

    /// <summary>No VM takes input any more (it has stopped); later bytes wait for the next <see cref="Attach"/>.</summary>
    public void Detach()
    {
        lock (_lock)
        {
            _target = null;
        }
    }
}
