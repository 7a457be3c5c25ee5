namespace Backup.Disks.BlockDevices;

/// <summary>A disk image that cannot be used, with the file and the reason.</summary>
public sealed class DiskImageException : Exception
{
    public DiskImageException(string path, string reason, Exception? inner = null)
        : base($"disk image '{path}': {reason}", inner)
    {
        ImagePath = path;
        Reason = reason;
    }

    public DiskImageException() { ImagePath = ""; Reason = ""; }
    public DiskImageException(string message) : base(message) { ImagePath = ""; Reason = message; }
    public DiskImageException(string message, Exception inner) : base(message, inner) { ImagePath = ""; Reason = message; }

    /// <summary>The image file.</summary>
    public string ImagePath { get; }

    /// <summary>What is wrong with it.</summary>
    public string Reason { get; }
}
