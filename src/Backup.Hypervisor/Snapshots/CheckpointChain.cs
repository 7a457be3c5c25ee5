namespace Backup.Hypervisor.Snapshots;

/// <summary>Orders the state files of a folder into the chain that ends at the newest checkpoint.</summary>
public static class CheckpointChain
{
    public const string Extension = ".vmstate";

    /// <summary>
    /// The full checkpoint and the incrementals leading to the newest file of <paramref name="directory"/>.
    /// Throws <see cref="VmStateFormatException"/> naming the missing link when the chain is broken.
    /// </summary>
    public static IReadOnlyList<string> Latest(string directory)
    {
        var files = Directory.GetFiles(directory, "*" + Extension);
        if (files.Length == 0)
        {
            throw new VmStateFormatException($"no checkpoints ({Extension} files) in '{directory}'");
        }

        var byId = new Dictionary<Guid, (string Path, VmStateHeader Header)>();
        foreach (string file in files)
        {
            var header = VmStateFile.ReadHeader(file);
            byId[header.Id] = (file, header);
        }

        var newest = byId.Values.MaxBy(v => v.Header.Created);
        var chain = new List<string>();
        for (var current = newest; ; )
        {
            chain.Add(current.Path);
            if (!current.Header.IsIncremental)
            {
                break;
            }

            Guid parent = current.Header.ParentId;
            if (!byId.TryGetValue(parent, out current))
            {
                throw new VmStateFormatException($"checkpoint '{chain[^1]}' needs its parent {parent}, which is not in '{directory}'");
            }

            if (chain.Count > byId.Count)
            {
                throw new VmStateFormatException($"the checkpoints in '{directory}' form a loop");
            }
        }

        chain.Reverse();
        return chain;
    }
}
