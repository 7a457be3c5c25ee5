using Backup.TestSupport;

namespace Backup.Engine.Tests.Backups;

/// <summary>A fact that needs the Debian QEMU guest agent guest; skipped, saying how to build it, when there is none.</summary>
public sealed class DebianQgaFactAttribute : FactAttribute
{
    public DebianQgaFactAttribute()
    {
        if (DebianQgaGuest.TryLocate(out string why) is null)
        {
            Skip = why;
        }
    }
}
