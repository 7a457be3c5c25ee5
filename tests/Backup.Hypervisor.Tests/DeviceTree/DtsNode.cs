using System.Globalization;

namespace Backup.Hypervisor.Tests.DeviceTree;

/// <summary>A node of a decompiled device tree: properties (raw dts value text, null when empty) and children, in order.</summary>
internal sealed class DtsNode(string path)
{
    public string Path { get; } = path;

    public List<KeyValuePair<string, string?>> Properties { get; } = [];

    public List<DtsNode> Children { get; } = [];

    public IEnumerable<string> PropertyNames => Properties.Select(p => p.Key);

    public IEnumerable<string> ChildNames => Children.Select(c => c.Path == "/" ? "/" : c.Path[(c.Path.LastIndexOf('/') + 1)..]);

    public bool Has(string property) => Properties.Any(p => p.Key == property);

    /// <summary>Raw value text; throws when the property is missing.</summary>
    public string? Raw(string property)
    {
        foreach (var p in Properties)
        {
            if (p.Key == property)
            {
                return p.Value;
            }
        }

        throw new KeyNotFoundException($"node {Path} has no property '{property}' (has: {string.Join(", ", PropertyNames)})");
    }

    /// <summary>True when the property exists and has no value.</summary>
    public bool IsEmpty(string property) => Raw(property) is null;

    /// <summary>
    /// The property's bytes, whatever form dtc chose to print it in: &lt;cells&gt;, [bytes] or "strings" (dtc
    /// guesses, e.g. it prints 3686400 = 00 38 40 00 as "\08@"), or a comma-separated mix of them.
    /// </summary>
    public byte[] Bytes(string property)
    {
        var raw = Raw(property);
        var bytes = new List<byte>();
        var i = 0;
        while (raw is not null && i < raw.Length)
        {
            switch (raw[i])
            {
                case ' ' or ',':
                    i++;
                    break;
                case '<':
                    var close = raw.IndexOf('>', i);
                    foreach (var token in raw[(i + 1)..close].Split(' ', StringSplitOptions.RemoveEmptyEntries))
                    {
                        var cell = token.StartsWith("0x", StringComparison.Ordinal)
                            ? uint.Parse(token[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)
                            : uint.Parse(token, CultureInfo.InvariantCulture);
                        bytes.AddRange([(byte)(cell >> 24), (byte)(cell >> 16), (byte)(cell >> 8), (byte)cell]);
                    }

                    i = close + 1;
                    break;
                case '[':
                    var end = raw.IndexOf(']', i);
                    bytes.AddRange(raw[(i + 1)..end].Split(' ', StringSplitOptions.RemoveEmptyEntries)
                        .Select(b => byte.Parse(b, NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
                    i = end + 1;
                    break;
                case '"':
                    i++;
                    while (raw[i] != '"')
                    {
                        if (raw[i] != '\\')
                        {
                            bytes.Add((byte)raw[i++]);
                            continue;
                        }

                        var escaped = raw[i + 1];
                        if (escaped == 'x')
                        {
                            bytes.Add(byte.Parse(raw.AsSpan(i + 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                            i += 4;
                            continue;
                        }

                        bytes.Add(escaped switch
                        {
                            '0' => 0,
                            'n' => (byte)'\n',
                            't' => (byte)'\t',
                            'r' => (byte)'\r',
                            _ => (byte)escaped,
                        });
                        i += 2;
                    }

                    bytes.Add(0);
                    i++;
                    break;
                default:
                    throw new FormatException($"{Path}:{property} = {raw}: cannot decode at '{raw[i..]}'");
            }
        }

        return [.. bytes];
    }

    /// <summary>The property decoded as big-endian 32-bit cells.</summary>
    public uint[] Cells(string property)
    {
        var bytes = Bytes(property);
        Assert.True(bytes.Length % 4 == 0, $"{Path}:{property} is {bytes.Length} bytes, not whole cells");
        return [.. Enumerable.Range(0, bytes.Length / 4).Select(c => System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(c * 4)))];
    }

    public uint U32(string property) => Assert.Single(Cells(property));

    public ulong U64(string property)
    {
        var cells = Cells(property);
        Assert.Equal(2, cells.Length);
        return ((ulong)cells[0] << 32) | cells[1];
    }

    /// <summary>The property decoded as a string list: "a\0b", "c" → [a, b, c].</summary>
    public string[] Strings(string property)
    {
        var raw = Raw(property) ?? throw new InvalidOperationException($"{Path}:{property} is empty");
        var result = new List<string>();
        var i = 0;
        while (i < raw.Length)
        {
            if (raw[i] is ' ' or ',')
            {
                i++;
                continue;
            }

            if (raw[i] != '"')
            {
                throw new FormatException($"{Path}:{property} = {raw} is not a string list");
            }

            var current = new System.Text.StringBuilder();
            i++;
            while (raw[i] != '"')
            {
                if (raw[i] == '\\' && raw[i + 1] == '0')
                {
                    result.Add(current.ToString());
                    current.Clear();
                    i += 2;
                    continue;
                }

                if (raw[i] == '\\')
                {
                    current.Append(raw[i + 1]);
                    i += 2;
                    continue;
                }

                current.Append(raw[i]);
                i++;
            }

            result.Add(current.ToString());
            i++;
        }

        return [.. result];
    }

    public string String(string property) => Assert.Single(Strings(property));
}
