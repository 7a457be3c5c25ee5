namespace Backup.Hypervisor.Tests.DeviceTree;

/// <summary>
/// The output of <c>dtc -I dtb -O dts</c> for a blob, parsed into nodes by path. dtc prints one property per line
/// and one node header per line, which is all this reader relies on.
/// </summary>
internal sealed class DtsDocument
{
    private readonly Dictionary<string, DtsNode> _nodes = new(StringComparer.Ordinal);

    private DtsDocument(string text, string warnings)
    {
        Text = text;
        Warnings = warnings;
    }

    public string Text { get; }

    /// <summary>Whatever dtc printed on stderr (its checks' warnings).</summary>
    public string Warnings { get; }

    public List<string> MemoryReservations { get; } = [];

    public DtsNode Root => this["/"];

    public IEnumerable<string> Paths => _nodes.Keys;

    public DtsNode this[string path] =>
        _nodes.TryGetValue(path, out var node)
            ? node
            : throw new KeyNotFoundException($"no node {path} in:\n{Text}");

    public bool Contains(string path) => _nodes.ContainsKey(path);

    /// <summary>Writes the blob to a temporary file and decodes it with the real dtc.</summary>
    public static DtsDocument Decode(byte[] dtb)
    {
        var file = Path.Combine(Path.GetTempPath(), $"fdt-test-{Guid.NewGuid():N}.dtb");
        try
        {
            File.WriteAllBytes(file, dtb);
            var (exit, stdout, stderr) = ExternalTool.Run("dtc", "-I", "dtb", "-O", "dts", "-o", "-", file);
            Assert.True(exit == 0, $"dtc rejected the blob (exit {exit}):\n{stderr}");
            return Parse(stdout, stderr);
        }
        finally
        {
            File.Delete(file);
        }
    }

    public static DtsDocument Parse(string text, string warnings = "")
    {
        var document = new DtsDocument(text, warnings);
        var stack = new Stack<DtsNode>();
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.Trim();
            if (line.Length == 0 || line == "/dts-v1/;")
            {
                continue;
            }

            if (line.StartsWith("/memreserve/", StringComparison.Ordinal))
            {
                document.MemoryReservations.Add(line["/memreserve/".Length..].TrimEnd(';').Trim());
                continue;
            }

            if (line.EndsWith('{'))
            {
                var name = line[..^1].Trim();
                var path = stack.Count == 0 ? "/" : stack.Peek().Path == "/" ? "/" + name : stack.Peek().Path + "/" + name;
                var node = new DtsNode(path);
                if (stack.Count > 0)
                {
                    stack.Peek().Children.Add(node);
                }

                document._nodes.Add(path, node);
                stack.Push(node);
                continue;
            }

            if (line == "};")
            {
                stack.Pop();
                continue;
            }

            Assert.True(line.EndsWith(';'), $"unexpected dts line '{line}'");
            var body = line[..^1];
            var eq = body.IndexOf(" = ", StringComparison.Ordinal);
            stack.Peek().Properties.Add(eq < 0
                ? new KeyValuePair<string, string?>(body, null)
                : new KeyValuePair<string, string?>(body[..eq], body[(eq + 3)..]));
        }

        Assert.Empty(stack);
        return document;
    }
}
