using System.Text;

namespace Backup.Hypervisor.Boot;

/// <summary>
/// Watches the console of a machine booting through U-Boot for the moment its autoboot gives up: U-Boot prints
/// its <c>=&gt; </c> prompt at the start of a line when distro boot found no extlinux.conf, boot script or network
/// boot. Nobody would answer that prompt in an unattended boot, so the machine stops with an error instead of
/// idling forever. It stands down for good once U-Boot hands over to a kernel ("Starting kernel ...") or the
/// host sends console input (someone stopped autoboot to use the prompt).
/// </summary>
internal sealed class BootTargetWatcher(Action onNothingToBoot)
{
    private const string Prompt = "=> ";
    private const string Handover = "Starting kernel ...";

    private readonly StringBuilder _line = new();
    private volatile bool _done;

    /// <summary>What the machine reports when the watcher fires.</summary>
    public const string Message =
        "U-Boot found nothing to boot and stopped at its prompt: no disk holds a bootable extlinux/extlinux.conf " +
        "(or the kernel it names failed to load; see the console above). Make the disk as docs/firmware-boot.md shows, " +
        "or press a key during U-Boot's countdown to use its prompt.";

    /// <summary>The host typed something: whatever prompt follows is for them.</summary>
    public void InputArrived() => _done = true;

    /// <summary>One console byte from the guest.</summary>
    public void Observe(byte b)
    {
        if (_done)
        {
            return;
        }

        if (b is (byte)'\n' or (byte)'\r')
        {
            _line.Clear();
            return;
        }

        if (_line.Length < 64)
        {
            _line.Append((char)b);
        }

        if (_line.Length == Prompt.Length && _line.ToString() == Prompt)
        {
            _done = true;
            onNothingToBoot();
        }
        else if (_line.Length == Handover.Length && _line.ToString() == Handover)
        {
            _done = true;
        }
    }
}
