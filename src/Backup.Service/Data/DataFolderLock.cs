using System.Globalization;

namespace Backup.Service.Data;

/// <summary>
/// The data folder's exclusive lock: whoever holds it (the service, or a CLI command when no service runs) is the
/// only process running the folder's VMs and writing its catalog, so the two never corrupt each other. An OS file
/// lock, released by the kernel when the holder dies, so a crash never leaves the folder locked. Who holds it is
/// written beside it (.lock.holder) to name them in the refusal.
/// </summary>
public sealed class DataFolderLock : IDisposable
{
    private readonly FileStream _stream;
    private readonly string _holderPath;

    private DataFolderLock(FileStream stream, string holderPath)
    {
        _stream = stream;
        _holderPath = holderPath;
    }

    /// <summary>Takes the lock, or returns null with <paramref name="holder"/> saying who has it.</summary>
    public static DataFolderLock? TryAcquire(ApplianceData data, string purpose, out string holder)
    {
        ArgumentNullException.ThrowIfNull(data);
        data.EnsureCreated();
        string holderPath = data.LockPath + ".holder";
        FileStream stream;
        try
        {
            stream = new FileStream(data.LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            holder = ReadHolder(holderPath);
            return null;
        }

        string text = string.Create(CultureInfo.InvariantCulture, $"pid {Environment.ProcessId} ({purpose}) since {DateTimeOffset.UtcNow:u}");
        File.WriteAllText(holderPath, text);
        holder = text;
        return new DataFolderLock(stream, holderPath);
    }

    /// <summary>Takes the lock or throws <see cref="DataFolderBusyException"/> naming the holder.</summary>
    public static DataFolderLock Acquire(ApplianceData data, string purpose) =>
        TryAcquire(data, purpose, out string holder)
        ?? throw new DataFolderBusyException($"the data folder {data.Root} is in use by {holder}");

    public void Dispose()
    {
        try
        {
            File.Delete(_holderPath);
        }
        catch (IOException)
        {
            // Stale holder text is harmless: it is only read when the lock is actually held.
        }

        _stream.Dispose();
    }

    private static string ReadHolder(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (IOException)
        {
            return "another process";
        }
    }
}
